"""The root schema: per-process Query and Mutation classes composed, limits installed once."""

from __future__ import annotations

from functools import partial

import strawberry
from graphql import ASTValidationRule, GraphQLObjectType
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    ParserCache,
    ValidationCache,
)
from strawberry.extensions import max_aliases as alias_limit
from strawberry.extensions import query_depth_limiter as depth_limit

from resolvers.access import AccessQuery, reads_need_permission
from resolvers.agreement_terms import AgreementTermsMutation, AgreementTermsQuery
from resolvers.availability import AvailabilityMutation, AvailabilityQuery
from resolvers.changes import ChangeMutation, ChangeQuery
from resolvers.cmdb import CMDBMutation, CMDBQuery
from resolvers.events import AlertSubscription, EventMutation, EventQuery
from resolvers.governing import GoverningQuery
from resolvers.incidents import IncidentMutation, IncidentQuery
from resolvers.ingest import IngestMutation
from resolvers.knowledge import KnowledgeMutation, KnowledgeQuery
from resolvers.known_errors import KnownErrorMutation, KnownErrorQuery
from resolvers.nodes import NodeQuery
from resolvers.problems import ProblemMutation, ProblemQuery
from resolvers.releases import ReleaseMutation, ReleaseQuery
from resolvers.service_desk import ServiceDeskMutation, ServiceDeskQuery
from resolvers.service_level import ServiceLevelMutation, ServiceLevelQuery
from resolvers.thresholds import ThresholdMutation, ThresholdQuery
from schema.errors import (
    HttpStatusFromErrors,
    MaskInternalErrors,
    Schema,
    ValidationErrorCodes,
    limit_rule,
)
from schema.execution import PlainFieldExecutor
from schema.subscriptions import IncidentSubscription


@reads_need_permission
@strawberry.type(description="Everything that can be read.")
class Query(
    NodeQuery,
    CMDBQuery,
    ServiceLevelQuery,
    AgreementTermsQuery,
    GoverningQuery,
    KnowledgeQuery,
    IncidentQuery,
    ServiceDeskQuery,
    EventQuery,
    AvailabilityQuery,
    ThresholdQuery,
    ChangeQuery,
    ProblemQuery,
    KnownErrorQuery,
    ReleaseQuery,
    AccessQuery,
):
    pass


@strawberry.type(
    description="Everything that changes records. Each takes one `input` and answers with a "
    "payload whose `userErrors` say why the input was refused."
)
class Mutation(
    CMDBMutation,
    ServiceLevelMutation,
    AgreementTermsMutation,
    KnowledgeMutation,
    IncidentMutation,
    ServiceDeskMutation,
    IngestMutation,
    EventMutation,
    AvailabilityMutation,
    ThresholdMutation,
    ChangeMutation,
    ProblemMutation,
    KnownErrorMutation,
    ReleaseMutation,
):
    pass


@strawberry.type(
    description="Live updates, over the graphql-transport-ws protocol on /graphql; the API token "
    "goes in the connection_init payload."
)
class Subscription(IncidentSubscription, AlertSubscription):
    pass


def plain_node_types(schema: strawberry.Schema) -> None:
    """Strawberry gives every type that implements an interface an `is_type_of` check, and the
    plain-field executor leaves a type with such a check to the general path. Resolvers here
    return instances of the types themselves and `Node` resolves them by class, so the check can
    never fail: without it, a list of CIs stays on the fast path."""
    for graphql_type in schema._schema.type_map.values():
        if isinstance(graphql_type, GraphQLObjectType) and graphql_type.interfaces:
            graphql_type.is_type_of = None


def build_schema(
    *,
    max_depth: int,
    max_aliases: int,
    max_tokens: int,
    query: type = Query,
    mutation: type | None = Mutation,
    subscription: type | None = Subscription,
) -> strawberry.Schema:
    """The API's schema; `query`, `mutation` and `subscription` default to the real roots."""
    # The depth and alias rules are built once: the validation cache is keyed by the rule
    # classes, and QueryDepthLimiter or MaxAliasesLimiter would make new ones for every request.
    limits: list[type[ASTValidationRule]] = [
        limit_rule(depth_limit.create_validator(max_depth, None), "max_depth", max_depth),
        limit_rule(alias_limit.create_validator(max_aliases), "max_aliases", max_aliases),
    ]
    schema = Schema(
        query=query,
        mutation=mutation,
        subscription=subscription,
        execution_context_class=PlainFieldExecutor,
        extensions=[
            partial(AddValidationRules, limits),
            partial(MaxTokensLimiter, max_token_count=max_tokens),
            # Clients send the same few documents again and again, and validating one costs
            # more than a small query's whole database work. Bounded, so that many distinct
            # texts cannot grow memory.
            partial(ParserCache, maxsize=256),
            partial(ValidationCache, maxsize=256),
            ValidationErrorCodes,
            MaskInternalErrors,
            HttpStatusFromErrors,
        ],
    )
    plain_node_types(schema)
    return schema
