"""Availability Management: thresholds from the agreements evaluated over metric samples, outages,
and availability per CI and per service against each agreement's target on its calendar.

The one way in for samples is `process_samples`, inside a unit of work: the ingest actor calls
it with what the metrics endpoint queued. A sample is identified by its CI, metric and time, so a
batch delivered twice changes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from graphdb.outbox import message_name
from graphdb.write_path import UnitOfWork

# The actor that processes a batch of accepted samples (`workers.actors.ingest_metrics`).
INGEST_METRICS = message_name("ingest_metrics")


@dataclass(frozen=True)
class MetricSample:
    """One accepted sample, checked at the edge: its CI resolved to an id."""

    ci_id: str
    metric: str
    value: float
    at: datetime  # the sample's own timestamp (aware, UTC): evaluation orders by it
    received_at: datetime

    def to_wire(self) -> dict[str, Any]:
        return {
            "ciId": self.ci_id,
            "metric": self.metric,
            "value": self.value,
            "at": self.at.isoformat(),
            "receivedAt": self.received_at.isoformat(),
        }

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any]) -> MetricSample:
        return cls(
            ci_id=wire["ciId"],
            metric=wire["metric"],
            value=float(wire["value"]),
            at=datetime.fromisoformat(wire["at"]),
            received_at=datetime.fromisoformat(wire["receivedAt"]),
        )


def process_samples(uow: UnitOfWork, samples: Sequence[MetricSample]) -> None:
    """Evaluate every enabled threshold that watches each sample's CI and metric, by the
    samples' timestamps: pending while breached for less than its duration, firing after,
    resolved only at its clear value. A change of state raises a trigger or resolve event through
    `domain.events.process_events`, and an availability threshold opens or ends an outage.

    Implemented in `domain.availability.evaluation`."""
    from domain.availability import evaluation

    evaluation.process_samples(uow, samples)
