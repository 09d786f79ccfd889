"""The actors. Each is a thin shell over a domain operation, keyed by record id."""

from __future__ import annotations

import dramatiq

from domain import configuration
from workers.runtime import store


@dramatiq.actor(max_retries=5, min_backoff=500, max_backoff=30_000)
def refresh_blast_radius(ci_id: str) -> None:
    configuration.refresh_blast_radius(store(), ci_id)


@dramatiq.actor(max_retries=3, min_backoff=1000, max_backoff=60_000, time_limit=3_600_000)
def refresh_blast_radius_many(ci_ids: list[str]) -> None:
    configuration.refresh_blast_radius_many(store(), ci_ids)


@dramatiq.actor(max_retries=3, min_backoff=1000, max_backoff=60_000, time_limit=3_600_000)
def refresh_blast_radius_upstream(ci_ids: list[str]) -> None:
    configuration.refresh_blast_radius_upstream(store(), ci_ids)
