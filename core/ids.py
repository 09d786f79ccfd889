"""Global object ids: one opaque id per record across every type, as Relay clients expect.

A global id is `base64url("<Label>:<record id>")` without padding. Inputs also accept the bare
record id that the graph stores, so scripts written before global ids keep working.
"""

from __future__ import annotations

import base64
import binascii

from core.errors import ValidationFailed


def to_global_id(label: str, record_id: str) -> str:
    raw = f"{label}:{record_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parse_global_id(value: str) -> tuple[str, str] | None:
    """(label, record id) when `value` is a global id, else None."""
    padded = value + "=" * (-len(value) % 4)
    try:
        text = base64.urlsafe_b64decode(padded.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    label, sep, record_id = text.partition(":")
    if not sep or not label.isidentifier() or not label[:1].isupper() or not record_id:
        return None
    return label, record_id


def record_id(value: str, label: str, *, field: str = "id") -> str:
    """The stored id behind a global id of `label`, or a bare stored id as given.

    A global id of another type is refused by name, so that passing an Incident's id where a CI's
    is wanted says so instead of answering "not found".
    """
    parsed = parse_global_id(value)
    if parsed is None:
        return value
    found, rid = parsed
    if found != label:
        raise ValidationFailed(
            field, "wrong_type", f"{value!r} is the id of a {found}, not of a {label}"
        )
    return rid
