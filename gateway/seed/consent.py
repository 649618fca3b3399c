"""Chunk statements for CPNI approvals and notices, and the demo campaigns.

The mixes are chosen so every cell of the policy table (SPEC 6.2) has
customers on both sides: no approval at all, an explicit NONE, OPT_OUT,
OPT_IN, histories whose latest record differs from earlier ones, express
location approval, and opt-out notices inside the 30-day wait, just past it,
within two years and older than two years.

Ids are explicit (approvals ``customer id * 10 + n``, notices likewise) so
rows do not depend on the order chunks commit in; the sequences are moved
past them at the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.authz.model import Category, Purpose, ServiceCategory
from gateway.seed.sql import DAY, Customers, int_array, text_array
from gateway.seed.vocab import APPROVAL_CHANNELS, WIRELESS

RECORDED_BY = "seed"
STATUSES = ("OPT_IN", "OPT_OUT", "NONE")
# Latest CPNI-scope status: cumulative shares; the rest has no record at all.
OPT_IN_SHARE, OPT_OUT_SHARE, NONE_SHARE = 0.40, 0.25, 0.10
# Of wireless customers: express location approval, and revoked (or refused) approval.
LOCATION_OPT_IN_SHARE, LOCATION_OPT_OUT_SHARE = 0.20, 0.06

# Days before `now` of the latest notice, per bucket; a few exact boundary days.
INSIDE_WAIT_DAYS = (10, 10, 10, 1, 5, 15, 20, 25, 28, 29)
JUST_PAST_WAIT_DAYS = (30, 31, 35, 45, 45, 45, 50, 60)
NOTICE_BUCKETS = (0.20, 0.40, 0.55, 0.85)  # none | inside wait | just past | valid | stale


def approvals_sql(c: Customers) -> str:
    """CPNI-scope approvals: 1-3 records per customer who has any; the latest is the status."""
    d = c.d
    final = (
        f"CASE WHEN u < {OPT_IN_SHARE} THEN 0 WHEN u < {OPT_IN_SHARE + OPT_OUT_SHARE} THEN 1 "
        f"WHEN u < {OPT_IN_SHARE + OPT_OUT_SHARE + NONE_SHARE} THEN 2 END"
    )
    n = f"CASE WHEN {d.unit('history', 'id')} < 0.7 THEN 1 WHEN {d.unit('history', 'id')} < 0.9 THEN 2 ELSE 3 END"
    # An earlier record always differs from the latest, so "latest wins" shows.
    status = f"CASE WHEN j = a.n THEN a.final ELSE (a.final + 1 + {d.below('earlier', 'j', 2, 'a.id')}) % 3 END"
    return f"""
        INSERT INTO cpni_approvals (id, customer_id, scope, status, channel, recorded_by, recorded_at)
        SELECT a.id * 10 + j, a.id, 'CPNI', ({text_array(STATUSES)})[1 + {status}],
               {d.pick('channel', 'j', text_array(APPROVAL_CHANNELS), len(APPROVAL_CHANNELS), 'a.id')},
               '{RECORDED_BY}',
               $3::timestamptz - (a.latest_age + (a.n - j) * a.gap) * interval '1 second'
        FROM (
            SELECT id, {final} AS final, {n} AS n,
                   3600 + {d.below('approval_age', 'id', 700 * DAY)} AS latest_age,
                   (30 + {d.below('approval_gap', 'id', 300)}) * {DAY} AS gap
            FROM (SELECT id, {d.unit('approval', 'id')} AS u
                  FROM generate_series($1::bigint, $2::bigint) AS id OFFSET 0) AS p
        ) AS a
        CROSS JOIN LATERAL generate_series(1, a.n) AS j
        WHERE a.final IS NOT NULL
    """


def location_approvals_sql(c: Customers) -> str:
    """LOCATION-scope approvals for some wireless customers; some OPT_OUTs revoke an OPT_IN."""
    d = c.d
    return f"""
        INSERT INTO cpni_approvals (id, customer_id, scope, status, channel, recorded_by, recorded_at)
        SELECT l.id * 10 + 4 + j, l.id, 'LOCATION',
               CASE WHEN j = l.n THEN l.status ELSE 'OPT_IN' END,
               {d.pick('location_channel', 'j', text_array(APPROVAL_CHANNELS), len(APPROVAL_CHANNELS), 'l.id')},
               '{RECORDED_BY}',
               $3::timestamptz - (3600 + {d.below('location_age', 'j', 400 * DAY, 'l.id')}
                                  + (l.n - j) * {400 * DAY}) * interval '1 second'
        FROM (
            SELECT id, CASE WHEN u < {LOCATION_OPT_IN_SHARE} THEN 'OPT_IN' ELSE 'OPT_OUT' END AS status,
                   CASE WHEN u >= {LOCATION_OPT_IN_SHARE} AND {d.unit('revoked', 'id')} < 0.5
                        THEN 2 ELSE 1 END AS n
            FROM (SELECT id, {d.unit('location', 'id')} AS u, {c.bundle('id')} AS mask
                  FROM generate_series($1::bigint, $2::bigint) AS id OFFSET 0) AS p
            WHERE mask & {WIRELESS} <> 0 AND u < {LOCATION_OPT_IN_SHARE + LOCATION_OPT_OUT_SHARE}
        ) AS l
        CROSS JOIN LATERAL generate_series(1, l.n) AS j
    """


def notices_sql(c: Customers) -> str:
    """Opt-out notices: none, inside the 30-day wait, just past it, valid, or over 2 years old.

    Half of the customers with a recent notice also got one two years
    earlier (notices are repeated every 2 years).
    """
    d = c.d
    none_, inside, past, valid = NOTICE_BUCKETS
    inside_days = d.pick("inside_days", "id", int_array(INSIDE_WAIT_DAYS), len(INSIDE_WAIT_DAYS))
    past_days = d.pick("past_days", "id", int_array(JUST_PAST_WAIT_DAYS), len(JUST_PAST_WAIT_DAYS))
    latest = (
        f"CASE WHEN u < {none_} THEN NULL "
        f"WHEN u < {inside} THEN {inside_days} "
        f"WHEN u < {past} THEN {past_days} "
        f"WHEN u < {valid} THEN 61 + {d.below('valid_days', 'id', 669)} "
        f"ELSE 731 + {d.below('stale_days', 'id', 1000)} END"
    )
    prior = f"CASE WHEN u < {past} AND {d.unit('prior_notice', 'id')} < 0.5 THEN 2 ELSE 1 END"
    # Sent up to 6 hours earlier than whole days before `now` (midnight):
    # "29 days ago" stays inside the 30-day wait, "30 days ago" is past it for
    # an EMAIL notice; a MAIL notice waits 30 days from the 3rd day after
    # mailing, so its 30 to 32 days ago are still inside.
    days = f"CASE WHEN j = 1 THEN x.days ELSE x.days + 730 + {d.below('prior_days', 'x.id', 60)} END"
    sent = (
        f"$3::timestamptz - (({days}) * {DAY} + {d.below('notice_hour', 'j', 6 * 3600, 'x.id')})"
        " * interval '1 second'"
    )
    return f"""
        INSERT INTO cpni_notices (id, customer_id, sent_at, method, recorded_by, recorded_at)
        SELECT x.id * 10 + j, x.id, {sent},
               CASE WHEN {d.unit('notice_method', 'j', 'x.id')} < 0.6 THEN 'MAIL' ELSE 'EMAIL' END,
               '{RECORDED_BY}', {sent}
        FROM (
            SELECT id, {latest} AS days, {prior} AS n
            FROM (SELECT id, {d.unit('notice', 'id')} AS u
                  FROM generate_series($1::bigint, $2::bigint) AS id OFFSET 0) AS p
        ) AS x
        CROSS JOIN LATERAL generate_series(1, x.n) AS j
        WHERE x.days IS NOT NULL
    """


@dataclass(frozen=True)
class Campaign:
    id: str
    name: str
    description: str
    division: str
    purpose: Purpose
    categories: tuple[Category, ...]
    targets: tuple[ServiceCategory, ...]
    starts_days: int  # relative to `now`
    ends_days: int
    approved: bool


_C, _P, _S = Category, Purpose, ServiceCategory

# One per marketing purpose, plus one awaiting review and one that has ended.
CAMPAIGNS: tuple[Campaign, ...] = (
    Campaign("demo-wireless-upgrade", "Wireless device upgrade",
             "Offer a new handset to heavy wireless users.", "wireless", _P.MARKETING_SAME_CATEGORY,
             (_C.SUBSCRIBER_LIST, _C.CONTACT, _C.SERVICE, _C.USAGE), (_S.WIRELESS,), -30, 335, True),
    Campaign("demo-fiber-cross-sell", "Fiber for phone customers",
             "Offer fiber internet to local and wireless customers.", "marketing",
             _P.MARKETING_CROSS_CATEGORY, (_C.SUBSCRIBER_LIST, _C.CONTACT, _C.SERVICE, _C.USAGE, _C.BILLING),
             (_S.INTERNET,), -30, 335, True),
    Campaign("demo-ld-winback", "Long distance win-back", "Offer international calling plans.",
             "long_distance", _P.MARKETING_CROSS_CATEGORY, (_C.CONTACT, _C.SERVICE, _C.USAGE),
             (_S.LONG_DISTANCE,), -10, 80, True),
    Campaign("demo-video-bundle", "TV bundle", "Offer a TV package to internet customers.", "video",
             _P.MARKETING_NON_COMM, (_C.SUBSCRIBER_LIST, _C.CONTACT, _C.SERVICE), (_S.VIDEO,), -30, 335, True),
    Campaign("demo-internet-speed", "Speed upgrade",
             "Offer faster tiers to internet customers on old plans.", "internet_dsl",
             _P.MARKETING_SAME_CATEGORY, (_C.CONTACT, _C.SERVICE, _C.CONFIGURATION, _C.USAGE),
             (_S.INTERNET,), 0, 90, False),
    Campaign("demo-partner-insurance", "Device insurance partner",
             "A third party's device insurance offer.", "partner", _P.THIRD_PARTY_MARKETING,
             (_C.SUBSCRIBER_LIST, _C.CONTACT), (), 0, 60, False),
    Campaign("demo-local-expired", "Local calling features (ended)",
             "Last year's call-waiting promotion.", "consumer_local", _P.MARKETING_SAME_CATEGORY,
             (_C.CONTACT, _C.SERVICE), (_S.LOCAL,), -400, -35, True),
)

CAMPAIGNS_SQL = """
    INSERT INTO campaigns (id, name, description, division, purpose, categories, target_categories,
                           starts_at, ends_at, status, created_by, created_at, approved_by, approved_at)
    VALUES ($1, $2, $3, $4, $5, $6::text[], $7::text[], $8, $9, $10, $11, $12, $13, $14)
"""


def campaign_rows(now: datetime) -> list[tuple[object, ...]]:
    """Rows for CAMPAIGNS_SQL: created a week before they start, approved two days before."""
    rows: list[tuple[object, ...]] = []
    for c in CAMPAIGNS:
        starts = now + timedelta(days=c.starts_days)
        rows.append((
            c.id, c.name, c.description, c.division, c.purpose.value,
            [cat.value for cat in c.categories], [t.value for t in c.targets],
            starts, now + timedelta(days=c.ends_days),
            "APPROVED" if c.approved else "PENDING",
            RECORDED_BY, starts - timedelta(days=7),
            RECORDED_BY if c.approved else None,
            starts - timedelta(days=2) if c.approved else None,
        ))
    return rows
