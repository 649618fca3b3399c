"""Chunk statements for services, their configuration and their usage records.

Service ids are ``customer id * 10 + category bit``: stable, unique, and a
customer's services sort together.
"""

from __future__ import annotations

from gateway.seed import vocab
from gateway.seed.sql import DAY, HISTORY_DAYS, Customers, text_array
from gateway.seed.vocab import CATEGORIES, PLACES

SUSPENDED_SHARE = 0.06
DISCONNECTED_SHARE = 0.04  # of a customer's services other than the first
IP_POOL = "100.64.0.0"  # carrier-grade NAT space (RFC 6598): never a real customer's
IP_POOL_SIZE = 1 << 22

# Usage records per ACTIVE service over the window: (minimum, extra), drawn as
# minimum + extra * u**2 so most lines are light and a few are heavy.
USAGE_COUNTS: dict[str, tuple[int, int]] = {
    "LOCAL": (5, 45),
    "LONG_DISTANCE": (3, 30),
    "WIRELESS": (15, 150),
    "INTERNET": (10, 60),
}
SUSPENDED_USAGE_DIVISOR = 4
WIRELESS_DATA_SHARE = 0.4
FAVOURITE_SHARE = 0.6  # calls to one of the customer's 8 usual numbers
FAVOURITES = 8
CELLS_PER_STATE = 5000


def _plans_values() -> str:
    rows = [
        f"({_text(plan.name)}, {plan.monthly_cents}, "
        f"{'NULL::int' if plan.bandwidth_mbps is None else plan.bandwidth_mbps}, {_text(plan.equipment)})"
        for plans in vocab.PLANS.values()
        for plan in plans
    ]
    return "(VALUES " + ", ".join(rows) + ") AS p(plan, monthly_cents, bandwidth_mbps, equipment)"


def _text(value: str | None) -> str:
    return "NULL::text" if value is None else "'" + value.replace("'", "''") + "'"


PLANS_VALUES = _plans_values()


def services_sql(c: Customers) -> str:
    """1-4 services per customer from a weighted bundle; terminated customers' are disconnected."""
    d = c.d
    names = text_array(
        plan.name for seg in (0, 1) for cat in CATEGORIES for plan in vocab.PLANS[(seg, cat)]
    )
    sid = "(c.id * 10 + k)"
    per = vocab.PLANS_PER_SLOT
    return f"""
        INSERT INTO services (id, customer_id, category, plan, status, activated_at)
        SELECT {sid}, c.id, ({text_array(CATEGORIES)})[k + 1],
               ({names})[(c.biz * {len(CATEGORIES)} + k) * {per} + 1 + {d.below('plan', sid, per)}],
               CASE WHEN c.terminated THEN 'DISCONNECTED'
                    -- never the first service: a live customer keeps at least one
                    WHEN c.mask & -c.mask <> 1 << k
                         AND {d.unit('disconnected', sid)} < {DISCONNECTED_SHARE} THEN 'DISCONNECTED'
                    WHEN {d.unit('suspended', sid)} < {SUSPENDED_SHARE} THEN 'SUSPENDED'
                    ELSE 'ACTIVE' END,
               c.created + floor({d.unit('activated', sid)}
                                 * extract(epoch FROM $3::timestamptz - c.created - interval '1 day'))
                           * interval '1 second'
        FROM (SELECT id, {c.business('id')}::int AS biz, {c.terminated('id')} AS terminated,
                     {c.bundle('id')} AS mask, {c.created_at('id')} AS created
              FROM generate_series($1::bigint, $2::bigint) AS id OFFSET 0) AS c
        CROSS JOIN generate_series(0, {len(CATEGORIES) - 1}) AS k
        WHERE c.mask & (1 << k) <> 0
    """


def configurations_sql(c: Customers) -> str:
    """One configuration per service: features, equipment, and bandwidth and IP for INTERNET."""
    d = c.d
    feature_sets = text_array(fs for cat in CATEGORIES for fs in vocab.feature_sets(cat))
    n_sets = len(vocab.feature_sets(CATEGORIES[0]))
    equipment = text_array(e for cat in CATEGORIES for e in vocab.EQUIPMENT[cat])
    per = vocab.EQUIPMENT_PER_CATEGORY
    cat = f"(array_position({text_array(CATEGORIES)}, s.category) - 1)"
    return f"""
        INSERT INTO service_configurations
               (service_id, customer_id, features, equipment, bandwidth_mbps, ip_address)
        SELECT s.id, s.customer_id,
               string_to_array(({feature_sets})[{cat} * {n_sets} + 1 + {d.below('features', 's.id', n_sets)}], '|'),
               coalesce(p.equipment, ({equipment})[{cat} * {per} + 1 + {d.below('equipment', 's.id', per)}]),
               p.bandwidth_mbps,
               CASE WHEN s.category = 'INTERNET'
                    THEN host(inet '{IP_POOL}' + (s.id % {IP_POOL_SIZE})) END
        FROM services AS s JOIN {PLANS_VALUES} USING (plan)
        WHERE s.customer_id BETWEEN $1 AND $2
    """


