"""Contacts with the Service Desk: logged, matched to what is already known, and then linked to an
open incident ("me too"), turned into a new incident or request, or solved by an article.

Each decision is one transaction with the contact it decides: an incident opened from a contact
and the contact's link to it are written together or not at all. A contact is decided once;
deciding it again is refused, so two agents answering the same call cannot both open an incident.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.access import Actor, Permission
from core.errors import NotFound, ValidationFailed
from core.incidents import (
    INCIDENT,
    INTERACTION,
    OPEN_STATES,
    REQUEST,
    InteractionOutcome,
)
from core.knowledge import KNOWLEDGE_ARTICLE, ArticleState
from core.records import LinkField, RecordType, check_properties
from domain import records
from domain.incidents import lifecycle
from domain.service_desk.matching import Matches, match
from graphdb.cypher import service_desk as cypher
from graphdb.write_path import Store, UnitOfWork

TITLE_FROM_TEXT = 120  # characters of the contact's first line that title a record opened from it


class Apply(enum.StrEnum):
    NONE = "none"
    SUGGESTED = "suggested"


class Opens(enum.StrEnum):
    NONE = "none"
    INCIDENT = "incident"
    REQUEST = "request"


@dataclass(frozen=True)
class Logged:
    interaction: dict[str, Any]
    matches: Matches
    incident: dict[str, Any] | None = None
    request: dict[str, Any] | None = None


def _create(
    uow: UnitOfWork,
    record: RecordType,
    checked: Mapping[str, Any],
    links: Sequence[tuple[LinkField, list[str]]],
    derived: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A record from checked input and checked link fields, inside `uow`, as stored."""
    created = records.create_in(uow, record, checked, links, derived)
    return uow.lock(record.label, created["id"])


def log_interaction(
    store: Store,
    actor: Actor,
    values: Mapping[str, Any],
    links: Mapping[str, str | None],
    *,
    apply: Apply = Apply.NONE,
    opens: Opens = Opens.NONE,
    record_values: Mapping[str, Any] | None = None,
) -> Logged:
    """Log a contact and match it; with `apply` SUGGESTED link it to the best open incident,
    else (or without a match) open what `opens` says, with `record_values` (title, impact,
    urgency). Everything written is one transaction."""
    actor.require(Permission.WORK_RECORDS)
    checked = check_properties(INTERACTION, values, creating=True)
    given = {name: [str(value)] for name, value in links.items() if value is not None}
    # Checked before matching, so that a wrong id is refused by name rather than matched.
    wanted = records.checked_links(INTERACTION, given, creating=True)
    ci_ids = next((ids for link, ids in wanted if link.name == "ci"), None)
    matches = match(store, actor, str(checked["text"]), ci_ids[0] if ci_ids else None)
    best = matches.best_incident if apply is Apply.SUGGESTED else None

    def work(uow: UnitOfWork) -> Logged:
        contact = _create(
            uow, INTERACTION, checked, wanted, {"outcome": InteractionOutcome.OPEN.value}
        )
        # The best match may have been resolved since it was read: then the contact opens what
        # it would have opened without a match, rather than being refused.
        if best is not None and _still_open(uow, best.incident["id"]):
            contact = _link(uow, contact, best.incident["id"], field="apply")
            return Logged(contact, matches, incident=uow.lock(INCIDENT.label, best.incident["id"]))
        if opens is Opens.INCIDENT:
            contact, incident = _open_incident(uow, contact, record_values or {})
            return Logged(contact, matches, incident=incident)
        if opens is Opens.REQUEST:
            contact, request = _open_request(uow, contact, record_values or {})
            return Logged(contact, matches, request=request)
        return Logged(contact, matches)

    return store.write(actor, work)


def _still_open(uow: UnitOfWork, incident_id: str) -> bool:
    return uow.lock(INCIDENT.label, incident_id).get("state") in OPEN_STATES


def _undecided(uow: UnitOfWork, interaction_id: str) -> dict[str, Any]:
    """The contact, locked, as long as nothing has been decided for it."""
    try:
        contact = uow.lock(INTERACTION.label, interaction_id)
    except NotFound:
        raise NotFound(INTERACTION.label, interaction_id, field="id") from None
    outcome = contact.get("outcome") or InteractionOutcome.OPEN.value
    if outcome != InteractionOutcome.OPEN.value:
        raise ValidationFailed(
            "id",
            "already_decided",
            f"{contact.get('number')} is already decided ({outcome}); log a new contact instead",
        )
    return contact


def _decided(
    uow: UnitOfWork, contact: Mapping[str, Any], outcome: InteractionOutcome
) -> dict[str, Any]:
    return uow.update(
        INTERACTION.label, contact["id"], {"outcome": outcome.value}, expected_version=None
    )


def _resulted_in(uow: UnitOfWork, contact: Mapping[str, Any], label: str, other: str) -> None:
    uow.link(INTERACTION.label, contact["id"], "RESULTED_IN", label, other)


