"""The demo's problem-to-release loop, ready to try: the orders-db replication lag as a problem
with its root cause and workaround (so its known error is generated and matched), a normal
change that fixes it, waiting for assessment with its risk explained, and a planned release that
ships it to the Online Shop's catalogue entry. Approving, scheduling, building and deploying are
left for whoever explores the demo."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from core.access import SYSTEM
from core.changes import CHANGE
from core.incidents import INCIDENT
from core.problems import KNOWN_ERROR, PROBLEM
from core.records import RecordType
from core.releases import RELEASE
from core.service_level import CATALOG_ENTRY
from domain import problems, records
from domain.changes import lifecycle as changes
from domain.records import RecordSearch
from graphdb.write_path import Store, now


def _first(
    store: Store,
    record: RecordType,
    *,
    text: str | None = None,
    filters: Mapping[str, Any] | None = None,
) -> str | None:
    search = RecordSearch(filters=filters or {}, text=text, limit=1, count=False)
    found, _ = records.page(store, SYSTEM, record, search)
    return str(found[0][0]["id"]) if found else None


def load_demo_problem_cycle(store: Store, cis: Mapping[str, str]) -> bool:
    """Load the loop once; returns False when the demo has a problem already."""
    if _first(store, PROBLEM) is not None:
        return False
    incident = _first(store, INCIDENT, text="replication lag")
    problem = records.create(
        store,
        SYSTEM,
        PROBLEM,
        {
            "title": "orders-db replica falls behind at peak",
            "description": "Checkout waits on the replica; the lag grows with every sale.",
            "rootCause": "The replica's volume on the SAN cannot keep up with the write rate.",
            "workaround": "Point checkout reads at the primary (feature flag reads-from-primary).",
        },
        {"cisAtFault": [cis["ordersdb"]], "incidents": [incident] if incident else []},
        also=problems.saved,
    )
    known = _first(store, KNOWN_ERROR)
    start = (now() + timedelta(days=7)).replace(hour=22, minute=0, second=0, microsecond=0)
    change = records.create(
        store,
        SYSTEM,
        CHANGE,
        {
            "title": "Move the orders-db replica to a faster volume",
            "description": "A new volume on the SAN's flash tier; the replica is resynced.",
            "changeType": "normal",
            "plannedStart": start,
            "plannedEnd": start + timedelta(hours=2),
        },
        {
            "cis": [cis["ordersdb2"]],
            "fixes": [known] if known else [],
            "problems": [problem["id"]],
        },
        also=changes.saved,
    )
    entry = _first(store, CATALOG_ENTRY, filters={"name": "Online Shop"})
    records.create(
        store,
        SYSTEM,
        RELEASE,
        {
            "title": "Online Shop 2026.12",
            "releaseVersion": "2026.12",
            "plannedStart": start,
            "plannedEnd": start + timedelta(hours=2),
        },
        {"changes": [change["id"]], "catalogEntries": [entry] if entry else []},
    )
    return True
