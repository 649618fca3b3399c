"""What every target is asked: the full-profile query of a random existing customer.

The same request bodies, in the same order, go to every target: customer ids
are drawn from a seeded RNG over the ids that exist in the database.
"""

from __future__ import annotations

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

DIVISION = "customer_care"
PURPOSE = "customer_care"
TOKEN_TTL_S = 6 * 3600
PATH = "/graphql"


def body(customer_id: int) -> bytes:
    """The POST body asking for one customer's full profile."""
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
