"""Invoices, balances and payment methods (BILLING and PAYMENT data)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from gateway.resolvers.database import Database
from gateway.resolvers.rows import InvoiceRow, MoneyRow, PaymentMethodRow


async def invoices(db: Database, keys: Sequence[tuple[int, int]]) -> list[list[InvoiceRow]]:
    """The ``last`` newest invoices, keyed by ``(customer_id, last)``."""
    lasts: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for key in keys:
        lasts[key[1]].append(key)
    found: dict[tuple[int, int], list[InvoiceRow]] = {}
    for last, group in lasts.items():
        rows = await db.fetch(
            """
            SELECT id, customer_id, period, issued_at, amount_cents, currency, status FROM (
                SELECT i.*, row_number() OVER (
                    PARTITION BY i.customer_id ORDER BY i.issued_at DESC, i.id DESC) AS rank
                FROM invoices i WHERE i.customer_id = ANY($1::bigint[])
            ) ranked WHERE rank <= $2
            ORDER BY customer_id, issued_at DESC, id DESC
            """,
            [k[0] for k in group],
            last,
        )
        per_customer: dict[int, list[InvoiceRow]] = defaultdict(list)
        for r in rows:
            per_customer[r["customer_id"]].append(
                InvoiceRow(
                    r["id"],
                    r["customer_id"],
                    r["period"],
                    r["issued_at"],
                    MoneyRow(r["amount_cents"], r["currency"]),
                    r["status"],
                )
            )
        for key in group:
            found[key] = per_customer.get(key[0], [])
    return [found[k] for k in keys]


async def balances(db: Database, ids: Sequence[int]) -> list[MoneyRow | None]:
    rows = await db.fetch(
        "SELECT customer_id, amount_cents, currency FROM balances"
        " WHERE customer_id = ANY($1::bigint[])",
        list(ids),
    )
    found = {r["customer_id"]: MoneyRow(r["amount_cents"], r["currency"]) for r in rows}
    return [found.get(i) for i in ids]


async def payment_methods(db: Database, ids: Sequence[int]) -> list[PaymentMethodRow | None]:
    rows = await db.fetch(
        "SELECT customer_id, kind, last4 FROM payment_methods WHERE customer_id = ANY($1::bigint[])",
        list(ids),
    )
    found = {r["customer_id"]: PaymentMethodRow(r["kind"], r["last4"]) for r in rows}
    return [found.get(i) for i in ids]
