"""``audit export``: the trail as JSON lines or CSV, streamed by PostgreSQL's COPY.

The database formats the rows and streams them (``COPY (SELECT ...) TO
STDOUT``, one statement, one snapshot); asyncpg hands each chunk to the
output as it arrives and reads the next only when the output took it, so
memory stays flat for any number of rows. A line is a row of the trail:
one event, or a record of one event per customer in ``customer_ids`` (its
``customer_id`` null; migration 0010), as the chain links them. Every column
goes out, hashes included (hex), so an export can be verified offline with
:mod:`gateway.audit.chain`. Times are ISO 8601 in UTC; lists are JSON arrays
in JSON lines and ``;``-separated in CSV.
"""

from __future__ import annotations

from typing import Any, BinaryIO

import asyncpg

from gateway.audit.events import AuditQuery

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
    "customer_ids",
    "disclosed",
    "denied",
    "policy_ids",
    "chain",
    "seq",
    "prev_hash",
    "hash",
    "link_version",
    "document_id",
    "document_trust",
)
FORMATS = ("jsonl", "csv")
# The pool's command timeout is sized for requests; an export of years of
# events runs as long as it needs (a day bounds a stuck consumer).
EXPORT_TIMEOUT_S = 24 * 3600.0
_HASHES = ("prev_hash", "hash")
_LISTS = ("customer_ids", "disclosed", "denied", "policy_ids")


def _hex(f: str) -> str:
    return f"encode({f}, 'hex')"


def _csv_column(f: str) -> str:
    if f in _HASHES:
        return f"{_hex(f)} AS {f}"
    if f in _LISTS:
        return f"array_to_string({f}, ';') AS {f}"
    if f == "at":
        return "to_json(at) #>> '{}' AS at"  # ISO 8601, as in the JSON lines
    return f


async def export(pool: asyncpg.Pool, query: AuditQuery, out: BinaryIO, fmt: str = "jsonl") -> int:
    """Write every matching row, oldest first, to ``out``; return how many."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    args: list[Any] = []
    where = query.where(args, events=False)
    options: dict[str, Any]
    if fmt == "jsonl":
        columns = ", ".join(f"{_hex(f)} AS {f}" if f in _HASHES else f for f in FIELDS)
        select = f"SELECT to_json(e)::text FROM (SELECT {columns} FROM audit_events e WHERE {where}) e ORDER BY at, id"
        # CSV with a quote and delimiter no JSON text contains (JSON escapes
        # control characters): each line goes out exactly as built.
        options = {"format": "csv", "quote": "\x01", "delimiter": "\x02"}
    else:
        select = f"SELECT {', '.join(_csv_column(f) for f in FIELDS)} FROM audit_events e WHERE {where} ORDER BY at, id"
        options = {"format": "csv", "header": True}
    async with pool.acquire() as conn, conn.transaction(readonly=True):
        await conn.execute("SET LOCAL timezone = 'UTC'")
        # One statement for the whole export: no time limit of a request.
        await conn.execute("SET LOCAL statement_timeout = 0")
        status = await conn.copy_from_query(select, *args, output=out, timeout=EXPORT_TIMEOUT_S, **options)
    out.flush()
    return int(status.split()[-1])
