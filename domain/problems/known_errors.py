"""Known errors: generated from a problem with a root cause and a workaround and kept in step
with it, entered by hand too, and matched to new incidents by topology, then by text."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphdb.write_path import UnitOfWork


def follow_problem(uow: UnitOfWork, problem: Mapping[str, Any]) -> None:
    """After every save of a problem: its known error generated or brought in step."""


def match_incident(uow: UnitOfWork, incident_id: str, ci_id: str | None) -> None:
    """As an incident opens: the known errors that apply to it linked (MATCHES)."""
