"""What every target is asked: the full-profile query of a random existing customer (Q1).

The same request bodies, in the same order, go to every target: customer ids
are drawn from a seeded RNG over the ids that exist in the database. With
``BENCH_QUERY=page`` (``python -m bench.run --query page``) each request is
instead a page of 50 customers of one state, the state drawn from the same
id (Q2).
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass

import orjson

from gateway.auth import issue_token
from gateway.authz.model import Purpose
from gateway.authz.policy import load_policy
from gateway.config import Settings

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

# A page of customers as a care team lists them (Q2): 50 per request, the
# first page of customers with a service address in one of the largest states
# (a few hundred customers each at 10,000). No cursors: each is sealed with
# a fresh nonce, so two servers' pages would never compare equal.
PAGE = """
query Page($state: String!) {
  customers(first: 50, filter: {state: $state}) {
    edges { node {
      id accountNumber segment status name listedPhone email contactPhone
      serviceAddress { city state }
      services { id category plan status }
      cpniApproval { status scope }
    } }
    pageInfo { hasNextPage }
  }
}
"""
PAGE_STATES = ("CA", "TX", "FL", "NY", "PA", "IL", "OH", "GA", "NC", "MI", "NJ", "VA")
PAGE_SIZE = 50
QUERIES = ("profile", "page")

DIVISION = "customer_care"
PURPOSE = "customer_care"
TOKEN_TTL_S = 6 * 3600
PATH = "/graphql"


def query_kind() -> str:
    """``profile`` (Q1) or ``page`` (Q2), from ``BENCH_QUERY`` (set by ``bench.run --query``)."""
    kind = os.environ.get("BENCH_QUERY", "profile")
    assert kind in QUERIES, f"BENCH_QUERY: expected one of {QUERIES}"
    return kind


def body(customer_id: int) -> bytes:
    """The POST body for one draw: the customer's full profile, or a page of its state's customers."""
    if query_kind() == "page":
        state = PAGE_STATES[customer_id % len(PAGE_STATES)]
        return orjson.dumps({"query": PAGE, "operationName": "Page", "variables": {"state": state}})
    return orjson.dumps({"query": FULL_PROFILE, "operationName": "Full", "variables": {"id": str(customer_id)}})


def customer_sequence(ids: tuple[int, ...] | list[int], count: int, seed: int) -> list[int]:
    """``count`` customer ids drawn with replacement by a seeded RNG: the same list every run."""
    rng = random.Random(seed)
    return [rng.choice(ids) for _ in range(count)]


@dataclass(frozen=True)
class Credentials:
    """The headers every request carries (the floor ignores them)."""

    token: str

    def headers(self) -> dict[str, str]:
        return {
            "authorization": f"Bearer {self.token}",
            "x-purpose": PURPOSE,
            "content-type": "application/json",
        }


def credentials(settings: Settings) -> Credentials:
    """A token for the customer care division with its customer care purpose."""
    bundle = load_policy(settings.policy_dir)
    division = bundle.divisions[DIVISION]
    token = issue_token(settings, division=division, purposes=[Purpose(PURPOSE)], ttl_seconds=TOKEN_TTL_S)
    return Credentials(token)
