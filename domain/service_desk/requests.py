"""Service requests: the kernel's record, with the one rule of its own that a refusal says why."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.incidents import REJECT_NEEDS_NOTES
from core.states import GuardFailure, register_guard


def _reject_needs_notes(
    record: Mapping[str, Any], changes: Mapping[str, Any]
) -> GuardFailure | None:
    if not str(changes.get("notes") or "").strip():
        return GuardFailure(
            "notes", "required", "rejecting a request needs notes that tell the caller why"
        )
    return None


register_guard(REJECT_NEEDS_NOTES, _reject_needs_notes)
