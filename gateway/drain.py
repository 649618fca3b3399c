"""Graceful shutdown: on SIGTERM the gateway drains before it stops.

Draining: ``/readyz`` answers 503 (a load balancer stops sending traffic),
requests in flight finish (their audit events are written before their
answers, as always), and any request that still arrives is served. Once no
request is in flight, or ``CPNI_GATEWAY_SHUTDOWN_TIMEOUT`` has passed,
uvicorn's own shutdown runs with what is left of that deadline: it stops
listening, cancels what is still running, and the lifespan closes the
pools. A request cancelled there answers 503 ``SERVICE_UNAVAILABLE`` if it
has not started its answer (:class:`CancelledAnswer`), never uvicorn's plain
500; either way it disclosed nothing. A second signal stops at once, as
uvicorn does.
"""

from __future__ import annotations

import asyncio
import math
import time
from types import FrameType

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.responses import error_response


class Drain:
    """Whether the process is draining; read by ``/readyz``."""

    def __init__(self) -> None:
        self.started_at: float | None = None

    @property
    def draining(self) -> bool:
        return self.started_at is not None

    def start(self) -> None:
        if self.started_at is None:
            self.started_at = time.monotonic()


class DrainingServer(uvicorn.Server):
    """uvicorn's server, draining on the first SIGTERM or SIGINT (see the module docstring)."""

    def __init__(self, config: uvicorn.Config, drain: Drain, deadline_s: float) -> None:
        super().__init__(config)
        self.drain = drain
        self.deadline_s = deadline_s

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if not self.drain.draining:
            self.drain.start()
            return
        super().handle_exit(sig, frame)

    async def on_tick(self, counter: int) -> bool:
        started = self.drain.started_at
        if started is not None and not self.should_exit:
            elapsed = time.monotonic() - started
            if not self.server_state.tasks or elapsed >= self.deadline_s:
                self.config.timeout_graceful_shutdown = max(0, math.ceil(self.deadline_s - elapsed))
                self.should_exit = True
        return await super().on_tick(counter)


class CancelledAnswer:
    """Plain ASGI middleware: a request cancelled before its answer started answers 503, not 500.

    uvicorn cancels the requests still running when the shutdown deadline
    passes; without this, each would get its plain-text 500.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except asyncio.CancelledError:
            if started:
                raise
            response = error_response("SERVICE_UNAVAILABLE", "Service temporarily unavailable", "-")
            await response(scope, receive, send)
