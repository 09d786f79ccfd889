"""Parties: the Customers services are agreed with, the Teams that support them, and the People
in those teams who are notified. E-mail and push addresses are checked when they are written, so
that an escalation never finds out at 3 a.m. that it cannot reach anyone."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email

from core.access import Actor, Permission
from core.errors import ValidationFailed
from core.records import RecordType
from domain import records
from domain.service_level.rules import Rules
from graphdb.cypher import service_level as cypher
from graphdb.write_path import Store, UnitOfWork

# Local receivers (a test's webhook server, a developer's) may be plain http; nothing else.
_PLAIN_HTTP_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def email_address(value: Any, field: str = "email") -> Any:
    """An e-mail address as written to be stored, or a refusal naming `field`."""
    if not isinstance(value, str):
        return value  # not text at all: the declaration's check says so
    try:
        # Syntax only: whether the domain takes mail is for the mail relay to find out, and a
        # DNS lookup per write would make writes depend on the network.
        checked = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as refused:
        raise ValidationFailed(
            field, "not_an_email", f"{value!r} is not an e-mail address: {refused}"
        ) from refused
    return checked.normalized


def push_url(value: Any, field: str = "pushUrl") -> Any:
    """A webhook address: absolute https (http only to this machine), or a refusal."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    try:
        parts = urlsplit(text)
        host = parts.hostname
    except ValueError:
        host = None
        parts = None
    if parts is None or not host or parts.scheme not in ("https", "http"):
        raise ValidationFailed(
            field, "not_a_url", f"{value!r} is not an absolute https address (https://host/path)"
        )
    if parts.scheme == "http" and host not in _PLAIN_HTTP_HOSTS:
        raise ValidationFailed(
            field,
            "not_https",
            f"{value!r} would send notifications unencrypted: use https (plain http only to "
            "localhost)",
        )
    return text


def _contact(values: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(values)
    if out.get("email") is not None:
        out["email"] = email_address(out["email"])
    if out.get("pushUrl") is not None:
        out["pushUrl"] = push_url(out["pushUrl"])
    return out


CUSTOMER_RULES = Rules(values=_contact)
TEAM_RULES = Rules(values=_contact)
PERSON_RULES = Rules(values=_contact)


def _no_active_slas(uow: UnitOfWork, row: dict[str, Any]) -> None:
    if row.get("state") != "retired":
        return
    active = cypher.active_slas_with(uow.tx, row["id"])
    if active:
        numbers = ", ".join(s["number"] for s in active)
        raise ValidationFailed(
            "state",
            "has_active_slas",
            f"customer {row.get('name')!r} still has active SLAs ({numbers}): retire them, or "
            "agree them with another customer, first",
        )


def transition_customer(
    store: Store,
    actor: Actor,
    record: RecordType,
    record_id: str,
    target: str,
    *,
    version: int | None,
    changes: Mapping[str, Any],
    permission: Permission = Permission.MANAGE_SERVICE_LEVELS,
) -> dict[str, Any]:
    """A customer's step (retire), refused while SLAs agreed with it are active."""
    return records.transition(
        store,
        actor,
        record,
        record_id,
        target,
        version=version,
        changes=changes,
        permission=permission,
        also=_no_active_slas,
    )
