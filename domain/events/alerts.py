"""De-duplicating events into alerts and acting on them. (Owned by event management.)"""

from __future__ import annotations

from collections.abc import Sequence

from domain.events import IncomingEvent
from graphdb.write_path import UnitOfWork


def process_events(uow: UnitOfWork, events: Sequence[IncomingEvent]) -> list[str]:
    raise NotImplementedError
