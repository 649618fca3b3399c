"""Why a decision came out as it did: the object `policy explain` and `explainAccess` show.

Pure: the caller loads the customer's facts; this reads the same memoized
decision the gateway enforces, and adds the citations of its policies.
`explain_field` is what `policy explain` prints: one `Explanation` per
service category for data of a service, one for the customer otherwise,
rendered as text or JSON.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gateway.authz.decide import Authorizer
from gateway.authz.model import Category, Division, Facts, Purpose, ServiceCategory
from gateway.authz.space import CEDAR_ATTRIBUTE


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
        "listingPublished": facts.listing_published,
    }


def _summary(allowed: bool, policy_ids: tuple[str, ...]) -> str:
    names = ", ".join(policy_ids)
    if allowed:
        return f"allowed by {names}"
    if policy_ids:
        return f"denied by {names}"
    return "denied: no policy permits it (Cedar's default deny)"


@dataclass(frozen=True)
class FieldExplanation:
    """`policy explain` about one field of one customer: one explanation per scope.

    A customer-level field has one scope (None); a field decided per service
    has one per service category of the customer (none if it has no service).
    """

    field: str  # "Type.field"
    category: Category
    per_service: bool
    customer: str
    division: Division
    purpose: Purpose
    regime: str
    decisions: tuple[tuple[ServiceCategory | None, Explanation], ...]
    facts: Mapping[str, Any]  # the customer's facts, under the names the policies use
    depends_on: tuple[str, ...]  # the facts (policy names) such a decision can depend on


def explain_field(
    authorizer: Authorizer,
    division: Division,
    purpose: Purpose,
    field: str,
    category: Category,
    customer: str,
    facts: Facts,
    service_categories: Sequence[ServiceCategory] | None = None,
) -> FieldExplanation:
    """Explain `field` for one customer: per service category if `service_categories` is given."""
    scopes: list[ServiceCategory | None] = [None]
    if service_categories is not None:
        scopes = [*sorted(set(service_categories))]
    decisions = tuple((s, explain(authorizer, division, purpose, category, facts, s)) for s in scopes)
    relevant = authorizer.relevant_facts(division, purpose, category)
    depends_on = tuple(CEDAR_ATTRIBUTE[name] for name in CEDAR_ATTRIBUTE if name in relevant)
    return FieldExplanation(
        field, Category(category), service_categories is not None, customer, division, Purpose(purpose),
        authorizer.regime.value, decisions, facts_json(facts), depends_on,
    )


def render_field_text(report: FieldExplanation) -> str:
    """Lines for people: the field, the request, each decision with its policies' @cite, the facts."""
    d = report.division
    own = f", own category {d.own_category.value}" if d.own_category else ""
    lines = [
        f"field: {report.field} ({report.category.value}{', decided per service' if report.per_service else ''})",
        f"customer: {report.customer}",
        f"division: {d.id} ({d.recipient_class.value}{own})",
        f"purpose: {report.purpose.value}",
        f"regime: {report.regime}",
    ]
    if not report.decisions:
        lines.append("decision: none: the customer has no service, so no data of this field")
    for scope, explanation in report.decisions:
        label = "decision" if scope is None else f"{scope.value} service"
        lines.append(f"{label}: {explanation.summary}")
        lines += [f"  {pid} @cite {cite}" for pid, cite in zip(explanation.policy_ids, explanation.cites, strict=True)]
    shown = " ".join(f"{k}={_value(v)}" for k, v in report.facts.items())
    lines.append(f"facts: {shown}")
    lines.append(f"decided on: {', '.join(report.depends_on) or 'no customer fact'}")
    if report.purpose.is_marketing:
        lines.append("note: outside any campaign; an approved campaign can only narrow this (campaign-scope)")
    return "\n".join(lines)


def render_field_json(report: FieldExplanation) -> dict[str, Any]:
    """The same report as a JSON-able document."""
    return {
        "field": report.field,
        "category": report.category.value,
        "perService": report.per_service,
        "customer": report.customer,
        "division": report.division.id,
        "purpose": report.purpose.value,
        "regime": report.regime,
        "decisions": [
            {
                "serviceCategory": scope.value if scope else None,
                "allowed": e.allowed,
                "policyIds": list(e.policy_ids),
                "cites": list(e.cites),
                "summary": e.summary,
            }
            for scope, e in report.decisions
        ],
        "facts": dict(report.facts),
        "decidedOn": list(report.depends_on),
    }


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ",".join(str(v) for v in value) + "]"
    return str(value)
