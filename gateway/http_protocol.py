"""uvicorn, configured so that slow or bloated request heads cannot hold connections.

uvicorn's keep-alive timer only runs between requests and is cancelled by
any byte that arrives, so a client that sends one header byte every few
seconds ("slowloris") keeps a connection, and a worker slot, forever. The
protocols here give every request a deadline for its complete head
(``timeout_keep_alive`` seconds, counted from the connection or the end of
the previous response, and not reset by partial data); past it the
connection is closed. A head that grows past :data:`MAX_HEAD_BYTES` before
it is complete is answered 431 and the connection closed. A slow *body* is
cut off by the endpoint, which reads it within the request time budget
(504 ``TIMEOUT``).

``serve`` runs uvloop and httptools (``uvicorn[standard]``);
:class:`H11HeadDeadline` is the same protection on h11, used when httptools
is not importable.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING, Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from gateway.logs import log_config

if TYPE_CHECKING:
    from uvicorn.server import ServerState

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # httptools is an optional extra of uvicorn
    HttpToolsProtocol = None  # type: ignore[assignment,misc]

# The largest request head (request line plus headers) buffered before it is complete.
MAX_HEAD_BYTES = 16 * 1024

_TOO_LARGE = b"Request header fields too large"


class _HeadDeadline:
    """The deadline and the 431 answer both protocols share (uvicorn's attributes, typed here)."""

    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    timeout_keep_alive: int
    server_state: ServerState
    _head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)  # type: ignore[misc]

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

    def _refuse_head(self) -> None:
        """431 and close: the head grew past MAX_HEAD_BYTES."""
        self._disarm()
        if self.transport.is_closing():
            return
        lines = [b"HTTP/1.1 431 Request Header Fields Too Large"]
        lines += [name + b": " + value for name, value in self.server_state.default_headers]
        lines += [
            b"content-type: text/plain; charset=utf-8",
            b"content-length: " + str(len(_TOO_LARGE)).encode(),
            b"connection: close",
        ]
        self.transport.write(b"\r\n".join(lines) + b"\r\n\r\n" + _TOO_LARGE)
        self.transport.close()


class H11HeadDeadline(_HeadDeadline, H11Protocol):
    """h11 with a hard deadline for each request's head; h11 itself bounds the head's size."""

    def handle_events(self) -> None:
        cycle = self.cycle
        super().handle_events()
        if self.cycle is not cycle:
            self._disarm()  # a request's head is complete

    def on_response_complete(self) -> None:
        self._arm()  # the next request on this connection gets the same deadline
        super().on_response_complete()

    def send_400_response(self, msg: str) -> None:
        # uvicorn answers every h11 protocol error 400; h11 marks the head over
        # h11_max_incomplete_event_size (MAX_HEAD_BYTES) as a 431.
        error = sys.exception()
        if isinstance(error, h11.RemoteProtocolError) and error.error_status_hint == 431:
            self._refuse_head()
            return
        super().send_400_response(msg)


if HttpToolsProtocol is not None:

    class HttpToolsHeadDeadline(_HeadDeadline, HttpToolsProtocol):
        """httptools with a hard deadline for each request's head, and a bound on its size.

        httptools buffers a head without limit, so the bytes received while a
        head is incomplete are counted here; past MAX_HEAD_BYTES it is refused.
        """

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._awaiting_head = True
            self._head_bytes = 0  # received since the head began, a chunk at a time
            self._head_size = 0  # of the head being parsed: URL and header lines
            self._head_too_large = False

        def data_received(self, data: bytes) -> None:
            if self._awaiting_head:
                self._head_bytes += len(data)
            super().data_received(data)
            if self._awaiting_head and self._head_bytes > MAX_HEAD_BYTES:
                self._refuse_head()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._head_size = 0

        def on_url(self, url: bytes) -> None:
            super().on_url(url)
            self._head_size += len(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            super().on_header(name, value)
            self._head_size += len(name) + len(value) + 4  # ": " and CRLF

        def on_headers_complete(self) -> None:
            if self._head_size > MAX_HEAD_BYTES:
                # Arrived whole in one read; raising stops the parser, and
                # uvicorn's answer to a parser error becomes the 431.
                self._head_too_large = True
                raise ValueError("request head too large")
            super().on_headers_complete()
            self._awaiting_head = False
            self._head_bytes = 0
            self._disarm()

        def on_message_complete(self) -> None:
            super().on_message_complete()
            self._awaiting_head = True

        def on_response_complete(self) -> None:
            super().on_response_complete()
            # Unless a pipelined request (head complete) is now running, the
            # next head gets the same deadline, from the end of this response.
            if not self.transport.is_closing() and (self.cycle is None or self.cycle.response_complete):
                self._arm()

        def send_400_response(self, msg: str) -> None:
            if self._head_too_large:
                self._refuse_head()
                return
            super().send_400_response(msg)

    HeaderDeadlineProtocol: type[asyncio.Protocol] = HttpToolsHeadDeadline
else:  # pragma: no cover - uvicorn[standard] installs httptools
    HeaderDeadlineProtocol = H11HeadDeadline


def uvicorn_options() -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run`` / ``uvicorn.Config`` shared by every way of serving."""
    return {
        "http": HeaderDeadlineProtocol,
        "loop": "auto",  # uvloop when importable (uvicorn[standard]), else asyncio
        "ws": "none",  # the gateway serves no WebSocket: an upgrade request stays plain HTTP
        "timeout_keep_alive": 5,
        "h11_max_incomplete_event_size": MAX_HEAD_BYTES,  # the h11 fallback's bound
        "log_config": log_config(),
        "access_log": False,
        "server_header": False,
    }
