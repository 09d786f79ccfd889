"""Mutations answer a refused input in their payload's `userErrors`, not as a top-level error.

A client renders a refusal next to the field at fault, and in a document with several mutations
the ones before a refused one keep their answers. What goes into `userErrors` is what the caller
can fix in the input: a broken rule, a record named in the input that does not exist, an input
too large, a stale version. Authentication, permission, storage and query limits stay top-level
errors with their HTTP status. Every mutation runs in one transaction, so a refused one has
written nothing.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from strawberry.types.base import get_object_definition
from strawberry.utils.str_converters import to_camel_case

from core.errors import DomainError, LimitExceeded, NotFound, ValidationFailed, VersionConflict
from schema.common import UserError

REFUSALS = (ValidationFailed, NotFound, LimitExceeded, VersionConflict)


P = TypeVar("P")
Resolver = Callable[..., Awaitable[P]]


def user_error(error: DomainError, given: Any = None) -> UserError:
    """The refusal as a UserError; `given` is the mutation's input, to place the field in it."""
    code = error.reason.upper() if isinstance(error, ValidationFailed) else error.code
    return UserError(code=code, field=field_path(error.field, given), message=error.message)


def field_path(field: str | None, given: Any = None) -> list[str] | None:
    """`items[3].attributes.os` as ["input", "items", "3", "attributes", "os"].

    The rules name an attribute by its name alone where it identifies a CI (a duplicate serial
    number); in an input with `attributes`, such a name is placed under them.
    """
    if field is None:
        return None
    parts = re.findall(r"[^.\[\]]+", field)
    definition = get_object_definition(given) if given is not None else None
    if definition is not None and parts:
        names = {to_camel_case(f.python_name) for f in definition.fields}
        if parts[0] not in names and "attributes" in names:
            parts.insert(0, "attributes")
    return ["input", *parts]


def refusals_in_payload(payload: Callable[..., P]) -> Callable[[Resolver[P]], Resolver[P]]:
    """Run the mutation; a refusal becomes `payload(user_errors=[...])` with nothing else set."""

    def decorate(resolver: Resolver[P]) -> Resolver[P]:
        @functools.wraps(resolver)
        async def run(*args: Any, **kwargs: Any) -> P:
            try:
                return await resolver(*args, **kwargs)
            except REFUSALS as error:
                return payload(user_errors=[user_error(error, kwargs.get("input"))])

        return run

    return decorate
