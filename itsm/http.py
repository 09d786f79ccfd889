"""The door in front of GraphQL: method, body size, who is calling, and answers that are always
GraphQL-shaped JSON with an `extensions.code`, even for requests that never reach GraphQL.

Body limits: a request body may be `max_body_bytes` long (1 MiB by default). Only an import may be
longer, up to `max_import_bytes`: the gate then reads the rest, decodes the JSON and parses the
document, which must itself be within the query limit, and lets the request through only when that
document is one mutation selecting `importCis` alone. The bulk of an import is its variables, so
the document stays small; a large document is refused before GraphQL parses it. This keeps one URL
for every client (`itsm import` included) while a query can never cost more than the query limit.

Websockets (subscriptions, graphql-transport-ws) open on the same URL. Browsers cannot set headers
on a websocket, so the token comes in the `connection_init` payload (`{"Authorization": "Bearer
itsm_…"}` or `{"token": "itsm_…"}`; an `Authorization` header on the handshake counts when the
payload has none) and is checked there exactly as for HTTP. A missing, malformed or unknown token
closes the connection with 4403 and the reason; with anonymous read a tokenless viewer is let in.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
from anyio import to_thread
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from graphql import FieldNode, GraphQLError, OperationDefinitionNode, parse
from graphql import OperationType as DocumentOperation
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.exceptions import MissingQueryError
from strawberry.http import GraphQLRequestData
from strawberry.http.parse_content_type import parse_content_type
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    SubscribeMessage,
)
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UnsetType

from core.access import ANONYMOUS, Actor
from core.errors import DomainError, Forbidden, NotFound, PayloadTooLarge, Unauthenticated
from domain.tokens import actor_for_token
from graphdb.driver import serving_request
from graphdb.feed import Feed
from graphdb.write_path import Store
from itsm import graphiql
from resolvers.loaders import Loaders
from schema.context import Context
from schema.errors import INTERNAL_ERROR, INTERNAL_SERVER_ERROR

log = logging.getLogger(__name__)

# The one mutation allowed a body over the query limit (resolvers/cmdb.py names it).
IMPORT_FIELD = "importCis"
METHODS = ("GET", "POST")
# graphql-transport-ws: the client is refused (no or a bad token). A websocket close reason may be
# at most 123 bytes long.
WS_REFUSED = 4403
WS_REASON_BYTES = 123


class BadRequest(DomainError):
    """The HTTP request is not a GraphQL request this API can read."""

    code = "BAD_REQUEST"
    http_status = 400

    def __init__(self, field: str, reason: str, message: str) -> None:
        super().__init__(message, field=field, reason=reason)


class UnknownPath(NotFound):
    """No page or file at this path: unlike a record that does not exist, an HTTP 404."""

    http_status = 404

    def __init__(self, path: str, message: str | None = None) -> None:
        super().__init__("path", path, field=None)
        if message is not None:
            self.message = message
            self.args = (message,)


class BatchingNotSupported(DomainError):
    code = "BATCHING_NOT_SUPPORTED"
    http_status = 400

    def __init__(self) -> None:
        super().__init__(
            "batched requests (a JSON array of operations) are not supported: "
            "send one operation per request",
            field="body",
        )


class MethodNotAllowed(DomainError):
    code = "METHOD_NOT_ALLOWED"
    http_status = 405

    def __init__(self, message: str, allowed: tuple[str, ...] = METHODS) -> None:
        super().__init__(message, allowed=list(allowed))
        self.allowed = allowed


class UnsupportedMediaType(DomainError):
    code = "UNSUPPORTED_MEDIA_TYPE"
    http_status = 415

    def __init__(self, content_type: str) -> None:
        super().__init__(
            f"unsupported content type {content_type or '(none)'!r}: "
            "send application/json, or use GET with query parameters",
            field="Content-Type",
            reason="unsupported_media_type",
        )


class InternalServerError(DomainError):
    code = INTERNAL_SERVER_ERROR
    http_status = 500

    def __init__(self, request_id: str) -> None:
        super().__init__(INTERNAL_ERROR, requestId=request_id)


def error_body(error: DomainError) -> bytes:
    return orjson.dumps(
        {"data": None, "errors": [{"message": error.message, "extensions": error.extensions}]}
    )


def error_response(error: DomainError) -> Response:
    headers = {"content-type": "application/json"}
    if isinstance(error, Unauthenticated):
        headers["www-authenticate"] = 'Bearer realm="itsm"'
    if isinstance(error, MethodNotAllowed):
        headers["allow"] = ", ".join(error.allowed)
    return Response(error_body(error), status_code=error.http_status, headers=headers)


def _from_http_exception(exc: HTTPException) -> DomainError:
    """Whatever Strawberry still refuses on its own, told by its status alone."""
    if exc.status_code == 404:
        return UnknownPath("/graphql", "GraphiQL is off on this server: send GraphQL requests")
    if exc.status_code == 405:
        return MethodNotAllowed(exc.reason)
    if exc.status_code == 415:
        return UnsupportedMediaType("")
    return BadRequest("body", "bad_request", exc.reason)


async def unknown_route(request: Request, exc: Exception) -> Response:
    """Starlette's own 404 and 405 (a path or method no route takes), in the API's shape."""
    if isinstance(exc, StarletteHTTPException) and exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "GET")
        return error_response(
            MethodNotAllowed(
                f"{request.method} is not supported on {request.url.path}",
                allowed=tuple(m.strip() for m in allowed.split(",")),
            )
        )
    return error_response(UnknownPath(request.url.path))


class TokenCache:
    """Verified tokens, remembered briefly so that each request does not cost a lookup."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._entries: dict[str, tuple[float, Actor]] = {}

    def get(self, token: str) -> Actor | None:
        hit = self._entries.get(token)
        if hit and hit[0] > time.monotonic():
            return hit[1]
        return None

    def put(self, token: str, actor: Actor) -> None:
        if self.seconds > 0:
            self._entries[token] = (time.monotonic() + self.seconds, actor)


