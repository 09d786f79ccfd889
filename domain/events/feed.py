"""The feed of alert changes: what live subscribers of `alertChanges` hear.

Every unit of work that opens or changes an alert stages one announcement per alert (the last
one wins), with the few facts a subscriber filters on; the alert itself is then read with the
subscriber's own identity.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.events import Severity
from graphdb.cypher import alerts as cypher
from graphdb.write_path import UnitOfWork

TOPIC = "alert"


def alerts_changed(uow: UnitOfWork, alert_ids: Sequence[str], kind: str = "changed") -> None:
    """Announce these alerts as they stand in this transaction, once it commits."""
    if not alert_ids:
        return
    for facts in cypher.announcement_facts(uow.tx, list(dict.fromkeys(alert_ids))):
        earlier = uow.announced(TOPIC, facts["id"])
        # Opened and then changed in one transaction: subscribers never saw it, so it is new.
        said = "created" if earlier is not None and earlier["kind"] == "created" else kind
        uow.announce(TOPIC, {**facts, "kind": said, "at": uow.at.isoformat()}, key=facts["id"])


@dataclass(frozen=True)
class AlertFilter:
    """Which alerts a subscriber hears of: each given set means "any of these"."""

    cis: frozenset[str] | None = None
    severities: frozenset[Severity] | None = None

    def matches(self, announcement: Mapping[str, Any]) -> bool:
        if self.cis is not None and announcement.get("ci") not in self.cis:
            return False
        return self.severities is None or announcement.get("severity") in self.severities
