"""Notifications: e-mail and mobile push to People and Teams about a record.

`notify` is the one entry point the processes call (a major incident, an escalation, a clock's
warning or breach): inside the caller's unit of work it turns each addressee into deliveries, one
`Notification` per address and channel, and raises one `send_notification` message per delivery,
so that a channel that fails never holds the others back. Workers send them after commit
(`domain.notifications.delivery`). See docs/NOTIFICATIONS.md.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.access import Actor, Permission
from core.errors import NotFound
from core.links import check_link
from core.notifications import NotificationChannel
from core.record_types import RECORD_TYPES
from graphdb.cypher import notifications as cypher
from graphdb.outbox import message_name
from graphdb.write_path import Store, UnitOfWork

log = logging.getLogger(__name__)

SEND_NOTIFICATION = message_name("send_notification")

# Any UUID will do as long as it never changes: notification ids are derived from it.
_ID_NAMESPACE = uuid.UUID("6f1d3c52-8f0e-4a5b-9a43-2c1e8f0b7d11")
ACTIVE = "active"


@dataclass(frozen=True)
class Addressee:
    label: str  # Person or Team
    id: str


@dataclass(frozen=True)
class Delivery:
    """One address on one channel, and whom it reaches it through."""

    channel: NotificationChannel
    address: str
    to_label: str  # the node the notification is addressed to: the Person, or a Team's mailbox
    to_id: str
    via_team: str | None = None


def notification_id(key: str, channel: str, address: str) -> str:
    """The same key, channel and address always name the same notification: queuing it again
    finds it instead of sending twice."""
    return str(uuid.uuid5(_ID_NAMESPACE, f"{key}\x1f{channel}\x1f{address.lower()}"))


def _person_deliveries(person: dict[str, Any], via_team: str | None) -> list[Delivery]:
    out = [Delivery(NotificationChannel.EMAIL, person["email"], "Person", person["id"], via_team)]
    if person.get("pushUrl"):
        out.append(
            Delivery(NotificationChannel.PUSH, person["pushUrl"], "Person", person["id"], via_team)
        )
    return out


def deliveries(uow: UnitOfWork, to: Sequence[Addressee]) -> list[Delivery]:
    """Every address the addressees reach, once each: a person's e-mail and push webhook; a
    team's mailbox, or, without one, each active member as a person. Retired people and teams
    are skipped, and so are ids that name nobody (logged: an escalation path that names a person
    must not stop the incident's clock)."""
    unknown = sorted({a.label for a in to} - {"Person", "Team"})
    if unknown:
        raise ValueError(f"notifications go to People and Teams, not {', '.join(unknown)}")
    person_ids = list(dict.fromkeys(a.id for a in to if a.label == "Person"))
    team_ids = list(dict.fromkeys(a.id for a in to if a.label == "Team"))
    found_people = {p["id"]: p for p in cypher.people(uow.tx, person_ids)}
    found_teams = {t["id"]: t for t in cypher.teams(uow.tx, team_ids)}
    out: list[Delivery] = []
    for addressee in to:
        if addressee.label == "Person":
            person = found_people.get(addressee.id)
            if person is None:
                log.warning("not notifying person %s: there is no such person", addressee.id)
            elif person["state"] == ACTIVE:
                out.extend(_person_deliveries(person, None))
            continue
        team = found_teams.get(addressee.id)
        if team is None:
            log.warning("not notifying team %s: there is no such team", addressee.id)
        elif team["state"] != ACTIVE:
            continue
        elif team.get("email"):
            out.append(Delivery(NotificationChannel.EMAIL, team["email"], "Team", team["id"]))
        else:
            for member in team["members"]:
                out.extend(_person_deliveries(member, team["id"]))
    unique: dict[tuple[str, str], Delivery] = {}
    for delivery in out:
        unique.setdefault((delivery.channel.value, delivery.address.lower()), delivery)
    return list(unique.values())


def notify(
    uow: UnitOfWork,
    *,
    about_label: str,
    about_id: str,
    to: Sequence[Addressee],
    subject: str,
    body: str,
    reason: str,
    key: str,
) -> int:
    """Queue a notification about the record to each addressee on every channel they have, sent
    by workers once the transaction commits. `key` makes it idempotent: the same key again queues
    nothing. Returns how many deliveries were queued."""
    if about_label not in RECORD_TYPES:
        raise ValueError(f"not a record type: {about_label!r}")
    check_link("NOTIFIES_ABOUT", ["Notification"], [about_label])
    if not key.strip() or not subject.strip() or not reason.strip():
        raise ValueError("a notification needs a key, a subject and a reason")
    if not cypher.exists(uow.tx, about_label, about_id):
        raise NotFound(about_label, about_id)
    by_label: dict[str, list[dict[str, Any]]] = {}
    for delivery in deliveries(uow, to):
        props = {
            "channel": delivery.channel.value,
            "address": delivery.address,
            "subject": subject.strip()[:300],
            "body": body,
            "reason": reason,
            "key": key,
        }
        by_label.setdefault(delivery.to_label, []).append(
            {
                "id": notification_id(key, delivery.channel.value, delivery.address),
                "to": delivery.to_id,
                "viaTeam": delivery.via_team,
                "props": props,
            }
        )
    token = str(uuid.uuid4())
    created: list[dict[str, Any]] = []
    for to_label, rows in by_label.items():
        created += cypher.queue(
            uow.tx, about_label, about_id, to_label, rows, uow.at, uow.actor.name, token
        )
    uow.audit_many([("create", "Notification", n["id"], None, _audited(n)) for n in created])
    for notification in created:
        uow.publish(SEND_NOTIFICATION, notification["id"])
    return len(created)


def _audited(notification: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in notification.items() if k not in {"body", "createdAt", "updatedAt"}}


def notifications_of(
    store: Store, actor: Actor, about_label: str, about_ids: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    """What was sent about each record, oldest first, with every try: for those who work
    records, since it shows people's addresses."""
    actor.require(Permission.WORK_RECORDS)
    if about_label not in RECORD_TYPES:
        raise ValueError(f"not a record type: {about_label!r}")
    return store.read(lambda tx: cypher.of_records(tx, about_label, list(about_ids)))