class _Body:
    """The request body, read as far as a limit allows and no further."""

    def __init__(self, receive: Receive) -> None:
        self.receive = receive
        self.chunks: list[bytes] = []
        self.size = 0
        self.complete = False

    async def read(self, limit: int) -> bool:
        """Read on up to `limit` bytes in all; False when the body is longer."""
        while not self.complete:
            if self.size > limit:
                return False
            message = await self.receive()
            if message["type"] == "http.disconnect":
                self.complete = True
                break
            chunk = message.get("body", b"")
            self.size += len(chunk)
            self.chunks.append(chunk)
            self.complete = not message.get("more_body", False)
        return self.size <= limit

    def bytes(self) -> bytes:
        return b"".join(self.chunks)


def is_lone_import(body: bytes, *, max_document_bytes: int, max_tokens: int) -> bool:
    """Whether `body` is a GraphQL request whose document, within the query limit, is one
    mutation selecting `importCis` and nothing else."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    query = data.get("query") if isinstance(data, dict) else None
    if not isinstance(query, str) or len(query) > max_document_bytes:
        return False
    if len(query.encode()) > max_document_bytes:
        return False
    try:
        document = parse(query, no_location=True, max_tokens=max_tokens)
    except GraphQLError:
        return False
    if len(document.definitions) != 1:
        return False
    operation = document.definitions[0]
    if not isinstance(operation, OperationDefinitionNode):
        return False
    selections = operation.selection_set.selections
    return (
        operation.operation is DocumentOperation.MUTATION
        and len(selections) == 1
        and isinstance(selections[0], FieldNode)
        and selections[0].name.value == IMPORT_FIELD
    )


class GraphQLGate:
    """Pure ASGI so it can read (and bound) the body before Strawberry does."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        store: Store,
        max_body_bytes: int,
        max_import_bytes: int,
        max_tokens: int,
        anonymous_read: bool,
        graphiql: bool,
        token_cache_seconds: float,
    ) -> None:
        self.app = app
        self.store = store
        self.max_body_bytes = max_body_bytes
        self.max_import_bytes = max(max_import_bytes, max_body_bytes)
        self.max_tokens = max_tokens
        self.anonymous_read = anonymous_read
        self.graphiql = graphiql
        self.tokens = TokenCache(token_cache_seconds)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            # Who is calling is known only at connection_init: the view asks `identify` then.
            state = scope.setdefault("state", {})
            state["request_id"] = uuid.uuid4().hex
            state["identify"] = self.identify
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        serving = serving_request.set(request_id)
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            await self._admit(scope, receive, send_with_id)
        except Exception:
            log.exception("internal error (requestId=%s) at the HTTP edge", request_id)
            if not started:
                await error_response(InternalServerError(request_id))(scope, receive, send_with_id)
        finally:
            serving_request.reset(serving)

    async def _admit(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope)
        try:
            if request.method not in METHODS:
                raise MethodNotAllowed(f"{request.method} is not supported: use GET or POST")
            if request.method == "GET" and self._wants_ide(request):
                await self.app(scope, receive, send)
                return
            actor = await self._identify(request)
            body = await self._read_body(request, receive, actor)
        except DomainError as error:
            await error_response(error)(scope, receive, send)
            return
        scope["state"]["actor"] = actor

        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _wants_ide(self, request: Request) -> bool:
        return (
            self.graphiql
            and "text/html" in request.headers.get("accept", "")
            and "query" not in request.query_params
        )

    async def _read_body(self, request: Request, receive: Receive, actor: Actor) -> bytes:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_import_bytes:
            raise PayloadTooLarge(self.max_import_bytes)  # not even an import may be that long
        body = _Body(receive)
        if await body.read(self.max_body_bytes):
            return body.bytes()
        # Over the query limit: only an authenticated import may go on, so that an anonymous
        # client can never make the API hold more than the query limit.
        if actor is ANONYMOUS:
            raise PayloadTooLarge(self.max_body_bytes)
        if not await body.read(self.max_import_bytes):
            raise PayloadTooLarge(self.max_import_bytes)
        whole = body.bytes()
        lone_import = await to_thread.run_sync(
            lambda: is_lone_import(
                whole, max_document_bytes=self.max_body_bytes, max_tokens=self.max_tokens
            )
        )
        if not lone_import:
            raise PayloadTooLarge(self.max_body_bytes)
        return whole

    async def _identify(self, request: Request) -> Actor:
        return await self.identify(request.headers.get("authorization"))

    async def identify(self, authorization: str | None, *, bare: str | None = None) -> Actor:
        """The actor behind an `Authorization` value (`Bearer <token>`) or a `bare` token;
        ANONYMOUS without either when anonymous read is on. Raises Unauthenticated."""
        if bare is not None:
            token = bare.strip()
            if not token:
                raise Unauthenticated("the token must not be empty")
            return await self._actor_for(token)
        if not authorization:
            if self.anonymous_read:
                return ANONYMOUS
            raise Unauthenticated("missing API token: send 'Authorization: Bearer <token>'")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("the Authorization header must be 'Bearer <token>'")
        return await self._actor_for(token.strip())

    async def _actor_for(self, token: str) -> Actor:
        cached = self.tokens.get(token)
        if cached is not None:
            return cached
        actor = await to_thread.run_sync(actor_for_token, self.store, token)
        if actor is None:
            raise Unauthenticated("unknown or revoked API token")
        self.tokens.put(token, actor)
        return actor


