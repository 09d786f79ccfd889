"""Resolvers for Service Level Management: the parties, the catalogue and the agreements, each
with its list, one by id or number, create, update and its lifecycle; and the Service Catalog.

Every write needs MANAGE_SERVICE_LEVELS (managers, admins); the rules are the domain's
(`domain.service_level`), passed to the kernel's generated mutations.
"""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from core.access import Permission
from core.records import RecordType
from core.service_level import CATALOG_ENTRY, CUSTOMER, OLA, PERSON, SLA, TEAM
from domain.service_level import catalogue, parties
from domain.service_level.agreements import OLA_RULES, SLA_RULES
from domain.service_level.catalogue import CATALOGUE_RULES
from domain.service_level.parties import CUSTOMER_RULES, PERSON_RULES, TEAM_RULES
from domain.service_level.rules import Rules
from resolvers.records import (
    Creator,
    connection_field,
    create_field,
    record_field,
    transition_field,
    update_field,
)
from schema.cmdb import ConfigurationItem
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
from schema.records import stored
from schema.service_level import (
    CatalogAgreement,
    CatalogEntryNode,
    CatalogItem,
    CustomerNode,
    OLANode,
    PersonNode,
    ServiceCatalogFilter,
    SLANode,
    TeamNode,
)

MANAGE = Permission.MANAGE_SERVICE_LEVELS
DEFAULT_CATALOGUE_PAGE = 50


def _writes(
    record: RecordType, node: type[Any], rules: Rules, transition: Creator | None = None
) -> tuple[Any, Any, Any]:
    """A record type's create, update and transition mutations, with its rules."""
    return (
        create_field(record, node, create=rules.create, permission=MANAGE),
        update_field(record, node, update=rules.update, permission=MANAGE),
        transition_field(record, node, permission=MANAGE, transition=transition),
    )


def _reads(record: RecordType, node: type[Any], plural: str) -> tuple[Any, Any]:
    return (
        record_field(record, node),
        connection_field(
            record,
            node,
            description=f"{plural}, filtered and sorted; retired ones too unless filtered out.",
            default_order="name",
        ),
    )


_customer, _customers = _reads(CUSTOMER, CustomerNode, "Customers")
_team, _teams = _reads(TEAM, TeamNode, "Teams")
_person, _people = _reads(PERSON, PersonNode, "People")
_entry, _entries = _reads(CATALOG_ENTRY, CatalogEntryNode, "Catalogue entries")
_sla, _slas = _reads(SLA, SLANode, "SLAs")
_ola, _olas = _reads(OLA, OLANode, "OLAs")


def _catalog_item(row: dict[str, Any]) -> CatalogItem:
    service = row["service"]
    return CatalogItem(
        entry=CatalogEntryNode.from_props(row["entry"]),
        service=ConfigurationItem.from_props(service) if service else None,
        agreements=[
            CatalogAgreement(
                sla=SLANode.from_props(agreement["sla"]),
                customers=[CustomerNode.from_props(c) for c in agreement["customers"]],
            )
            for agreement in row["slas"]
        ],
    )


async def _service_catalog(
    info: Info,
    filter: Annotated[
        ServiceCatalogFilter | None,
        strawberry.argument(description="Which entries; every entry when not given."),
    ] = None,
    first: First = None,
    after: After = None,
    last: Last = None,
    before: Before = None,
) -> Connection[CatalogItem]:
    ctx = info.context
    request = page_request(
        first=first,
        after=after,
        last=last,
        before=before,
        default=DEFAULT_CATALOGUE_PAGE,
        key_size=2,
    )
    statuses = filter.status if filter is not None else None
    search = catalogue.CatalogueSearch(
        statuses=[stored(s) for s in statuses] if statuses is not None else None,
        customer=str(filter.customer) if filter and filter.customer is not None else None,
        after=request.after_key,
        before=request.before_key,
        backward=request.backward,
        limit=request.size + 1,
        count=wants_total(info),
    )
    rows, total = await ctx.run(catalogue.service_catalog, ctx.store, ctx.actor, search)
    for row in rows:
        if row["service"]:
            ctx.loaders.ci.prime(row["service"]["id"], row["service"])
    # Entries are ordered by name, ties by id: the cursor's position is the name.
    return connection_of_rows(
        request,
        [({**row, "id": row["entry"]["id"]}, row["entry"]["name"]) for row in rows],
        total,
        _catalog_item,
    )


@strawberry.type(description="Service Level Management: parties, the catalogue, agreements.")
class ServiceLevelQuery:
    customer = _customer
    customers = _customers
    team = _team
    teams = _teams
    person = _person
    people = _people
    catalog_entry = _entry
    catalog_entries = _entries
    sla = _sla
    slas = _slas
    ola = _ola
    olas = _olas
    service_catalog: Connection[CatalogItem] = strawberry.field(
        resolver=_service_catalog,
        description="The Service Catalog by entry name: each entry with its Service, the active "
        "SLAs covering it and the Customers they are agreed with.",
    )


_create_customer, _update_customer, _transition_customer = _writes(
    CUSTOMER, CustomerNode, CUSTOMER_RULES, parties.transition_customer
)
_create_team, _update_team, _transition_team = _writes(TEAM, TeamNode, TEAM_RULES)
_create_person, _update_person, _transition_person = _writes(PERSON, PersonNode, PERSON_RULES)
_create_entry, _update_entry, _transition_entry = _writes(
    CATALOG_ENTRY, CatalogEntryNode, CATALOGUE_RULES
)
_create_sla, _update_sla, _transition_sla = _writes(SLA, SLANode, SLA_RULES)
_create_ola, _update_ola, _transition_ola = _writes(OLA, OLANode, OLA_RULES)


@strawberry.type(description="Service Level Management's changes; each needs the manager role.")
class ServiceLevelMutation:
    create_customer = _create_customer
    update_customer = _update_customer
    transition_customer = _transition_customer
    create_team = _create_team
    update_team = _update_team
    transition_team = _transition_team
    create_person = _create_person
    update_person = _update_person
    transition_person = _transition_person
    create_catalog_entry = _create_entry
    update_catalog_entry = _update_entry
    transition_catalog_entry = _transition_entry
    create_sla = _create_sla
    update_sla = _update_sla
    transition_sla = _transition_sla
    create_ola = _create_ola
    update_ola = _update_ola
    transition_ola = _transition_ola
