"""Service Level Management in GraphQL: Customers, Teams, People, the Service Catalog's entries,
SLAs and OLAs, each with the records its links join it to, and the catalogue as one list.

Link fields read through per-request loaders (`Loaders.linked`): a page of Teams asking for their
members and Services costs one round trip per field, not one per Team.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Self, TypeVar

import strawberry

from core import priority as priorities
from core.ids import record_id
from core.record_types import CI
from core.records import Direction, RecordType
from core.service_level import CATALOG_ENTRY, CUSTOMER, OLA, PERSON, SLA, TEAM
from domain.service_level import catalogue
from schema import agreement_terms
from schema.agreement_terms import AgreementTermsNode
from schema.cmdb import ConfigurationItem
from schema.common import Node
from schema.context import Info
from schema.records import described, node_values, state_enum, values_enum

if TYPE_CHECKING:
    from core.priority import Priority
else:
    Priority = values_enum(priorities.Priority)

S = TypeVar("S", bound="_Served")

CustomerState = state_enum(CUSTOMER)
TeamState = state_enum(TEAM)
PersonState = state_enum(PERSON)
CatalogEntryStatus = state_enum(CATALOG_ENTRY)
SLAState = state_enum(SLA)
OLAState = state_enum(OLA)


async def _linked(
    info: Info, record: RecordType, node: Any, rel_type: str, direction: Direction, other: str
) -> list[dict[str, Any]]:
    loader = info.context.loaders.linked(record, rel_type, direction, other)
    found: list[dict[str, Any]] = await loader.load(record_id(str(node.id), record.label))
    return found


class _Served:
    """A node type that serves a declared record type, built from the record as read."""

    record: ClassVar[RecordType]

    @classmethod
    def from_props(cls, props: dict[str, Any]) -> Self:
        return node_values(cls.record, cls, props)


async def _nodes(
    info: Info, node: _Served, rel_type: str, direction: Direction, other: type[S]
) -> list[S]:
    """The records at the other end of a node's links, as nodes of their type, by name."""
    rows = await _linked(info, node.record, node, rel_type, direction, other.record.label)
    return [other.from_props(r) for r in rows]


async def _services(
    info: Info, record: RecordType, node: Any, rel_type: str, direction: Direction = Direction.OUT
) -> list[ConfigurationItem]:
    rows = await _linked(info, record, node, rel_type, direction, "Service")
    for row in rows:
        info.context.loaders.ci.prime(row["id"], row)
    return [ConfigurationItem.from_props(r) for r in rows]


async def catalog_entry_of(info: Info, service_id: str) -> dict[str, Any] | None:
    """A Service's catalogue entry that is not retired (there is at most one), read for every
    Service of a page at once."""
    loader = info.context.loaders.linked(CI, "DESCRIBES", Direction.IN, CATALOG_ENTRY.label)
    entries: list[dict[str, Any]] = await loader.load(service_id)
    return catalogue.current_entry(entries)


@strawberry.type(name="Customer", description=CUSTOMER.description)
class CustomerNode(Node, _Served):
    record: ClassVar[RecordType] = CUSTOMER
    number: str = described(CUSTOMER, "number")
    name: str = described(CUSTOMER, "name")
    description: str | None = described(CUSTOMER, "description")
    email: str | None = described(CUSTOMER, "email")
    state: CustomerState = described(CUSTOMER, "state")  # type: ignore[valid-type]
    version: int = described(CUSTOMER, "version")
    created_at: datetime | None = described(CUSTOMER, "createdAt")
    updated_at: datetime | None = described(CUSTOMER, "updatedAt")

    @strawberry.field(description="The SLAs agreed with this customer, in any state, by name.")
    async def slas(self, info: Info) -> list[SLANode]:
        return await _nodes(info, self, "AGREED_WITH", Direction.IN, SLANode)


