"""Event Management: events de-duplicated into alerts, alerts correlated through the CI graph
into roots and symptoms, and the actions the agreements prescribe (notify, open an incident).

The one way in is `process_events`, inside a unit of work: the ingest actor calls it with what
the events endpoint queued, thresholds call it with the events their evaluation raises. Every
event carries an id given when it was accepted, so a message delivered twice changes nothing the
second time.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.events import EventAction, EventOrigin, Severity
from graphdb.outbox import message_name
from graphdb.write_path import UnitOfWork

# The actor that processes a batch of accepted events (`workers.actors.ingest_events`).
INGEST_EVENTS = message_name("ingest_events")


@dataclass(frozen=True)
class IncomingEvent:
    """One accepted event, checked at the edge: its CI resolved, its key and times set."""

    id: str  # given on acceptance; the Event record's id, which makes redelivery harmless
    action: EventAction
    dedup_key: str
    at: datetime  # the event's own timestamp (aware, UTC): what ordering and windows use
    received_at: datetime
    ci_id: str | None = None  # required for a trigger; acknowledge and resolve need only the key
    severity: Severity = Severity.ERROR
    summary: str = ""
    source: str = ""
    custom_details: Mapping[str, Any] = field(default_factory=dict)
    origin: EventOrigin = EventOrigin.MONITORING
    threshold_id: str | None = None  # for a threshold's event
    metric: str | None = None
    value: float | None = None

    def to_wire(self) -> dict[str, Any]:
        """A JSON-safe dict for a broker message."""
        return {
            "id": self.id,
            "action": self.action.value,
            "dedupKey": self.dedup_key,
            "at": self.at.isoformat(),
            "receivedAt": self.received_at.isoformat(),
            "ciId": self.ci_id,
            "severity": self.severity.value,
            "summary": self.summary,
            "source": self.source,
            "customDetails": json.dumps(dict(self.custom_details), sort_keys=True, default=str),
            "origin": self.origin.value,
            "thresholdId": self.threshold_id,
            "metric": self.metric,
            "value": self.value,
        }

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any]) -> IncomingEvent:
        return cls(
            id=wire["id"],
            action=EventAction(wire["action"]),
            dedup_key=wire["dedupKey"],
            at=datetime.fromisoformat(wire["at"]),
            received_at=datetime.fromisoformat(wire["receivedAt"]),
            ci_id=wire.get("ciId"),
            severity=Severity(wire.get("severity") or Severity.ERROR),
            summary=wire.get("summary") or "",
            source=wire.get("source") or "",
            custom_details=json.loads(wire.get("customDetails") or "{}"),
            origin=EventOrigin(wire.get("origin") or EventOrigin.MONITORING),
            threshold_id=wire.get("thresholdId"),
            metric=wire.get("metric"),
            value=wire.get("value"),
        )


def process_events(uow: UnitOfWork, events: Sequence[IncomingEvent]) -> list[str]:
    """Record each event not recorded before (by id) and apply it to the alert under its dedup
    key, in order of arrival in `events`: de-duplicate, open, acknowledge, resolve, flap,
    suppress in maintenance, correlate with alerts upstream and downstream, and act (or set the
    timer that acts after the correlation window). Returns the ids of the alerts touched.

    Implemented in `domain.events.alerts`."""
    from domain.events import alerts

    return alerts.process_events(uow, events)
