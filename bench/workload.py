"""What every target is asked: the three queries of issue 11, their callers and their request bodies.

* **Q1** ``profile``: the full profile of one random existing customer
  (:data:`FULL_PROFILE`), as ``customer_care`` with purpose
  ``customer_care``. The floor gets the same body.
* **Q2** ``page``: a page of 50 customers after a random keyset position,
  with their services and latest invoice (:data:`PAGE`), as
  ``billing_collections`` with purpose ``billing_collection``.
* **Q3** ``campaign``: the same page as the central ``marketing`` division,
  purpose ``marketing_cross_category``, under the approved seed campaign
  ``demo-fiber-cross-sell``: decisions differ per customer (opt-out,
  opt-in, no notice), so some fields are null with ``FORBIDDEN`` and some
  services are hidden.

Page positions are sealed cursors for the gateway (:func:`page_cursor`,
made with the gateway's own codec and binding, so they are the cursors the
gateway itself would have handed this caller) and the equivalent keyset id
for the floor (``variables.afterId``).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from gateway.auth import issue_token
from gateway.authz.model import Purpose
from gateway.authz.policy import load_policy
from gateway.config import Settings
from gateway.cursors import CursorCodec, binding

# The profile a care agent opens: every field of the graph for one customer.
# The benchmark and the brute-force property test (tests/e2e) both use it.
FULL_PROFILE = """
query Full($id: ID!) {
  customer(id: $id) {
    id accountNumber segment status name listedPhone serviceAddress { line1 city state postalCode }
    email contactPhone billingAddress { line1 city state postalCode }
    services { id category plan status activatedAt
      configuration { features equipment bandwidthMbps ipAddress }
      usage(first: 50) { startedAt durationSeconds direction counterparty bytes cellSite }
      usageSummary { month calls minutes bytes } }
    invoices(last: 12) { id period issuedAt amount { amountCents currency } status }
    balance { amountCents currency } paymentMethod { kind last4 }
    cpniApproval { status scope channel recordedAt } locationApproval { status channel }
    cpniNotices { id sentAt method }
  }
}
"""

# A page of customers with what billing (Q2) or a campaign (Q3) looks at.
# No `cursor` or `endCursor` is selected: each is sealed with a fresh nonce,
# so no two answers would ever compare equal.
PAGE = """
query Page($after: String) {
  customers(first: 50, after: $after) {
    edges { node {
      id accountNumber segment status name
      services { id category plan status }
      invoices(last: 1) { id period issuedAt amount { amountCents currency } status }
    } }
    pageInfo { hasNextPage }
  }
}
"""
PAGE_SIZE = 50
PATH = "/graphql"
TOKEN_TTL_S = 12 * 3600
CONNECTION = "customers"  # gateway/schema/lookups.py: what a customers cursor is bound to
NO_FILTER: list[object] = [None, None, None, None, None]  # segment, status, state, namePrefix, serviceCategory


@dataclass(frozen=True)
class Query:
    """One of the benchmark's queries and the caller that sends it."""

    key: str
    label: str
    operation: str
    document: str
    division: str
    purpose: str
    campaign: str | None = None
    target_ratio: float = 0.0  # issue 11: the least fraction of the floor's requests/s

    @property
    def paged(self) -> bool:
        return self.operation == "Page"

    @property
    def client(self) -> str:
        return f"bench-{self.division}"


Q1 = Query("Q1", "full profile, one customer (customer_care)", "Full", FULL_PROFILE, "customer_care",
           "customer_care", target_ratio=0.45)  # fmt: skip
Q2 = Query("Q2", "page of 50 + services + latest invoice (billing_collections)", "Page", PAGE,
           "billing_collections", "billing_collection", target_ratio=0.50)  # fmt: skip
Q3 = Query("Q3", "the same page, marketing under an approved campaign", "Page", PAGE, "marketing",
           "marketing_cross_category", campaign="demo-fiber-cross-sell", target_ratio=0.40)  # fmt: skip
QUERIES: tuple[Query, ...] = (Q1, Q2, Q3)
BY_KEY = {q.key: q for q in QUERIES}


def token(settings: Settings, query: Query) -> str:
    """A bearer token for the query's division, declaring only its purpose."""
    division = load_policy(settings.policy_dir).divisions[query.division]
    return issue_token(
        settings, division=division, purposes=[Purpose(query.purpose)], ttl_seconds=TOKEN_TTL_S, client=query.client
    )


def headers(query: Query, bearer: str) -> dict[str, str]:
    """The headers every request of ``query`` carries (the floor ignores them)."""
    out = {"authorization": f"Bearer {bearer}", "x-purpose": query.purpose, "content-type": "application/json"}
    if query.campaign:
        out["x-campaign-id"] = query.campaign
    return out


def body(query: Query, value: int | str | None, *, floor: bool) -> bytes:
    """The POST body: a customer id (Q1), or a page position (a cursor; the keyset id for the floor)."""
    if not query.paged:
        variables: dict[str, object] = {"id": str(value)}
    elif floor:
        variables = {"afterId": int(value or 0)}
    else:
        variables = {"after": value}
    return orjson.dumps({"query": query.document, "operationName": query.operation, "variables": variables})


def page_cursor(codec: CursorCodec, query: Query, after_id: int) -> str:
    """The cursor the gateway hands ``query``'s caller for the customer ``after_id`` of an unfiltered page."""
    caller = (query.client, query.division, query.purpose, query.campaign)
    return codec.seal(binding(CONNECTION, caller, NO_FILTER), (after_id,))


def page_positions(ids: Sequence[int], count: int, rng_seed: int) -> list[int]:
    """``count`` keyset positions (customer ids), each followed by at least a full page of customers."""
    usable = len(ids) - PAGE_SIZE - 1
    if usable < 1:
        return [0] * count
    rng = random.Random(rng_seed)
    return [ids[rng.randrange(usable)] for _ in range(count)]


def customer_sample(ids: Sequence[int], count: int, rng_seed: int) -> list[int]:
    """``count`` customer ids drawn with replacement by a seeded RNG: the same list every run."""
    rng = random.Random(rng_seed)
    return [ids[rng.randrange(len(ids))] for _ in range(count)]
