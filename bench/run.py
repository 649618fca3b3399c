"""``python -m bench.run``: the gateway with authorization and audit on, off, and the floor.

Prepares the database (``DATABASE_URL``, else an embedded PostgreSQL in
``--data-dir``; migrated; seeded once), then for each target in turn
(floor, gateway off, gateway on: one at a time, so that on a small machine
no target competes with another for the CPU):

1. start it as a uvicorn subprocess on a free loopback port;
2. check a few answers (:mod:`bench.sanity`), abort on anything unexpected;
3. warm up and measure with the load generator (:mod:`bench.load`) in its
   own process, sampling the CPU of the server's process tree, of
   PostgreSQL (when it runs on this machine) and of the load generator at
   the start and end of the measured window;
4. stop it.

Prints the table and appends it to ``bench/results/<UTC date>-<customers>.md``.
Exit status 0, or 2 with a one-line reason when a target fails its checks.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psutil  # type: ignore[import-untyped]

from bench.database import BenchDatabase, BenchDatabaseError, prepare_database
from bench.report import Measurement, machine, render, write
from bench.sanity import Document, SanityError, compare, fetch_samples
from bench.servers import FLOOR, GATEWAY, UNGUARDED, ServerError, ServerProcess, Target, tree_cpu_seconds
from bench.stats import LoadResult
from bench.workload import QUERIES, Credentials, credentials, customer_sequence
from gateway.config import load_settings

BENCH_DIR = Path(__file__).resolve().parent
ORDER: tuple[Target, ...] = (FLOOR, UNGUARDED, GATEWAY)
SANITY_CUSTOMERS = 8
LOAD_GRACE_S = 120.0


class BenchError(Exception):
    """The load generator failed; the message says how."""


@dataclass(frozen=True)
class Options:
    customers: int
    duration: float
    warmup: float
    concurrency: int
    workers: int
    data_dir: Path
    results_dir: Path
    client: str
    seed: int
    max_requests: int
    targets: tuple[Target, ...]


def parse(argv: Sequence[str]) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=10_000, help="customers to seed (default 10000)")
    parser.add_argument("--duration", type=float, default=20.0, help="measured seconds per target (default 20)")
    parser.add_argument("--warmup", type=float, default=None, help="warm-up seconds per target (default duration/5, 0.5..3)")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight (default 16)")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes per server (default 1)")
    parser.add_argument("--data-dir", type=Path, default=BENCH_DIR / ".data", help="embedded PostgreSQL home")
    parser.add_argument("--results-dir", type=Path, default=BENCH_DIR / "results")
    parser.add_argument("--client", choices=("raw", "httpx"), default="raw", help="load generator client")
    parser.add_argument("--seed", type=int, default=0, help="seed of the customer id sequence")
    parser.add_argument("--max-requests", type=int, default=1_000_000, help="request cap per target")
    parser.add_argument(
        "--query", choices=QUERIES, default="profile",
        help="profile: one customer's full profile (Q1); page: a page of 50 customers (Q2, no floor)",
    )
    parser.add_argument(
        "--targets", default="floor,off,on", help="comma-separated subset of floor,off,on (run in that order)"
    )
    args = parser.parse_args(argv)
    wanted = {t.strip() for t in args.targets.split(",") if t.strip()}
    unknown = wanted - {t.key for t in ORDER}
    if unknown or not wanted:
        parser.error(f"--targets: expected a subset of floor,off,on, not {args.targets!r}")
    if args.query == "page" and "floor" in wanted:
        parser.error("--query page: the floor serves only the profile; use --targets off,on")
    os.environ["BENCH_QUERY"] = args.query  # read by the sanity check and the load generator (bench/workload.py)
    for name in ("customers", "concurrency", "workers", "max_requests"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.duration <= 0:
        parser.error("--duration must be positive")
    warmup = args.warmup if args.warmup is not None else min(3.0, max(0.5, args.duration / 5))
    return Options(
        customers=args.customers,
        duration=args.duration,
        warmup=warmup,
        concurrency=args.concurrency,
        workers=args.workers,
        data_dir=args.data_dir,
        results_dir=args.results_dir,
        client=args.client,
        seed=args.seed,
        max_requests=args.max_requests,
        targets=tuple(t for t in ORDER if t.key in wanted),
    )


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _busy_seconds() -> float:
    """CPU seconds the whole machine has spent not idle."""
    times = psutil.cpu_times()
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))


@dataclass
class Sample:
    server: float
    postgres: float | None
    client: float
    busy: float
    at: float


def _sample(server: ServerProcess, postgres_pid: int | None, client_pid: int) -> Sample:
    return Sample(
        server=server.cpu_seconds(),
        postgres=tree_cpu_seconds(postgres_pid) if postgres_pid else None,
        client=tree_cpu_seconds(client_pid),
        busy=_busy_seconds(),
        at=time.perf_counter(),
    )


def measure(
    server: ServerProcess, options: Options, db: BenchDatabase, creds: Credentials, ids_file: Path
) -> Measurement:
    """Drive one running target with the load generator; CPU is sampled around the measured window."""
    command = [
        sys.executable, "-m", "bench.load", "--port", str(server.port), "--ids-file", str(ids_file),
        "--seed", str(options.seed), "--concurrency", str(options.concurrency),
        "--warmup", str(options.warmup), "--duration", str(options.duration),
        "--max-requests", str(options.max_requests), "--client", options.client,
    ]  # fmt: skip
    env = {**os.environ, "BENCH_TOKEN": creds.token}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    before = after = None
    result: LoadResult | None = None
    try:
        for line in process.stdout:
            line = line.strip()
            if line == "measure":
                before = _sample(server, db.postmaster_pid, process.pid)
            elif line == "done":
                after = _sample(server, db.postmaster_pid, process.pid)
            elif line.startswith("{"):
                result = LoadResult.from_json(json.loads(line))
        process.wait(timeout=LOAD_GRACE_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    if process.returncode != 0 or result is None or before is None or after is None:
        raise BenchError(f"the load generator failed against {server.target.label} (exit {process.returncode})")
    postgres = None if before.postgres is None or after.postgres is None else after.postgres - before.postgres
    return Measurement(
        key=server.target.key,
        label=server.target.label,
        load=result,
        server_cpu_s=after.server - before.server,
        postgres_cpu_s=postgres,
        client_cpu_s=after.client - before.client,
        machine_busy_s=after.busy - before.busy,
        window_s=after.at - before.at,
    )


def run_targets(options: Options, db: BenchDatabase, creds: Credentials, ids_file: Path) -> list[Measurement]:
    """Check and measure each target in turn, one server at a time."""
    sample_ids = sorted(set(customer_sequence(db.customer_ids, SANITY_CUSTOMERS, options.seed + 1)))
    reference: tuple[str, dict[int, Document]] | None = None
    measurements = []
    log_dir = options.data_dir / "logs"
    for target in options.targets:
        log(f"{target.label}: starting")
        with ServerProcess(target, database_url=db.url, workers=options.workers, log_dir=log_dir) as server:
            samples = fetch_samples(server.url, creds.headers(), sample_ids, target.label)
            if reference is None:
                reference = (target.label, samples)
            else:
                compare(reference[1], samples, reference[0], target.label)
            log(f"{target.label}: answers checked; warming up {options.warmup:g} s, measuring {options.duration:g} s")
            m = measure(server, options, db, creds, ids_file)
        log(
            f"{target.label}: {m.load.rps:,.0f} req/s, p50 {m.load.p50_ms:.2f} ms, p99 {m.load.p99_ms:.2f} ms,"
            f" {m.load.errors} errors, server CPU {m.server_ms:.2f} ms/req"
        )
        if m.load.errors:
            log(f"{target.label}: statuses {m.load.statuses} (server log: {server.log_path})")
        measurements.append(m)
    return measurements


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m bench.run``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    options = parse(argv)
    started = datetime.now(UTC)
    command = shlex.join(["python", "-m", "bench.run", *argv])
    load_before = os.getloadavg()
    # The servers need keys (no gateway has a built-in one): this run's own,
    # unless the environment names them; the servers inherit them.
    for name in ("CPNI_GATEWAY_JWT_SECRET", "CPNI_GATEWAY_CURSOR_KEY"):
        os.environ.setdefault(name, secrets.token_urlsafe(48))
    try:
        db, embedded = prepare_database(customers=options.customers, data_dir=options.data_dir, log=log)
    except BenchDatabaseError as exc:
        log(f"error: {exc}")
        return 2
    try:
        creds = credentials(load_settings())
        with tempfile.TemporaryDirectory(prefix="cpni-bench-") as tmp:
            ids_file = Path(tmp) / "ids.json"
            ids_file.write_text(json.dumps(list(db.customer_ids)))
            measurements = run_targets(options, db, creds, ids_file)
    except (SanityError, ServerError, BenchError) as exc:
        log(f"error: {exc}")
        return 2
    finally:
        if embedded is not None:
            embedded.close()
    load_after = os.getloadavg()
    settings_line = (
        f"{len(db.customer_ids):,} customers; {options.concurrency} connections, closed loop;"
        f" {options.warmup:g} s warm-up + {options.duration:g} s measured per target;"
        f" {options.workers} uvicorn worker(s) per server; client {options.client}; seed {options.seed};"
        f" targets one at a time ({', '.join(t.key for t in options.targets)}); database: {db.source}"
    )
    notes = [
        f"load average (1 min) {load_before[0]:.2f} before the run, {load_after[0]:.2f} after",
    ]
    if db.postmaster_pid is None:
        notes.append("PostgreSQL runs elsewhere: its CPU is not measured")
    section = render(
        measurements,
        started=started,
        command=command,
        facts=machine(db.server_version),
        settings_line=settings_line,
        notes=notes,
    )
    print(section)
    path = write(section, options.results_dir, started, options.customers)
    log(f"written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
