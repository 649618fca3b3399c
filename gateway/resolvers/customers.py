"""Customers: by id, by phone, and filtered pages (PUBLIC and SUBSCRIBER_LIST data)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import asyncpg
import orjson

from gateway.authz.model import Facts
from gateway.resolvers.batch import Batch, Rows, Statement, run
from gateway.resolvers.database import Database
from gateway.resolvers.facts import ALL_FACTS, FACTS_CODE_SQL, FACTS_LATERAL_SQL, decode, facts_lateral_sql
from gateway.resolvers.rows import AddressRow, ContactRow, CustomerRow

CUSTOMER_COLUMNS = "id, account_number, segment, status, name, listed_phone"


def _customer(record: object) -> CustomerRow:
    return CustomerRow(**dict(record))  # type: ignore[call-overload]


async def customers_by_id(db: Database, ids: Sequence[int]) -> list[CustomerRow | None]:
    rows = await db.fetch(
        f"SELECT {CUSTOMER_COLUMNS} FROM customers WHERE id = ANY($1::bigint[])", list(ids)
    )
    found = {r["id"]: _customer(r) for r in rows}
    return [found.get(i) for i in ids]


async def customers_with_facts(
    db: Database, ids: Sequence[int], subscriber_list: FactsCondition | None = None
) -> list[tuple[CustomerRow, Facts] | None]:
    """Customers by id with their facts, in one statement.

    ``subscriber_list``: the customers whose name and listed number the
    caller may read; the others' are not read at all (null in the row).
    """
    args: list[object] = [list(ids)]
    rows = await db.fetch(
        f"SELECT {customer_columns(subscriber_list, args)}, f.facts_code"
        f" FROM customers c {FACTS_LATERAL_SQL}"
        " WHERE c.id = ANY($1::bigint[])",
        *args,
    )
    found = {
        r["id"]: (
            CustomerRow(r["id"], r["account_number"], r["segment"], r["status"], r["name"], r["listed_phone"]),
            decode(r["facts_code"]),
        )
        for r in rows
    }
    return [found.get(i) for i in ids]


class Check(Protocol):
    """A condition a statement answers alongside its rows (`gateway.campaigns.CampaignCheck`)."""

    @property
    def args(self) -> Sequence[object]: ...

    def sql(self, after: int) -> str: ...

    def seen(self, value: Any) -> None: ...


@dataclass(frozen=True)
class Answer:
    """A column that builds each customer's answer as JSON (the planner's, gateway.plan.sql).

    ``sql(n)``: its expression over ``c`` and ``f``, its placeholders
    numbered after the statement's first ``n``; ``args``: their values.
    ``facts``: the bits of the facts code the caller's decisions can read
    (`facts.facts_code_sql`); the statement computes only those. ``text``:
    each answer is kept as the JSON text PostgreSQL wrote (to go into the
    response as it is), not decoded. ``check``: asked in the same statement
    (the same snapshot as the answers) and told its value.
    """

    sql: Callable[[int], str]
    args: Sequence[object]
    facts: int = ALL_FACTS
    text: bool = False
    check: Check | None = None


def _check_column(check: Check | None, args: list[object]) -> str:
    """``, <check> AS checked`` for a statement's column list (its values appended to ``args``), or nothing."""
    if check is None:
        return ""
    column = f", {check.sql(len(args))} AS checked"
    args.extend(check.args)
    return column


class AnswerOutOfRange(Exception):
    """A value of an answer does not fit its GraphQL type (an Int beyond 32 bits, cast in SQL)."""


async def _answered(db: Database, sql: str, args: Sequence[Any]) -> Sequence[asyncpg.Record]:
    try:
        return await db.fetch(sql, *args)
    except asyncpg.NumericValueOutOfRangeError:
        raise AnswerOutOfRange() from None


class AnsweredRow(NamedTuple):
    """A customer found with its answer already built: decoded, or its JSON text (`Answer.text`), and its facts code."""

    id: int
    answer: dict[str, Any] | str
    code: int


