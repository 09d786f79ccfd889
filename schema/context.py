"""What every resolver gets: who is asking, the store, and the per-request loaders."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import Response
from strawberry.types import Info as StrawberryInfo

from domain.access import Actor
from graphdb.write_path import Store

T = TypeVar("T")


@dataclass
class Context:
    request: Request
    response: Response
    actor: Actor
    store: Store
    loaders: Any = field(default=None)  # resolvers.loaders.Loaders, set per request

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run blocking domain or driver code off the event loop."""
        return await to_thread.run_sync(fn, *args)


Info = StrawberryInfo[Context, None]
