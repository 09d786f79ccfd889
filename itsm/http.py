"""The door in front of GraphQL: body size, who is calling, and the request context."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import orjson
from anyio import to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.asgi import GraphQL

from core.access import ANONYMOUS, Actor
from core.errors import DomainError, PayloadTooLarge, Unauthenticated
from domain.tokens import actor_for_token
from graphdb.write_path import Store
from resolvers.loaders import Loaders
from schema.context import Context

log = logging.getLogger(__name__)


def error_body(error: DomainError) -> bytes:
    return json.dumps(
        {"data": None, "errors": [{"message": error.message, "extensions": error.extensions}]}
    ).encode()


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


class GraphQLGate:
    """Pure ASGI so it can read (and bound) the body before Strawberry does."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        store: Store,
        max_body_bytes: int,
        anonymous_read: bool,
        graphiql: bool,
        token_cache_seconds: float,
    ) -> None:
        self.app = app
        self.store = store
        self.max_body_bytes = max_body_bytes
        self.anonymous_read = anonymous_read
        self.graphiql = graphiql
        self.tokens = TokenCache(token_cache_seconds)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if request.method == "GET" and self._wants_ide(request):
            await self.app(scope, receive, send)
            return
        body, too_large = await self._read_body(receive)
        if too_large:
            error = PayloadTooLarge(self.max_body_bytes)
            await self._reply(scope, receive, send, error, error.http_status)
            return
        try:
            actor = await self._identify(request)
        except DomainError as error:
            await self._reply(scope, receive, send, error, error.http_status)
            return
        scope.setdefault("state", {})["actor"] = actor

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

    async def _read_body(self, receive: Receive) -> tuple[bytes, bool]:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return b"", True
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks), False

    async def _identify(self, request: Request) -> Actor:
        header = request.headers.get("authorization")
        if not header:
            if self.anonymous_read:
                return ANONYMOUS
            raise Unauthenticated("missing API token: send 'Authorization: Bearer <token>'")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("the Authorization header must be 'Bearer <token>'")
        token = token.strip()
        cached = self.tokens.get(token)
        if cached is not None:
            return cached
        actor = await to_thread.run_sync(actor_for_token, self.store, token)
        if actor is None:
            raise Unauthenticated("unknown or revoked API token")
        self.tokens.put(token, actor)
        return actor

    async def _reply(
        self, scope: Scope, receive: Receive, send: Send, error: DomainError, status: int
    ) -> None:
        headers = {"content-type": "application/json"}
        if status == 401:
            headers["www-authenticate"] = 'Bearer realm="itsm"'
        response = Response(error_body(error), status_code=status, headers=headers)
        await response(scope, receive, send)


class GraphQLView(GraphQL[Context, None]):
    def __init__(self, *args: Any, store: Store, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.store = store

    # orjson: an impact answer of a few hundred CIs is 100 kB of JSON, which the standard
    # library takes about ten times longer to write.
    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS)

    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)  # its JSONDecodeError is the standard library's

    async def get_context(self, request: Any, response: Any) -> Context:
        actor = request.scope.get("state", {}).get("actor", ANONYMOUS)
        context = Context(request=request, response=response, actor=actor, store=self.store)
        context.loaders = Loaders(context)
        return context
