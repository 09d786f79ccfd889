"""The Service Catalog: one entry per Service as it is offered (pipeline, live, retired), and the
catalogue as people read it: each entry with its Service, the active SLAs covering it and the
Customers they are agreed with."""

from __future__ import annotations

import dataclasses
from typing import Any

from core.access import Actor, Permission
from core.errors import ValidationFailed
from core.ids import record_id
from core.records import Direction, RecordType
from core.service_level import CATALOG_ENTRY, CUSTOMER
from domain.service_level.rules import Rules
from graphdb.cypher import service_level as cypher
from graphdb.write_path import Store, UnitOfWork


def _one_entry_per_service(uow: UnitOfWork, record: RecordType, row: dict[str, Any]) -> None:
    """A Service has at most one catalogue entry that is not retired. Linking the entry took
    the Service's lock, so two entries written at once for one Service cannot both pass."""
    if row.get("status") == "retired":
        return
    services = cypher.linked(
        uow.tx, record.label, [row["id"]], "DESCRIBES", Direction.OUT, "Service"
    )
    for service in services[row["id"]]:
        others = [
            e for e in cypher.live_entries_of_service(uow.tx, service["id"]) if e["id"] != row["id"]
        ]
        if others:
            other = others[0]
            raise ValidationFailed(
                "service",
                "duplicate",
                f"Service {service['name']!r} already has catalogue entry {other['number']} "
                f"({other['name']!r}, {other['status']}); retire it first",
                existing=other["number"],
            )


CATALOGUE_RULES = Rules(written=(_one_entry_per_service,))


def current_entry(entries: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Of the entries describing one Service, the one that counts: the one not retired (the
    rules keep it to at most one)."""
    return next((e for e in entries if e.get("status") != "retired"), None)


# A page of the catalogue as the API asks for it: statuses (any of), a Customer (its global or
# stored id here; the domain hands the stored one on), and the cursor bounds (name, id).
CatalogueSearch = cypher.CataloguePage


def service_catalog(
    store: Store, actor: Actor, search: CatalogueSearch
) -> tuple[list[dict[str, Any]], int | None]:
    """Entries by name, each {entry, service, slas: [{sla, customers}]} (the active SLAs
    covering the Service, each with its Customers), and how many match (when asked)."""
    actor.require(Permission.READ)
    if search.statuses is not None and not search.statuses:
        raise ValidationFailed("filter.status", "empty", "give at least one status to match")
    known = CATALOG_ENTRY.states.states if CATALOG_ENTRY.states else ()
    for status in search.statuses or ():
        if status not in known:
            raise ValidationFailed(
                "filter.status",
                "unknown_status",
                f"unknown status {status!r}; one of: " + ", ".join(known),
            )
    customer = (
        record_id(search.customer, CUSTOMER.label, field="filter.customer")
        if search.customer is not None
        else None
    )
    query = dataclasses.replace(search, customer=customer)
    return store.read(lambda tx: cypher.catalogue(tx, query))
