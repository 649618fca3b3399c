"""Invoices, balances and payment methods (BILLING and PAYMENT data)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from gateway.resolvers.batch import Batch, Rows, Statement, run
from gateway.resolvers.database import Database
from gateway.resolvers.rows import InvoiceRow, MoneyRow, PaymentMethodRow

INVOICES_SQL = """
SELECT id, customer_id, period, issued_at, amount_cents, currency, status FROM (
    SELECT i.*, row_number() OVER (
        PARTITION BY i.customer_id ORDER BY i.issued_at DESC, i.id DESC) AS rank
    FROM invoices i WHERE i.customer_id = ANY($1::bigint[])
) ranked WHERE rank <= $2
ORDER BY customer_id, issued_at DESC, id DESC
"""


def _lasts(keys: Sequence[tuple[int, int]]) -> dict[int, list[tuple[int, int]]]:
    """Keys ``(customer_id, last)`` by ``last``: one statement per distinct ``last``."""
    lasts: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for key in keys:
        lasts[key[1]].append(key)
    return lasts


def _invoices(keys: Sequence[tuple[int, int]], results: list[Rows]) -> list[list[InvoiceRow]]:
    found: dict[tuple[int, int], list[InvoiceRow]] = {}
    for group, rows in zip(_lasts(keys).values(), results, strict=True):
        per_customer: dict[int, list[InvoiceRow]] = defaultdict(list)
        for r in rows:
            per_customer[r["customer_id"]].append(
                InvoiceRow(
                    r["id"], r["customer_id"], r["period"], r["issued_at"],
                    MoneyRow(r["amount_cents"], r["currency"]), r["status"],
                )  # fmt: skip
            )
        for key in group:
            found[key] = per_customer.get(key[0], [])
    return [found[k] for k in keys]


INVOICES = Batch[tuple[int, int], list[InvoiceRow]](
    statements=lambda keys: [
        Statement(INVOICES_SQL, ([k[0] for k in group], last), frozenset({"issued_at"}))
        for last, group in _lasts(keys).items()
    ],
    assemble=_invoices,
)


def _one_per_customer(ids: Sequence[int], rows: Rows, make: type[MoneyRow] | type[PaymentMethodRow]) -> list:  # type: ignore[type-arg]
    found = {r["customer_id"]: make(**{k: v for k, v in dict(r).items() if k != "customer_id"}) for r in rows}
    return [found.get(i) for i in ids]


def _per_customer(table: str, columns: str, make: type[MoneyRow] | type[PaymentMethodRow]) -> Batch[int, Any]:
    return Batch(
        statements=lambda ids: [
            Statement(f"SELECT customer_id, {columns} FROM {table} WHERE customer_id = ANY($1::bigint[])", (list(ids),))
        ],
        assemble=lambda ids, results: _one_per_customer(ids, results[0], make),
    )


BALANCES: Batch[int, MoneyRow | None] = _per_customer("balances", "amount_cents, currency", MoneyRow)
PAYMENT_METHODS: Batch[int, PaymentMethodRow | None] = _per_customer("payment_methods", "kind, last4", PaymentMethodRow)


async def invoices(db: Database, keys: Sequence[tuple[int, int]]) -> list[list[InvoiceRow]]:
    """The ``last`` newest invoices, keyed by ``(customer_id, last)``."""
    return await run(db, INVOICES, keys)


async def balances(db: Database, ids: Sequence[int]) -> list[MoneyRow | None]:
    return await run(db, BALANCES, ids)


async def payment_methods(db: Database, ids: Sequence[int]) -> list[PaymentMethodRow | None]:
    return await run(db, PAYMENT_METHODS, ids)