async def customers_answered(db: Database, ids: Sequence[int], answer: Answer) -> list[tuple[AnsweredRow, Facts] | None]:
    """Customers by id with their facts and their answers, in one statement."""
    args = [list(ids), *answer.args]
    check = answer.check
    checked = _check_column(check, args)
    rows = await _answered(
        db,
        f"SELECT c.id, f.facts_code, ({answer.sql(1)})::text AS answer{checked}"
        f" FROM customers c {facts_lateral_sql(answer.facts)} WHERE c.id = ANY($1::bigint[])",
        args,
    )
    if check is not None and rows:
        check.seen(rows[0]["checked"])
    load: Callable[[str], Any] = str if answer.text else orjson.loads  # str(text) is text itself
    found = {
        r["id"]: (AnsweredRow(r["id"], load(r["answer"]), r["facts_code"]), decode(r["facts_code"])) for r in rows
    }
    return [found.get(i) for i in ids]


# The SUBSCRIBER_LIST columns of a customer row (name and listed number).
SUBSCRIBER_LIST_COLUMNS = ("name", "listed_phone")


def customer_columns(subscriber_list: FactsCondition | None, args: list[object]) -> str:
    """The customer row's columns (``c``, with facts ``f``), SUBSCRIBER_LIST ones only where readable.

    Appends the condition's parameters to ``args``. Without a condition
    every column is read (the caller decides per field).
    """
    columns = []
    for column in (c.strip() for c in CUSTOMER_COLUMNS.split(",")):
        if subscriber_list is None or column not in SUBSCRIBER_LIST_COLUMNS:
            columns.append(f"c.{column}")
        elif not subscriber_list.codes:
            columns.append(f"NULL::text AS {column}")
        elif not subscriber_list.mask:
            columns.append(f"c.{column}")
        else:
            args.extend([subscriber_list.mask, list(subscriber_list.codes)])
            mask, codes = f"${len(args) - 1}", f"${len(args)}"
            columns.append(f"CASE WHEN (f.facts_code & {mask}::int) = ANY({codes}::int[]) THEN c.{column} END AS {column}")
    return ", ".join(columns)


def _contacts(ids: Sequence[int], rows: Rows) -> list[ContactRow | None]:
    found = {r["customer_id"]: ContactRow(**dict(r)) for r in rows}
    return [found.get(i) for i in ids]


def _addresses(keys: Sequence[tuple[int, str]], rows: Rows) -> list[AddressRow | None]:
    found = {(r["customer_id"], r["kind"]): AddressRow(**dict(r)) for r in rows}
    return [found.get(k) for k in keys]


CONTACTS = Batch[int, "ContactRow | None"](
    statements=lambda ids: [
        Statement(
            "SELECT customer_id, email, contact_phone FROM customer_contacts WHERE customer_id = ANY($1::bigint[])",
            (list(ids),),
        )
    ],
    assemble=lambda ids, results: _contacts(ids, results[0]),
)

# Addresses keyed by (customer_id, kind); one statement for all kinds.
ADDRESSES = Batch[tuple[int, str], "AddressRow | None"](
    statements=lambda keys: [
        Statement(
            "SELECT customer_id, kind, line1, city, state, postal_code FROM addresses"
            " WHERE customer_id = ANY($1::bigint[]) AND kind = ANY($2::text[])",
            (list({k[0] for k in keys}), list({k[1] for k in keys})),
        )
    ],
    assemble=lambda keys, results: _addresses(keys, results[0]),
)


async def contacts_by_customer(db: Database, ids: Sequence[int]) -> list[ContactRow | None]:
    return await run(db, CONTACTS, ids)


async def addresses(db: Database, keys: Sequence[tuple[int, str]]) -> list[AddressRow | None]:
    """Addresses keyed by ``(customer_id, kind)``; one query for all kinds."""
    return await run(db, ADDRESSES, keys)


@dataclass(frozen=True)
class PhoneMatch:
    """A customer whose number matched, through which kind of number, and its facts."""

    customer: CustomerRow
    listed: bool  # matched the published (SUBSCRIBER_LIST) number
    contact: bool  # matched the contact (CONTACT) number
    facts: Facts


async def customers_by_phone(db: Database, phone: str) -> list[PhoneMatch]:
    """Customers with this listed or contact number, with their facts: one round trip.

    The facts come in the same statement so that a number the caller may
    not read costs the same work as a number nobody has.
    """
    rows = await db.fetch(
        f"""
        SELECT {", ".join("c." + c.strip() for c in CUSTOMER_COLUMNS.split(","))},
               c.listed_phone = $1 AS listed,
               coalesce(k.contact_phone = $1, false) AS contact,
               {FACTS_CODE_SQL} AS facts_code
        FROM customers c LEFT JOIN customer_contacts k ON k.customer_id = c.id
        WHERE c.listed_phone = $1 OR k.contact_phone = $1
        ORDER BY c.id
        LIMIT 10
        """,
        phone,
    )
    return [
        PhoneMatch(
            CustomerRow(
                r["id"], r["account_number"], r["segment"], r["status"], r["name"], r["listed_phone"]
            ),
            listed=bool(r["listed"]),
            contact=bool(r["contact"]),
            facts=decode(r["facts_code"]),
        )
        for r in rows
    ]


