"""The report: per query, a table of medians over the reps, the targets of issue 11 met or not, JSON.

Each rep measures every target once for the query; a figure in the table
is the median over the reps of that figure. Ratios to the floor and the
on/off overhead are computed within each rep (targets measured seconds
apart, so drift of the machine hits both) and their median is shown.
"""

from __future__ import annotations

import math
import os
import platform
import statistics
import subprocess
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from bench.workload import BY_KEY

TARGET_ORDER = ("floor", "off", "on")
LABELS = {"floor": "floor (hand-written SQL)", "off": "gateway, authz + audit off", "on": "gateway as shipped"}
MAX_OVERHEAD = 0.15  # on vs off, issue 11
MAX_TAIL = 3.0  # p99 / p50


@dataclass(frozen=True)
class Rep:
    """One target measured once for one query."""

    query: str
    target: str
    rep: int
    requests: int  # successful answers in the window
    errors: int
    duration_s: float
    p50_ms: float
    p99_ms: float
    server_cpu_s: float
    postgres_cpu_s: float | None
    client_cpu_s: float
    round_trips: int
    machine_busy_s: float  # every process on the machine, ours included
    window_s: float

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s > 0 else math.nan

    def per_request(self, value: float | None, scale: float = 1.0) -> float:
        if value is None or self.requests == 0:
            return math.nan
        return value * scale / self.requests

    @property
    def server_ms(self) -> float:
        return self.per_request(self.server_cpu_s, 1000)

    @property
    def postgres_ms(self) -> float:
        return self.per_request(self.postgres_cpu_s, 1000)

    @property
    def client_ms(self) -> float:
        return self.per_request(self.client_cpu_s, 1000)

    @property
    def round_trips_per_request(self) -> float:
        return self.per_request(self.round_trips)

    @property
    def other_cores(self) -> float:
        """Cores that processes outside the benchmark kept busy during the window (noise)."""
        ours = self.server_cpu_s + (self.postgres_cpu_s or 0.0) + self.client_cpu_s
        return max(0.0, self.machine_busy_s - ours) / self.window_s if self.window_s > 0 else math.nan

    def figures(self) -> dict[str, float]:
        return {
            "rps": self.rps, "p50_ms": self.p50_ms, "p99_ms": self.p99_ms, "server_cpu_ms": self.server_ms,
            "postgres_cpu_ms": self.postgres_ms, "client_cpu_ms": self.client_ms,
            "round_trips": self.round_trips_per_request, "other_cores": self.other_cores,
        }  # fmt: skip


def median(values: Sequence[float]) -> float:
    """The median of the values that are numbers (NaN when there are none)."""
    numbers = [v for v in values if not math.isnan(v)]
    return statistics.median(numbers) if numbers else math.nan


