"""Availability Management in GraphQL: outages, a CI's or Service's availability per period of an
agreement, and the compliance report per SLA and per customer (`domain.availability`)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

import strawberry

from core import events as declared
from core.events import OUTAGE
from core.ids import record_id, to_global_id
from core.record_types import CI
from core.records import Direction, RecordType
from domain.availability import report
from schema.cmdb import AgreementRef, ConfigurationItem
from schema.common import Node
from schema.context import Info
from schema.records import described, values_enum
from schema.service_level import _Served

if TYPE_CHECKING:
    from core.agreement_terms import AvailabilityPeriod
    from core.events import OutageKind, OutageSource
    from schema.events import AlertNode
else:
    from schema.agreement_terms import AvailabilityPeriod

    OutageKind = values_enum(declared.OutageKind)
    OutageSource = values_enum(declared.OutageSource)


@strawberry.type(name="Outage", description=OUTAGE.description)
class OutageNode(Node, _Served):
    record: ClassVar[RecordType] = OUTAGE
    number: str = described(OUTAGE, "number")
    start: datetime = described(OUTAGE, "start")
    end: datetime | None = described(OUTAGE, "end")
    kind: OutageKind = described(OUTAGE, "kind")
    source: OutageSource | None = described(OUTAGE, "source")
    notes: str | None = described(OUTAGE, "notes")
    version: int = described(OUTAGE, "version")
    created_at: datetime | None = described(OUTAGE, "createdAt")
    updated_at: datetime | None = described(OUTAGE, "updatedAt")

    @strawberry.field(description="Whether it goes on: it has no end yet.")
    def ongoing(self) -> bool:
        return self.end is None

    @strawberry.field(description="The CI (or Service) that was out.")
    async def ci(self, info: Info) -> ConfigurationItem | None:
        loader = info.context.loaders.linked(OUTAGE, "ABOUT", Direction.OUT, "CI")
        rows = await loader.load(record_id(str(self.id), OUTAGE.label))
        return ConfigurationItem.from_props(rows[0]) if rows else None

    @strawberry.field(
        description="The global id of the availability alert it was recorded from; null for an "
        "outage entered by hand."
    )
    async def alert_id(self, info: Info) -> strawberry.ID | None:
        loader = info.context.loaders.linked(OUTAGE, "RECORDED_FROM", Direction.OUT, "Alert")
        rows = await loader.load(record_id(str(self.id), OUTAGE.label))
        return strawberry.ID(to_global_id("Alert", rows[0]["id"])) if rows else None

    @strawberry.field(
        description="The availability alert it was recorded from; null for an outage entered by "
        "hand."
    )
    async def alert(
        self, info: Info
    ) -> Annotated[AlertNode, strawberry.lazy("schema.events")] | None:
        from schema.events import AlertNode

        loader = info.context.loaders.linked(OUTAGE, "RECORDED_FROM", Direction.OUT, "Alert")
        rows = await loader.load(record_id(str(self.id), OUTAGE.label))
        return AlertNode.from_props(rows[0]) if rows else None


async def outages_on(info: Info, ci_id: str) -> list[OutageNode]:
    """A CI's outages (stored id), latest start first; for the CMDB's CI type."""
    loader = info.context.loaders.linked(CI, "ABOUT", Direction.IN, OUTAGE.label)
    rows: list[dict[str, Any]] = await loader.load(ci_id)
    chosen = sorted(rows, key=lambda r: (r["start"], r["id"]), reverse=True)
    return [OutageNode.from_props(r) for r in chosen]


def _agreement_ref(agreement: report.Agreement | None) -> AgreementRef | None:
    if agreement is None:
        return None
    return AgreementRef(
        id=strawberry.ID(to_global_id(agreement.label, agreement.id)),
        name=agreement.name or "",
        number=agreement.number,
    )


def _seconds(value: Any) -> int:
    return int(value.total_seconds())


@strawberry.type(description="Availability over one period of an agreement.")
class PeriodAvailability:
    start: datetime = strawberry.field(description="When the period (or the range) begins.")
    end: datetime = strawberry.field(
        description="When it ends (exclusive): the period's end, the range's end or now."
    )
    agreed_seconds: int = strawberry.field(
        description="The agreed time: the period's business time on the agreement's calendar."
    )
    downtime_seconds: int = strawberry.field(
        description="The business time during which it was down."
    )
    degraded_seconds: int = strawberry.field(
        description="The business time during which it was degraded but not down (not counted "
        "as downtime)."
    )
    availability: float | None = strawberry.field(
        description="1 - downtime / agreed time, in percent; null when the period has no agreed "
        "time."
    )
    target: float | None = strawberry.field(
        description="The availability target of the terms in force, in percent; null without one."
    )
    breached: bool = strawberry.field(description="Whether availability fell below the target.")
    terms_version: int | None = strawberry.field(
        description="The version of the agreement's terms the period is measured against."
    )
    outages: list[OutageNode] = strawberry.field(
        description="The outages behind the period: those overlapping it, of the CI or (for a "
        "Service) of the CIs it needs, earliest first."
    )

    @classmethod
    def of(cls, period: report.PeriodAvailability) -> PeriodAvailability:
        return cls(
            start=period.start,
            end=period.end,
            agreed_seconds=_seconds(period.agreed),
            downtime_seconds=_seconds(period.downtime),
            degraded_seconds=_seconds(period.degraded),
            availability=period.availability,
            target=period.target,
            breached=period.breached,
            terms_version=period.terms_version,
            outages=[OutageNode.from_props(dict(o.record)) for o in period.outages],
        )


@strawberry.type(description="A CI's or a Service's availability over a range, per period.")
class Availability:
    ci_id: strawberry.Private[str]
    by_propagation: bool = strawberry.field(
        description="Measured as a Service: down while the CIs down at the time take it down "
        "by the CMDB's propagation and redundancy rules; otherwise by its own outages."
    )
    agreement: AgreementRef | None = strawberry.field(
        description="The SLA or OLA whose calendar and target apply; null: 24x7 by month."
    )
    period: AvailabilityPeriod = strawberry.field(description="What the periods are.")
    start: datetime = strawberry.field(description="The range's start.")
    end: datetime = strawberry.field(description="The range's end (now at the latest).")
    agreed_seconds: int = strawberry.field(description="The agreed time over the range.")
    downtime_seconds: int = strawberry.field(description="The downtime over the range.")
    degraded_seconds: int = strawberry.field(description="The degraded time over the range.")
    availability: float | None = strawberry.field(
        description="Over the whole range, in percent; null without agreed time."
    )
    periods: list[PeriodAvailability] = strawberry.field(description="Each period, in order.")
    breaches: list[PeriodAvailability] = strawberry.field(
        description="The periods whose availability fell below their target."
    )

    @strawberry.field(description="The CI or Service measured.")
    async def ci(self, info: Info) -> ConfigurationItem | None:
        props = await info.context.loaders.ci.load(self.ci_id)
        return ConfigurationItem.from_props(props) if props else None

    @classmethod
    def of(cls, measured: report.Availability) -> Availability:
        periods = [PeriodAvailability.of(p) for p in measured.periods]
        return cls(
            ci_id=measured.ci_id,
            by_propagation=measured.service,
            agreement=_agreement_ref(measured.agreement),
            period=AvailabilityPeriod(measured.period.value),
            start=measured.start,
            end=measured.end,
            agreed_seconds=_seconds(measured.agreed),
            downtime_seconds=_seconds(measured.downtime),
            degraded_seconds=_seconds(measured.degraded),
            availability=measured.availability,
            periods=periods,
            breaches=[p for p in periods if p.breached],
        )


@strawberry.type(description="One SLA against its availability target, per Service it covers.")
class SLACompliance:
    sla: AgreementRef = strawberry.field(description="The SLA.")
    target: float | None = strawberry.field(
        description="Its availability target (terms in force at the range's end), in percent."
    )
    actual: float | None = strawberry.field(
        description="The lowest availability of its Services over the range, in percent."
    )
    breached: bool = strawberry.field(
        description="Whether any period of any of its Services fell below its target."
    )
    services: list[Availability] = strawberry.field(
        description="Each Service it covers, per period; `breaches` lists the breached periods "
        "with the outages behind them."
    )

    @classmethod
    def of(cls, measured: report.SLACompliance) -> SLACompliance:
        ref = _agreement_ref(measured.sla)
        assert ref is not None
        return cls(
            sla=ref,
            target=measured.target,
            actual=measured.actual,
            breached=measured.breached,
            services=[Availability.of(s) for s in measured.services],
        )


@strawberry.type(description="One customer by the SLAs agreed with them.")
class CustomerCompliance:
    customer: AgreementRef = strawberry.field(description="The customer.")
    breached: bool = strawberry.field(description="Whether any of their SLAs was breached.")
    slas: list[SLACompliance] = strawberry.field(description="Their SLAs, by number.")


@strawberry.type(description="Availability against the agreements' targets over a range.")
class AvailabilityReport:
    start: datetime = strawberry.field(description="The range's start.")
    end: datetime = strawberry.field(description="The range's end (now at the latest).")
    slas: list[SLACompliance] = strawberry.field(
        description="The SLAs asked for (all active SLAs with a target when none are named)."
    )
    customers: list[CustomerCompliance] = strawberry.field(description="The customers asked for.")

    @classmethod
    def of(cls, measured: report.ComplianceReport) -> AvailabilityReport:
        slas = {s.sla.id: SLACompliance.of(s) for s in measured.slas}
        for c in measured.customers:
            for s in c.slas:
                slas.setdefault(s.sla.id, SLACompliance.of(s))
        return cls(
            start=measured.start,
            end=measured.end,
            slas=[slas[s.sla.id] for s in measured.slas],
            customers=[
                CustomerCompliance(
                    customer=AgreementRef(
                        id=strawberry.ID(to_global_id("Customer", c.customer["id"])),
                        name=c.customer.get("name") or "",
                        number=c.customer.get("number"),
                    ),
                    breached=c.breached,
                    slas=[slas[s.sla.id] for s in c.slas],
                )
                for c in measured.customers
            ],
        )
