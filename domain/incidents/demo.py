"""The demo's incidents: a few open ones on the shop, opened through the lifecycle as the Service
Desk would open them, so that a fresh install shows priorities, governing agreements, routing and
running clocks at once."""

from __future__ import annotations

from collections.abc import Mapping

from core.access import SYSTEM
from domain.incidents.lifecycle import open_incident_in
from graphdb.cypher import incidents as cypher
from graphdb.write_path import Store, UnitOfWork

# (CI key in domain.demo.CIS, title, impact, urgency, channel, description)
INCIDENTS = (
    (
        "ordersdb",
        "Checkout slow: orders-db replication lag",
        "medium",
        "high",
        "email",
        "Customers wait 20 s at checkout; orders-db reports replication lag to its replica.",
    ),
    (
        "searchapp",
        "Product search returns no results for some categories",
        "low",
        "medium",
        "portal",
        "Searching 'garden' returns nothing since this morning's index rebuild.",
    ),
    (
        "prn2f",
        "Printer on the second floor jams",
        "low",
        "low",
        "phone",
        "Paper jam on every duplex job.",
    ),
)


def load_demo_incidents(store: Store, cis: Mapping[str, str]) -> int:
    """Open the demo's incidents once; returns how many were opened (0 when any exist)."""

    def work(uow: UnitOfWork) -> int:
        if cypher.any_incident(uow.tx):
            return 0
        for key, title, impact, urgency, channel, description in INCIDENTS:
            open_incident_in(
                uow,
                {
                    "title": title,
                    "impact": impact,
                    "urgency": urgency,
                    "channel": channel,
                    "description": description,
                },
                {"ci": [cis[key]]},
            )
        return len(INCIDENTS)

    return store.write(SYSTEM, work)
