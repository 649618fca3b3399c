"""A brute-force oracle for SPEC 6.2, written independently of the Cedar policy.

Tests compare the gateway's answers (which Cedar decides) with this plain
reading of the table: a disagreement is a bug in one of them.
"""

from __future__ import annotations

from dataclasses import dataclass

CATEGORIES = ["SUBSCRIBER_LIST", "CONTACT", "SERVICE", "CONFIGURATION", "USAGE", "LOCATION", "BILLING", "PAYMENT", "CONSENT"]
TABLE = {
    "provisioning": "A A A A A A D D D",
    "billing_collection": "A A A A A D A A D",
    "customer_care": "A A A A A X A A A",
    "fraud_protection": "A A A A A A A A A",
    "emergency": "A A D D D A D D D",
    "directory_publishing": "A D D D D D D D D",
    "marketing_same_category": "A T T T T X T D D",
    "marketing_cross_category": "A O O O O X O D D",
    "marketing_non_comm": "A I I I I X I D D",
    "third_party_marketing": "I I I I I X I D D",
    "analytics_aggregate": "D D D D D D D D D",
    "compliance_audit": "A D D D D D D D A",
}
SERVICE_SCOPED = {"SERVICE", "CONFIGURATION", "USAGE", "LOCATION"}
MARKETING = {"marketing_same_category", "marketing_cross_category", "marketing_non_comm", "third_party_marketing"}


@dataclass(frozen=True)
class CustomerFacts:
    subscribed: frozenset[str]
    terminated: bool
    approval: str  # OPT_IN | OPT_OUT | NONE
    notice_in_window: bool
    location_approved: bool


def allowed(
    *,
    purpose: str,
    own_category: str | None,
    category: str,
    facts: CustomerFacts,
    service_category: str | None,
    regime: str = "opt_out",
) -> bool:
    if category == "PUBLIC":
        return True
    if purpose in MARKETING and facts.terminated:
        return False
    letter = TABLE[purpose].split()[CATEGORIES.index(category)]
    if purpose == "provisioning" and own_category and category in SERVICE_SCOPED and service_category:
        if service_category != own_category:
            return False
    if letter == "A":
        return True
    if letter == "D":
        return False
    if letter == "X":
        return facts.location_approved
    if letter == "I" or (letter == "O" and regime == "opt_in"):
        return facts.approval == "OPT_IN"
    if letter == "O":
        return facts.approval == "OPT_IN" or (facts.approval == "NONE" and facts.notice_in_window)
    assert letter == "T"
    if own_category is None or own_category not in facts.subscribed:
        return False
    if category in SERVICE_SCOPED and service_category:
        return service_category == own_category or len(facts.subscribed) >= 2
    return True
