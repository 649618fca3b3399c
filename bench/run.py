"""``python -m bench.run``: the floor, the gateway with authorization and audit off, and as shipped.

Prepares the database (``DATABASE_URL``, else an embedded PostgreSQL in
``--data-dir``; migrated; seeded once, reused after), starts the three
targets (one server process each, served as ``cpni-gateway serve`` serves,
:mod:`bench.serve`), then for each query:

1. checks a few answers of every target against the floor's
   (:mod:`bench.sanity`): a mismatch stops the run, exit status 2;
2. warms every target up with the query's load (``--warmup`` seconds each);
3. measures ``--reps`` interleaved reps (rep 1: floor, off, on; rep 2:
   off, on, floor; rep 3: on, floor, off; ...), each target with wrk
   (:mod:`bench.wrk`) for ``--duration`` seconds, sampling around each
   window the CPU of the target's process tree, of PostgreSQL and of wrk,
   the target's SQL round trips and the machine's busy time;
4. with ``--profile``, profiles the shipped gateway under the same load
   (:mod:`bench.profile`), outside the measured windows.

Prints the report (medians, ratios, issue 11's targets met or not) and
writes it to ``bench/results/<UTC time>-<customers>.md`` and ``.json``.
Exit status 0, or 2 with a one-line reason when a target fails its checks.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shlex
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson
import psutil  # type: ignore[import-untyped]

from bench import profile as pyspy
from bench import wrk
from bench.database import BenchDatabase, BenchDatabaseError, cpu_between, postgres_cpu_sample, prepare_database
from bench.report import Rep, against_baseline, code_version, machine, render, summarize, to_json, write
from bench.sanity import SanityError, check_shape, compare, fetch
from bench.servers import BY_KEY as TARGETS
from bench.servers import ServerError, ServerProcess
from bench.workload import BY_KEY as QUERIES
from bench.workload import PATH, Query, body, customer_sample, headers, page_cursor, page_positions, token
from gateway.config import load_settings
from gateway.cursors import CursorCodec
from gateway.http_protocol import uvicorn_options

BENCH_DIR = Path(__file__).resolve().parent
ORDER = ("floor", "off", "on")
CHECK_SAMPLES = 5
MAX_POSITIONS = 5_000  # page positions per paged query (each a cursor in the values file)


class BenchError(Exception):
    """The load generator or profiler failed; the message says how."""


@dataclass(frozen=True)
class Options:
    customers: int
    duration: float
    warmup: float
    reps: int
    connections: int
    threads: int
    queries: tuple[str, ...]
    targets: tuple[str, ...]
    data_dir: Path
    results_dir: Path
    seed: int
    profile: tuple[str, ...]
    profile_seconds: float
    baseline: Path | None
    fresh_audit: bool = False


def _keys(text: str, allowed: Sequence[str], option: str, parser: argparse.ArgumentParser) -> tuple[str, ...]:
    wanted = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [t for t in wanted if t not in allowed]
    if unknown or (not wanted and option != "--profile"):
        parser.error(f"{option}: expected a comma-separated subset of {','.join(allowed)}, not {text!r}")
    return tuple(t for t in allowed if t in wanted)


def parse(argv: Sequence[str]) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000, help="customers (seeded once; default 100000)")
    parser.add_argument("--duration", type=float, default=20.0, help="measured seconds per target and rep (20)")
    parser.add_argument("--warmup", type=float, default=10.0, help="warm-up seconds per target and query (10)")
    parser.add_argument("--reps", type=int, default=3, help="interleaved reps per query (3)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections, closed loop (16)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument("--queries", default="Q1,Q2,Q3", help="comma-separated subset of Q1,Q2,Q3")
    parser.add_argument("--targets", default="floor,off,on", help="comma-separated subset of floor,off,on")
    parser.add_argument("--data-dir", type=Path, default=BENCH_DIR / ".data", help="embedded PostgreSQL home")
    parser.add_argument("--results-dir", type=Path, default=BENCH_DIR / "results")
    parser.add_argument("--seed", type=int, default=0, help="seed of the request sequences (0)")
    parser.add_argument("--fresh-audit", action="store_true",
                        help="empty the bench database's audit trail first (superuser; runs then compare)")  # fmt: skip
    parser.add_argument("--profile", default="", help="queries to profile the shipped gateway on (e.g. Q1,Q2)")
    parser.add_argument("--profile-seconds", type=float, default=20.0, help="seconds of each profile (20)")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="a previous run's JSON (e.g. at 100,000 customers) to compare req/s with")  # fmt: skip
    args = parser.parse_args(argv)
    if args.baseline is not None and not args.baseline.is_file():
        parser.error(f"--baseline: no such file {args.baseline}")
    for name in ("customers", "reps", "connections", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.duration < 1 or args.warmup < 0 or args.profile_seconds < 1:
        parser.error("--duration and --profile-seconds must be at least 1 s, --warmup not negative")
    targets = _keys(args.targets, ORDER, "--targets", parser)
    if "floor" not in targets:
        parser.error("--targets: the floor is every answer's reference and every ratio's base; keep it")
    profile = _keys(args.profile, tuple(QUERIES), "--profile", parser)
    return Options(
        customers=args.customers, duration=args.duration, warmup=args.warmup, reps=args.reps,
        connections=args.connections, threads=args.threads,
        queries=_keys(args.queries, tuple(QUERIES), "--queries", parser), targets=targets,
        data_dir=args.data_dir, results_dir=args.results_dir, seed=args.seed, profile=profile,
        profile_seconds=args.profile_seconds, baseline=args.baseline, fresh_audit=args.fresh_audit,
    )  # fmt: skip


def log(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def rep_order(targets: Sequence[str], rep: int) -> list[str]:
    """The order of the targets in rep ``rep`` (1-based): rotated by one each rep."""
    shift = (rep - 1) % len(targets)
    return [*targets[shift:], *targets[:shift]]


def _busy_seconds() -> float:
    """CPU seconds the whole machine has spent not idle."""
    times = psutil.cpu_times()
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))


@dataclass(frozen=True)
class Workload:
    """One query's requests, ready for wrk and for the answer check."""

    query: Query
    headers: dict[str, str]
    gateway_values: list[str]
    floor_values: list[int]
    scripts: dict[str, Path]  # by target

    def check_bodies(self, target: str, count: int) -> list[bytes]:
        if target == "floor":
            return [body(self.query, v, floor=True) for v in self.floor_values[:count]]
        return [body(self.query, v, floor=False) for v in self.gateway_values[:count]]


