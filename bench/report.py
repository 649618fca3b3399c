"""The report: one markdown table per run, the derived overhead, the machine and the command."""

from __future__ import annotations

import math
import os
import platform
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bench.servers import FLOOR, GATEWAY, UNGUARDED
from bench.stats import LoadResult


@dataclass(frozen=True)
class Measurement:
    """One target's load result and the CPU the processes spent while it was measured."""

    key: str
    label: str
    load: LoadResult
    server_cpu_s: float
    postgres_cpu_s: float | None
    client_cpu_s: float
    machine_busy_s: float  # every process on the machine, ours included
    window_s: float

    @property
    def other_cores(self) -> float:
        """Cores that processes outside the benchmark kept busy while this target was measured."""
        ours = self.server_cpu_s + (self.postgres_cpu_s or 0.0) + self.client_cpu_s
        return max(0.0, self.machine_busy_s - ours) / self.window_s if self.window_s > 0 else math.nan

    def per_request_ms(self, cpu_s: float | None) -> float:
        if cpu_s is None or self.load.requests == 0:
            return math.nan
        return cpu_s * 1000 / self.load.requests

    @property
    def server_ms(self) -> float:
        return self.per_request_ms(self.server_cpu_s)

    @property
    def postgres_ms(self) -> float:
        return self.per_request_ms(self.postgres_cpu_s)

    @property
    def client_ms(self) -> float:
        return self.per_request_ms(self.client_cpu_s)


@dataclass(frozen=True)
class Machine:
    """Facts about where the run happened."""

    nproc: int
    cpu: str
    python: str
    postgres: str
    os: str
    commit: str

    def lines(self) -> list[str]:
        return [
            f"- machine: {self.nproc} CPUs ({self.cpu}), {self.os}",
            f"- Python {self.python}, PostgreSQL {self.postgres}",
            f"- code: {self.commit}",
        ]


def machine(postgres_version: str) -> Machine:
    """The facts of this machine; the commit notes uncommitted changes in the checkout."""
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
        commit=_commit(),
    )


def _commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout.strip()

    try:
        head = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no", "--", "gateway", "policies")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return f"git {head}" + (" with uncommitted changes under gateway/ or policies/" if dirty else "")


def _num(value: float, digits: int) -> str:
    return "n/a" if math.isnan(value) else f"{value:,.{digits}f}"


def table(measurements: Sequence[Measurement]) -> list[str]:
    """The side-by-side table, one row per target."""
    rows = [
        "| target | requests/s | p50 ms | p99 ms | errors | server CPU ms/req | PostgreSQL CPU ms/req | requests |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for m in measurements:
        rows.append(
            f"| {m.label} | {_num(m.load.rps, 0)} | {_num(m.load.p50_ms, 2)} | {_num(m.load.p99_ms, 2)} "
            f"| {m.load.errors} | {_num(m.server_ms, 2)} | {_num(m.postgres_ms, 2)} | {m.load.requests:,} |"
        )
    return rows


def derived(measurements: Sequence[Measurement]) -> list[str]:
    """Authorization + audit overhead (on minus off) and the distance to the floor."""
    by_key = {m.key: m for m in measurements}
    on, off, floor = by_key.get(GATEWAY.key), by_key.get(UNGUARDED.key), by_key.get(FLOOR.key)
    lines: list[str] = []
    if on and off:
        lines += [
            "Authorization + audit overhead per request (on minus off):",
            f"- p50 latency: {_num(on.load.p50_ms - off.load.p50_ms, 2)} ms"
            f" ({_num(100 * (on.load.p50_ms / off.load.p50_ms - 1), 0)} %)",
            f"- gateway CPU: {_num(on.server_ms - off.server_ms, 2)} ms/request"
            f" ({_num(100 * (on.server_ms / off.server_ms - 1), 0)} %)",
        ]
        if not math.isnan(on.postgres_ms):
            lines.append(f"- PostgreSQL CPU: {_num(on.postgres_ms - off.postgres_ms, 2)} ms/request")
        lines.append(f"- throughput: {_num(100 * (on.load.rps / off.load.rps - 1), 0)} %")
    if floor and (on or off):
        lines += ["", "Against the floor (floor / gateway):"]
        for m in (on, off):
            if m is not None:
                lines.append(
                    f"- {m.label}: the floor answers {_num(floor.load.rps / m.load.rps, 1)}x as many requests/s;"
                    f" the gateway spends {_num(m.server_ms / floor.server_ms, 1)}x the floor's server CPU per request"
                )
    return lines


def render(
    measurements: Sequence[Measurement],
    *,
    started: datetime,
    command: str,
    facts: Machine,
    settings_line: str,
    notes: Sequence[str],
) -> str:
    """The markdown section of one run."""
    client_cpu = ", ".join(f"{m.key} {_num(m.client_ms, 3)}" for m in measurements)
    others = ", ".join(f"{m.key} {_num(m.other_cores, 2)}" for m in measurements)
    parts = [
        f"## Run of {started:%Y-%m-%d %H:%M:%S} UTC",
        "",
        f"`{command}`",
        "",
        *table(measurements),
        "",
        *derived(measurements),
        "",
        *facts.lines(),
        f"- {settings_line}",
        f"- load generator CPU ms/request: {client_cpu}",
        f"- cores kept busy by processes outside the benchmark while measuring (noise): {others}",
        *(f"- {note}" for note in notes),
        "",
    ]
    return "\n".join(parts)


def write(section: str, results_dir: Path, started: datetime, customers: int) -> Path:
    """Append the run's section to ``<results>/<UTC date>-<customers>.md`` (a day's runs side by side)."""
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"{started:%Y-%m-%d}-{customers}.md"
    header = "" if path.exists() else f"# Load benchmark, {started:%Y-%m-%d}, {customers:,} customers\n\n"
    with path.open("a") as out:
        out.write(header + section + "\n")
    return path
