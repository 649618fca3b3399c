"""Why a decision came out as it did: the object `policy explain` and `explainAccess` show.

Pure: the caller loads the customer's facts; this reads the same memoized
decision the gateway enforces, and adds the citations of its policies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.authz.decide import Authorizer
from gateway.authz.model import Category, Division, Facts, Purpose, ServiceCategory


@dataclass(frozen=True)
class Explanation:
    """A decision with its reasons: determining policies, their citations, the facts used."""

    allowed: bool
    policy_ids: tuple[str, ...]
    cites: tuple[str, ...]  # the @cite of each policy in policy_ids, same order
    facts: Mapping[str, Any]  # JSON-able: the inputs the decision was made on
    summary: str  # one line for people


def explain(
    authorizer: Authorizer,
    division: Division,
    purpose: Purpose,
    category: Category,
    facts: Facts,
    service_category: ServiceCategory | None = None,
    campaign_categories: frozenset[Category] | None = None,
) -> Explanation:
    """Decide as the gateway would, and say why."""
    decision = authorizer.decide(
        division,
        purpose,
        category,
        facts,
        service_category=service_category,
        campaign_categories=campaign_categories,
    )
    annotations = authorizer.bundle.annotations
    cites = tuple(annotations.get(pid, {}).get("cite", "") for pid in decision.policy_ids)
    inputs: dict[str, Any] = {
        "division": division.id,
        "recipientClass": division.recipient_class.value,
        "ownCategory": division.own_category.value if division.own_category else None,
        "purpose": Purpose(purpose).value,
        "category": Category(category).value,
        "serviceCategory": service_category.value if service_category else None,
        "campaignCategories": sorted(c.value for c in campaign_categories) if campaign_categories is not None else None,
        "regime": authorizer.regime.value,
        **facts_json(facts),
    }
    return Explanation(decision.allowed, decision.policy_ids, cites, inputs, _summary(decision.allowed, decision.policy_ids))


def facts_json(facts: Facts) -> dict[str, Any]:
    """The customer facts under the names the Cedar policies use."""
    return {
        "subscribed": sorted(c.value for c in facts.subscribed),
        "terminated": facts.terminated,
        "business": facts.business,
        "cpniApproval": facts.cpni_approval.value,
        "noticeInWindow": facts.notice_in_window,
        "locationApproved": facts.location_approved,
    }


def _summary(allowed: bool, policy_ids: tuple[str, ...]) -> str:
    names = ", ".join(policy_ids)
    if allowed:
        return f"allowed by {names}"
    if policy_ids:
        return f"denied by {names}"
    return "denied: no policy permits it (Cedar's default deny)"
