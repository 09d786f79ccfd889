"""Notifications: e-mail and mobile push to People and Teams about a record (placeholder: the
channels land with their own change)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from graphdb.write_path import UnitOfWork


@dataclass(frozen=True)
class Addressee:
    label: str  # Person or Team
    id: str


def notify(
    uow: UnitOfWork,
    *,
    about_label: str,
    about_id: str,
    to: Sequence[Addressee],
    subject: str,
    body: str,
    reason: str,
    key: str,
) -> int:
    """Queue a notification about the record to each addressee on every channel they have, sent
    by workers once the transaction commits. `key` makes it idempotent: the same key again queues
    nothing. Returns how many deliveries were queued."""
    return 0