class AllowedOrigins(CORSMiddleware):
    """Starlette's CORS, except that a preflight from an origin not on the list is answered
    without any CORS header (Starlette still lists the allowed methods and headers)."""

    def preflight_response(self, request_headers: Headers) -> Response:
        origin = request_headers["origin"]
        if not self.is_allowed_origin(origin=origin):
            refused = error_response(
                Forbidden(f"origin {origin!r} may not call this API", field="Origin")
            )
            refused.headers["vary"] = "Origin"
            return refused
        answer = super().preflight_response(request_headers)
        if answer.status_code != 400:
            return answer
        # An allowed origin asking for a method or header the API does not take.
        refused = error_response(
            BadRequest(
                "Access-Control-Request-Method",
                "cors_request_not_allowed",
                f"{bytes(answer.body).decode()}: the API takes {', '.join(METHODS)} "
                "with the headers Authorization and Content-Type",
            )
        )
        for name, value in answer.headers.items():
            if name.startswith("access-control-") or name == "vary":
                refused.headers[name] = value
        return refused

    async def send(self, message: Message, send: Send, request_headers: Headers) -> None:
        origin = request_headers.get("origin")
        if origin is None or self.is_allowed_origin(origin=origin):
            await super().send(message, send, request_headers)
            return
        if message["type"] == "http.response.start":
            MutableHeaders(scope=message).add_vary_header("Origin")
        await send(message)


