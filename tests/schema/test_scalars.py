"""The current month a usage summary defaults to, read from the clock only when a month ends."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from gateway.plan.sql import month_bounds
from gateway.schema import scalars


def _local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> float:
    return datetime(year, month, day, hour, minute).timestamp()  # naive: local time


def test_the_current_month_is_the_local_month_and_turns_at_local_midnight(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = scalars._MonthClock()
    now = [_local(2026, 12, 31, 23, 59)]
    monkeypatch.setattr(time, "time", lambda: now[0])
    assert clock() == "2026-12"
    now[0] = _local(2027, 1, 1, 0, 0)
    assert clock() == "2027-01"
    now[0] = _local(2027, 1, 31, 23, 59)
    assert clock() == "2027-01"
    now[0] = _local(2026, 12, 15)  # the clock set back: read again
    assert clock() == "2026-12"


def test_the_gateway_reads_the_current_month_from_the_clock() -> None:
    assert scalars.current_month() == datetime.now().strftime("%Y-%m")


def test_month_bounds_run_from_the_first_instant_to_the_next_months() -> None:
    assert month_bounds("2026-12") == (datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    assert month_bounds("2027-02") == (datetime(2027, 2, 1, tzinfo=UTC), datetime(2027, 3, 1, tzinfo=UTC))