def _usage_count(c: Customers) -> str:
    u2 = f"power({c.d.unit('usage_count', 's.id')}, 2)"
    arms = " ".join(
        f"WHEN '{cat}' THEN {low} + floor({extra} * {u2})" for cat, (low, extra) in USAGE_COUNTS.items()
    )
    divisor = f"CASE WHEN s.status = 'SUSPENDED' THEN {SUSPENDED_USAGE_DIVISOR} ELSE 1 END"
    return f"((CASE s.category {arms} ELSE 0 END)::int / {divisor})"


def usage_sql(c: Customers) -> str:
    """Call detail (OUTBOUND/INBOUND) and DATA sessions over the last 90 days.

    Calls go mostly to a few usual numbers; wireless records carry the cell
    site, mostly in the customer's home state. Disconnected and video
    services have none. Rows come out service by service, so a service's
    records sit together on disk, as the usage queries read them.
    """
    d = c.d
    areas = text_array(p.area_code for p in PLACES)
    states = text_array(p.state for p in PLACES)
    n = len(PLACES)
    call_key = (
        f"CASE WHEN {d.unit('favourite', 'k', 'sid')} < {FAVOURITE_SHARE} "
        f"THEN {d.below('favourite_slot', 'k', FAVOURITES, 'sid')} ELSE {FAVOURITES} + k END"
    )
    cell_no = (
        f"CASE WHEN {d.unit('usual_cell', 'k', 'sid')} < 0.7 "
        f"THEN {d.below('home_cell', d.below('home_cell_slot', 'k', 3, 'sid'), CELLS_PER_STATE, 'customer_id')} "
        f"ELSE {d.below('cell', 'k', CELLS_PER_STATE, 'sid')} END"
    )
    cell_state = (
        f"CASE WHEN {d.unit('roaming', 'k', 'sid')} < 0.9 THEN ({states})[home] "
        f"ELSE {d.pick('roaming_state', 'k', states, n, 'sid')} END"
    )
    area = (
        f"CASE WHEN category = 'LOCAL' THEN ({areas})[home] "
        f"ELSE {d.pick('called_area', 'ckey', areas, n, 'customer_id')} END"
    )
    number = f"(2000000 + {d.below('called_number', 'ckey', 8000000, 'customer_id')})"
    u_len, u_bytes = d.unit("duration", "k", "sid"), d.unit("bytes", "k", "sid")
    return f"""
        INSERT INTO usage_records (customer_id, service_id, started_at, duration_seconds,
                                   direction, counterparty, bytes, cell_site)
        SELECT customer_id, sid,
               window_start + floor({d.unit('started', 'k', 'sid')} * window_secs) * interval '1 second',
               CASE WHEN NOT is_data THEN 5 + floor(power({u_len}, 3) * 3595)
                    WHEN category = 'INTERNET' THEN 300 + floor({u_len} * 28500)
                    ELSE 60 + floor({u_len} * 3540) END,
               CASE WHEN is_data THEN 'DATA'
                    WHEN {d.unit('direction', 'k', 'sid')}
                         < CASE WHEN category = 'LONG_DISTANCE' THEN 0.85 ELSE 0.6 END THEN 'OUTBOUND'
                    ELSE 'INBOUND' END,
               CASE WHEN NOT is_data
                    THEN '+1' || {area} || {number}::text
                    END,
               CASE WHEN NOT is_data THEN NULL
                    WHEN category = 'INTERNET' THEN 50000000 + floor(power({u_bytes}, 2) * 2e10)
                    ELSE 100000 + floor(power({u_bytes}, 2) * 2e9) END::bigint,
               CASE WHEN category = 'WIRELESS'
                    THEN 'CELL-' || {cell_state} || '-' || lpad(({cell_no})::text, 4, '0') END
        FROM (
            SELECT s.customer_id, s.sid, s.category, s.home, s.window_start, s.window_secs, k,
                   CASE s.category WHEN 'INTERNET' THEN true
                        WHEN 'WIRELESS' THEN {d.unit('is_data', 'k', 's.sid')} < {WIRELESS_DATA_SHARE}
                        ELSE false END AS is_data,
                   {call_key} AS ckey
            FROM (
                SELECT s.customer_id, s.id AS sid, s.category, {_usage_count(c)} AS n,
                       {c.place('s.customer_id')} AS home, w.window_start,
                       extract(epoch FROM $3::timestamptz - w.window_start) AS window_secs
                FROM services AS s
                CROSS JOIN LATERAL (SELECT greatest(s.activated_at,
                       $3::timestamptz - {HISTORY_DAYS * DAY} * interval '1 second') AS window_start) AS w
                WHERE s.customer_id BETWEEN $1 AND $2
                  AND s.status <> 'DISCONNECTED' AND s.category <> 'VIDEO'
                OFFSET 0
            ) AS s
            CROSS JOIN LATERAL generate_series(1, s.n) AS k
            OFFSET 0
        ) AS r
    """
