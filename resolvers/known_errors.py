"""Resolvers for known errors: the kernel's fields, with the domain's rules in
`domain.problems.known_errors`."""

from __future__ import annotations

import strawberry

from core.problems import KNOWN_ERROR
from resolvers.records import (
    connection_field,
    create_field,
    record_field,
    transition_field,
    update_field,
)
from schema.known_errors import KnownErrorNode


@strawberry.type
class KnownErrorQuery:
    known_error = record_field(KNOWN_ERROR, KnownErrorNode, KnownErrorNode.from_props)
    known_errors = connection_field(
        KNOWN_ERROR, KnownErrorNode, KnownErrorNode.from_props, description="Known errors."
    )


@strawberry.type
class KnownErrorMutation:
    create_known_error = create_field(
        KNOWN_ERROR,
        KnownErrorNode,
        KnownErrorNode.from_props,
        description="Enter a known error by hand.",
    )
    update_known_error = update_field(KNOWN_ERROR, KnownErrorNode, KnownErrorNode.from_props)
    transition_known_error = transition_field(
        KNOWN_ERROR, KnownErrorNode, KnownErrorNode.from_props
    )