@dataclass
class Summary:
    """One query's medians per target, per-rep ratios and verdicts."""

    query: str
    medians: dict[str, dict[str, float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    peak_rss_mb: dict[str, float] = field(default_factory=dict)
    ratio_to_floor: dict[str, float] = field(default_factory=dict)
    overhead: float = math.nan  # 1 - on/off requests/s
    cpu_overhead: float = math.nan  # on/off server CPU per request - 1
    verdicts: list[tuple[str, str, bool | None]] = field(default_factory=list)


def summarize(query: str, reps: Sequence[Rep], peak_rss: dict[str, int]) -> Summary:
    """Medians, ratios and the issue's targets for one query."""
    summary = Summary(query)
    by_target: dict[str, list[Rep]] = {}
    for rep in reps:
        by_target.setdefault(rep.target, []).append(rep)
    for target in TARGET_ORDER:
        mine = by_target.get(target)
        if not mine:
            continue
        keys = mine[0].figures().keys()
        summary.medians[target] = {k: median([r.figures()[k] for r in mine]) for k in keys}
        summary.errors[target] = sum(r.errors for r in mine)
        summary.peak_rss_mb[target] = peak_rss.get(target, 0) / 2**20
    by_rep: dict[int, dict[str, Rep]] = {}
    for rep in reps:
        by_rep.setdefault(rep.rep, {})[rep.target] = rep
    for target in ("off", "on"):
        ratios = [r[target].rps / r["floor"].rps for r in by_rep.values() if target in r and "floor" in r]
        if ratios:
            summary.ratio_to_floor[target] = median(ratios)
    pairs = [(r["on"], r["off"]) for r in by_rep.values() if "on" in r and "off" in r]
    if pairs:
        summary.overhead = median([1 - on.rps / off.rps for on, off in pairs])
        summary.cpu_overhead = median([on.server_ms / off.server_ms - 1 for on, off in pairs])
    goal = BY_KEY[query].target_ratio if query in BY_KEY else 0.0
    on_ratio = summary.ratio_to_floor.get("on")
    summary.verdicts.append(
        (f"on >= {goal:.2f}x the floor's requests/s", _num(on_ratio, 3) + "x", None if on_ratio is None else on_ratio >= goal)
    )
    summary.verdicts.append(
        (f"authz + audit cost (1 - on/off requests/s) <= {MAX_OVERHEAD:.0%}", _pct(summary.overhead),
         None if math.isnan(summary.overhead) else summary.overhead <= MAX_OVERHEAD)
    )  # fmt: skip
    on = summary.medians.get("on")
    if on:
        tail = on["p99_ms"] / on["p50_ms"] if on["p50_ms"] > 0 else math.nan
        summary.verdicts.append(
            (f"on: p99 <= {MAX_TAIL:g}x p50", f"{_num(tail, 2)}x", None if math.isnan(tail) else tail <= MAX_TAIL)
        )
    return summary


SCALE_GOAL = 0.8  # issue 11: at 1M customers Q1 and Q2 keep >= 0.8x their 100k rate
SCALE_QUERIES = ("Q1", "Q2")


def against_baseline(summaries: Sequence[Summary], customers: int, baseline: dict[str, Any]) -> list[str]:
    """Each target's req/s against a baseline run's (its JSON): the 1M vs 100k target of issue 11."""
    before = baseline.get("settings", {}).get("customers", "?")
    lines = [
        f"### Against the baseline run of {baseline.get('started', '?')} ({before:,} customers)"
        if isinstance(before, int) else "### Against the baseline run",
        "",
        f"| query | target | req/s now ({customers:,}) | req/s baseline | now / baseline | |",
        "|---|---|---:|---:|---:|---|",
    ]
    for summary in summaries:
        then = baseline.get("queries", {}).get(summary.query, {}).get("medians", {})
        for target in TARGET_ORDER:
            now_rps = summary.medians.get(target, {}).get("rps")
            then_rps = (then.get(target) or {}).get("rps")
            if now_rps is None or not then_rps:
                continue
            ratio = now_rps / then_rps
            verdict = ""
            if target == "on" and summary.query in SCALE_QUERIES:
                verdict = f"{_verdict(ratio >= SCALE_GOAL)} (>= {SCALE_GOAL}x)"
            lines.append(
                f"| {summary.query} | {target} | {_num(now_rps, 0)} | {_num(then_rps, 0)} | {_num(ratio, 2)} | {verdict} |"
            )
    return [*lines, ""]


def _num(value: float | None, digits: int) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:,.{digits}f}"


def _pct(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{100 * value:+.1f} %"


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("**met**" if ok else "**not met**")


def table(summary: Summary) -> list[str]:
    """The markdown table of one query: one row per target, medians over the reps."""
    rows = [
        "| target | req/s | p50 ms | p99 ms | server CPU ms/req | PostgreSQL CPU ms/req | SQL round trips/req"
        " | peak RSS MB | req/s / floor | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for target in TARGET_ORDER:
        m = summary.medians.get(target)
        if m is None:
            continue
        ratio = "1" if target == "floor" else _num(summary.ratio_to_floor.get(target), 3)
        rows.append(
            f"| {LABELS[target]} | {_num(m['rps'], 0)} | {_num(m['p50_ms'], 2)} | {_num(m['p99_ms'], 2)}"
            f" | {_num(m['server_cpu_ms'], 3)} | {_num(m['postgres_cpu_ms'], 3)} | {_num(m['round_trips'], 1)}"
            f" | {_num(summary.peak_rss_mb[target], 0)} | {ratio} | {summary.errors[target]} |"
        )
    return rows


def section(summary: Summary, reps: Sequence[Rep]) -> list[str]:
    query = BY_KEY.get(summary.query)
    title = f"### {summary.query}: {query.label}" if query else f"### {summary.query}"
    lines = [title, "", *table(summary), ""]
    if "on" in summary.medians and "off" in summary.medians:
        lines.append(
            f"Authorization + audit (on vs off, median of the reps): requests/s {_pct(-summary.overhead)},"
            f" server CPU per request {_pct(summary.cpu_overhead)}."
        )
        lines.append("")
    lines += ["| issue 11 target | measured | |", "|---|---:|---|"]
    lines += [f"| {name} | {value} | {_verdict(ok)} |" for name, value, ok in summary.verdicts]
    lines.append("")
    per_rep = ", ".join(f"rep {r.rep} {r.target} {_num(r.rps, 0)}" for r in reps)
    noise = ", ".join(f"{r.target} {_num(r.other_cores, 2)}" for r in reps)
    client = ", ".join(f"{r.target} {_num(r.client_ms, 3)}" for r in reps)
    lines += [
        f"- req/s of each rep, in the order measured: {per_rep}",
        f"- load generator (wrk) CPU ms/request, reported apart as noise: {client}",
        f"- cores kept busy by processes outside the benchmark (noise): {noise}",
        "",
    ]
    return lines


@dataclass(frozen=True)
class Machine:
    """Facts about where the run happened."""

    nproc: int
    cpu: str
    python: str
    postgres: str
    os: str
    commit: str
    loop: str

    def lines(self) -> list[str]:
        return [
            f"- machine: {self.nproc} CPUs ({self.cpu}), {self.os}",
            f"- Python {self.python}, PostgreSQL {self.postgres}, {self.loop}",
            f"- code: {self.commit}",
        ]


def machine(postgres_version: str, loop: str, commit: str | None = None) -> Machine:
    """The facts of this machine; the commit (default: now) notes uncommitted changes in the checkout."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return Machine(
        nproc=os.cpu_count() or 1,
        cpu=cpu,
        python=platform.python_version(),
        postgres=postgres_version,
        os=f"{platform.system()} {platform.release()}",
        commit=commit or code_version(),
        loop=loop,
    )


def code_version() -> str:
    """The checkout's commit, noting uncommitted changes under gateway/, policies/ or bench/."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout.strip()

    try:
        head = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no", "--", "gateway", "policies", "bench")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return f"git {head}" + (" with uncommitted changes under gateway/, policies/ or bench/" if dirty else "")


def render(
    summaries: Sequence[Summary],
    reps: Sequence[Rep],
    *,
    started: datetime,
    command: str,
    facts: Machine,
    settings_lines: Sequence[str],
    notes: Sequence[str] = (),
    extra: Sequence[str] = (),
) -> str:
    """The markdown report of one run (``extra``: lines after the queries' sections)."""
    parts = [f"## Run of {started:%Y-%m-%d %H:%M:%S} UTC", "", f"`{command}`", ""]
    for summary in summaries:
        parts += section(summary, [r for r in reps if r.query == summary.query])
    parts += extra
    parts += [*facts.lines(), *(f"- {line}" for line in settings_lines), *(f"- {note}" for note in notes), ""]
    return "\n".join(parts)


def to_json(
    summaries: Sequence[Summary], reps: Sequence[Rep], *, started: datetime, command: str, facts: Machine,
    settings: dict[str, Any], notes: Sequence[str] = (),
) -> bytes:  # fmt: skip
    """The run as JSON: settings, machine, every rep's raw figures, and each query's summary."""

    def clean(value: Any) -> Any:
        if isinstance(value, float) and math.isnan(value):
            return None
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [clean(v) for v in value]
        return value

    document = {
        "started": started.isoformat(),
        "command": command,
        "machine": asdict(facts),
        "settings": settings,
        "notes": list(notes),
        "reps": [{**asdict(r), **r.figures()} for r in reps],
        "queries": {
            s.query: {
                "medians": s.medians, "errors": s.errors, "peak_rss_mb": s.peak_rss_mb,
                "ratio_to_floor": s.ratio_to_floor, "overhead_rps": s.overhead, "overhead_server_cpu": s.cpu_overhead,
                "targets": [{"target": n, "measured": v, "met": ok} for n, v, ok in s.verdicts],
            }  # fmt: skip
            for s in summaries
        },
    }
    return orjson.dumps(clean(document), option=orjson.OPT_INDENT_2)


def write(markdown: str, document: bytes, results_dir: Path, started: datetime, customers: int) -> tuple[Path, Path]:
    """``<results>/<UTC time>-<customers>.md`` and ``.json``, one pair per run."""
    results_dir.mkdir(parents=True, exist_ok=True)
    stem = results_dir / f"{started:%Y-%m-%dT%H%M%SZ}-{customers}"
    md, js = stem.with_suffix(".md"), stem.with_suffix(".json")
    md.write_text(f"# Load benchmark, {customers:,} customers\n\n{markdown}\n")
    js.write_bytes(document + b"\n")
    return md, js
