"""Customer facts the policy reads, loaded per request in one round trip.

Never cached across requests: a consent change applies to the very next
request, on every worker.

The database computes each customer's facts as one integer, the *facts
code* (:data:`FACTS_CODE_SQL`), and :func:`decode` turns it into `Facts`.
One definition serves both uses: loading facts, and matching a filter in
SQL against the codes the policy allows (:func:`code_condition`), so a page
of customers never scans, counts or skips a row the caller may not match.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache

from gateway.authz.model import ApprovalStatus, Facts, ServiceCategory
from gateway.resolvers.database import Database

# Bit layout of a facts code. Subscribed categories take one bit each, in
# the enum's order; the approval status two bits.
SUBSCRIBED_BITS = {category: 1 << i for i, category in enumerate(ServiceCategory)}
TERMINATED = 1 << 5
BUSINESS = 1 << 6
APPROVAL_SHIFT = 7
APPROVAL_CODES = {ApprovalStatus.NONE: 0, ApprovalStatus.OPT_OUT: 1, ApprovalStatus.OPT_IN: 2}
NOTICE_IN_WINDOW = 1 << 9
LOCATION_APPROVED = 1 << 10
LISTING_PUBLISHED = 1 << 11

# The bits of each `Facts` field: a condition over some fields masks the rest.
FIELD_MASKS = {
    "subscribed": sum(SUBSCRIBED_BITS.values()),
    "terminated": TERMINATED,
    "business": BUSINESS,
    "cpni_approval": 3 << APPROVAL_SHIFT,
    "notice_in_window": NOTICE_IN_WINDOW,
    "location_approved": LOCATION_APPROVED,
    "listing_published": LISTING_PUBLISHED,
}


def _latest_approval(scope: str) -> str:
    return (
        f"(SELECT a.status FROM cpni_approvals a WHERE a.customer_id = c.id AND a.scope = '{scope}'"
        " ORDER BY a.recorded_at DESC, a.id DESC LIMIT 1)"
    )


_SUBSCRIBED_CASE = " ".join(f"WHEN '{c.value}' THEN {bit}" for c, bit in SUBSCRIBED_BITS.items())
_APPROVAL_CASE = " ".join(
    f"WHEN '{s.value}' THEN {code << APPROVAL_SHIFT}" for s, code in APPROVAL_CODES.items()
)

# The opt-out waiting period and notice lifetime of 64.2008(d)(1) and (c), for
# a notice row `n`: the 30-day wait runs from sentAt for an EMAIL notice and
# from the 3rd day after mailing for a MAIL notice (so 33 days from sentAt);
# the notice lasts 2 years from sentAt. Every SQL computing the fact uses this.
NOTICE_WINDOW_SQL = """(
    n.sent_at <= now() - CASE WHEN n.method = 'MAIL' THEN interval '33 days' ELSE interval '30 days' END
    AND n.sent_at > now() - interval '2 years'
)"""

# The parts of the facts code of the customer row `c`, each with the bits it
# computes. A customer's listing is published when it has a listed number
# (0001_core.sql: listed_phone is NULL for a non-published number).
_CODE_PARTS: tuple[tuple[int, str], ...] = (
    (
        FIELD_MASKS["subscribed"],
        f"""(SELECT coalesce(bit_or(CASE s.category {_SUBSCRIBED_CASE} ELSE 0 END), 0) FROM services s
    WHERE s.customer_id = c.id AND s.status IN ('ACTIVE', 'SUSPENDED'))""",
    ),
    (TERMINATED, f"CASE WHEN c.status = 'TERMINATED' THEN {TERMINATED} ELSE 0 END"),
    (BUSINESS, f"CASE WHEN c.segment = 'BUSINESS' THEN {BUSINESS} ELSE 0 END"),
    (
        FIELD_MASKS["cpni_approval"],
        f"coalesce((SELECT CASE latest {_APPROVAL_CASE} ELSE 0 END"
        f" FROM (SELECT {_latest_approval('CPNI')} AS latest) l), 0)",
    ),
    (
        NOTICE_IN_WINDOW,
        f"""CASE WHEN EXISTS (SELECT 1 FROM cpni_notices n
                       WHERE n.customer_id = c.id AND {NOTICE_WINDOW_SQL} OFFSET 0) THEN {NOTICE_IN_WINDOW} ELSE 0 END""",
    ),
    (LOCATION_APPROVED, f"CASE WHEN {_latest_approval('LOCATION')} = 'OPT_IN' THEN {LOCATION_APPROVED} ELSE 0 END"),
    (LISTING_PUBLISHED, f"CASE WHEN c.listed_phone IS NOT NULL THEN {LISTING_PUBLISHED} ELSE 0 END"),
)
ALL_FACTS = sum(FIELD_MASKS.values())

# `OFFSET 0` keeps the notice check a per-customer probe of cpni_notices_customer:
# without it PostgreSQL may turn the EXISTS into one hash of every notice in
# the window (a scan of the whole table for a page of 50, measured ~55 ms).


@cache
def facts_code_sql(mask: int = ALL_FACTS) -> str:
    """The bits ``mask`` of the facts code of the customer row ``c`` (the others 0).

    A caller whose decisions read a few facts has only those computed: the
    rest would cost index probes (services, approvals, notices) whose
    result no decision of its request can depend on.
    """
    parts = [sql for bits, sql in _CODE_PARTS if bits & mask]
    return "(\n  " + "\n  | ".join(parts) + "\n)" if parts else "0"


@cache
def facts_lateral_sql(mask: int = ALL_FACTS) -> str:
    """:func:`facts_code_sql` as ``f.facts_code``, computed once per row.

    Where a statement refers to the code more than once, a fenced subquery
    (`OFFSET 0` stops PostgreSQL from inlining it at every reference) keeps
    it to one computation per row.
    """
    return f"CROSS JOIN LATERAL (SELECT {facts_code_sql(mask)} AS facts_code OFFSET 0) f"


FACTS_CODE_SQL = facts_code_sql()
FACTS_LATERAL_SQL = facts_lateral_sql()

FACTS_SQL = f"SELECT c.id, {FACTS_CODE_SQL} AS facts_code FROM customers c WHERE c.id = ANY($1::bigint[])"


def encode(facts: Facts) -> int:
    """The facts code of ``facts`` (the inverse of :func:`decode`)."""
    code = sum(SUBSCRIBED_BITS[c] for c in facts.subscribed)
    code |= TERMINATED if facts.terminated else 0
    code |= BUSINESS if facts.business else 0
    code |= APPROVAL_CODES[facts.cpni_approval] << APPROVAL_SHIFT
    code |= NOTICE_IN_WINDOW if facts.notice_in_window else 0
    code |= LOCATION_APPROVED if facts.location_approved else 0
    code |= LISTING_PUBLISHED if facts.listing_published else 0
    return code


_APPROVAL_BY_CODE = {code: status for status, code in APPROVAL_CODES.items()}


def decode(code: int) -> Facts:
    """The `Facts` a facts code stands for (one shared, immutable object per code)."""
    found = _DECODED.get(code)
    if found is None:
        found = _DECODED[code] = _decode(code)
        _CODES[id(found)] = code
    return found


def code_of(facts: Facts) -> int:
    """The facts code of ``facts``: remembered for those :func:`decode` made, else :func:`encode`d."""
    code = _CODES.get(id(facts))
    if code is None or _DECODED.get(code) is not facts:
        return encode(facts)
    return code


# Every code is a combination of a dozen bits: a few thousand at most. The
# decoded objects live as long as the process, so their ids name them.
_DECODED: dict[int, Facts] = {}
_CODES: dict[int, int] = {}


def _decode(code: int) -> Facts:
    return Facts(
        subscribed=frozenset(c for c, bit in SUBSCRIBED_BITS.items() if code & bit),
        terminated=bool(code & TERMINATED),
        business=bool(code & BUSINESS),
        cpni_approval=_APPROVAL_BY_CODE[(code >> APPROVAL_SHIFT) & 3],
        notice_in_window=bool(code & NOTICE_IN_WINDOW),
        location_approved=bool(code & LOCATION_APPROVED),
        listing_published=bool(code & LISTING_PUBLISHED),
    )


def facts_mask(fields: Iterable[str]) -> int:
    """The bits of a facts code that hold ``fields``."""
    mask = 0
    for name in fields:
        mask |= FIELD_MASKS[name]
    return mask


def codes_under(mask: int) -> list[int]:
    """Every facts code over the bits ``mask`` (the others 0), in increasing order.

    There are two to the number of bits of them, fewer for the approval
    status (three values in two bits).
    """
    codes = []
    code = 0
    while True:
        if (code >> APPROVAL_SHIFT) & 3 in _APPROVAL_BY_CODE:
            codes.append(code)
        if code == mask:
            return codes
        code = (code - mask) & mask  # the next subset of the mask's bits


def code_condition(fields: Iterable[str], allowed: Iterable[Facts]) -> tuple[int, list[int]]:
    """``(mask, codes)``: a customer matches when ``facts_code & mask = ANY(codes)``.

    ``fields`` are the facts the decision depends on, ``allowed`` the facts
    (over those fields) for which it allows.
    """
    mask = facts_mask(fields)
    return mask, sorted({encode(f) & mask for f in allowed})


async def facts_by_customer(db: Database, ids: Sequence[int]) -> list[Facts | None]:
    """Facts per customer id; None for an unknown customer (everything denied)."""
    rows = await db.fetch(FACTS_SQL, list(ids))
    found = {r["id"]: decode(r["facts_code"]) for r in rows}
    return [found.get(i) for i in ids]
