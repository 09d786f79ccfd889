"""The root schema: per-process Query and Mutation classes composed, limits installed once."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from functools import partial

import strawberry
from graphql import ASTValidationRule, GraphQLError, GraphQLObjectType
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions import max_aliases as alias_limit
from strawberry.extensions import query_depth_limiter as depth_limit
from strawberry.types import ExecutionContext

from core.errors import DomainError
from resolvers.access import AccessQuery, reads_need_permission
from resolvers.cmdb import CMDBMutation, CMDBQuery
from resolvers.nodes import NodeQuery
from schema.execution import PlainFieldExecutor


@reads_need_permission
@strawberry.type(description="Everything that can be read.")
class Query(NodeQuery, CMDBQuery, AccessQuery):
    pass


@strawberry.type(
    description="Everything that changes records. Each takes one `input` and answers with a "
    "payload whose `userErrors` say why the input was refused."
)
class Mutation(CMDBMutation):
    pass


INTERNAL_ERROR = "Internal server error."


def _is_unexpected(error: GraphQLError) -> bool:
    original = error.original_error
    return original is not None and not isinstance(original, DomainError | GraphQLError)


log = logging.getLogger("itsm.graphql")


class Schema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """A refused request (bad input, unknown record, no permission) is the client's to fix:
        one line at info. Only unexpected failures are logged as errors, with the traceback."""
        unexpected = []
        for error in errors:
            if _is_unexpected(error):
                unexpected.append(error)
            else:
                code = (error.extensions or {}).get("code", "GRAPHQL_ERROR")
                log.info("refused: %s %s", code, error.message)
        if unexpected:
            super().process_errors(unexpected, execution_context)


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


def plain_node_types(schema: strawberry.Schema) -> None:
    """Strawberry gives every type that implements an interface an `is_type_of` check, and the
    plain-field executor leaves a type with such a check to the general path. Resolvers here
    return instances of the types themselves and `Node` resolves them by class, so the check can
    never fail: without it, a list of CIs stays on the fast path."""
    for graphql_type in schema._schema.type_map.values():
        if isinstance(graphql_type, GraphQLObjectType) and graphql_type.interfaces:
            graphql_type.is_type_of = None


def build_schema(*, max_depth: int, max_aliases: int, max_tokens: int) -> strawberry.Schema:
    # The depth and alias rules are built once: the validation cache is keyed by the rule
    # classes, and QueryDepthLimiter or MaxAliasesLimiter would make new ones for every request.
    limits: list[type[ASTValidationRule]] = [
        depth_limit.create_validator(max_depth, should_ignore=None),
        alias_limit.create_validator(max_aliases),
    ]
    schema = Schema(
        query=Query,
        mutation=Mutation,
        execution_context_class=PlainFieldExecutor,
        extensions=[
            partial(AddValidationRules, limits),
            partial(MaxTokensLimiter, max_token_count=max_tokens),
            # Clients send the same few documents again and again, and validating one costs
            # more than a small query's whole database work. Bounded, so that many distinct
            # texts cannot grow memory.
            partial(ParserCache, maxsize=256),
            partial(ValidationCache, maxsize=256),
            partial(MaskErrors, should_mask_error=_is_unexpected, error_message=INTERNAL_ERROR),
            HttpStatusFromErrors,
        ],
    )
    plain_node_types(schema)
    return schema
