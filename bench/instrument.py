"""Counting SQL round trips inside a benchmark server process (every target alike).

PostgreSQL here has no ``pg_stat_statements`` (pgserver does not ship it),
and ``pg_stat_database.xact_commit`` counts transactions, not statements,
and reaches the shared view only when a backend flushes its statistics (up
to 10 s late). So the servers count instead, at the one place every
statement of every target passes: asyncpg's ``Connection``.

One round trip is counted for each

* ``Connection._execute`` (every ``fetch``, ``fetchrow``, ``fetchval`` and
  ``execute`` with arguments: one Bind/Execute/Sync exchange),
* ``Connection._executemany`` (one pipelined exchange),
* ``Connection.execute`` without arguments (a simple query: ``BEGIN``,
  ``COMMIT``, ``SET``, the pool's reset of a released connection).

A statement-cache miss costs one more exchange (Parse/Describe) that is
not counted; after the warm-up every statement of the workload is cached.
``GET /__bench/stats`` answers ``{"round_trips": n, "loop": "uvloop.Loop"}`` (bench only: the
route wraps the target's app, the same wrapper for every target).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from asyncpg.connection import Connection

STATS_PATH = "/__bench/stats"


class Counter:
    round_trips = 0


def _counted(method: Callable[..., Awaitable[Any]], *, only_without_args: bool = False) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(method)
    async def wrapper(self: Connection, query: str, *args: Any, **kwargs: Any) -> Any:
        if not only_without_args or not args:
            Counter.round_trips += 1
        return await method(self, query, *args, **kwargs)

    return wrapper


_installed = False


def install() -> None:
    """Count this process's round trips from now on (idempotent)."""
    global _installed
    if _installed:
        return
    Connection._execute = _counted(Connection._execute)  # type: ignore[method-assign]
    Connection._executemany = _counted(Connection._executemany)  # type: ignore[method-assign]
    Connection.execute = _counted(Connection.execute, only_without_args=True)  # type: ignore[method-assign]
    _installed = True


class StatsRoute:
    """ASGI wrapper: ``GET /__bench/stats`` answers the counters; anything else goes to ``app``."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == STATS_PATH:
            loop = type(asyncio.get_running_loop())
            body = orjson.dumps({"round_trips": Counter.round_trips, "loop": f"{loop.__module__}.{loop.__name__}"})
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)
