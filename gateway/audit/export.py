"""``audit export``: the trail as JSON lines or CSV, streamed.

Every column goes out, hashes included (hex), so an export can be verified
offline with :mod:`gateway.audit.chain`. Lists are JSON arrays in JSON lines
and ``;``-separated in CSV.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import datetime
from typing import BinaryIO

import asyncpg
import orjson

from gateway.audit.events import AuditQuery, stream

FIELDS = (
    "id",
    "at",
    "request_id",
    "client",
    "division",
    "purpose",
    "regime",
    "campaign_id",
    "operation_name",
    "customer_id",
    "disclosed",
    "denied",
    "policy_ids",
    "chain",
    "seq",
    "prev_hash",
    "hash",
)
FORMATS = ("jsonl", "csv")
FLUSH_EVERY = 1_000


def as_dict(row: asyncpg.Record) -> dict[str, object]:
    """One event as JSON-able values (``at`` stays a datetime: orjson writes ISO 8601)."""
    event = {name: row[name] for name in FIELDS}
    event["prev_hash"] = bytes(row["prev_hash"]).hex()
    event["hash"] = bytes(row["hash"]).hex()
    return event


def _jsonl(row: asyncpg.Record) -> bytes:
    return orjson.dumps(as_dict(row), option=orjson.OPT_APPEND_NEWLINE)


def _cell(value: object) -> object:
    if isinstance(value, list):
        return ";".join(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


class _Csv:
    """Formats one row at a time into bytes, reusing one buffer."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer, lineterminator="\n")

    def header(self) -> bytes:
        return self._take(list(FIELDS))

    def __call__(self, row: asyncpg.Record) -> bytes:
        return self._take([_cell(v) for v in as_dict(row).values()])

    def _take(self, values: list[object]) -> bytes:
        self.writer.writerow(values)
        text = self.buffer.getvalue()
        self.buffer.seek(0)
        self.buffer.truncate()
        return text.encode()


async def export(pool: asyncpg.Pool, query: AuditQuery, out: BinaryIO, fmt: str = "jsonl") -> int:
    """Write every matching event to ``out``; return how many."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    line: Callable[[asyncpg.Record], bytes]
    if fmt == "csv":
        formatter = _Csv()
        out.write(formatter.header())
        line = formatter
    else:
        line = _jsonl
    count = 0
    chunk: list[bytes] = []
    async for row in stream(pool, query):
        chunk.append(line(row))
        count += 1
        if len(chunk) >= FLUSH_EVERY:
            out.write(b"".join(chunk))
            chunk.clear()
    out.write(b"".join(chunk))
    out.flush()
    return count