@dataclass(frozen=True)
class FactsCondition:
    """Only customers with ``facts_code & mask = ANY(codes)`` (see `facts.code_condition`)."""

    mask: int
    codes: tuple[int, ...]


@dataclass(frozen=True)
class CustomerQuery:
    """A page request over customers; None means no condition."""

    after_id: int
    limit: int
    segment: str | None = None
    status: str | None = None
    state: str | None = None
    name_prefix: str | None = None
    service_category: str | None = None
    readable: tuple[FactsCondition, ...] = ()
    subscriber_list: FactsCondition | None = None  # see customer_columns
    answer: Answer | None = None  # the rows are AnsweredRow


async def customer_page(db: Database, query: CustomerQuery) -> list[tuple[CustomerRow | AnsweredRow, Facts]]:
    """Customers after ``after_id`` matching every condition, by id, with their facts.

    The conditions on what the caller may read (``readable``) are matched
    here, in the same statement: a page never scans past, counts or skips a
    row in Python, so nothing about it depends on rows the caller may not
    match. The facts come from the same snapshot as the match.
    """
    conditions = ["c.id > $1"]
    args: list[object] = [query.after_id]

    def arg(value: object) -> str:
        args.append(value)
        return f"${len(args)}"

    if query.segment is not None:
        conditions.append(f"c.segment = {arg(query.segment)}")
    if query.status is not None:
        conditions.append(f"c.status = {arg(query.status)}")
    if query.name_prefix is not None:
        escaped = query.name_prefix.lower().replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
        conditions.append(f"lower(c.name) LIKE {arg(escaped + '%')}")
    if query.state is not None:
        conditions.append(
            "EXISTS (SELECT 1 FROM addresses a WHERE a.customer_id = c.id"
            f" AND a.kind = 'SERVICE' AND a.state = {arg(query.state)})"
        )
    if query.service_category is not None:
        conditions.append(
            "EXISTS (SELECT 1 FROM services s WHERE s.customer_id = c.id"
            f" AND s.status <> 'DISCONNECTED' AND s.category = {arg(query.service_category)})"
        )
    for readable in query.readable:
        if not readable.codes:
            conditions.append("false")
        elif readable.mask:
            conditions.append(f"(f.facts_code & {arg(readable.mask)}) = ANY({arg(list(readable.codes))}::int[])")
    limit = arg(query.limit)
    if query.answer is not None:
        columns = f"c.id, ({query.answer.sql(len(args))}) AS answer"
        args.extend(query.answer.args)
    else:
        columns = customer_columns(query.subscriber_list, args)
    facts = FACTS_LATERAL_SQL if query.answer is None else facts_lateral_sql(query.answer.facts)
    sql = (
        f"SELECT {columns}, f.facts_code"
        f" FROM customers c {facts}"
        f" WHERE {' AND '.join(conditions)}"
        f" ORDER BY c.id LIMIT {limit}"
    )
    if query.answer is not None:
        # The page as one row of three arrays, in page order: asyncpg decodes them as a
        # whole, and an answer kept as text is never escaped into JSON and back.
        check = query.answer.check
        checked = _check_column(check, args)
        page = (
            "SELECT array_agg(p.id) AS ids, array_agg(p.facts_code) AS codes, array_agg(p.answer::text) AS answers"
            f"{checked} FROM ({sql}) p"
        )
        (record,) = await _answered(db, page, args)
        if check is not None:
            check.seen(record["checked"])
        if record["ids"] is None:
            return []  # no customer: array_agg of no rows is null
        load: Callable[[str], Any] = str if query.answer.text else orjson.loads  # str(text) is text itself
        return [
            (AnsweredRow(cid, load(answer), code), decode(code))
            for cid, code, answer in zip(record["ids"], record["codes"], record["answers"], strict=True)
        ]
    rows = await db.fetch(sql, *args)
    return [
        (
            CustomerRow(r["id"], r["account_number"], r["segment"], r["status"], r["name"], r["listed_phone"]),
            decode(r["facts_code"]),
        )
        for r in rows
    ]