def prepare_workload(query: Query, db: BenchDatabase, codec: CursorCodec, tmp: Path, seed: int) -> Workload:
    """Tokens, values files and wrk scripts of one query (the gateway's cursors made here, sealed for its caller)."""
    settings = load_settings()
    hdrs = headers(query, token(settings, query))
    ids = db.customer_ids
    if query.paged:
        # Check samples first (the same for every target), then the load's positions.
        count = min(MAX_POSITIONS, max(1, len(ids) // 50))
        positions = page_positions(ids, CHECK_SAMPLES, seed + 1) + page_positions(ids, count, seed)
        cursors = [page_cursor(codec, query, p) for p in positions]
        floor_values, gateway_values = positions, cursors
        floor_tpl = wrk.Template.around(body(query, 7_777_777_777_777, floor=True).decode(), "7777777777777")
        gateway_tpl = wrk.Template.around(body(query, wrk.VALUE, floor=False).decode(), wrk.VALUE)
    else:
        sample = customer_sample(ids, CHECK_SAMPLES, seed + 1)
        floor_values = [*sample, *ids]
        gateway_values = [str(v) for v in floor_values]
        floor_tpl = gateway_tpl = wrk.Template.around(body(query, wrk.VALUE, floor=False).decode(), wrk.VALUE)
    scripts = {}
    for target, tpl, values in (("floor", floor_tpl, floor_values), ("gateway", gateway_tpl, gateway_values)):
        values_file = wrk.write_values(tmp / f"{query.key}-{target}.values", values[CHECK_SAMPLES:])
        script = tmp / f"{query.key}-{target}.lua"
        script.write_text(wrk.lua_script(tpl, hdrs, values_file, seed, PATH))
        scripts[target] = script
    return Workload(query, hdrs, gateway_values, floor_values,
                    {"floor": scripts["floor"], "off": scripts["gateway"], "on": scripts["gateway"]})  # fmt: skip


def check_answers(work: Workload, servers: dict[str, ServerProcess]) -> None:
    """Every target's sample answers against the floor's (bench/sanity.py)."""
    q = work.query.key
    reference = fetch(servers["floor"].url, work.headers, work.check_bodies("floor", CHECK_SAMPLES), f"floor, {q}")
    for index, document in enumerate(reference):
        check_shape(work.query, document, f"floor, {q}, sample {index}")
    for target, server in servers.items():
        if target == "floor":
            continue
        where = f"{target}, {q}"
        answers = fetch(server.url, work.headers, work.check_bodies(target, CHECK_SAMPLES), where)
        for index, (ref, answer) in enumerate(zip(reference, answers, strict=True)):
            check_shape(work.query, answer, f"{where}, sample {index}")
            compare(target, ref, answer, f"{where}, sample {index}")


def measure(
    work: Workload, server: ServerProcess, db: BenchDatabase, options: Options, rep: int
) -> Rep:
    """One timed wrk window against one target."""
    script = work.scripts[server.target.key]
    trips = server.round_trips()
    cpu, pg, busy, at = server.cpu_seconds(), postgres_cpu_sample(db), _busy_seconds(), time.perf_counter()
    try:
        run = wrk.run(server.url + PATH, script, seconds=options.duration, connections=options.connections,
                      threads=options.threads)  # fmt: skip
    except (RuntimeError, ValueError) as exc:
        raise BenchError(f"{server.target.key}, {work.query.key}: {exc}") from None
    window = time.perf_counter() - at
    cpu_after, pg_after, busy_after = server.cpu_seconds(), postgres_cpu_sample(db), _busy_seconds()
    trips_after = server.round_trips()
    result = run.result
    return Rep(
        query=work.query.key, target=server.target.key, rep=rep, requests=result.ok, errors=result.errors,
        duration_s=result.duration_s, p50_ms=result.p50_ms, p99_ms=result.p99_ms,
        server_cpu_s=cpu_after - cpu, postgres_cpu_s=cpu_between(pg, pg_after),
        client_cpu_s=run.cpu_s, round_trips=trips_after - trips, machine_busy_s=busy_after - busy,
        window_s=window,
    )  # fmt: skip


def warm_up(work: Workload, servers: dict[str, ServerProcess], options: Options) -> None:
    if options.warmup <= 0:
        return
    for target in options.targets:
        server = servers[target]
        try:
            run = wrk.run(server.url + PATH, work.scripts[target], seconds=options.warmup,
                          connections=options.connections, threads=options.threads)  # fmt: skip
        except (RuntimeError, ValueError) as exc:
            raise BenchError(f"{target}, {work.query.key}, warm-up: {exc}") from None
        log(f"{work.query.key} {target}: warm-up {run.result.ok:,} requests, {run.result.errors} errors")


def profile_on(work: Workload, server: ServerProcess, options: Options, stem: Path) -> Path:
    """py-spy on the shipped gateway under the query's load; the summary's path."""
    speedscope = stem.with_name(f"{stem.name}-profile-{work.query.key}.speedscope.json")
    spy = pyspy.record(server.pid, options.profile_seconds, speedscope)
    time.sleep(1.0)  # let py-spy attach before the load starts
    wrk.run(server.url + PATH, work.scripts["on"], seconds=options.profile_seconds,
            connections=options.connections, threads=options.threads)  # fmt: skip
    _, err = spy.communicate(timeout=120)
    if spy.returncode != 0 or not speedscope.exists():
        raise BenchError(f"py-spy failed on {work.query.key}: {err.decode(errors='replace')[-300:]}")
    summary = speedscope.with_name(f"{stem.name}-profile-{work.query.key}.txt")
    heading = [f"py-spy profile of the shipped gateway (on) under {work.query.key} ({work.query.label}),"
               f" {options.connections} connections, {options.profile_seconds:g} s; speedscope: {speedscope.name}"]
    pyspy.write_summary(speedscope, summary, heading)
    return summary


def run_queries(
    options: Options, db: BenchDatabase, servers: dict[str, ServerProcess], works: list[Workload], stem: Path
) -> tuple[list[Rep], dict[str, dict[str, int]], list[Path]]:
    reps: list[Rep] = []
    peak: dict[str, dict[str, int]] = {}
    profiles: list[Path] = []
    for work in works:
        check_answers(work, servers)
        log(f"{work.query.key}: answers of {', '.join(servers)} agree with the floor's")
        warm_up(work, servers, options)
        for rep in range(1, options.reps + 1):
            for target in rep_order(options.targets, rep):
                r = measure(work, servers[target], db, options, rep)
                log(f"{work.query.key} rep {rep} {target}: {r.rps:,.0f} req/s, p50 {r.p50_ms:.1f} ms,"
                    f" p99 {r.p99_ms:.1f} ms, server {r.server_ms:.2f} ms/req, PG {r.postgres_ms:.2f} ms/req,"
                    f" {r.round_trips_per_request:.1f} round trips/req, {r.errors} errors")  # fmt: skip
                reps.append(r)
        peak[work.query.key] = {t: s.peak_rss() for t, s in servers.items()}
        if work.query.key in options.profile and "on" in servers:
            profiles.append(profile_on(work, servers["on"], options, stem))
            log(f"{work.query.key}: profile summary in {profiles[-1]}")
    return reps, peak, profiles


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m bench.run``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    options = parse(argv)
    started = datetime.now(UTC)
    command = shlex.join(["python", "-m", "bench.run", *argv])
    code = code_version()  # of the code that runs, before anything may change the checkout
    # The servers need keys (no gateway has a built-in one): this run's own,
    # unless the environment names them; the servers inherit them.
    for name in ("CPNI_GATEWAY_JWT_SECRET", "CPNI_GATEWAY_CURSOR_KEY"):
        os.environ.setdefault(name, secrets.token_urlsafe(48))
    try:
        db, embedded = prepare_database(
            customers=options.customers, data_dir=options.data_dir, log=log, fresh_audit=options.fresh_audit
        )
    except BenchDatabaseError as exc:
        log(f"error: {exc}")
        return 2
    stem = options.results_dir / f"{started:%Y-%m-%dT%H%M%SZ}-{options.customers}"
    options.results_dir.mkdir(parents=True, exist_ok=True)
    try:
        settings = load_settings()
        assert settings.cursor_key is not None
        codec = CursorCodec(settings.cursor_key)
        with tempfile.TemporaryDirectory(prefix="cpni-bench-") as tmp, contextlib.ExitStack() as stack:
            works = [prepare_workload(QUERIES[q], db, codec, Path(tmp), options.seed) for q in options.queries]
            servers = {}
            for key in options.targets:
                log(f"starting {key}")
                servers[key] = stack.enter_context(
                    ServerProcess(TARGETS[key], database_url=db.url, log_dir=options.data_dir / "logs")
                )
            loops = {key: server.event_loop() for key, server in servers.items()}
            reps, peak, profiles = run_queries(options, db, servers, works, stem)
    except (SanityError, ServerError, BenchError) as exc:
        log(f"error: {exc}")
        return 2
    finally:
        if embedded is not None:
            embedded.close()
    summaries = [summarize(q, [r for r in reps if r.query == q], peak.get(q, {})) for q in options.queries]
    options_used = uvicorn_options()
    running = ", ".join(f"{k} {v}" for k, v in loops.items())
    loop = (f"uvicorn loop={options_used.get('loop', 'auto')} (running: {running}),"
            f" http={_name(options_used.get('http', 'auto'))}")  # fmt: skip
    facts = machine(db.server_version, loop, code)
    settings_lines = [
        f"{len(db.customer_ids):,} customers; database: {db.source}; audit trail at the start: ~{db.audit_rows:,} rows"
        + (", emptied (`--fresh-audit`)" if db.audit_emptied else ""),
        f"wrk: {options.connections} connections, {options.threads} threads, closed loop; {options.warmup:g} s"
        f" warm-up per target and query, then {options.reps} interleaved reps of {options.duration:g} s"
        " (rep order rotated: floor,off,on / off,on,floor / on,floor,off); figures are medians over the reps",
        "servers: one process each (`python -m bench.serve`), uvicorn with gateway.http_protocol.uvicorn_options()",
        "server CPU: the target's process tree; PostgreSQL CPU: postmaster, auxiliary processes and the"
        " benchmark database's backends; SQL round trips: counted in each target's asyncpg (bench/instrument.py);"
        " peak RSS: VmHWM of the server process at the end of the query's reps",
    ]
    notes = [] if db.postmaster_pid is not None else ["PostgreSQL runs elsewhere: its CPU is not measured"]
    notes += [f"profile: {p.relative_to(options.results_dir.parent) if p.is_relative_to(options.results_dir.parent) else p}"
              for p in profiles]  # fmt: skip
    extra = []
    if options.baseline is not None:
        extra = against_baseline(summaries, len(db.customer_ids), orjson.loads(options.baseline.read_bytes()))
    markdown = render(summaries, reps, started=started, command=command, facts=facts,
                      settings_lines=settings_lines, notes=notes, extra=extra)  # fmt: skip
    settings_json = {
        "customers": len(db.customer_ids), "duration_s": options.duration, "warmup_s": options.warmup,
        "reps": options.reps, "connections": options.connections, "threads": options.threads,
        "queries": list(options.queries), "targets": list(options.targets), "seed": options.seed,
        "database": db.source,
    }  # fmt: skip
    document = to_json(summaries, reps, started=started, command=command, facts=facts, settings=settings_json,
                       notes=notes)  # fmt: skip
    print(markdown)
    md, js = write(markdown, document, options.results_dir, started, options.customers)
    log(f"written to {md} and {js}")
    return 0


def _name(value: object) -> str:
    return value if isinstance(value, str) else getattr(value, "__name__", str(value))


if __name__ == "__main__":
    sys.exit(main())
