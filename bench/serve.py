"""One benchmark target in its own process: ``python -m bench.serve TARGET --port P``.

Every target is served exactly as ``cpni-gateway serve`` serves the
gateway with one worker: ``uvicorn.run`` with the keyword arguments of
:func:`gateway.http_protocol.uvicorn_options` (the event loop, the HTTP
protocol, keep-alive and head limits, logging), imported rather than
copied, so the benchmark follows whatever ``serve`` is configured with.
The only additions, the same for every target, are the round-trip counter
and its ``GET /__bench/stats`` route (:mod:`bench.instrument`).

Targets: ``on`` (``gateway.app:asgi_factory``, as shipped), ``off``
(:func:`bench.unguarded.create_unguarded_app`), ``floor``
(:func:`bench.floor.create_floor_app`).
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any

import uvicorn

from bench.instrument import StatsRoute, install
from gateway.http_protocol import uvicorn_options

FACTORIES = {
    "on": "gateway.app:asgi_factory",
    "off": "bench.unguarded:create_unguarded_app",
    "floor": "bench.floor:create_floor_app",
}
HOST = "127.0.0.1"


def build(target: str) -> Any:
    """The target's ASGI app, wrapped with the stats route."""
    module, _, name = FACTORIES[target].partition(":")
    factory = getattr(importlib.import_module(module), name)
    return StatsRoute(factory())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("target", choices=sorted(FACTORIES))
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    install()
    # `serve` runs with log_level="info" and the gateway's JSON log config
    # (one line per request, on stderr: here the target's log file).
    uvicorn.run(build(args.target), host=HOST, port=args.port, log_level="info", **uvicorn_options())


if __name__ == "__main__":
    main()