def _link(
    uow: UnitOfWork, contact: dict[str, Any], incident_id: str, *, field: str
) -> dict[str, Any]:
    try:
        incident = uow.lock(INCIDENT.label, incident_id)
    except NotFound:
        raise NotFound(INCIDENT.label, incident_id, field=field) from None
    if incident.get("state") not in OPEN_STATES:
        raise ValidationFailed(
            field,
            "incident_not_open",
            f"{incident.get('number')} is {incident.get('state')}: link contacts to an open "
            "incident, or open a new one",
        )
    _resulted_in(uow, contact, INCIDENT.label, incident_id)
    return _decided(uow, contact, InteractionOutcome.LINKED)


def _from_contact(contact: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """What a record opened from a contact takes from it unless the input says otherwise."""
    text = str(contact.get("text") or "")
    first_line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    out = {"title": first_line[:TITLE_FROM_TEXT], "description": text}
    if contact.get("callerName"):
        out["callerName"] = contact["callerName"]
    out.update({k: v for k, v in given.items() if v is not None})
    return out


def _contact_links(uow: UnitOfWork, contact: Mapping[str, Any]) -> dict[str, list[str]]:
    found = cypher.contact_links(uow.tx, contact["id"])
    return {name: [value] for name, value in found.items() if value is not None}


def _open_incident(
    uow: UnitOfWork, contact: dict[str, Any], given: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    values = {"channel": contact.get("channel"), **_from_contact(contact, given)}
    incident = lifecycle.open_incident_in(uow, values, _contact_links(uow, contact))
    _resulted_in(uow, contact, INCIDENT.label, incident["id"])
    return _decided(uow, contact, InteractionOutcome.OPENED_INCIDENT), incident


def _open_request(
    uow: UnitOfWork, contact: dict[str, Any], given: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    checked = check_properties(REQUEST, _from_contact(contact, given), creating=True)
    links = records.checked_links(REQUEST, _contact_links(uow, contact), creating=True)
    request = _create(uow, REQUEST, checked, links)
    _resulted_in(uow, contact, REQUEST.label, request["id"])
    return _decided(uow, contact, InteractionOutcome.OPENED_REQUEST), request


def link_interaction(
    store: Store, actor: Actor, interaction_id: str, incident_id: str
) -> dict[str, Any]:
    """The contact is about an incident already open ("me too")."""
    actor.require(Permission.WORK_RECORDS)
    return store.write(
        actor,
        lambda uow: _link(uow, _undecided(uow, interaction_id), incident_id, field="incident"),
    )


def open_incident_from(
    store: Store, actor: Actor, interaction_id: str, values: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Open an incident from the contact: its text, channel, caller and CI unless `values` say
    otherwise. Returns (the contact, the incident)."""
    actor.require(Permission.WORK_RECORDS)
    return store.write(
        actor, lambda uow: _open_incident(uow, _undecided(uow, interaction_id), values)
    )


def open_request_from(
    store: Store, actor: Actor, interaction_id: str, values: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    actor.require(Permission.WORK_RECORDS)
    return store.write(
        actor, lambda uow: _open_request(uow, _undecided(uow, interaction_id), values)
    )


def deflect(store: Store, actor: Actor, interaction_id: str, article_id: str) -> dict[str, Any]:
    """A published article answered the contact: nothing else is needed."""
    actor.require(Permission.WORK_RECORDS)

    def work(uow: UnitOfWork) -> dict[str, Any]:
        contact = _undecided(uow, interaction_id)
        try:
            article = uow.lock(KNOWLEDGE_ARTICLE.label, article_id)
        except NotFound:
            raise NotFound(KNOWLEDGE_ARTICLE.label, article_id, field="article") from None
        if article.get("revision") is None or article.get("state") == ArticleState.RETIRED:
            raise ValidationFailed(
                "article",
                "not_published",
                f"{article.get('number')} has no published revision a caller could read",
            )
        uow.link(INTERACTION.label, contact["id"], "SOLVED_BY", KNOWLEDGE_ARTICLE.label, article_id)
        return _decided(uow, contact, InteractionOutcome.DEFLECTED)

    return store.write(actor, work)


@dataclass(frozen=True)
class DeskStats:
    total: int
    by_outcome: dict[str, int]
    by_channel: dict[str, int]

    @property
    def deflected(self) -> int:
        return self.by_outcome.get(InteractionOutcome.DEFLECTED.value, 0)

    @property
    def deflection_rate(self) -> float | None:
        """Of the contacts, the share an article solved; None without contacts."""
        return self.deflected / self.total if self.total else None


def stats(store: Store, actor: Actor, start: datetime | None, end: datetime | None) -> DeskStats:
    actor.require(Permission.READ)
    if start is not None and end is not None and end <= start:
        raise ValidationFailed("to", "before_from", "`to` must be after `from`")
    rows = store.read(lambda tx: cypher.interaction_counts(tx, start, end))
    by_outcome: dict[str, int] = {}
    by_channel: dict[str, int] = {}
    for row in rows:
        outcome = row["outcome"] or InteractionOutcome.OPEN.value
        by_outcome[outcome] = by_outcome.get(outcome, 0) + row["count"]
        by_channel[row["channel"]] = by_channel.get(row["channel"], 0) + row["count"]
    return DeskStats(sum(by_outcome.values()), by_outcome, by_channel)
