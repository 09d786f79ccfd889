"""What the notifications about an incident say: plain text, the same on every channel.

Each helper answers `(subject, body)` for `domain.notifications.notify`. The body names the
incident (number, title, priority, CI), what happened and when, and a link that opens the incident
in the API (`ITSM_PUBLIC_URL`, the address people reach the service at).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"


def public_url() -> str:
    return (os.environ.get("ITSM_PUBLIC_URL") or DEFAULT_PUBLIC_URL).rstrip("/")


def incident_link(incident: Mapping[str, Any]) -> str:
    """A GraphiQL link whose query opens the incident by its number."""
    number = incident.get("number", "")
    query = (
        f'{{ incident(number: "{number}") {{ number title state priority slaStage '
        "responseDueAt resolutionDueAt } }"
    )
    return f"{public_url()}/graphql?{urlencode({'query': query})}"


def _when(value: Any) -> str:
    if value is None:
        return "not set"
    if hasattr(value, "to_native"):
        value = value.to_native()
    if isinstance(value, datetime) and value.utcoffset() is not None:
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return str(value)


def _facts(incident: Mapping[str, Any], ci: str | None, *extra: tuple[str, str]) -> str:
    lines = [
        ("Incident", f"{incident.get('number', '?')}: {incident.get('title', '')}"),
        ("Priority", str(incident.get("priority") or "not set")),
        ("CI", ci or "not given"),
        ("State", str(incident.get("state") or "")),
        *extra,
        ("Open it", incident_link(incident)),
    ]
    return "\n".join(f"{label}: {value}" for label, value in lines) + "\n"


def _head(incident: Mapping[str, Any], what: str) -> str:
    priority = incident.get("priority") or "P?"
    return f"[{priority}] {incident.get('number', '?')} {what}: {incident.get('title', '')}"[:300]


def major_incident(incident: Mapping[str, Any], *, ci: str | None = None) -> tuple[str, str]:
    """A major incident was declared."""
    subject = _head(incident, "MAJOR INCIDENT")
    body = (
        "A major incident has been declared.\n\n"
        + _facts(incident, ci, ("Reported", _when(incident.get("createdAt"))))
        + "\nJoin the major incident bridge and keep the incident record up to date.\n"
    )
    return subject, body


def _clock(clock: str) -> str:
    return {"response": "Response", "resolution": "Resolution"}.get(clock, clock.capitalize())


def warning(
    incident: Mapping[str, Any],
    clock: str,
    due_at: Any,
    *,
    percent: int | None = None,
    ci: str | None = None,
) -> tuple[str, str]:
    """A clock (response, resolution) has used up its warning share of the target."""
    used = f" ({percent}% of the target used)" if percent is not None else ""
    subject = _head(incident, f"{clock} target at risk")
    body = f"The {clock} target of this incident falls due soon{used}.\n\n" + _facts(
        incident, ci, ("Clock", _clock(clock)), ("Due", _when(due_at))
    )
    return subject, body


def breach(
    incident: Mapping[str, Any],
    clock: str,
    breached_at: Any,
    *,
    due_at: Any = None,
    ci: str | None = None,
) -> tuple[str, str]:
    """A clock has passed its target."""
    subject = _head(incident, f"{clock} target BREACHED")
    body = f"The {clock} target of this incident has been breached.\n\n" + _facts(
        incident,
        ci,
        ("Clock", _clock(clock)),
        ("Was due", _when(due_at if due_at is not None else breached_at)),
        ("Breached", _when(breached_at)),
    )
    return subject, body


def escalation(
    incident: Mapping[str, Any],
    level: int,
    clock: str,
    due_at: Any,
    *,
    reassigned_to: str | None = None,
    ci: str | None = None,
) -> tuple[str, str]:
    """The incident climbed its escalation path to `level`."""
    subject = _head(incident, f"escalated to level {level}")
    extra = [("Escalation level", str(level)), ("Clock", _clock(clock)), ("Due", _when(due_at))]
    if reassigned_to:
        extra.append(("Reassigned to", reassigned_to))
    body = (
        f"This incident has been escalated to level {level} of its escalation path.\n\n"
        + _facts(incident, ci, *extra)
    )
    return subject, body
