"""One request seen from outside: its log line and its metrics.

Each request leaves exactly one log line on ``cpni_gateway.request``:
request id (also sent back as ``X-Request-Id``), division, purpose, HTTP
status, outcome (``OK``, ``PARTIAL`` when some fields were denied, or the
error code), duration, and for failures a coarse cause (``database``,
``audit``, ``jwks`` or an exception class name). Never a value, a token,
SQL or a message from the database driver.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import asyncpg
from starlette.responses import Response

from gateway.metrics import Metrics

if TYPE_CHECKING:
    from gateway.schema.context import Decisions

log = logging.getLogger("cpni_gateway.request")


@dataclass
class Observation:
    """What is known about a request so far; filled in as it is handled."""

    request_id: str
    division: str = "-"
    purpose: str = "-"
    outcome: str | None = None
    cause: str | None = None
    decisions: Decisions | None = None
    started: float = field(default_factory=time.perf_counter)

    def refused(self, response: Response, code: str) -> Response:
        self.outcome = code
        return response

    def finish(self, response: Response, metrics: Metrics, pool: asyncpg.Pool | None) -> None:
        seconds = time.perf_counter() - self.started
        status = response.status_code
        outcome = self.outcome or ("OK" if status == 200 else str(status))
        metrics.request(self.division, self.purpose, outcome, seconds, self.decisions)
        if pool is not None:
            metrics.request_ended(pool)
        fields = {
            "request_id": self.request_id,
            "division": self.division,
            "purpose": self.purpose,
            "status": status,
            "outcome": outcome,
            "duration_ms": round(seconds * 1000, 3),
        }
        if self.cause is not None:
            fields["cause"] = self.cause
        level = logging.ERROR if status >= 500 and status != 503 else logging.INFO
        summary = " ".join(f"{k}={v}" for k, v in fields.items())
        log.log(level, "request %s", summary, extra={"fields": fields})
