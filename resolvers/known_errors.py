"""Resolvers for known errors: the kernel's fields, with the domain's rules in
`domain.problems.known_errors`."""

from __future__ import annotations

import strawberry

from core.problems import KNOWN_ERROR
from domain.problems import known_errors
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
        also=known_errors.saved,
        description="Enter a known error by hand; its knowledge article is published with it.",
    )
    update_known_error = update_field(
        KNOWN_ERROR,
        KnownErrorNode,
        KnownErrorNode.from_props,
        update=known_errors.update_known_error,
        description="Change a known error; its article is republished in the same transaction. "
        "A generated one takes its root cause and workaround from its problem: edit them there.",
    )
    transition_known_error = transition_field(
        KNOWN_ERROR,
        KnownErrorNode,
        KnownErrorNode.from_props,
        also=known_errors.saved,
        description="Move a known error along its states; retiring it retires its article.",
    )
