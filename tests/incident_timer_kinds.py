"""A timer kind for the tests only: firing it puts the incident on hold, as an escalation made
by a worker would change it, and announces the change.

Workers started by the tests load it through `ITSM_EXTENSION_MODULES`.
"""

from __future__ import annotations

from domain.incidents import events
from graphdb.timers import DueTimer, timer_kind
from graphdb.write_path import UnitOfWork

MARK_INCIDENT = "test.mark_incident"


@timer_kind(MARK_INCIDENT, "marks the incident's title, as a worker's change")
def mark_incident(uow: UnitOfWork, timer: DueTimer) -> None:
    before = uow.lock("Incident", timer.record_id)
    after = uow.update(
        "Incident",
        timer.record_id,
        {"title": f"{before['title']} (seen by a worker)"},
        expected_version=None,
    )
    events.incident_changed(uow, after, events.Change.CHANGED)
