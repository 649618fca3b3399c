"""A real uvicorn server on a free port, for tests that need real sockets."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from gateway.app import create_app
from gateway.config import Settings
from gateway.http_protocol import uvicorn_options


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def live_server(settings: Settings, database_url: str, **options: Any) -> Iterator[tuple[uvicorn.Server, int]]:
    """Serve the gateway with the production uvicorn options (plus ``options``); yields the server and port."""
    port = free_port()
    # The tests' own logging stays in place (caplog): no log_config.
    config = uvicorn.Config(
        create_app(settings, database_url=database_url),
        host="127.0.0.1",
        port=port,
        **{**uvicorn_options(), "log_config": None, **options},
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the gateway did not start")
        time.sleep(0.02)
    try:
        yield server, port
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def live_gateway(settings: Settings, database_url: str, **options: Any) -> Iterator[int]:
    """Serve the gateway with the production uvicorn options (plus ``options``); yields the port."""
    with live_server(settings, database_url, **options) as (_, port):
        yield port
