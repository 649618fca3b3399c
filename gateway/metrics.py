"""Prometheus metrics in the text exposition format, without a client library."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class Outcome:
    status: int = 500


class Metrics:
    """Request counts by status and a latency histogram (per worker process)."""

    def __init__(self) -> None:
        self.requests: Counter[int] = Counter()
        self.bucket_counts = [0] * len(BUCKETS)
        self.latency_sum = 0.0
        self.latency_count = 0

    @contextmanager
    def timed(self) -> Iterator[Outcome]:
        outcome = Outcome()
        start = time.perf_counter()
        try:
            yield outcome
        finally:
            elapsed = time.perf_counter() - start
            self.requests[outcome.status] += 1
            self.latency_sum += elapsed
            self.latency_count += 1
            for i, bound in enumerate(BUCKETS):
                if elapsed <= bound:
                    self.bucket_counts[i] += 1

    def render(self) -> str:
        lines = [
            "# HELP cpni_gateway_requests_total GraphQL requests by HTTP status.",
            "# TYPE cpni_gateway_requests_total counter",
        ]
        for status, count in sorted(self.requests.items()):
            lines.append(f'cpni_gateway_requests_total{{status="{status}"}} {count}')
        lines += [
            "# HELP cpni_gateway_request_seconds GraphQL request latency.",
            "# TYPE cpni_gateway_request_seconds histogram",
        ]
        for bound, count in zip(BUCKETS, self.bucket_counts, strict=True):
            lines.append(f'cpni_gateway_request_seconds_bucket{{le="{bound}"}} {count}')
        lines.append(f'cpni_gateway_request_seconds_bucket{{le="+Inf"}} {self.latency_count}')
        lines.append(f"cpni_gateway_request_seconds_sum {self.latency_sum:.6f}")
        lines.append(f"cpni_gateway_request_seconds_count {self.latency_count}")
        return "\n".join(lines) + "\n"
