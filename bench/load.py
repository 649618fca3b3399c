"""The load generator: closed-loop HTTP/1.1 keep-alive clients, in a process of its own.

``python -m bench.load --port P --ids-file F [--concurrency 16] [--warmup 3]
[--duration 20] [--client raw|httpx]`` (the token comes from ``BENCH_TOKEN``).

``concurrency`` connections each send a request, wait for the whole answer,
send the next: the offered load adapts to the server (closed loop), so
latency here is service time under that many requests in flight, not the
latency of an open-loop arrival stream. Customer ids come from a seeded RNG,
one draw per request in the order requests are sent, so every target gets
the same sequence. Warm-up requests are not recorded.

Protocol on stdout, for :mod:`bench.run` to time the server's CPU: a line
``measure`` when measuring starts, ``done`` when it ends, then one JSON line
with the :class:`~bench.stats.LoadResult`.

Two clients. ``raw`` (default) writes each request on an asyncio stream and
reads the Content-Length body: ~0.3 ms of CPU per request on the 2-core
machine of bench/README.md. ``httpx`` (``httpx.AsyncClient``, a pool of
``concurrency`` connections) measured ~6.6 ms per request there and capped
the floor at ~60 requests/s instead of ~330: it was the bottleneck, so it is
kept only to cross-check the raw client (``--client httpx``).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.stats import summarize
from bench.workload import PATH, PURPOSE, body

HOST = "127.0.0.1"
REQUEST_TIMEOUT_S = 30.0
WARMUP_SEED_OFFSET = 1_000_003


@dataclass
class Tally:
    """Shared by the workers of one phase."""

    deadline: float
    budget: int
    record: bool
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    errors: int = 0
    sent: int = 0

    def take(self) -> bool:
        """May one more request start?"""
        if self.sent >= self.budget or time.perf_counter() >= self.deadline:
            return False
        self.sent += 1
        return True

    def done(self, status: int | str, started: float) -> None:
        elapsed = time.perf_counter() - started
        self.statuses[str(status)] += 1
        if status == 200:
            if self.record:
                self.latencies.append(elapsed)
        else:
            self.errors += 1


class Draws:
    """Customer ids in a fixed order: one seeded draw per request sent."""

    def __init__(self, ids: list[int], seed: int) -> None:
        self._ids = ids
        self._rng = random.Random(seed)

    def next(self) -> int:
        return self._ids[self._rng.randrange(len(self._ids))]


# -- raw asyncio client -----------------------------------------------------


class RawConnection:
    """One keep-alive HTTP/1.1 connection speaking just enough of the protocol."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.head = (
            f"POST {PATH} HTTP/1.1\r\nHost: {HOST}:{port}\r\nAuthorization: Bearer {token}\r\n"
            f"X-Purpose: {PURPOSE}\r\nContent-Type: application/json\r\nContent-Length: "
        ).encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.reader is None or self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
        return self.reader, self.writer

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def post(self, payload: bytes) -> int:
        """Send one request, read the whole response; return its status."""
        reader, writer = await self._open()
        writer.write(self.head + str(len(payload)).encode() + b"\r\n\r\n" + payload)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = None
        keep_alive = True
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                keep_alive = False
        if length is None:
            raise ConnectionError("response without Content-Length")
        await reader.readexactly(length)
        if not keep_alive:
            self.close()
        return status


async def _raw_worker(conn: RawConnection, draws: Draws, tally: Tally) -> None:
    while tally.take():
        payload = body(draws.next())
        started = time.perf_counter()
        try:
            status = await asyncio.wait_for(conn.post(payload), REQUEST_TIMEOUT_S)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, TimeoutError) as exc:
            conn.close()
            tally.done(type(exc).__name__, started)
            continue
        tally.done(status, started)


# -- httpx client -----------------------------------------------------------


async def _httpx_worker(client: httpx.AsyncClient, draws: Draws, tally: Tally) -> None:
    while tally.take():
        payload = body(draws.next())
        started = time.perf_counter()
        try:
            response = await client.post(PATH, content=payload)
            await response.aread()
        except httpx.HTTPError as exc:
            tally.done(type(exc).__name__, started)
            continue
        tally.done(response.status_code, started)


# -- phases -----------------------------------------------------------------


Worker = Callable[[Draws, Tally], Awaitable[None]]


async def _phase(workers: list[Worker], draws: Draws, seconds: float, budget: int, record: bool) -> tuple[Tally, float]:
    tally = Tally(deadline=time.perf_counter() + seconds, budget=budget, record=record)
    started = time.perf_counter()
    await asyncio.gather(*(w(draws, tally) for w in workers))
    return tally, time.perf_counter() - started


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def drive(
    *,
    port: int,
    token: str,
    ids: list[int],
    seed: int,
    concurrency: int,
    warmup_s: float,
    duration_s: float,
    max_requests: int,
    client: str,
) -> None:
    """Warm up, then measure; report on stdout (see the module docstring)."""
    if client == "raw":
        conns = [RawConnection(port, token) for _ in range(concurrency)]
        workers: list[Worker] = [functools.partial(_raw_worker, c) for c in conns]
        closers: list[Callable[[], object]] = [c.close for c in conns]
        http: httpx.AsyncClient | None = None
    else:
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        http = httpx.AsyncClient(
            base_url=f"http://{HOST}:{port}",
            limits=limits,
            timeout=REQUEST_TIMEOUT_S,
            headers={"authorization": f"Bearer {token}", "x-purpose": PURPOSE, "content-type": "application/json"},
        )
        workers = [functools.partial(_httpx_worker, http) for _ in range(concurrency)]
        closers = []
    try:
        if warmup_s > 0:
            await _phase(workers, Draws(ids, seed + WARMUP_SEED_OFFSET), warmup_s, max_requests, record=False)
        _say("measure")
        tally, elapsed = await _phase(workers, Draws(ids, seed), duration_s, max_requests, record=True)
        _say("done")
    finally:
        for close in closers:
            close()
        if http is not None:
            await http.aclose()
    result = summarize(
        tally.latencies,
        errors=tally.errors,
        elapsed_s=elapsed,
        statuses=dict(tally.statuses),
        client=client,
        concurrency=concurrency,
    )
    _say(json.dumps(result.to_json()))


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m bench.load``."""
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ids-file", type=Path, required=True, help="JSON list of customer ids")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--max-requests", type=int, default=1_000_000)
    parser.add_argument("--client", choices=("raw", "httpx"), default="raw")
    args = parser.parse_args(argv)
    token = os.environ.get("BENCH_TOKEN", "")
    ids = json.loads(args.ids_file.read_text())
    asyncio.run(
        drive(
            port=args.port,
            token=token,
            ids=ids,
            seed=args.seed,
            concurrency=args.concurrency,
            warmup_s=args.warmup,
            duration_s=args.duration,
            max_requests=args.max_requests,
            client=args.client,
        )
    )


if __name__ == "__main__":
    main()
