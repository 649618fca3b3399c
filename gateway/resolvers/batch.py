"""A batch: the statements that load one kind of object for many keys, and how to assemble the answer.

Each kind of object is defined once as a :class:`Batch`: its SQL (with
``$1``, ``$2``... placeholders) and a function from the rows to one value
per key. The reference path's DataLoaders run a batch's statements one by
one (:func:`run`); the planned executor runs every batch of a wave in one
statement (:func:`combined`), each batch's rows coming back as a JSON array.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar

import orjson

from gateway.resolvers.database import Database

K = TypeVar("K")
V = TypeVar("V")
class Row(Protocol):
    """A row by column name: an asyncpg ``Record``, or a decoded JSON object of a combined statement."""

    def __getitem__(self, key: str, /) -> Any: ...

    def keys(self) -> Iterator[str]: ...


Rows = Sequence[Row]
_PLACEHOLDER = re.compile(r"\$(\d+)")


@dataclass(frozen=True)
class Statement:
    """One SQL statement of a batch; ``timestamps`` names its timestamptz columns."""

    sql: str
    args: tuple[Any, ...]
    timestamps: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Batch(Generic[K, V]):
    """How to load values of one kind for many keys."""

    statements: Callable[[Sequence[K]], list[Statement]]
    assemble: Callable[[Sequence[K], list[Rows]], list[V]]


async def run(db: Database, batch: Batch[K, V], keys: Sequence[K]) -> list[V]:
    """The values for ``keys``: the batch's statements, one round trip each."""
    results: list[Rows] = [await db.fetch(s.sql, *s.args) for s in batch.statements(keys)]
    return batch.assemble(keys, results)


@dataclass(frozen=True)
class Combined:
    """Several batches' statements as one: each statement's rows as one JSON array column."""

    sql: str
    args: tuple[Any, ...]
    statements: tuple[Statement, ...]

    def rows(self, record: Row) -> list[list[dict[str, Any]]]:
        """Each statement's rows, decoded (timestamps back to datetimes, as the driver gives them)."""
        out = []
        for index, statement in enumerate(self.statements):
            rows: list[dict[str, Any]] = orjson.loads(record[f"r{index}"])
            for name in statement.timestamps:
                for row in rows:
                    value = row.get(name)
                    if value is not None:
                        row[name] = datetime.fromisoformat(value).astimezone(UTC)
            out.append(rows)
        return out


def combined(statements: Sequence[Statement]) -> Combined:
    """One statement returning every statement's rows, in their order, as JSON arrays.

    The rows of a subquery reach ``json_agg`` in the subquery's order (an
    aggregate without a combine function is never run in parallel), so
    ordered batches keep their order. A list of ids that several statements
    take (a page's customer ids, for most of them) is sent once: the driver
    encodes arrays element by element.
    """
    columns = []
    args: list[Any] = []
    shared: dict[tuple[int, ...], int] = {}  # a list of ints -> its placeholder number
    for index, statement in enumerate(statements):
        numbers: list[int] = []
        for value in statement.args:
            key = _ids_key(value)
            number = shared.get(key) if key is not None else None
            if number is None:
                args.append(value)
                number = len(args)
                if key is not None:
                    shared[key] = number
            numbers.append(number)
        sql = _PLACEHOLDER.sub(lambda m, n=numbers: f"${n[int(m.group(1)) - 1]}", statement.sql)  # type: ignore[misc]
        columns.append(f"(SELECT coalesce(json_agg(t), '[]'::json) FROM ({sql}) t)::text AS r{index}")
    return Combined("SELECT " + ", ".join(columns), tuple(args), tuple(statements))


def shift_placeholders(sql: str, after: int) -> str:
    """``sql`` with its placeholders ``$1``, ``$2``... renumbered to follow ``after`` others."""
    if not after:
        return sql
    return _PLACEHOLDER.sub(lambda m: f"${int(m.group(1)) + after}", sql)


def _ids_key(value: Any) -> tuple[int, ...] | None:
    """A list of ints, as a key (its placeholder is shared); None for anything else."""
    if type(value) is list and value and all(type(v) is int for v in value):
        return tuple(value)
    return None
