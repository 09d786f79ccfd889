"""Agreements as records: SLAs (the Services they cover, the Customers they are agreed with) and
OLAs (the SLAs they underpin, the Team that delivers them). Their terms are versioned records of
their own (`domain.service_level.terms`); only an active agreement governs anything."""

from __future__ import annotations

from typing import Any

from core.errors import ValidationFailed
from core.records import RecordType
from domain.service_level.rules import Rules, is_retired, transition_with
from graphdb.cypher import service_level as cypher
from graphdb.write_path import UnitOfWork

# Beyond what every Service Level Management record obeys (`rules`): nothing retired gains links,
# so a retired Customer is agreed no new SLA and a retired Team delivers no new OLA.
SLA_RULES = Rules()
OLA_RULES = Rules()


def _nothing_it_names_is_retired(uow: UnitOfWork, record: RecordType, row: dict[str, Any]) -> None:
    """An agreement that comes into force must not name a retired Customer, Team, SLA or
    Service: it could never be kept (and a Customer with active SLAs cannot be retired)."""
    for link in record.link_fields:
        others = cypher.linked(
            uow.tx, record.label, [row["id"]], link.type, link.direction, link.other
        )
        retired = [o["name"] for o in others[row["id"]] if is_retired(o)]
        if retired:
            raise ValidationFailed(
                "state",
                "names_retired",
                f"{record.label} {row.get('name')!r} cannot come into force: its {link.name} "
                f"{', '.join(repr(r) for r in retired)} retired; update its {link.name} first",
            )


def _in_force_names_nothing_retired(
    uow: UnitOfWork, record: RecordType, target: str, row: dict[str, Any]
) -> None:
    if target == "active":
        _nothing_it_names_is_retired(uow, record, row)


# An SLA's or OLA's step; activating is refused while it names anything retired.
transition_agreement = transition_with(_in_force_names_nothing_retired)
