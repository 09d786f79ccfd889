"""Agreements as records: SLAs (the Services they cover, the Customers they are agreed with) and
OLAs (the SLAs they underpin, the Team that delivers them). Their terms are versioned records of
their own (`domain.service_level.terms`); only an active agreement governs anything."""

from __future__ import annotations

from domain.service_level.rules import Rules

# Beyond what every Service Level Management record obeys (`rules`): nothing retired gains links,
# so a retired Customer is agreed no new SLA and a retired Team delivers no new OLA.
SLA_RULES = Rules()
OLA_RULES = Rules()
