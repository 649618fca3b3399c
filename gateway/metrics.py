"""Prometheus metrics (``GET /metrics``), correct across ``--workers N``.

With one process the metrics live in a registry of this object. With
several, ``serve`` sets ``PROMETHEUS_MULTIPROC_DIR`` to a fresh directory
before the workers start: prometheus-client then keeps every value in a file
per process there, and :meth:`Metrics.render` sums them all, so totals are
the same whichever worker answers the scrape.

Labels only ever hold values the gateway itself chose (a registry division
id, a purpose of the closed list, a public error code, a category), never
text a client sent.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import asyncpg
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

if TYPE_CHECKING:
    from gateway.schema.context import Decisions

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
AUDIT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class Metrics:
    """The gateway's metrics; one per process, built in the lifespan."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "cpni_gateway_requests",
            "GraphQL requests by division, purpose and outcome (OK, PARTIAL or the error code).",
            ["division", "purpose", "outcome"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "cpni_gateway_request_seconds", "GraphQL request latency.", buckets=BUCKETS, registry=r
        )
        self.decisions = Counter(
            "cpni_gateway_decisions",
            "Authorization outcomes per customer and data category, by effect (allow or deny).",
            ["category", "effect"],
            registry=r,
        )
        self.audit_seconds = Histogram(
            "cpni_gateway_audit_write_seconds", "Time to write a request's audit events.", buckets=AUDIT_BUCKETS, registry=r
        )
        self.audit_commits = Counter(
            "cpni_gateway_audit_commits",
            "Audit group commits (one transaction, one WAL flush each) by outcome (committed or failed).",
            ["outcome"],
            registry=r,
        )
        self.audit_grouped = Counter(
            "cpni_gateway_audit_group_requests",
            "Requests whose audit events went in a group commit, by the commit's outcome.",
            ["outcome"],
            registry=r,
        )
        self.reads = Counter(
            "cpni_gateway_reads",
            "Read-only requests by the server that answered them, with replicas configured (docs/SCALING.md).",
            ["server"],
            registry=r,
        )
        self.pool_connections = Gauge(
            "cpni_gateway_pool_connections",
            "Database pool connections by state (in_use, idle, max), summed over live workers.",
            ["state"],
            registry=r,
            multiprocess_mode="livesum",
        )
        # The labelled children looked up once (labels() validates and locks each call).
        self._pool_gauges = tuple(self.pool_connections.labels(state) for state in ("in_use", "idle", "max"))
        # With several workers a scrape reads every worker's file (livesum): each worker keeps its own current.
        self._pool_per_request = multiprocess_dir() is not None
        self._request_counts: dict[tuple[str, str, str], Any] = {}
        self._decision_counts: dict[tuple[str, str], Any] = {}

    def request(self, division: str, purpose: str, outcome: str, seconds: float, decisions: Decisions | None) -> None:
        key = (division, purpose, outcome)
        counter = self._request_counts.get(key)
        if counter is None:  # labels the gateway chose (this module's docstring): a bounded set
            counter = self._request_counts[key] = self.requests.labels(*key)
        counter.inc()
        self.request_seconds.observe(seconds)
        if decisions is not None:
            # Counted by shape: a page of 50 customers has a few shapes of access between them.
            counts: dict[tuple[str, str], int] = {}
            for shape, customers in decisions.groups():
                for categories, effect in ((shape.disclosed, "allow"), (shape.denied, "deny")):
                    for category in categories:  # categories are StrEnum members: their names
                        label = (str(category), effect)
                        counts[label] = counts.get(label, 0) + len(customers)
            for label, count in counts.items():
                child = self._decision_counts.get(label)
                if child is None:
                    child = self._decision_counts[label] = self.decisions.labels(*label)
                child.inc(count)

    def audit_group(self, requests: int, committed: bool) -> None:
        """An audit group commit of ``requests`` requests ended (gateway/audit/group.py)."""
        outcome = "committed" if committed else "failed"
        self.audit_commits.labels(outcome).inc()
        self.audit_grouped.labels(outcome).inc(requests)

    def read_from(self, server: str) -> None:
        """A read-only request ran on ``server`` (``replica`` or ``primary``)."""
        self.reads.labels(server).inc()

    @contextmanager
    def audit_write(self) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.audit_seconds.observe(time.perf_counter() - start)

    def request_ended(self, pool: asyncpg.Pool) -> None:
        """A request ended: with several workers, record this worker's pool usage now.

        With one process the scrape records it (:meth:`pool`, from the
        ``/metrics`` route), which saves three locked gauge writes per request.
        """
        if self._pool_per_request:
            self.pool(pool)

    def pool(self, pool: asyncpg.Pool) -> None:
        """Record this process's pool usage now."""
        size, idle = pool.get_size(), pool.get_idle_size()
        in_use, idle_gauge, most = self._pool_gauges
        in_use.set(size - idle)
        idle_gauge.set(idle)
        most.set(pool.get_max_size())

    def render(self) -> bytes:
        """The text exposition of every worker's metrics (or of this process's)."""
        directory = multiprocess_dir()
        if directory is None:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
