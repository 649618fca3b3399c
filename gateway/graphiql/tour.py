"""The README's tour, step by step: GraphiQL opens with one tab per step.

tests/graphiql/test_tour.py checks that README.md shows each query exactly
and that each step answers over HTTP as the README says.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    title: str
    division: str
    purpose: str
    query: str
    campaign: str | None = None
    strict: bool = False

    def headers(self, token: str) -> dict[str, str]:
        """The step's request headers with ``token`` as its bearer token."""
        headers = {"Authorization": f"Bearer {token}", "X-Purpose": self.purpose}
        if self.campaign is not None:
            headers["X-Campaign-Id"] = self.campaign
        if self.strict:
            headers["X-Authz-Mode"] = "strict"
        return headers


CARE_QUERY = """\
query CustomerCare {
  me { client division purpose purposes }
  customers(first: 3, filter: {serviceCategory: WIRELESS}) {
    edges { node { id name email services { category plan usage(first: 2) { startedAt counterparty cellSite } } } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

DIRECTORY_QUERY = """\
query DirectoryListing {
  customers(first: 3) {
    edges { node { id name listedPhone serviceAddress { city state } email } }
  }
}
"""

CAMPAIGN_QUERY = """\
query WirelessCampaign {
  customers(first: 3, filter: {serviceCategory: WIRELESS}) {
    edges { node { id name services { category plan status } } }
  }
}
"""

TOUR: tuple[Step, ...] = (
    Step("1 customer care", "customer_care", "customer_care", CARE_QUERY),
    Step("2 directory", "dex_directory", "directory_publishing", DIRECTORY_QUERY),
    Step("3 strict", "customer_care", "customer_care", CARE_QUERY, strict=True),
    Step("4 campaign", "wireless", "marketing_same_category", CAMPAIGN_QUERY, campaign="demo-wireless-upgrade"),
)
