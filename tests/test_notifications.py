"""Notifications sent by real workers to a real SMTP server and a real push webhook receiver:
fan-out to people and teams, signatures the receiver checks, retries with every try recorded,
once-only by key and under duplicate broker deliveries."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import dramatiq
import pytest

from core.access import SYSTEM
from core.ids import record_id
from domain.notifications import SEND_NOTIFICATION, Addressee, messages, notify
from graphdb.cypher import notifications as cypher
from graphdb.write_path import Store
from itsm.config import Settings
from tests.conftest import Api, RunningServer
from tests.notify_servers import PushReceiver, SmtpServer, notification_env
from tests.processes import ItsmProcess, start_worker, wait_for
from tests.test_incidents import open_incident
from tests.test_service_level import made, step


@dataclass
class Desk:
    """What every test here works with: the graph, a manager's API client, and the servers
    notifications reach; `worker` starts a real worker sending to them."""

    store: Store
    manager: Api
    settings: Settings
    processes: list[ItsmProcess]
    smtp: SmtpServer
    push: PushReceiver

    def worker(self, *, smtp: bool = True, **env: str) -> ItsmProcess:
        given = {**notification_env(self.smtp if smtp else None), **env}
        return start_worker(self.processes, self.settings, env=given)

    def settled(
        self, about: dict[str, Any], count: int, worker: ItsmProcess
    ) -> list[dict[str, Any]]:
        """The notifications about the record once there are `count`, none waiting for a try."""
        found: list[dict[str, Any]] = wait_for(
            lambda: settled(self.store, about, count), 90, (worker,), f"{count} deliveries"
        )
        return found


@pytest.fixture
def desk(
    api: Api,
    store: Store,
    settings: Settings,
    itsm_processes: list[ItsmProcess],
    smtp_server: SmtpServer,
    push_receiver: PushReceiver,
) -> Desk:
    manager = api.as_role(store, "manager")
    return Desk(store, manager, settings, itsm_processes, smtp_server, push_receiver)


def incident(store: Store, title: str = "Checkout fails with HTTP 500") -> dict[str, Any]:
    """An incident as stored, to notify about."""
    return store.write(
        SYSTEM,
        lambda uow: uow.create(
            "Incident",
            {"title": title, "state": "new", "priority": "P1", "impact": "high"},
        ),
    )


def person(manager: Api, name: str, **given: Any) -> str:
    given.setdefault("email", f"{name.lower()}@example.com")
    return record_id(made(manager, "Person", name=name, **given)["id"], "Person")


def send(
    store: Store,
    about: dict[str, Any],
    to: list[Addressee],
    *,
    key: str = "test:1",
    subject: str = "Checkout is down",
) -> int:
    return store.write(
        SYSTEM,
        lambda uow: notify(
            uow,
            about_label="Incident",
            about_id=about["id"],
            to=to,
            subject=subject,
            body="The shop's checkout answers HTTP 500.",
            reason="major_incident",
            key=key,
        ),
    )


def sent_about(store: Store, about: dict[str, Any]) -> list[dict[str, Any]]:
    return store.read(lambda tx: cypher.of_records(tx, "Incident", [about["id"]]))[about["id"]]


def settled(store: Store, about: dict[str, Any], count: int) -> list[dict[str, Any]] | None:
    """The notifications once there are `count` and none is waiting for a try."""
    found = sent_about(store, about)
    done = len(found) == count and all(n["state"] in ("sent", "given_up") for n in found)
    return found if done else None


def by_channel(found: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {n["channel"]: n for n in found}


def test_a_person_gets_an_email_and_a_signed_push(desk: Desk) -> None:
    worker = desk.worker()
    ana = person(desk.manager, "Ana", pushUrl=desk.push.url)
    about = incident(desk.store)

    assert send(desk.store, about, [Addressee("Person", ana)]) == 2

    found = desk.settled(about, 2, worker)
    mail = wait_for(lambda: desk.smtp.to("ana@example.com"), 10)
    assert len(mail) == 1
    assert mail[0].message["Subject"] == "Checkout is down"
    assert mail[0].message["From"] == "itsm@service.example.com"
    assert "HTTP 500" in mail[0].message.get_content()
    accepted, failed, refused = desk.push.snapshot()
    assert (len(accepted), failed, refused) == (1, [], [])
    assert accepted[0].body["subject"] == "Checkout is down"
    assert accepted[0].body["about"] == {
        "label": "Incident",
        "id": about["id"],
        "number": about["number"],
    }
    channels = by_channel(found)
    assert channels["email"]["address"] == "ana@example.com"
    assert channels["push"]["address"] == desk.push.url
    assert all(n["state"] == "sent" and n["attempts"] == 1 for n in found)
    assert all(n["tries"][0]["ok"] and n["sentAt"] is not None for n in found)


def test_a_failing_webhook_gets_the_push_on_the_third_try_while_the_email_went_at_once(
    desk: Desk,
) -> None:
    worker = desk.worker()
    ana = person(desk.manager, "Ana", pushUrl=desk.push.url)
    about = incident(desk.store)
    desk.push.fail_next(2)

    send(desk.store, about, [Addressee("Person", ana)])

    found = by_channel(desk.settled(about, 2, worker))
    push, mail = found["push"], found["email"]
    assert [t["ok"] for t in push["tries"]] == [False, False, True]
    assert push["attempts"] == 3 and push["state"] == "sent"
    assert push["tries"][0]["error"] == "the push webhook answered HTTP 500"
    assert push.get("lastError") is None
    # Backing off: the first retry waits at least a second, the second at least two.
    at = [t["at"].to_native() for t in push["tries"]]
    assert (at[1] - at[0]).total_seconds() >= 1 and (at[2] - at[1]).total_seconds() >= 2
    assert [t["ok"] for t in mail["tries"]] == [True]
    assert mail["sentAt"] < push["tries"][1]["at"]
    accepted, failed, _ = desk.push.snapshot()
    assert (len(accepted), len(failed)) == (1, 2)
    assert accepted[0].body["attempt"] == 3
    assert len(desk.smtp.received()) == 1


def test_a_push_signed_with_another_secret_is_refused_and_given_up(desk: Desk) -> None:
    worker = desk.worker(ITSM_PUSH_SECRET="not-the-receivers", ITSM_NOTIFY_MAX_ATTEMPTS="2")
    ana = person(desk.manager, "Ana", pushUrl=desk.push.url)
    about = incident(desk.store)

    send(desk.store, about, [Addressee("Person", ana)])

    push = by_channel(desk.settled(about, 2, worker))["push"]
    assert push["state"] == "given_up" and push["attempts"] == 2
    assert push["lastError"] == "the push webhook answered HTTP 401"
    accepted, _, refused = desk.push.snapshot()
    assert accepted == [] and len(refused) == 2
    assert "given up after 2 tries" in worker.output()


def test_the_same_key_twice_sends_once(desk: Desk) -> None:
    worker = desk.worker()
    ana = [Addressee("Person", person(desk.manager, "Ana"))]
    about = incident(desk.store)

    assert send(desk.store, about, ana, key="escalation:1") == 1
    assert send(desk.store, about, ana, key="escalation:1") == 0
    desk.settled(about, 1, worker)
    assert send(desk.store, about, ana, key="escalation:1") == 0
    # Another key is another notification.
    assert send(desk.store, about, ana, key="escalation:2") == 1

    desk.settled(about, 2, worker)
    time.sleep(1)
    assert len(desk.smtp.to("ana@example.com")) == 2


def test_a_duplicate_broker_delivery_sends_once(desk: Desk) -> None:
    worker = desk.worker()
    ana = person(desk.manager, "Ana", pushUrl=desk.push.url)
    about = incident(desk.store)
    # Queued by a process whose messages the broker lost: only the copies below deliver it.
    send(Store(desk.store.graph, lambda message: None), about, [Addressee("Person", ana)])
    ids = [n["id"] for n in sent_about(desk.store, about)]
    actor = dramatiq.get_broker().get_actor(SEND_NOTIFICATION)
    for _ in range(6):
        for notification_id in ids:
            actor.send(notification_id)

    found = desk.settled(about, 2, worker)
    time.sleep(2)  # every copy has arrived
    assert len(desk.smtp.received()) == 1
    assert len(desk.push.snapshot()[0]) == 1
    assert all(n["attempts"] == 1 for n in found)


def test_a_notification_held_by_a_sender_that_died_is_sent_once_its_hold_runs_out(
    desk: Desk,
) -> None:
    ana = person(desk.manager, "Ana")
    about = incident(desk.store)
    # Queued, then claimed by a sender that died mid-try: its hold runs out in a few seconds.
    send(Store(desk.store.graph, lambda message: None), about, [Addressee("Person", ana)])
    (queued,) = sent_about(desk.store, about)
    held = desk.store.write(
        SYSTEM,
        lambda uow: cypher.claim(uow.tx, queued["id"], uow.at, uow.at + timedelta(seconds=4)),
    )
    assert held is not None and held["claimed"]
    worker = desk.worker()

    dramatiq.get_broker().get_actor(SEND_NOTIFICATION).send(queued["id"])

    (mail,) = desk.settled(about, 1, worker)
    assert mail["state"] == "sent" and mail["attempts"] == 1
    assert mail["sentAt"].to_native() >= held["sendingUntil"].to_native()
    assert len(desk.smtp.received()) == 1


def test_a_team_reaches_its_active_members_or_its_mailbox(desk: Desk) -> None:
    worker = desk.worker()
    manager = desk.manager
    web = made(manager, "Team", name="Web Operations")
    service_desk = made(manager, "Team", name="Service Desk", email="desk@example.com")
    gone = made(manager, "Team", name="Old Team")
    person(manager, "Ana", teams=[web["id"]], pushUrl=desk.push.url)
    person(manager, "Ben", teams=[web["id"], gone["id"]])
    cy = made(manager, "Person", name="Cy", email="cy@example.com", teams=[web["id"]])
    step(manager, "Person", cy, "RETIRED")
    step(manager, "Team", gone, "RETIRED")
    about = incident(desk.store)

    teams = [Addressee("Team", record_id(t["id"], "Team")) for t in (web, service_desk, gone)]
    queued = send(desk.store, about, teams)

    assert queued == 4  # Ana by e-mail and push, Ben, the desk's mailbox; not Cy, not Old Team
    desk.settled(about, 4, worker)
    received = sorted(r for m in desk.smtp.received() for r in m.recipients)
    assert received == ["ana@example.com", "ben@example.com", "desk@example.com"]
    assert len(desk.push.snapshot()[0]) == 1


def test_without_an_smtp_server_email_fails_with_the_setting_named(desk: Desk) -> None:
    worker = desk.worker(smtp=False, ITSM_NOTIFY_MAX_ATTEMPTS="1")
    ana = person(desk.manager, "Ana")
    about = incident(desk.store)

    send(desk.store, about, [Addressee("Person", ana)])

    (mail,) = desk.settled(about, 1, worker)
    assert mail["state"] == "given_up"
    assert mail["lastError"] == "e-mail is not configured: ITSM_SMTP_URL is not set"
    assert "ITSM_SMTP_URL is not set" in worker.output()


def test_email_logs_in_with_the_user_and_password_of_the_smtp_url(desk: Desk) -> None:
    guarded = SmtpServer(login=("itsm@svc", "p@ss:word")).start()
    try:
        right = f"smtp://itsm%40svc:p%40ss%3Aword@127.0.0.1:{guarded.port}"
        wrong = f"smtp://itsm%40svc:guess@127.0.0.1:{guarded.port}"
        ana = [Addressee("Person", person(desk.manager, "Ana"))]
        first, second = incident(desk.store), incident(desk.store, "Search is slow")
        worker = desk.worker(smtp=False, ITSM_SMTP_URL=right)
        send(desk.store, first, ana)
        (mail,) = desk.settled(first, 1, worker)
        assert mail["state"] == "sent" and len(guarded.to("ana@example.com")) == 1
        assert guarded.logins == 1
        worker.stop()

        worker = desk.worker(smtp=False, ITSM_SMTP_URL=wrong, ITSM_NOTIFY_MAX_ATTEMPTS="1")
        send(desk.store, second, ana, key="test:2")
        (refused,) = desk.settled(second, 1, worker)
        assert refused["state"] == "given_up"
        # The server refuses the login (and then drops the connection): nothing is delivered.
        assert refused["lastError"].startswith(("SMTPAuthenticationError", "SMTPServerDisconn"))
        assert (guarded.logins, guarded.refused_logins) == (1, 1)
        assert len(guarded.received()) == 1
    finally:
        guarded.stop()


def test_notify_refuses_a_record_that_does_not_exist(store: Store) -> None:
    from core.errors import NotFound

    with pytest.raises(NotFound):
        send(store, {"id": "no-such-incident"}, [])


def test_the_major_incident_text_names_the_incident_and_links_to_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ITSM_PUBLIC_URL", "https://itsm.example.com/")
    stored = {"number": "INC0000042", "title": "Checkout fails", "priority": "P1", "state": "new"}

    subject, body = messages.major_incident(stored, ci="checkout-api")

    assert subject == "[P1] INC0000042 MAJOR INCIDENT: Checkout fails"
    assert "Incident: INC0000042: Checkout fails" in body
    assert "Priority: P1" in body and "CI: checkout-api" in body
    assert "https://itsm.example.com/graphql?query=" in body and "INC0000042" in body
    subject, body = messages.breach(stored, "resolution", "2026-01-02T10:00:00+00:00")
    assert "resolution target BREACHED" in subject and "Clock: Resolution" in body
    an_hour_east = timezone(timedelta(hours=1))
    subject, body = messages.warning(
        stored, "response", datetime(2026, 1, 2, 11, 0, tzinfo=an_hour_east)
    )
    assert "response target at risk" in subject and "Due: 2026-01-02 10:00 UTC" in body


NOTIFICATIONS = """notifications { id channel address reason subject state attemptCount sentAt
  lastError attempts { attempt ok error durationMs } }"""


def test_a_major_incident_tells_its_team_and_the_incident_shows_what_was_sent(
    desk: Desk, api_server: RunningServer
) -> None:
    worker = desk.worker()
    web = made(desk.manager, "Team", name="Web Operations")
    person(desk.manager, "Ana", teams=[web["id"]], pushUrl=desk.push.url)
    person(desk.manager, "Ben", teams=[web["id"]])

    incident = open_incident(desk.manager, team=web["id"], major=True, impact="HIGH")
    query = "query($id: ID!) { incident(id: $id) { number " + NOTIFICATIONS + " } }"
    wait_for(
        lambda: all(
            n["state"] == "SENT"
            for n in desk.manager.ok(query, {"id": incident["id"]})["incident"]["notifications"]
        ),
        60,
        (worker,),
        "the major incident's notifications",
    )

    shown = desk.manager.ok(query, {"id": incident["id"]})["incident"]["notifications"]
    assert sorted((n["channel"], n["address"]) for n in shown) == [
        ("EMAIL", "ana@example.com"),
        ("EMAIL", "ben@example.com"),
        ("PUSH", desk.push.url),
    ]
    assert {n["reason"] for n in shown} == {"major_incident"}
    assert all(incident["number"] in n["subject"] for n in shown)
    assert all(n["attemptCount"] == 1 and n["attempts"][0]["ok"] for n in shown)
    received = sorted(r for m in desk.smtp.received() for r in m.recipients)
    assert received == ["ana@example.com", "ben@example.com"]
    # Addresses are for those who work records.
    viewer = desk.manager.as_role(desk.store, "viewer")
    refused = viewer.post(query, {"id": incident["id"]}).json()
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_a_page_of_incidents_reads_its_notifications_in_one_query(
    desk: Desk, api_server: RunningServer
) -> None:
    web = made(desk.manager, "Team", name="Web Operations")
    person(desk.manager, "Ana", teams=[web["id"]])
    for n in range(6):
        open_incident(desk.manager, title=f"checkout fails {n}", team=web["id"], major=True)
    graph = api_server.app.state.store.graph
    query = (
        "query($n: Int!) { incidents(first: $n) { edges { node { number "
        + NOTIFICATIONS
        + " } } } }"
    )

    costs = []
    for first in (2, 6):
        answer, reads = desk.manager.ok_counting_reads(graph, query, {"n": first})
        edges = answer["incidents"]["edges"]
        costs.append(reads)
        assert len(edges) == first
        assert all(len(e["node"]["notifications"]) == 1 for e in edges)
    assert costs[0] == costs[1], f"{costs[0]} reads for 2 incidents, {costs[1]} for 6"
