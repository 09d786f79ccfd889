"""Resolvers for Availability Management: outages (one, the list, recorded, changed and ended by
hand; the rules are `domain.availability.outages`'s), availability per period and the
compliance report (`domain.availability.report`)."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Annotated

import strawberry

from core import events as declared
from core.events import OUTAGE
from core.ids import record_id
from domain import records
from domain.availability import outages, report
from resolvers.payloads import refusals_in_payload
from resolvers.records import create_field, record_field, update_field
from schema.availability import Availability, AvailabilityReport, OutageNode
from schema.common import MutationPayload
from schema.context import Info
from schema.paging import (
    After,
    Before,
    Connection,
    First,
    Last,
    connection_of_rows,
    page_request,
    wants_total,
)
from schema.records import SortDirection, stored, values_enum

if TYPE_CHECKING:
    from core.events import OutageKind, OutageSource
else:
    OutageKind = values_enum(declared.OutageKind)
    OutageSource = values_enum(declared.OutageSource)

DEFAULT_PAGE = 50

# A report's range, [from, to): `from` is a Python keyword.
Since = Annotated[datetime, strawberry.argument(name="from", description="The range's start.")]
Until = Annotated[
    datetime, strawberry.argument(name="to", description="The range's end (exclusive).")
]


@strawberry.input(description="Conditions on outages; all given conditions must hold.")
class OutageFilter:
    cis: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Only outages of these CIs (or Services)."
    )
    kind: list[OutageKind] | None = strawberry.field(
        default=None, description="Only outages of these kinds."
    )
    source: list[OutageSource] | None = strawberry.field(
        default=None, description="Only outages recorded this way."
    )
    ongoing: bool | None = strawberry.field(
        default=None, description="true: only those going on; false: only those that ended."
    )
    since: datetime | None = strawberry.field(
        default=None,
        name="from",
        description="Only outages still going on at or after this instant.",
    )
    until: datetime | None = strawberry.field(
        default=None, name="to", description="Only outages that began before this instant."
    )


@strawberry.input(description="How to sort outages: by their start, ties by id.")
class OutageOrder:
    direction: SortDirection = strawberry.field(
        default=SortDirection.ASC, description="Earliest first (ASC) or latest first (DESC)."
    )


@strawberry.input(description="An outage going on that is over.")
class EndOutageInput:
    id: strawberry.ID = strawberry.field(description="The outage's global or stored id.")
    version: int | None = strawberry.field(
        default=None, description="The version you read, to refuse a stale change."
    )
    end: datetime | None = strawberry.field(
        default=None,
        description="When it ended (not after now, not before its start); now when not given.",
    )


@strawberry.type(description="The answer to endOutage.")
class EndOutagePayload(MutationPayload):
    outage: OutageNode | None = strawberry.field(default=None, description="The outage, ended.")


def _ids(given: list[strawberry.ID] | None, label: str, where: str) -> list[str] | None:
    if given is None:
        return None
    return [record_id(str(v), label, field=f"{where}[{i}]") for i, v in enumerate(given)]


@strawberry.type
class AvailabilityQuery:
    outage = record_field(OUTAGE, OutageNode)

    @strawberry.field(
        description="Outages, filtered by CI, kind, source, whether they go on and the time "
        "they overlap, ordered by start."
    )
    async def outages(
        self,
        info: Info,
        filter: Annotated[
            OutageFilter | None, strawberry.argument(description="Conditions; all when not given.")
        ] = None,
        order_by: Annotated[
            OutageOrder | None,
            strawberry.argument(description="The order; by start, earliest first, when not given."),
        ] = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[OutageNode]:
        ctx = info.context
        request = page_request(
            first=first, after=after, last=last, before=before, default=DEFAULT_PAGE, key_size=2
        )
        given = filter or OutageFilter()
        search = records.RecordSearch(
            filters={
                "kind": [stored(k) for k in given.kind] if given.kind is not None else None,
                "source": [stored(s) for s in given.source] if given.source is not None else None,
            },
            order="start",
            descending=(order_by or OutageOrder()).direction is SortDirection.DESC,
            after=request.after_key,
            before=request.before_key,
            backward=request.backward,
            limit=request.size + 1,
            count=wants_total(info),
        )
        page = partial(
            outages.outage_page,
            ctx.store,
            ctx.actor,
            search,
            ci_ids=_ids(given.cis, "CI", "filter.cis"),
            ongoing=given.ongoing,
            overlapping=(given.since, given.until),
        )
        rows, total = await ctx.run(page)
        loader = ctx.loaders.record(OUTAGE)

        def node(row: dict[str, object]) -> OutageNode:
            loader.prime(str(row["id"]), dict(row))
            return OutageNode.from_props(dict(row))

        return connection_of_rows(request, rows, total, node)

    @strawberry.field(
        description="A CI's availability (by its own outages) or a Service's (down while what "
        "is down at the time takes it down, by the CMDB's propagation and redundancy rules) over "
        "[from, to), per period of the agreement's availability terms on its calendar; 24x7 by "
        "month without an agreement. The range ends now at the latest; an outage going on counts "
        "until then."
    )
    async def availability(
        self,
        info: Info,
        since: Since,
        until: Until,
        ci: Annotated[
            strawberry.ID | None, strawberry.argument(description="The CI, by its own outages.")
        ] = None,
        service: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="The Service, by what it needs."),
        ] = None,
        agreement: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="The SLA or OLA whose terms apply."),
        ] = None,
    ) -> Availability:
        ctx = info.context
        measure = partial(
            report.availability,
            ctx.store,
            ctx.actor,
            ci_id=record_id(str(ci), "CI", field="ci") if ci is not None else None,
            service_id=record_id(str(service), "CI", field="service")
            if service is not None
            else None,
            start=since,
            end=until,
            agreement=str(agreement) if agreement is not None else None,
        )
        return Availability.of(await ctx.run(measure))

    @strawberry.field(
        description="The compliance report over [from, to): each SLA named (and each agreed "
        "with a customer named) against its availability target per Service it covers, with "
        "the breached periods and the outages behind them; each customer by its SLAs. With "
        "neither, every active SLA that sets an availability target."
    )
    async def availability_report(
        self,
        info: Info,
        since: Since,
        until: Until,
        slas: Annotated[
            list[strawberry.ID] | None, strawberry.argument(description="SLAs to report on.")
        ] = None,
        customers: Annotated[
            list[strawberry.ID] | None,
            strawberry.argument(description="Customers to report on, by their SLAs."),
        ] = None,
    ) -> AvailabilityReport:
        ctx = info.context
        measure = partial(
            report.compliance,
            ctx.store,
            ctx.actor,
            start=since,
            end=until,
            sla_ids=_ids(slas, "SLA", "slas") or [],
            customer_ids=_ids(customers, "Customer", "customers") or [],
        )
        return AvailabilityReport.of(await ctx.run(measure))


@strawberry.type
class AvailabilityMutation:
    create_outage = create_field(
        OUTAGE,
        OutageNode,
        create=outages.record_outage,
        description="Record an outage by hand (source manual): its CI, kind, start and, when it "
        "is over, its end; neither in the future, the end not before the start. Agents and "
        "managers record outages.",
    )
    update_outage = update_field(
        OUTAGE,
        OutageNode,
        update=outages.update_outage,
        description="Correct an outage: its start, end, kind, notes, or (when entered by hand) "
        "its CI; the end never before the start, neither in the future.",
    )

    @strawberry.mutation(
        description="End an outage that goes on, at `end` (now when not given); nothing is "
        "written when it is refused."
    )
    @refusals_in_payload(EndOutagePayload)
    async def end_outage(
        self,
        info: Info,
        input: Annotated[EndOutageInput, strawberry.argument(description="The outage and end.")],
    ) -> EndOutagePayload:
        ctx = info.context
        end = partial(
            outages.end_outage,
            ctx.store,
            ctx.actor,
            record_id(str(input.id), OUTAGE.label, field="id"),
            input.end,
            version=input.version,
        )
        return EndOutagePayload(outage=OutageNode.from_props(await ctx.run(end)))
