"""The floor: each query's answer from one hand-written SQL statement behind a bare Starlette route.

PostgreSQL builds the whole response document (``json_build_object`` and
``json_agg``) in one round trip; Python only reads the customer id (Q1,
operation ``Full``) or the keyset position (Q2 and Q3, operation ``Page``,
``variables.afterId``) from the body and copies the text out. Same route, body and response shape as the
gateway's ``POST /graphql``, none of its work: no token, no GraphQL, no
authorization, no audit. Nothing a real server can do with this data is
much cheaper, so it is the floor the gateway is measured against.

Run with ``uvicorn --factory bench.floor:create_floor_app``; the database URL
comes from ``CPNI_GATEWAY_DATABASE_URL`` as for the gateway.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.config import load_settings
from gateway.db import create_pool, resolve_database_url

# The same selection as bench.workload.FULL_PROFILE, field for field, with
# the gateway's orderings: services by id, usage and invoices newest first,
# the usage summary of the current UTC month, the latest approval per scope.
PROFILE_SQL = """
SELECT json_build_object('data', json_build_object('customer', (
  SELECT json_build_object(
    'id', c.id::text, 'accountNumber', c.account_number, 'segment', c.segment,
    'status', c.status, 'name', c.name, 'listedPhone', c.listed_phone,
    'serviceAddress', (
      SELECT json_build_object('line1', a.line1, 'city', a.city, 'state', a.state, 'postalCode', a.postal_code)
      FROM addresses a WHERE a.customer_id = c.id AND a.kind = 'SERVICE'),
    'email', k.email, 'contactPhone', k.contact_phone,
    'billingAddress', (
      SELECT json_build_object('line1', a.line1, 'city', a.city, 'state', a.state, 'postalCode', a.postal_code)
      FROM addresses a WHERE a.customer_id = c.id AND a.kind = 'BILLING'),
    'services', coalesce((
      SELECT json_agg(json_build_object(
        'id', s.id::text, 'category', s.category, 'plan', s.plan, 'status', s.status,
        'activatedAt', s.activated_at,
        'configuration', (
          SELECT json_build_object('features', f.features, 'equipment', f.equipment,
                                   'bandwidthMbps', f.bandwidth_mbps, 'ipAddress', f.ip_address)
          FROM service_configurations f WHERE f.service_id = s.id),
        'usage', coalesce((
          SELECT json_agg(json_build_object(
            'startedAt', u.started_at, 'durationSeconds', u.duration_seconds, 'direction', u.direction,
            'counterparty', u.counterparty, 'bytes', u.bytes, 'cellSite', u.cell_site) ORDER BY u.started_at DESC)
          FROM (SELECT * FROM usage_records u WHERE u.service_id = s.id
                ORDER BY u.started_at DESC LIMIT 50) u), '[]'::json),
        'usageSummary', (
          SELECT json_build_object(
            'month', to_char(m.start, 'YYYY-MM'),
            'calls', count(u.*) FILTER (WHERE u.direction <> 'DATA'),
            'minutes', coalesce(sum(u.duration_seconds) FILTER (WHERE u.direction <> 'DATA'), 0) / 60,
            'bytes', coalesce(sum(u.bytes), 0))
          FROM (SELECT date_trunc('month', now() AT TIME ZONE 'UTC') AS start) m
          LEFT JOIN usage_records u ON u.service_id = s.id
            AND u.started_at >= m.start AT TIME ZONE 'UTC'
            AND u.started_at < (m.start + interval '1 month') AT TIME ZONE 'UTC'
          GROUP BY m.start)
      ) ORDER BY s.id)
      FROM services s WHERE s.customer_id = c.id), '[]'::json),
    'invoices', coalesce((
      SELECT json_agg(json_build_object(
        'id', i.id::text, 'period', i.period, 'issuedAt', i.issued_at,
        'amount', json_build_object('amountCents', i.amount_cents, 'currency', i.currency),
        'status', i.status) ORDER BY i.issued_at DESC, i.id DESC)
      FROM (SELECT * FROM invoices i WHERE i.customer_id = c.id
            ORDER BY i.issued_at DESC, i.id DESC LIMIT 12) i), '[]'::json),
    'balance', (
      SELECT json_build_object('amountCents', b.amount_cents, 'currency', b.currency)
      FROM balances b WHERE b.customer_id = c.id),
    'paymentMethod', (
      SELECT json_build_object('kind', p.kind, 'last4', p.last4)
      FROM payment_methods p WHERE p.customer_id = c.id),
    'cpniApproval', (
      SELECT json_build_object('status', a.status, 'scope', a.scope, 'channel', a.channel,
                               'recordedAt', a.recorded_at)
      FROM cpni_approvals a WHERE a.customer_id = c.id AND a.scope = 'CPNI'
      ORDER BY a.recorded_at DESC, a.id DESC LIMIT 1),
    'locationApproval', (
      SELECT json_build_object('status', a.status, 'channel', a.channel)
      FROM cpni_approvals a WHERE a.customer_id = c.id AND a.scope = 'LOCATION'
      ORDER BY a.recorded_at DESC, a.id DESC LIMIT 1),
    'cpniNotices', coalesce((
      SELECT json_agg(json_build_object('id', n.id::text, 'sentAt', n.sent_at, 'method', n.method)
                      ORDER BY n.sent_at DESC, n.id DESC)
      FROM cpni_notices n WHERE n.customer_id = c.id), '[]'::json))
  FROM customers c LEFT JOIN customer_contacts k ON k.customer_id = c.id
  WHERE c.id = $1)))::text
