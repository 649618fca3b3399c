"""uvicorn, configured so that slow clients cannot hold connections open.

uvicorn's keep-alive timer only runs between requests and is cancelled by
any byte that arrives, so a client that sends one header byte every few
seconds ("slowloris") keeps a connection, and a worker slot, forever.
:class:`HeaderDeadlineProtocol` gives every request a deadline for its
complete headers (``timeout_keep_alive`` seconds, counted from the
connection or the end of the previous response, and not reset by partial
data); past it the connection is closed. A slow *body* is cut off by the
endpoint, which reads it within the request time budget (504 ``TIMEOUT``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from gateway.logs import log_config

# The largest request head (request line plus headers) h11 buffers.
MAX_HEAD_BYTES = 16 * 1024


class HeaderDeadlineProtocol(H11Protocol):
    """h11 with a hard deadline for each request's headers."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        cycle = self.cycle
        super().handle_events()
        if self.cycle is not cycle:
            self._disarm()  # a request's headers are complete

    def on_response_complete(self) -> None:
        self._arm()  # the next request on this connection gets the same deadline
        super().on_response_complete()

    def _arm(self) -> None:
        self._disarm()
        self._head_deadline = self.loop.call_later(self.timeout_keep_alive, self._deadline_passed)

    def _disarm(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _deadline_passed(self) -> None:
        self._head_deadline = None
        if not self.transport.is_closing():
            self.transport.close()


def uvicorn_options() -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run`` / ``uvicorn.Config`` shared by every way of serving."""
    return {
        "http": HeaderDeadlineProtocol,
        "timeout_keep_alive": 5,
        "h11_max_incomplete_event_size": MAX_HEAD_BYTES,
        "log_config": log_config(),
        "access_log": False,
        "server_header": False,
    }