@strawberry.type(name="Team", description=TEAM.description)
class TeamNode(Node, _Served):
    record: ClassVar[RecordType] = TEAM
    number: str = described(TEAM, "number")
    name: str = described(TEAM, "name")
    email: str | None = described(TEAM, "email")
    description: str | None = described(TEAM, "description")
    state: TeamState = described(TEAM, "state")  # type: ignore[valid-type]
    version: int = described(TEAM, "version")
    created_at: datetime | None = described(TEAM, "createdAt")
    updated_at: datetime | None = described(TEAM, "updatedAt")

    @strawberry.field(description="The Services the team supports, by name.")
    async def services(self, info: Info) -> list[ConfigurationItem]:
        return await _services(info, TEAM, self, "SUPPORTS_SERVICE")

    @strawberry.field(description="The people who are members of the team, by name.")
    async def members(self, info: Info) -> list[PersonNode]:
        return await _nodes(info, self, "MEMBER_OF", Direction.IN, PersonNode)

    @strawberry.field(description="The OLAs the team delivers, in any state, by name.")
    async def olas(self, info: Info) -> list[OLANode]:
        return await _nodes(info, self, "PROVIDED_BY", Direction.IN, OLANode)


@strawberry.type(name="Person", description=PERSON.description)
class PersonNode(Node, _Served):
    record: ClassVar[RecordType] = PERSON
    number: str = described(PERSON, "number")
    name: str = described(PERSON, "name")
    email: str = described(PERSON, "email")
    push_url: str | None = described(PERSON, "pushUrl")
    phone: str | None = described(PERSON, "phone")
    state: PersonState = described(PERSON, "state")  # type: ignore[valid-type]
    version: int = described(PERSON, "version")
    created_at: datetime | None = described(PERSON, "createdAt")
    updated_at: datetime | None = described(PERSON, "updatedAt")

    @strawberry.field(description="The teams the person is a member of, by name.")
    async def teams(self, info: Info) -> list[TeamNode]:
        return await _nodes(info, self, "MEMBER_OF", Direction.OUT, TeamNode)


@strawberry.type(name="CatalogEntry", description=CATALOG_ENTRY.description)
class CatalogEntryNode(Node, _Served):
    record: ClassVar[RecordType] = CATALOG_ENTRY
    number: str = described(CATALOG_ENTRY, "number")
    name: str = described(CATALOG_ENTRY, "name")
    offering_version: str | None = described(CATALOG_ENTRY, "offeringVersion")
    description: str | None = described(CATALOG_ENTRY, "description")
    offering: str | None = described(CATALOG_ENTRY, "offering")
    audience: str | None = described(CATALOG_ENTRY, "audience")
    status: CatalogEntryStatus = described(CATALOG_ENTRY, "status")  # type: ignore[valid-type]
    version: int = described(CATALOG_ENTRY, "version")
    created_at: datetime | None = described(CATALOG_ENTRY, "createdAt")
    updated_at: datetime | None = described(CATALOG_ENTRY, "updatedAt")

    @strawberry.field(description="The Service (a CI) the entry describes.")
    async def service(self, info: Info) -> ConfigurationItem | None:
        found = await _services(info, CATALOG_ENTRY, self, "DESCRIBES")
        return found[0] if found else None


