"""Every top-level GraphQL error carries `extensions.code`, and unexpected failures are masked.

* the domain's own (`BAD_USER_INPUT`, `NOT_FOUND`, `CONFLICT`, `FORBIDDEN`, …): a rule refused it;
* `GRAPHQL_PARSE_FAILED`: the document is not GraphQL;
* `GRAPHQL_VALIDATION_FAILED`: the document does not fit the schema;
* `LIMIT_EXCEEDED` with `reason` (`max_depth`, `max_aliases`, `max_tokens`) and `limit`;
* `BAD_USER_INPUT` with `field` (the variable) and `reason: invalid_variable`: a variable's value
  does not fit its type;
* `INTERNAL_SERVER_ERROR` with `requestId`: anything else, a fault of the server; the message is
  masked, and the log line with the traceback carries the same `requestId`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from typing import Any

import strawberry
from graphql import ASTValidationRule, GraphQLError, GraphQLSyntaxError, VariableDefinitionNode
from graphql.validation import ASTValidationContext
from strawberry.extensions import MaskErrors, SchemaExtension
from strawberry.types import ExecutionContext

from core.errors import DomainError, LimitExceeded, ValidationFailed

log = logging.getLogger("itsm.graphql")

INTERNAL_ERROR = "Internal server error."
INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"


def _code(error: GraphQLError) -> str | None:
    code = (error.extensions or {}).get("code")
    return code if isinstance(code, str) else None


def _tag(error: GraphQLError, code: str, **details: Any) -> None:
    error.extensions = {**(error.extensions or {}), "code": code, **details}


def limit_rule(rule: type[ASTValidationRule], reason: str, limit: int) -> type[ASTValidationRule]:
    """`rule` (Strawberry's depth or alias limiter), its errors tagged LIMIT_EXCEEDED.

    Those limiters do all their work in their constructor and report through the shared
    validation context, so the context's error callback is wrapped for that call alone.
    """

    class TaggedLimit(rule):  # type: ignore[misc,valid-type]
        def __init__(self, context: ASTValidationContext) -> None:
            report = context.on_error

            def tagged(error: GraphQLError) -> None:
                _tag(error, LimitExceeded.code, reason=reason, limit=limit)
                report(error)

            context.on_error = tagged  # type: ignore[method-assign]
            try:
                super().__init__(context)
            finally:
                context.on_error = report  # type: ignore[method-assign]

    TaggedLimit.__name__ = f"{rule.__name__}Tagged"
    return TaggedLimit


def tag_request_errors(errors: list[GraphQLError]) -> None:
    """Errors found before any field ran (variables that do not fit their types)."""
    for error in errors:
        if _code(error) is None:
            node = error.nodes[0] if error.nodes else None
            where = (
                {"field": node.variable.name.value}
                if isinstance(node, VariableDefinitionNode)
                else {}
            )
            _tag(error, ValidationFailed.code, **where, reason="invalid_variable")


class ValidationErrorCodes(SchemaExtension):
    """Whatever validation refused and no limit claimed is a validation failure."""

    def on_validate(self) -> Iterator[None]:
        yield
        for error in self.execution_context.pre_execution_errors or []:
            if _code(error) is None:
                _tag(error, VALIDATION_FAILED)


class MaskInternalErrors(MaskErrors):
    """Strawberry's masking, keeping the code and request id that `Schema` gave the error."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=is_internal, error_message=INTERNAL_ERROR)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        masked.extensions = {
            key: value
            for key, value in (error.extensions or {}).items()
            if key in ("code", "requestId")
        }
        return masked


def is_internal(error: GraphQLError) -> bool:
    return _code(error) == INTERNAL_SERVER_ERROR


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


def request_id_of(execution_context: ExecutionContext | None) -> str:
    """The id the HTTP gate gave this request (it is also in the response's X-Request-Id)."""
    context = execution_context.context if execution_context is not None else None
    request = getattr(context, "request", None)
    state = request.scope.get("state", {}) if request is not None else {}
    request_id = state.get("request_id")
    return request_id if isinstance(request_id, str) else uuid.uuid4().hex


class Schema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Give every error its code. A refused request (bad input, unknown record, no
        permission) is the client's to fix: one line at info. Anything else is the server's
        fault: logged as an error with its traceback and the request id the client is shown."""
        for error in errors:
            code = _code(error) or self._classify(error, execution_context)
            if code == INTERNAL_SERVER_ERROR:
                request_id = request_id_of(execution_context)
                error.extensions = {"code": code, "requestId": request_id}
                original = error.original_error
                log.error(
                    "internal error (requestId=%s) at %s: %s",
                    request_id,
                    ".".join(str(p) for p in error.path or []) or "-",
                    error.message,
                    exc_info=(type(original), original, original.__traceback__)
                    if original is not None
                    else None,
                )
            else:
                log.info("refused: %s %s", code, error.message)

    @staticmethod
    def _classify(error: GraphQLError, execution_context: ExecutionContext | None) -> str:
        if isinstance(error, GraphQLSyntaxError) and error.original_error is None:
            max_tokens = (execution_context.parse_options if execution_context else {}).get(
                "max_tokens"
            )
            if max_tokens is not None and error.message.endswith(
                f"Document contains more than {max_tokens} tokens. Parsing aborted."
            ):
                _tag(error, LimitExceeded.code, reason="max_tokens", limit=max_tokens)
                return LimitExceeded.code
            _tag(error, PARSE_FAILED)
            return PARSE_FAILED
        return INTERNAL_SERVER_ERROR
