"""A timer kind for the tests only: firing it counts on the CI it is set on.

Workers and schedulers started by the tests load it through `ITSM_EXTENSION_MODULES`.
"""

from __future__ import annotations

from graphdb.timers import DueTimer, timer_kind
from graphdb.write_path import UnitOfWork

MARK_CI = "test.mark_ci"


@timer_kind(MARK_CI, "counts its firings on the CI, so that a second firing shows")
def mark_ci(uow: UnitOfWork, timer: DueTimer) -> None:
    uow.tx.run(
        "MATCH (n:CI {id: $id}) SET n.timerFired = coalesce(n.timerFired, 0) + 1",
        id=timer.record_id,
    ).consume()
