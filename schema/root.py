"""The root schema: per-process Query and Mutation classes composed, limits installed once."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)

from domain.errors import DomainError
from resolvers.access import AccessQuery
from resolvers.cmdb import CMDBMutation, CMDBQuery


@strawberry.type
class Query(CMDBQuery, AccessQuery):
    pass


@strawberry.type
class Mutation(CMDBMutation):
    pass


INTERNAL_ERROR = "Internal server error."


def _is_unexpected(error: GraphQLError) -> bool:
    original = error.original_error
    return original is not None and not isinstance(original, DomainError | GraphQLError)


class HttpStatusFromErrors(SchemaExtension):
    """Let the HTTP status say what the first error says: 401, 403, 409 or 503."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        context = self.execution_context.context
        if result is None or not result.errors or context is None:
            return
        statuses = [
            e.original_error.http_status
            for e in result.errors
            if isinstance(e.original_error, DomainError) and e.original_error.http_status != 200
        ]
        if statuses:
            context.response.status_code = statuses[0]


def build_schema(*, max_depth: int, max_aliases: int, max_tokens: int) -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        extensions=[
            partial(QueryDepthLimiter, max_depth=max_depth),
            partial(MaxAliasesLimiter, max_alias_count=max_aliases),
            partial(MaxTokensLimiter, max_token_count=max_tokens),
            partial(MaskErrors, should_mask_error=_is_unexpected, error_message=INTERNAL_ERROR),
            HttpStatusFromErrors,
        ],
    )
