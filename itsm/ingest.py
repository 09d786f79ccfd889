"""The ingest endpoints for monitoring tools (docs/MONITORING_API.md):

* `POST /v2/enqueue`: one event in PagerDuty's Events API v2 shape, answered as PagerDuty does;
  the token may come as `routing_key` for PagerDuty's clients.
* `POST /v1/events` (`{"events": [...]}`) and `POST /v1/metrics` (`{"samples": [...]}`):
  batches, answered with `{accepted, dedupKeys, rejected}`.

`202` only once the broker has the batch; `503` with `Retry-After` when it refuses, and then
nothing of the batch is accepted. The token check, body bound and error shape are the GraphQL
gate's (`itsm.http`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from anyio import to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from strawberry.http.parse_content_type import parse_content_type

from core.errors import DomainError, PayloadTooLarge, Unauthenticated
from domain import ingest
from graphdb.write_path import Store
from itsm.http import BadRequest, GraphQLGate, UnsupportedMediaType, _Body, error_response


def _json(body: object, status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def _refused(error: DomainError) -> Response:
    """The gate's error shape; a refusal of the input is a 400 here, not GraphQL's 200."""
    response = error_response(error)
    if response.status_code == 200:
        response.status_code = 400
    if isinstance(error, ingest.BrokerUnavailable):
        response.headers["retry-after"] = str(error.retry_after)
    return response


def _rejections(rejected: list[ingest.Rejection]) -> list[dict[str, Any]]:
    return [
        {"index": r.index, "field": r.field, "code": r.code, "message": r.message} for r in rejected
    ]


class IngestRoutes:
    def __init__(self, gate: GraphQLGate, store: Store, max_body_bytes: int) -> None:
        self.gate = gate
        self.store = store
        self.max_body_bytes = max_body_bytes

    def routes(self) -> list[Route]:
        return [
            Route("/v2/enqueue", self.pagerduty, methods=["POST"]),
            Route("/v1/events", self.events, methods=["POST"]),
            Route("/v1/metrics", self.metrics, methods=["POST"]),
        ]

    async def _body(self, request: Request) -> Any:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            raise PayloadTooLarge(self.max_body_bytes)
        content_type, _ = parse_content_type(request.headers.get("content-type", ""))
        if content_type != "application/json":
            raise UnsupportedMediaType(content_type)
        body = _Body(request.receive)
        if not await body.read(self.max_body_bytes):
            raise PayloadTooLarge(self.max_body_bytes)
        try:
            return orjson.loads(body.bytes())
        except orjson.JSONDecodeError as exc:
            raise BadRequest("body", "invalid_json", f"the body is not JSON: {exc}") from exc

    async def _object(self, request: Request) -> dict[str, Any]:
        data = await self._body(request)
        if not isinstance(data, dict):
            raise BadRequest("body", "not_an_object", "the request body must be a JSON object")
        return data

    async def _batch(
        self,
        request: Request,
        member: str,
        accept: Callable[[Store, Any], ingest.EventBatch | ingest.SampleBatch],
    ) -> Response:
        try:
            ingest.may_send(await self.gate.identify(request.headers.get("authorization")))
            data = await self._object(request)
            if member not in data:
                raise BadRequest(member, "required", f"the body needs {member!r}: a list of items")
            batch = await to_thread.run_sync(accept, self.store, data[member])
        except DomainError as error:
            return _refused(error)
        accepted = batch.events if isinstance(batch, ingest.EventBatch) else batch.samples
        body: dict[str, Any] = {"accepted": len(accepted), "rejected": _rejections(batch.rejected)}
        if isinstance(batch, ingest.EventBatch):
            body["dedupKeys"] = batch.dedup_keys
        return _json(body, 202 if accepted else 400)

    async def events(self, request: Request) -> Response:
        return await self._batch(request, "events", ingest.accept_events)

    async def metrics(self, request: Request) -> Response:
        return await self._batch(request, "samples", ingest.accept_samples)

    async def pagerduty(self, request: Request) -> Response:
        """One event; PagerDuty's answers for success and for an invalid event."""
        try:
            authorization = request.headers.get("authorization")
            if authorization is None:
                data = await self._object(request)
                routing_key = data.get("routing_key")
                if not isinstance(routing_key, str):
                    raise Unauthenticated(
                        "send the API token as routing_key or 'Authorization: Bearer <token>'"
                    )
                actor = await self.gate.identify(None, bare=routing_key)
            else:
                actor = await self.gate.identify(authorization)
                data = await self._object(request)
            ingest.may_send(actor)
            batch = await to_thread.run_sync(ingest.accept_events, self.store, [data])
        except DomainError as error:
            return _refused(error)
        if batch.rejected:
            return _json(
                {
                    "status": "invalid event",
                    "message": "Event object is invalid",
                    "errors": [
                        f"{r.field.removeprefix('events[0].')}: {r.message}" for r in batch.rejected
                    ],
                    "rejected": _rejections(batch.rejected),
                },
                400,
            )
        return _json(
            {"status": "success", "message": "Event processed", "dedup_key": batch.dedup_keys[0]},
            202,
        )
