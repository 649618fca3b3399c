"""A py-spy profile of a server under load, and a short "where time goes" summary of it.

:func:`record` attaches ``py-spy record --nonblocking --format speedscope``
to the server process for the given seconds (the caller keeps the load on
meanwhile) and writes the profile next to the results (open it at
https://www.speedscope.app). :func:`summarize` reads it back: the share of
samples whose innermost frame is in each area (gateway subpackage, library,
the event loop) and the top frames by self time.
"""

from __future__ import annotations

import re
import subprocess
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

PY_SPY = "py-spy"
RATE = 100  # samples per second: a light touch on a 2-core machine

# The first matching fragment of a frame's file names its area.
AREAS: tuple[tuple[str, str], ...] = (
    ("/gateway/plan/", "gateway/plan (planner, executor)"),
    ("/gateway/resolvers/", "gateway/resolvers (SQL, rows)"),
    ("/gateway/authz/", "gateway/authz (decisions)"),
    ("/gateway/audit/", "gateway/audit"),
    ("/gateway/schema/", "gateway/schema"),
    ("/gateway/", "gateway (endpoint, auth, other)"),
    ("/bench/instrument.py", "bench (stats route wrapper)"),
    ("/bench/serve.py", "bench (server entry point)"),
    ("/bench/", "bench (floor, pass-throughs)"),
    ("/graphql/", "graphql-core"),
    ("/strawberry/", "strawberry"),
    ("/asyncpg/", "asyncpg"),
    ("/uvicorn/", "uvicorn"),
    ("/starlette/", "starlette"),
    ("/httptools/", "httptools"),
    ("/h11/", "h11"),
    ("/uvloop/", "uvloop"),
    ("/asyncio/", "asyncio"),
    ("/jwt/", "PyJWT"),
    ("/cryptography/", "cryptography"),
    ("/cedarpy/", "cedarpy"),
    ("/orjson/", "orjson"),
    ("/prometheus_client/", "prometheus_client"),
    ("/logging/", "logging"),
)


def record(pid: int, seconds: float, output: Path) -> subprocess.Popen[bytes]:
    """Start py-spy on ``pid``; the caller applies load, then waits for the returned process."""
    command = [
        PY_SPY, "record", "--pid", str(pid), "--duration", str(max(1, round(seconds))), "--rate", str(RATE),
        "--nonblocking", "--format", "speedscope", "--output", str(output),
    ]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def area(file: str) -> str:
    for fragment, name in AREAS:
        if fragment in file:
            return name
    return "other (stdlib, C)" if file else "other"


def summarize(profile: dict[str, Any], top: int = 20) -> list[str]:
    """The text summary of a speedscope profile (lines)."""
    frames: list[dict[str, Any]] = profile["shared"]["frames"]
    self_by_frame: Counter[int] = Counter()
    inclusive_by_area: Counter[str] = Counter()
    total = 0.0
    samples = 0
    for prof in profile["profiles"]:
        for stack, weight in zip(prof["samples"], prof["weights"], strict=True):
            if not stack:
                continue
            total += weight
            samples += 1
            self_by_frame[stack[-1]] += weight
            for name in {area(frames[i].get("file", "")) for i in stack}:
                inclusive_by_area[name] += weight
    if total == 0:
        return ["no samples"]
    self_by_area: Counter[str] = Counter()
    for index, weight in self_by_frame.items():
        self_by_area[area(frames[index].get("file", ""))] += weight
    lines = [f"{samples} samples at {RATE}/s ({total:.1f} s sampled)", "", "self time by area (innermost frame):"]
    lines += [f"  {100 * w / total:5.1f} %  {name}" for name, w in self_by_area.most_common()]
    lines += ["", "inclusive time by area (any frame on the stack):"]
    lines += [f"  {100 * w / total:5.1f} %  {name}" for name, w in inclusive_by_area.most_common()]
    lines += ["", f"top {top} frames by self time:"]
    for index, weight in self_by_frame.most_common(top):
        frame = frames[index]
        where = _short(frame.get("file", ""))
        line = f":{frame['line']}" if frame.get("line") else ""
        lines.append(f"  {100 * weight / total:5.1f} %  {frame.get('name', '?')}  ({where}{line})")
    return lines


def _short(file: str) -> str:
    if "/site-packages/" in file:
        return file.split("/site-packages/", 1)[1]
    stdlib = re.search(r"/lib/python3\.\d+/(.*)$", file)
    if stdlib:
        return stdlib.group(1)
    for marker in ("/gateway/", "/bench/"):
        if marker in file:
            return marker.strip("/") + "/" + file.split(marker, 1)[1]
    return file


def write_summary(profile_path: Path, summary_path: Path, heading: Sequence[str]) -> list[str]:
    """Read the profile, write the summary (with ``heading`` lines first); the summary lines."""
    lines = summarize(orjson.loads(profile_path.read_bytes()))
    summary_path.write_text("\n".join([*heading, "", *lines, ""]))
    return lines
