"""Chunk statements for invoices and balances.

Invoice ids are ``customer id * 100 + month`` (0 = oldest of the 12).
"""

from __future__ import annotations

from gateway.seed.services import PLANS_VALUES
from gateway.seed.sql import Customers

INVOICE_MONTHS = 12
DELINQUENT_SHARE = 0.06  # last two invoices OVERDUE
OPEN_SHARE = 0.85  # latest invoice not yet paid
VOID_SHARE = 0.01
CREDIT_SHARE = 0.03  # nothing due and a credit on the account


def invoices_sql(c: Customers) -> str:
    """12 monthly invoices for the 12 months before ``now``'s month, from the plans' prices."""
    d = c.d
    inv = "(m.id * 100 + i)"
    # Months are counted in UTC (timestamp without time zone), whatever the
    # session's TimeZone.
    start = (
        f"date_trunc('month', $3::timestamptz AT TIME ZONE 'UTC') - ({INVOICE_MONTHS} - i) * interval '1 month'"
    )
    return f"""
        INSERT INTO invoices (id, customer_id, period, issued_at, amount_cents, currency, status)
        SELECT {inv}, m.id, to_char(p.start, 'YYYY-MM'),
               -- the last day of the period, 06:00 UTC: always before `now`
               (p.start + interval '1 month' - interval '18 hours') AT TIME ZONE 'UTC',
               round(m.monthly * (0.93 + 0.2 * {d.unit('amount', inv)}))::bigint,
               'USD',
               CASE WHEN i = {INVOICE_MONTHS - 1}
                    THEN CASE WHEN m.delinquent THEN 'OVERDUE'
                              WHEN {d.unit('open', 'm.id')} < {OPEN_SHARE} THEN 'OPEN'
                              ELSE 'PAID' END
                    WHEN i = {INVOICE_MONTHS - 2} AND m.delinquent THEN 'OVERDUE'
                    WHEN {d.unit('void', inv)} < {VOID_SHARE} THEN 'VOID'
                    ELSE 'PAID' END
        FROM (
            SELECT s.customer_id AS id, sum(p.monthly_cents) AS monthly,
                   {d.unit('delinquent', 's.customer_id')} < {DELINQUENT_SHARE} AS delinquent
            FROM services AS s JOIN {PLANS_VALUES} USING (plan)
            WHERE s.customer_id BETWEEN $1 AND $2
            GROUP BY s.customer_id
        ) AS m
        CROSS JOIN generate_series(0, {INVOICE_MONTHS - 1}) AS i
        CROSS JOIN LATERAL (SELECT {start} AS start) AS p
    """


def balances_sql(c: Customers) -> str:
    """The balance is what the OPEN and OVERDUE invoices add up to, or a small credit."""
    d = c.d
    return f"""
        INSERT INTO balances (customer_id, amount_cents, currency)
        SELECT customer_id,
               CASE WHEN due = 0 AND {d.unit('credit', 'customer_id')} < {CREDIT_SHARE}
                    THEN -(500 + {d.below('credit_cents', 'customer_id', 4500)})
                    ELSE due END,
               'USD'
        FROM (
            SELECT customer_id,
                   coalesce(sum(amount_cents) FILTER (WHERE status IN ('OPEN', 'OVERDUE')), 0) AS due
            FROM invoices
            WHERE customer_id BETWEEN $1 AND $2
            GROUP BY customer_id
        ) AS b
    """