@strawberry.type(name="SLA", description=SLA.description)
class SLANode(Node, _Served):
    record: ClassVar[RecordType] = SLA
    number: str = described(SLA, "number")
    name: str = described(SLA, "name")
    description: str | None = described(SLA, "description")
    state: SLAState = described(SLA, "state")  # type: ignore[valid-type]
    minimum_priority: Priority | None = described(SLA, "minimumPriority")
    version: int = described(SLA, "version")
    created_at: datetime | None = described(SLA, "createdAt")
    updated_at: datetime | None = described(SLA, "updatedAt")

    @strawberry.field(description="The Services the SLA covers, by name.")
    async def services(self, info: Info) -> list[ConfigurationItem]:
        return await _services(info, SLA, self, "COVERS")

    @strawberry.field(description="The Customers the SLA is agreed with, by name.")
    async def customers(self, info: Info) -> list[CustomerNode]:
        return await _nodes(info, self, "AGREED_WITH", Direction.OUT, CustomerNode)

    @strawberry.field(description="The OLAs that underpin the SLA, in any state, by name.")
    async def olas(self, info: Info) -> list[OLANode]:
        return await _nodes(info, self, "SUPPORTS", Direction.IN, OLANode)

    @strawberry.field(
        description="The terms in force now: targets, calendar, escalation path; null until "
        "they are set."
    )
    async def terms(self, info: Info) -> AgreementTermsNode | None:
        return await agreement_terms.current_terms(info, "SLA", record_id(str(self.id), "SLA"))

    @strawberry.field(description="Every version of the SLA's terms, newest first.")
    async def terms_history(self, info: Info) -> list[AgreementTermsNode]:
        return await agreement_terms.terms_history(info, "SLA", record_id(str(self.id), "SLA"))


@strawberry.type(name="OLA", description=OLA.description)
class OLANode(Node, _Served):
    record: ClassVar[RecordType] = OLA
    number: str = described(OLA, "number")
    name: str = described(OLA, "name")
    description: str | None = described(OLA, "description")
    state: OLAState = described(OLA, "state")  # type: ignore[valid-type]
    version: int = described(OLA, "version")
    created_at: datetime | None = described(OLA, "createdAt")
    updated_at: datetime | None = described(OLA, "updatedAt")

    @strawberry.field(description="The SLAs the OLA underpins, by name.")
    async def slas(self, info: Info) -> list[SLANode]:
        return await _nodes(info, self, "SUPPORTS", Direction.OUT, SLANode)

    @strawberry.field(description="The Team that delivers the OLA.")
    async def team(self, info: Info) -> TeamNode | None:
        found = await _nodes(info, self, "PROVIDED_BY", Direction.OUT, TeamNode)
        return found[0] if found else None

    @strawberry.field(
        description="The terms in force now: targets, calendar, escalation path; null until "
        "they are set."
    )
    async def terms(self, info: Info) -> AgreementTermsNode | None:
        return await agreement_terms.current_terms(info, "OLA", record_id(str(self.id), "OLA"))

    @strawberry.field(description="Every version of the OLA's terms, newest first.")
    async def terms_history(self, info: Info) -> list[AgreementTermsNode]:
        return await agreement_terms.terms_history(info, "OLA", record_id(str(self.id), "OLA"))


# -- the Service Catalog ---------------------------------------------------------------------


@strawberry.type(description="An active SLA covering a catalogue entry's Service.")
class CatalogAgreement:
    sla: SLANode = strawberry.field(description="The agreement.")
    customers: list[CustomerNode] = strawberry.field(
        description="The Customers it is agreed with, by name."
    )


@strawberry.type(
    description="A Service Catalog entry with its Service and the active SLAs that cover it."
)
class CatalogItem:
    entry: CatalogEntryNode = strawberry.field(description="The catalogue entry.")
    service: ConfigurationItem | None = strawberry.field(
        description="The Service the entry describes."
    )
    agreements: list[CatalogAgreement] = strawberry.field(
        description="The active SLAs covering the Service, by name, each with its Customers."
    )

    @strawberry.field(
        description="Every Customer the Service is agreed with through an active SLA, by name."
    )
    def customers(self) -> list[CustomerNode]:
        seen: dict[str, CustomerNode] = {}
        for agreement in self.agreements:
            for customer in agreement.customers:
                seen.setdefault(str(customer.id), customer)
        return sorted(seen.values(), key=lambda c: (c.name, str(c.id)))


@strawberry.input(description="Conditions on the Service Catalog; all given conditions must hold.")
class ServiceCatalogFilter:
    status: list[CatalogEntryStatus] | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Only entries in one of these statuses."
    )
    customer: strawberry.ID | None = strawberry.field(
        default=None,
        description="Only entries whose Service is covered by an active SLA agreed with this "
        "Customer (its global or stored id).",
    )
