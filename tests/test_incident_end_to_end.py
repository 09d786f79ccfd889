"""The whole way, in real time: a caller's phone call becomes a routed, prioritised incident whose
SLA clock warns, breaches and escalates through the broker and a real worker; the escalation
reaches a real SMTP server and a webhook receiver that checks its signature, and a subscriber hears
of every change as it happens.

Set up through the API as a service level manager would: a Service, the team that supports it, a
duty manager with an e-mail address and a push webhook, an active SLA whose terms give P3 a
response target of one minute (around the clock), a warning at 50% and an escalation level at 100% of the
response target that notifies the duty manager. Nothing is moved in time: the test waits the
minute.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from graphdb.write_path import Store
from itsm.config import Settings
from tests.conftest import Api, RunningServer
from tests.notify_servers import PushReceiver, SmtpServer, notification_env
from tests.processes import ItsmProcess, start_worker, wait_for
from tests.test_subscriptions import Subscriber, open_connection, started

FAST = {"ITSM_SWEEP_SECONDS": "0.5"}
# How late an event may fire after it fell due on a busy two-core machine: the delayed message
# wakes a worker at once, the sweep runs every half second.
ON_TIME = timedelta(seconds=6)

SETUP = """mutation($ci: RegisterCIInput!) {
  registerCi(input: $ci) { userErrors { message } ci { id } } }"""
TEAM = """mutation($service: ID!) {
  createTeam(input: {name: "Web Operations", services: [$service]}) {
    userErrors { message } team { id } } }"""
PERSON = """mutation($team: ID!, $push: String!) {
  createPerson(input: {name: "Dana Duty", email: "dana@example.com", pushUrl: $push,
                       teams: [$team]}) {
    userErrors { message } person { id } } }"""
SLA = """mutation($service: ID!) {
  createSLA(input: {name: "Shop Gold", services: [$service]}) {
    userErrors { message } sla { id } } }"""
ACTIVATE = """mutation($sla: ID!) {
  transitionSLA(input: {id: $sla, state: ACTIVE}) { userErrors { message } } }"""
TERMS = """mutation($sla: ID!, $person: ID!) {
  setAgreementTerms(input: {agreement: $sla,
      response: [{priority: P3, minutes: 1}], resolution: [{priority: P3, minutes: 60}],
      warningPercents: [50], calendar: {timezone: "UTC", always: true},
      escalation: [{clock: RESPONSE, atPercent: 100, notify: [$person]}]}) {
    userErrors { field message } } }"""
CALL = """mutation($ci: ID!) {
  logInteraction(input: {channel: PHONE, callerName: "Sam at the Leeds store",
      text: "The shop shows an error at checkout", ci: $ci, open: INCIDENT,
      title: "Checkout shows an error", impact: MEDIUM, urgency: MEDIUM}) {
    userErrors { field message }
    interaction { number }
    incident { id number priority state team { name } governedBy { sla { name } }
               responseClock { state dueAt } }
  } }"""
READ = """query($id: ID!) { incident(id: $id) {
  slaStage responseClock { state breached dueAt warnings { percent at } }
  slaEvents { kind level dueAt firedAt }
  notifications { channel address reason state } } }"""


def done(answer: dict[str, Any]) -> dict[str, Any]:
    [value] = answer.values()
    assert value["userErrors"] == [], value["userErrors"]
    result: dict[str, Any] = value
    return result


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def heard(subscriber: Subscriber, number: str, until: Any, timeout: float) -> list[dict[str, Any]]:
    """Every change to the incident the subscriber is told of until `until(changes)` holds."""
    changes: list[dict[str, Any]] = []
    while not until(changes):
        changes.append(subscriber.next_about(number, timeout))
    return changes


SUBSCRIBE = (
    "subscription { incidentChanges { kind version incident { id number state slaStage } } }"
)


def test_a_call_becomes_an_incident_that_warns_breaches_and_escalates_in_real_time(
    api_server: RunningServer,
    api: Api,
    store: Store,
    settings: Settings,
    itsm_processes: list[ItsmProcess],
    smtp_server: SmtpServer,
    push_receiver: PushReceiver,
) -> None:
    manager = api.as_role(store, "manager")
    service = done(manager.ok(SETUP, {"ci": {"ciClass": "Service", "name": "Online Shop"}}))
    service_id = service["ci"]["id"]
    team = done(manager.ok(TEAM, {"service": service_id}))["team"]["id"]
    person = done(manager.ok(PERSON, {"team": team, "push": push_receiver.url}))["person"]["id"]
    sla = done(manager.ok(SLA, {"service": service_id}))["sla"]["id"]
    done(manager.ok(ACTIVATE, {"sla": sla}))
    done(manager.ok(TERMS, {"sla": sla, "person": person}))
    worker = start_worker(itsm_processes, settings, env={**notification_env(smtp_server), **FAST})

    ws = open_connection(api_server.url, {"Authorization": f"Bearer {api.token}"})
    assert json.loads(ws.recv(timeout=20))["type"] == "connection_ack"
    listening = started(api_server.app.state.feed)
    ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE}}))
    listening()
    subscriber = Subscriber(ws)

    call = done(api.ok(CALL, {"ci": service_id}))
    incident = call["incident"]
    assert call["interaction"]["number"].startswith("IMS")
    assert incident["priority"] == "P3"
    assert incident["state"] == "ASSIGNED" and incident["team"] == {"name": "Web Operations"}
    assert incident["governedBy"]["sla"]["name"] == "Shop Gold"
    assert incident["responseClock"]["state"] == "RUNNING"
    number = incident["number"]
    opened = subscriber.next_about(number)
    assert opened["kind"] == "CREATED" and opened["incident"]["slaStage"] == "OK"

    # The warning at 50% of one minute, then the breach and the escalation at 100%.
    try:
        changes = heard(
            subscriber,
            number,
            lambda seen: any(c["incident"]["slaStage"] == "BREACHED" for c in seen),
            timeout=90,
        )
    except TimeoutError:
        state = api.ok(READ, {"id": incident["id"]})["incident"]
        raise AssertionError(
            f"no breach heard; the incident: {state}\nworker: {worker.output()[-3000:]}"
        ) from None
    stages = [c["incident"]["slaStage"] for c in changes]
    assert "WARNING" in stages and stages.index("WARNING") < stages.index("BREACHED")
    versions = [opened["version"], *[c["version"] for c in changes]]
    assert versions == sorted(versions)

    def arrived() -> Any:
        pushes = [p for p in push_receiver.snapshot()[0] if p.body["reason"] == "escalation"]
        if not pushes:
            return None
        subject = pushes[0].body["subject"]
        mails = [m for m in smtp_server.to("dana@example.com") if m.message["subject"] == subject]
        return (mails, pushes) if mails else None

    mails, pushes = wait_for(arrived, 60, (worker,), "the escalation's e-mail and push")
    assert number in str(mails[0].message["subject"])
    assert pushes[0].body["about"]["number"] == number
    assert push_receiver.snapshot()[2] == []  # no push failed the receiver's signature check

    read = api.ok(READ, {"id": incident["id"]})["incident"]
    assert read["slaStage"] == "BREACHED" and read["responseClock"]["breached"] is True
    fired = {(e["kind"], e["level"]): e for e in read["slaEvents"]}
    assert set(fired) >= {("WARNED", None), ("BREACHED", None), ("ESCALATED", 1)}
    for event in fired.values():
        assert at(event["dueAt"]) <= at(event["firedAt"]) <= at(event["dueAt"]) + ON_TIME
    warned = fired[("WARNED", None)]
    due = at(incident["responseClock"]["dueAt"])
    assert abs((at(warned["dueAt"]) - (due - timedelta(seconds=30))).total_seconds()) < 1
    sent = {(n["channel"], n["reason"], n["state"]) for n in read["notifications"]}
    assert {("EMAIL", "escalation", "SENT"), ("PUSH", "escalation", "SENT")} <= sent
