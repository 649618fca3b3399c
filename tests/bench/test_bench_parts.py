"""The benchmark's pure parts: wrk scripts and output, answer comparison, medians, verdicts, profiles."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from bench import profile, wrk
from bench.database import cpu_between
from bench.report import Rep, against_baseline, render, summarize, table, to_json
from bench.report import machine as machine_facts
from bench.run import rep_order
from bench.sanity import SanityError, compare
from bench.workload import Q1, Q2, Q3, body, page_cursor
from gateway.cursors import CursorCodec, binding


def test_a_body_template_rebuilds_every_body() -> None:
    template = wrk.Template.around(body(Q1, wrk.VALUE, floor=False).decode(), wrk.VALUE)
    assert (template.prefix + "123" + template.suffix).encode() == body(Q1, 123, floor=False)
    floor = wrk.Template.around(body(Q2, 7_777_777_777_777, floor=True).decode(), "7777777777777")
    assert orjson.loads(floor.prefix + "42" + floor.suffix)["variables"] == {"afterId": 42}


def test_the_lua_script_carries_headers_body_and_values_file(tmp_path: Path) -> None:
    template = wrk.Template("{\"a\":\"", "\"}\n")
    values = wrk.write_values(tmp_path / "v.txt", ["x1", "x2"])
    script = wrk.lua_script(template, {"authorization": 'Bearer "t"'}, values, 7, "/graphql")
    assert '["authorization"] = "Bearer \\"t\\""' in script
    assert 'local prefix = "{\\"a\\":\\""' in script
    assert 'local suffix = "\\"}\\n"' in script
    assert str(values) in script and "math.randomseed(7 + 7919 * tid)" in script
    assert "function done(summary, latency, requests)" in script
    assert values.read_text() == "x1\nx2\n"


def test_lua_strings_escape_quotes_backslashes_and_control_characters() -> None:
    assert wrk.lua_string('a"b\\c\n\t') == '"a\\"b\\\\c\\n\\9"'


def test_wrk_output_is_read_from_the_done_line() -> None:
    out = (
        "Running 20s test\n  2 threads and 16 connections\n"
        'BENCH {"requests":1000,"duration_us":20000000,"bytes":5,"connect":0,"read":1,"write":0,"status":2,'
        '"timeout":0,"p50_us":12000,"p90_us":20000,"p99_us":30500,"max_us":40000,"mean_us":13000.5}\n'
    )
    result = wrk.parse_output(out)
    assert (result.requests, result.errors, result.ok) == (1000, 3, 998)  # a read error is no answer
    assert result.rps == pytest.approx(998 / 20)
    assert (result.p50_ms, result.p99_ms) == (12.0, 30.5)
    with pytest.raises(ValueError):
        wrk.parse_output("no result")


def test_a_page_cursor_is_sealed_for_the_query_caller_and_no_filter() -> None:
    codec = CursorCodec("k" * 40)
    cursor = page_cursor(codec, Q3, 1234)
    bound = binding("customers", ("bench-marketing", "marketing", "marketing_cross_category", "demo-fiber-cross-sell"),
                    [None] * 5)  # fmt: skip
    assert codec.open(bound, cursor) == (1234,)


FLOOR = {"data": {"customer": {"id": "1", "email": "a@b", "services": [{"id": "10"}, {"id": "11"}]}}}


def test_on_may_null_what_it_reports_forbidden_and_leave_out_services() -> None:
    answer = {
        "data": {"customer": {"id": "1", "email": None, "services": [{"id": "11"}]}},
        "errors": [{"message": "x", "path": ["customer", "email"], "extensions": {"code": "FORBIDDEN"}}],
    }
    compare("on", FLOOR, answer, "on, Q3")


def test_off_must_equal_the_floor_exactly() -> None:
    with pytest.raises(SanityError, match="off, Q3: differs from the floor at data.customer.services"):
        compare("off", FLOOR, {"data": {"customer": {"id": "1", "email": "a@b", "services": [{"id": "11"}]}}},
                "off, Q3")  # fmt: skip
    with pytest.raises(SanityError, match="unexpected errors"):
        compare("off", FLOOR, {**FLOOR, "errors": [{"message": "x"}]}, "off, Q1")


def test_a_null_without_forbidden_or_another_error_is_a_mismatch() -> None:
    nulled = {"data": {"customer": {"id": "1", "email": None, "services": FLOOR["data"]["customer"]["services"]}}}
    with pytest.raises(SanityError, match="data.customer.email"):
        compare("on", FLOOR, nulled, "on, Q1")
    other = {**FLOOR, "errors": [{"message": "x", "path": ["customer"], "extensions": {"code": "BAD_USER_INPUT"}}]}
    with pytest.raises(SanityError, match="unexpected error"):
        compare("on", FLOOR, other, "on, Q1")


def rep(target: str, n: int, rps: float, *, cpu_ms: float = 1.0, p50: float = 10.0, p99: float = 20.0) -> Rep:
    requests = int(rps * 10)
    return Rep(query="Q1", target=target, rep=n, requests=requests, errors=0, duration_s=10.0, p50_ms=p50,
               p99_ms=p99, server_cpu_s=cpu_ms * requests / 1000, postgres_cpu_s=None, client_cpu_s=0.1,
               round_trips=3 * requests, machine_busy_s=5.0, window_s=10.0)  # fmt: skip


def test_medians_ratios_and_verdicts() -> None:
    reps = [
        rep("floor", 1, 1000), rep("off", 1, 600, cpu_ms=2), rep("on", 1, 500, cpu_ms=2.4),
        rep("floor", 2, 800), rep("off", 2, 500, cpu_ms=2), rep("on", 2, 450, cpu_ms=2.2),
        rep("floor", 3, 900), rep("off", 3, 550, cpu_ms=2), rep("on", 3, 400, cpu_ms=2.6, p99=40),
    ]  # fmt: skip
    summary = summarize("Q1", reps, {"floor": 50 * 2**20, "off": 150 * 2**20, "on": 160 * 2**20})
    assert summary.medians["on"]["rps"] == 450
    assert summary.medians["off"]["round_trips"] == 3
    assert summary.ratio_to_floor["on"] == pytest.approx(0.5)  # median of 0.5, 0.5625, 0.444
    assert summary.overhead == pytest.approx(1 - 500 / 600)  # median of 1 - on/off in each rep
    assert summary.cpu_overhead == pytest.approx(0.2)
    verdicts = {name: ok for name, _, ok in summary.verdicts}
    assert verdicts == {
        "on >= 0.45x the floor's requests/s": True,
        "authz + audit cost (1 - on/off requests/s) <= 15%": False,
        "on: p99 <= 3x p50": True,
    }
    rows = table(summary)
    assert rows[2].startswith("| floor (hand-written SQL) | 900 |")
    assert "| 160 | 0.500 | 0 |" in rows[4]
    markdown = render([summary], reps, started=_now(), command="python -m bench.run", facts=machine_facts("16", "x"),
                      settings_lines=["s"])  # fmt: skip
    assert "**met**" in markdown and "**not met**" in markdown
    assert "| n/a |" in rows[2]  # PostgreSQL CPU unknown here
    document = orjson.loads(to_json([summary], reps, started=_now(), command="c", facts=machine_facts("16", "x"),
                                    settings={}))  # fmt: skip
    assert document["queries"]["Q1"]["medians"]["on"]["postgres_cpu_ms"] is None
    assert len(document["reps"]) == 9


def test_a_missed_target_says_not_met() -> None:
    reps = [rep("floor", 1, 1000), rep("off", 1, 600), rep("on", 1, 100, p50=10, p99=50)]
    rendered = "\n".join(render([summarize("Q1", reps, {})], reps, started=_now(), command="c",
                                facts=machine_facts("16", "x"), settings_lines=[]).splitlines())  # fmt: skip
    assert rendered.count("**not met**") == 3


def test_a_run_is_compared_with_a_baseline_run() -> None:
    reps = [rep("floor", 1, 1000), rep("off", 1, 600), rep("on", 1, 400)]
    now = summarize("Q1", reps, {})
    baseline = {"started": "2026-12-01T15:00:00", "settings": {"customers": 100_000},
                "queries": {"Q1": {"medians": {"floor": {"rps": 1000.0}, "on": {"rps": 450.0}}}}}  # fmt: skip
    lines = against_baseline([now], 1_000_000, baseline)
    assert lines[0] == "### Against the baseline run of 2026-12-01T15:00:00 (100,000 customers)"
    assert "| Q1 | on | 400 | 450 | 0.89 | **met** (>= 0.8x) |" in lines
    assert "| Q1 | floor | 1,000 | 1,000 | 1.00 |  |" in lines
    assert not any("| off |" in line for line in lines)  # not in the baseline


def test_reps_rotate_the_order_of_the_targets() -> None:
    targets = ("floor", "off", "on")
    assert [rep_order(targets, n) for n in (1, 2, 3, 4)] == [
        ["floor", "off", "on"], ["off", "on", "floor"], ["on", "floor", "off"], ["floor", "off", "on"],
    ]  # fmt: skip


def test_postgres_cpu_ignores_processes_that_exited_and_counts_new_ones_whole() -> None:
    assert cpu_between({1: 5.0, 2: 9.0}, {1: 6.5, 3: 0.25}) == pytest.approx(1.75)
    assert cpu_between(None, {1: 1.0}) is None


def test_the_profile_summary_groups_self_time_by_area() -> None:
    doc = {
        "shared": {"frames": [
            {"name": "run", "file": "/x/site-packages/uvicorn/server.py", "line": 1},
            {"name": "object", "file": "/w/gateway/plan/execute.py", "line": 231},
            {"name": "write", "file": "/py/lib/python3.11/asyncio/selector_events.py", "line": 9},
        ]},
        "profiles": [{"samples": [[0, 1], [0, 1], [0, 2], []], "weights": [0.01, 0.01, 0.01, 0.01]}],
    }  # fmt: skip
    lines = profile.summarize(doc)
    assert lines[0].startswith("3 samples")
    assert "   66.7 %  gateway/plan (planner, executor)" in lines
    assert any("object  (gateway/plan/execute.py:231)" in line for line in lines)
    assert any("write  (asyncio/selector_events.py:9)" in line for line in lines)


def _now() -> datetime:
    return datetime(2026, 12, 1, tzinfo=UTC)
