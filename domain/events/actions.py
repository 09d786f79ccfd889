"""What a root alert does: notify and/or open an incident, as prescribed.

A threshold's alert does what its agreement's threshold says (`action`), notifying the teams and
people it names; a monitoring event's alert does what the event policy says for its severity
(`severityActions`). Without anyone named, the CI's owner team is notified, else the policy's
fallback team.

A new root waits the policy's `correlationWindowSeconds` before acting (timer `alert.act`), so
that a storm settles into one root first; when the timer fires it acts only if the alert is still
an open, unsuppressed root, and never twice. Acknowledged, flapping, suppressed and symptom
alerts notify nobody. An incident is opened with the alert's severity as impact and urgency:

| severity | impact | urgency |
|---|---|---|
| critical | high | high |
| error | medium | high |
| warning | medium | medium |
| info | low | low |

and prioritised and routed like any incident (`domain.incidents.lifecycle.open_incident_in`).
A new alert whose dedup key's earlier alert has an incident still open joins that incident
instead of opening another (a flapping signal is one incident). When a root acts, the incidents
its symptoms opened before it arrived are resolved as duplicates and closed.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from core.events import ALERT, AlertRole, AlertState, Severity, ThresholdAction
from core.incidents import Channel, IncidentState, Level, ResolutionCode
from domain import notifications
from domain.events import feed
from domain.events.policy import Policy, current
from domain.incidents import clock, lifecycle
from domain.incidents import events as incident_events
from domain.notifications import Addressee
from graphdb import timers
from graphdb.cypher import alerts as cypher
from graphdb.timers import DueTimer, timer_kind
from graphdb.write_path import UnitOfWork

LABEL = ALERT.label
ACT = "alert.act"

IMPACT_URGENCY: dict[Severity, tuple[Level, Level]] = {
    Severity.CRITICAL: (Level.HIGH, Level.HIGH),
    Severity.ERROR: (Level.MEDIUM, Level.HIGH),
    Severity.WARNING: (Level.MEDIUM, Level.MEDIUM),
    Severity.INFO: (Level.LOW, Level.LOW),
}
_INCIDENT = (ThresholdAction.INCIDENT, ThresholdAction.BOTH)
_NOTIFY = (ThresholdAction.NOTIFY, ThresholdAction.BOTH)


def schedule(uow: UnitOfWork, policy: Policy, alert_id: str) -> None:
    """Act now (a correlation window of 0) or when the window has passed."""
    if policy.correlation_window <= 0:
        act(uow, alert_id, policy)
        return
    due = uow.at + timedelta(seconds=policy.correlation_window)
    cypher.set_derived(uow.tx, alert_id, {"actionsDueAt": due})
    timers.set_timer(uow, ACT, LABEL, alert_id, due)


@timer_kind(ACT, "acts on a root alert once its correlation window has passed")
def _act_when_due(uow: UnitOfWork, timer: DueTimer) -> None:
    # The locks in the order event processing takes them: the key, correlation, the alert.
    key = cypher.dedup_key_of(uow.tx, timer.record_id)
    if key is None:
        return
    cypher.lock_keys(uow.tx, [key])
    cypher.take_correlation_lock(uow.tx)
    act(uow, timer.record_id, current(uow.tx))


def _not_acting(alert: dict[str, Any]) -> str | None:
    if alert.get("state") == AlertState.RESOLVED:
        return "not acted on: resolved before its actions were due"
    if alert.get("suppressed"):
        return f"not acted on: suppressed ({alert.get('suppressionReason')})"
    if alert.get("role") == AlertRole.SYMPTOM:
        return "not acted on: a symptom of another alert"
    return None


def _prescribed(
    uow: UnitOfWork, policy: Policy, alert: dict[str, Any], ci: dict[str, Any] | None
) -> tuple[ThresholdAction, list[Addressee], str]:
    """The action, whom it notifies, and why, in words."""
    threshold = cypher.threshold_of(uow.tx, alert["id"])
    to: list[Addressee] = []
    if threshold is not None:
        action = ThresholdAction(threshold["action"] or ThresholdAction.NOTIFY)
        why = f"threshold {threshold['name']!r} prescribes {action}"
        to = [Addressee("Team", t) for t in threshold["teams"]] + [
            Addressee("Person", p) for p in threshold["people"]
        ]
    else:
        severity = Severity(alert.get("severity") or Severity.ERROR)
        action = policy.action_for(severity)
        why = f"the event policy prescribes {action} for {severity}"
    if action not in _NOTIFY or to:
        return action, to, why
    if ci is not None and ci.get("ownerTeam"):
        return action, [Addressee("Team", ci["ownerTeam"])], why + ", to the CI's owner team"
    if policy.fallback_team_id:
        return action, [Addressee("Team", policy.fallback_team_id)], why + ", to the fallback team"
    return action, [], why


def act(uow: UnitOfWork, alert_id: str, policy: Policy) -> None:
    """Do what the alert prescribes, once; say what was done and why in `actionReason`."""
    alert = uow.lock(LABEL, alert_id)
    if alert.get("actedAt") is not None:
        return
    refused = _not_acting(alert)
    if refused is not None:
        _done(uow, alert_id, {"actionReason": refused})
        return
    ci_id = cypher.ci_of(uow.tx, alert_id)
    ci = cypher.ci_facts(uow.tx, ci_id) if ci_id else None
    action, to, why = _prescribed(uow, policy, alert, ci)
    said = [why]
    incident: dict[str, Any] | None = None
    if action in _INCIDENT:
        incident, how = _incident(uow, alert, ci_id, ci)
        said.append(how)
    if action in _NOTIFY:
        said.append(_notify(uow, alert, to, ci, incident))
    _done(uow, alert_id, {"action": action.value, "actionReason": "; ".join(said)})
    close_symptom_incidents(uow, alert_id)


def _done(uow: UnitOfWork, alert_id: str, values: dict[str, Any]) -> None:
    cypher.set_derived(uow.tx, alert_id, {**values, "actedAt": uow.at, "updatedAt": uow.at})
    feed.alerts_changed(uow, [alert_id])


def _incident(
    uow: UnitOfWork, alert: dict[str, Any], ci_id: str | None, ci: dict[str, Any] | None
) -> tuple[dict[str, Any] | None, str]:
    existing = cypher.previous_incident(uow.tx, alert["dedupKey"], alert["id"])
    if existing is not None:
        uow.link(LABEL, alert["id"], "RAISED", "Incident", existing["id"])
        return existing, (
            f"joined incident {existing['number']}, still open from an earlier alert "
            "under its dedup key"
        )
    if ci is not None and ci.get("lifecycle") == "retired":
        return None, f"no incident: {ci['name']} is retired"
    severity = Severity(alert.get("severity") or Severity.ERROR)
    impact, urgency = IMPACT_URGENCY[severity]
    summary = alert.get("summary") or f"Alert {alert['number']}"
    opened = lifecycle.open_incident_in(
        uow,
        {
            "title": summary[:300],
            "description": f"Opened by alert {alert['number']} ({severity}) on "
            f"{ci['name'] if ci else 'no CI'}: {summary}",
            "impact": impact.value,
            "urgency": urgency.value,
            "channel": Channel.API.value,
        },
        {"ci": [ci_id]} if ci_id else None,
    )
    uow.link(LABEL, alert["id"], "RAISED", "Incident", opened["id"])
    return opened, (
        f"opened incident {opened['number']} ({opened.get('priority')}, impact {impact}, "
        f"urgency {urgency} from severity {severity})"
    )


def _notify(
    uow: UnitOfWork,
    alert: dict[str, Any],
    to: list[Addressee],
    ci: dict[str, Any] | None,
    incident: dict[str, Any] | None,
) -> str:
    if alert.get("state") != AlertState.TRIGGERED:
        return f"not notified: it is {alert.get('state')}"
    if not to:
        return "not notified: no one is named, the CI has no owner team and there is no fallback"
    subject = f"[{alert.get('severity')}] {alert['number']}: {alert.get('summary') or 'alert'}"
    lines = [
        f"Alert {alert['number']} on {ci['name'] if ci else 'no CI'}: {alert.get('summary')}",
        f"Severity: {alert.get('severity')}",
    ]
    if incident is not None:
        lines.append(f"Incident: {incident['number']}")
    queued = notifications.notify(
        uow,
        about_label=LABEL,
        about_id=alert["id"],
        to=to,
        subject=subject,
        body="\n".join(lines),
        reason="a root alert fired",
        key=f"alert:{alert['id']}:fired",
    )
    return f"notified {queued} address(es)"


def close_symptom_incidents(uow: UnitOfWork, root_id: str) -> None:
    """Resolve as duplicates, and close, the incidents the root's symptoms opened."""
    found = cypher.symptom_incidents(uow.tx, root_id)
    if not found:
        return
    root = uow.lock(LABEL, root_id)
    own = cypher.raised(uow.tx, root_id)
    for incident in found:
        notes = (
            f"Duplicate: alert {incident['symptom']} is a symptom of root alert {root['number']}"
            + (f", whose incident is {own['number']}" if own else "")
            + "."
        )
        _resolve_then_close(uow, incident["id"], notes)


def _resolve_then_close(uow: UnitOfWork, incident_id: str, notes: str) -> None:
    label = "Incident"
    before = uow.lock(label, incident_id)
    if before.get("state") != IncidentState.RESOLVED:
        after = uow.transition(
            label,
            incident_id,
            IncidentState.RESOLVED,
            expected_version=None,
            changes={"resolutionCode": ResolutionCode.DUPLICATE.value, "resolutionNotes": notes},
        )
        lifecycle.stepped(uow, after, IncidentState.RESOLVED)
    after = uow.transition(label, incident_id, IncidentState.CLOSED, expected_version=None)
    lifecycle.stepped(uow, after, IncidentState.CLOSED)
    clock.rearm(uow, uow.lock(label, incident_id))
    incident_events.incident_changed(
        uow, uow.lock(label, incident_id), incident_events.Change.CHANGED
    )