"""


# bench.workload.PAGE, field for field: 50 customers after the keyset id $1,
# by id, each with its services by id and its latest invoice.
PAGE_SQL = """
SELECT json_build_object('data', json_build_object('customers', json_build_object(
  'edges', coalesce((
    SELECT json_agg(json_build_object('node', json_build_object(
      'id', c.id::text, 'accountNumber', c.account_number, 'segment', c.segment, 'status', c.status, 'name', c.name,
      'services', coalesce((
        SELECT json_agg(json_build_object('id', s.id::text, 'category', s.category, 'plan', s.plan,
                                          'status', s.status) ORDER BY s.id)
        FROM services s WHERE s.customer_id = c.id), '[]'::json),
      'invoices', coalesce((
        SELECT json_agg(json_build_object(
          'id', i.id::text, 'period', i.period, 'issuedAt', i.issued_at,
          'amount', json_build_object('amountCents', i.amount_cents, 'currency', i.currency),
          'status', i.status) ORDER BY i.issued_at DESC, i.id DESC)
        FROM (SELECT * FROM invoices i WHERE i.customer_id = c.id
              ORDER BY i.issued_at DESC, i.id DESC LIMIT 1) i), '[]'::json)
    )) ORDER BY c.id)
    FROM (SELECT * FROM customers WHERE id > $1 ORDER BY id LIMIT 50) c), '[]'::json),
  'pageInfo', json_build_object('hasNextPage',
    (SELECT count(*) FROM (SELECT 1 FROM customers WHERE id > $1 ORDER BY id LIMIT 51) n) > 50)
)))::text
"""


async def _utc(conn: asyncpg.Connection) -> None:
    # JSON timestamps come out in the session time zone; the gateway answers in UTC.
    await conn.execute("SET TimeZone = 'UTC'")


async def answer(request: Request) -> Response:
    """``POST /graphql`` with the workload's body: the profile of ``variables.id``, or the page after ``afterId``."""
    try:
        body = orjson.loads(await request.body())
        if body["operationName"] == "Page":
            sql, value = PAGE_SQL, int(body["variables"]["afterId"])
        else:
            sql, value = PROFILE_SQL, int(body["variables"]["id"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return Response(b'{"errors":[{"message":"bad request"}]}', 400, media_type="application/json")
    pool: asyncpg.Pool = request.app.state.pool
    text: str = await pool.fetchval(sql, value)
    return Response(text.encode(), media_type="application/json")


def create_floor_app() -> Starlette:
    """The floor as an ASGI app, with a pool sized and bounded like the gateway's."""
    settings = load_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        pool = await create_pool(settings, resolve_database_url(settings), init=_utc)
        app.state.pool = pool
        try:
            yield
        finally:
            await pool.close()

    return Starlette(routes=[Route("/graphql", answer, methods=["POST"])], lifespan=lifespan)
