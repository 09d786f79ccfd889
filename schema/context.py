"""What every resolver gets: who is asking, the store, and the per-request loaders."""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import Response
from strawberry.types import Info as StrawberryInfo

from core.access import Actor
from graphdb.feed import Feed
from graphdb.write_path import Store

T = TypeVar("T")

# Threads for blocking domain and driver calls. Handing work to asyncio's executor measured at a
# quarter of what anyio.to_thread costs, about 0.6 ms saved on every query; 40 threads, as
# anyio allows by default.
_BLOCKING = ThreadPoolExecutor(max_workers=40, thread_name_prefix="itsm-blocking")


@dataclass
class Context:
    request: Request
    response: Response
    actor: Actor
    store: Store
    loaders: Any = field(default=None)  # resolvers.loaders.Loaders, set per request
    # Live updates of this process (subscriptions), and a websocket's connection_init payload.
    feed: Feed | None = None
    connection_params: dict[str, Any] | None = None
    # A websocket outlives its token's revocation: who the connection's token names, asked again
    # before each change it is told of.
    reidentify: Callable[[], Awaitable[Actor]] | None = None

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run blocking domain or driver code off the event loop."""
        call = functools.partial(contextvars.copy_context().run, fn, *args)
        return await asyncio.get_running_loop().run_in_executor(_BLOCKING, call)


Info = StrawberryInfo[Context, None]
