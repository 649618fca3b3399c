"""Latency summaries: nearest-rank percentiles over every measured request."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """The nearest-rank ``p``-th percentile (0 < p <= 100) of already sorted values."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass(frozen=True)
class LoadResult:
    """What the load generator measured against one target (latencies in ms)."""

    requests: int
    errors: int
    elapsed_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    statuses: dict[str, int]
    client: str
    concurrency: int

    @property
    def rps(self) -> float:
        return self.requests / self.elapsed_s if self.elapsed_s > 0 else math.nan

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LoadResult:
        return cls(**data)


def summarize(
    latencies_s: list[float],
    *,
    errors: int,
    elapsed_s: float,
    statuses: dict[str, int],
    client: str,
    concurrency: int,
) -> LoadResult:
    """A :class:`LoadResult` from the latencies (seconds) of successful requests."""
    ordered = sorted(latencies_s)

    def ms(p: float) -> float:
        return percentile(ordered, p) * 1000

    return LoadResult(
        requests=len(ordered),
        errors=errors,
        elapsed_s=elapsed_s,
        p50_ms=ms(50),
        p90_ms=ms(90),
        p99_ms=ms(99),
        max_ms=ordered[-1] * 1000 if ordered else math.nan,
        statuses=statuses,
        client=client,
        concurrency=concurrency,
    )