class SubscriptionConnection(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws, with the reason a client is refused in the close frame (Strawberry
    closes with a bare "Forbidden"), and fresh loaders for each operation: one context serves the
    whole connection, and what an earlier operation cached would be stale."""

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        self.context.loaders = Loaders(self.context)
        await super().handle_subscribe(message)

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        try:
            await super().handle_connection_init(message)
        except (Unauthenticated, Forbidden) as refused:
            log.info("websocket refused: %s", refused.message)
            reason = refused.message.encode()[:WS_REASON_BYTES].decode(errors="ignore")
            await self.websocket.close(code=WS_REFUSED, reason=reason)


class GraphQLView(GraphQL[Context, None]):
    graphql_transport_ws_handler_class = SubscriptionConnection

    def __init__(
        self, *args: Any, store: Store, feed: Feed | None, graphiql_assets: Path, **kwargs: Any
    ) -> None:
        # graphql-transport-ws only: the older graphql-ws protocol has no place for the token
        # check that `on_ws_connect` makes.
        kwargs.setdefault("subscription_protocols", (GRAPHQL_TRANSPORT_WS_PROTOCOL,))
        super().__init__(*args, **kwargs)
        self.store = store
        self.feed = feed
        self.graphiql_assets = graphiql_assets

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            response = await self.run(Request(scope=scope, receive=receive))
        except DomainError as error:
            response = error_response(error)
        except HTTPException as exc:
            response = error_response(_from_http_exception(exc))
        await response(scope, receive, send)

    # orjson: an impact answer of a few hundred CIs is 100 kB of JSON, which the standard
    # library takes about ten times longer to write.
    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS)

    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)  # its JSONDecodeError is the standard library's

    async def get_context(self, request: Any, response: Any) -> Context:
        actor = request.scope.get("state", {}).get("actor", ANONYMOUS)
        context = Context(
            request=request, response=response, actor=actor, store=self.store, feed=self.feed
        )
        context.loaders = Loaders(context)
        return context

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """Who the subscriber is, from the connection_init payload; refusing raises."""
        params = context.connection_params or {}
        identify = context.request.scope.get("state", {}).get("identify")
        if identify is None:  # the view is only ever mounted behind the gate
            raise Unauthenticated("this connection did not come through the API's gate")
        authorization = params.get("Authorization", params.get("authorization"))
        token = params.get("token")
        if authorization is not None and not isinstance(authorization, str):
            raise Unauthenticated("connection_init: Authorization must be 'Bearer <token>'")
        if token is not None and not isinstance(token, str):
            raise Unauthenticated("connection_init: token must be a string")
        if authorization is None and token is None:
            authorization = context.request.headers.get("authorization")
        bare = token if authorization is None else None

        async def reidentify() -> Actor:
            actor: Actor = await identify(authorization, bare=bare)
            return actor

        context.actor = await reidentify()
        context.reidentify = reidentify
        return UnsetType()  # connection_ack without a payload

    async def render_graphql_ide(self, request: Request) -> Response:
        return graphiql.page(self.graphiql_assets)

    async def parse_http_body(self, request: AsyncHTTPRequestAdapter) -> GraphQLRequestData:
        """Strawberry's reading of a request, with a typed error for each way it can fail."""
        data: object
        if request.method == "GET":
            params: dict[str, Any] = dict(request.query_params)
            for name in ("variables", "extensions"):
                if params.get(name):
                    params[name] = self._decoded(params[name], name)
            data = params
        else:
            content_type, _ = parse_content_type(request.content_type or "")
            if "application/json" not in content_type:
                raise UnsupportedMediaType(content_type)
            data = self._decoded(await request.get_body(), "body")
        if isinstance(data, list):
            raise BatchingNotSupported()
        if not isinstance(data, dict):
            raise BadRequest("body", "not_an_object", "the request body must be a JSON object")
        return GraphQLRequestData(
            query=_member(data, "query", str),
            variables=_member(data, "variables", dict),
            operation_name=_member(data, "operationName", str),
            extensions=_member(data, "extensions", dict),
        )

    def _decoded(self, raw: str | bytes, field: str) -> object:
        try:
            return self.decode_json(raw)
        except json.JSONDecodeError as exc:
            where = "request body" if field == "body" else f"{field!r} parameter"
            raise BadRequest(
                field, "invalid_json", f"Unable to parse {where} as JSON: {exc}"
            ) from exc

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """Strawberry's, with a typed error where it answers a plain-text 400."""
        method = request_adapter.method
        allowed = OperationType.from_http(method)
        if not self.allow_queries_via_get and method == "GET":
            allowed = allowed - {OperationType.QUERY}
        try:
            return await self.schema.execute(
                request_data.query,
                root_value=root_value,
                variable_values=request_data.variables,
                context_value=context,
                operation_name=request_data.operation_name,
                allowed_operation_types=allowed,
                operation_extensions=request_data.extensions,
            )
        except MissingQueryError as exc:
            raise BadRequest("query", "missing", "No GraphQL query found in the request") from exc
        except CannotGetOperationTypeError as exc:
            raise BadRequest(
                "operationName", "unknown_operation", exc.as_http_error_reason()
            ) from exc
        except InvalidOperationTypeError as exc:
            raise MethodNotAllowed(
                f"{exc.as_http_error_reason(method)}: send them with POST", allowed=("POST",)
            ) from exc


def _member(data: Mapping[str, Any], name: str, kind: type[str] | type[dict[str, Any]]) -> Any:
    value = data.get(name)
    if value is not None and not isinstance(value, kind):
        what = "a_string" if kind is str else "an_object"
        raise BadRequest(
            name, f"not_{what}", f"the request's {name!r} must be {what.replace('_', ' ')} or null"
        )
    return value
