"""Why a decision came out as it did: the object `policy explain` and `explainAccess` show.

Pure: the caller loads the customer's facts (and services, and campaign);
this reads the same memoized decision the gateway enforces, and adds the
citations of its policies. `explain_access` answers the way enforcement
does (SPEC 5, `AccessExplanation`):
- a field decided per service is decided with the service's category: for
  one service if asked about one, else for each of the customer's services,
  and it is allowed only if every one of them (and the customer-level
  decision) allows it;
- a marketing purpose reads only under a current approved campaign of the
  division for that purpose, within the campaign's categories; without one
  the request is refused before any policy (CAMPAIGN_REQUIRED), so the
  explanation is a denial too.
`explain_field` wraps it for `policy explain`, rendered as text or JSON.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from gateway.authz.decide import Authorizer
from gateway.authz.model import Category, Division, Facts, Purpose, ServiceCategory
from gateway.authz.space import CEDAR_ATTRIBUTE


@dataclass(frozen=True)
class Explanation:
    """A decision with its reasons: determining policies, their citations, the facts used.

    `services`: for a field decided per service asked without a service, one
    explanation per service of the customer (then `allowed` holds only if
    all of them allow it); empty otherwise.
    """

    allowed: bool
    policy_ids: tuple[str, ...]
    cites: tuple[str, ...]  # the @cite of each policy in policy_ids, same order
    facts: Mapping[str, Any]  # JSON-able: the inputs the decision was made on
    summary: str  # one line for people
    service_id: str | None = None
    service_category: ServiceCategory | None = None
    services: tuple[Explanation, ...] = ()


@dataclass(frozen=True)
class Step:
    """One decision a query makes on the way to a field: a category, for the customer and/or per service."""

    category: Category
    per_customer: bool  # decided for the customer (no service category)
    per_service: bool  # decided with the category of each service


@dataclass(frozen=True)
class ServiceRef:
    """One service of the customer: its id and category."""

    id: str
    category: ServiceCategory


@dataclass(frozen=True)
class CampaignRef:
    """The campaign asked about: its id and, if it is current and approved for the division and purpose, its categories."""

    id: str | None
    categories: frozenset[Category] | None  # None: no usable campaign (the request would be refused)


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


def explain_access(
    authorizer: Authorizer,
    division: Division,
    purpose: Purpose,
    category: Category,
    facts: Facts,
    *,
    per_service: bool = False,
    services: Sequence[ServiceRef] = (),
    service: ServiceRef | None = None,
    campaign: CampaignRef | None = None,
    steps: Sequence[Step] = (),
) -> Explanation:
    """What a request by `division` declaring `purpose` (under `campaign`) gets of this data, and why.

    `per_service`: the field is decided per service; `service` the one asked
    about, else every one of `services` is explained. `steps`: the decisions
    on the field's path (`schema/fields.py`), its own last; none given means
    the field's category alone.
    """
    purpose = Purpose(purpose)
    refused = purpose.is_marketing and (campaign is None or campaign.categories is None)
    campaign_categories = campaign.categories if purpose.is_marketing and campaign is not None else None
    campaign_id = campaign.id if purpose.is_marketing and campaign is not None else None
    path = tuple(steps) or (Step(category, per_customer=not per_service, per_service=per_service),)

    def one(scope: ServiceRef | None) -> Explanation:
        scope_category = scope.category if scope is not None else None
        asked: list[tuple[Category, ServiceCategory | None]] = []
        for step in path:
            if step.per_customer or scope is None:
                asked.append((step.category, None))
            if step.per_service and scope is not None:
                asked.append((step.category, scope_category))
        asked = list(dict.fromkeys(asked))
        decided = [
            (c, explain(authorizer, division, purpose, c, facts, sc, campaign_categories)) for c, sc in asked
        ]
        own = explain(authorizer, division, purpose, category, facts, scope_category, campaign_categories)
        inputs = {
            **own.facts,
            "campaignId": campaign_id,
            "serviceId": scope.id if scope else None,
            "path": list(dict.fromkeys(c.value for c, _ in asked)),  # the categories decided, in order
        }
        service_id = scope.id if scope else None
        if refused:
            inputs["campaignRefused"] = True
            return Explanation(False, (), (), inputs, REFUSED, service_id, scope_category)
        denied = next(((c, e) for c, e in decided if not e.allowed), None)
        if denied is None:
            ids = tuple(sorted({pid for _, e in decided for pid in e.policy_ids}))
            return Explanation(True, ids, _cites(authorizer, ids), inputs, _summary(True, ids), service_id, scope_category)
        at, e = denied
        inputs["deniedAt"] = at.value
        summary = e.summary if at is category else f"{e.summary} (at {at.value}, on the way to this field)"
        return Explanation(False, e.policy_ids, e.cites, inputs, summary, service_id, scope_category)

    if not per_service:
        return one(None)
    if service is not None:
        return one(service)
    customer_level = one(None)
    if not services:
        return replace(customer_level, summary=_overall(customer_level, ()))
    each = tuple(one(s) for s in services)
    allowed = all(e.allowed for e in each)
    deciding = each if allowed else tuple(e for e in each if not e.allowed)
    ids = tuple(sorted({pid for e in deciding for pid in e.policy_ids}))
    return Explanation(
        allowed, ids, _cites(authorizer, ids), customer_level.facts, _overall(customer_level, each), None, None, each
    )


def _cites(authorizer: Authorizer, ids: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(authorizer.bundle.annotations.get(pid, {}).get("cite", "") for pid in ids)


REFUSED = (
    "refused: a marketing purpose reads only under a current approved campaign of the division "
    "for that purpose (X-Campaign-Id; CAMPAIGN_REQUIRED)"
)


def _overall(customer_level: Explanation, each: tuple[Explanation, ...]) -> str:
    if customer_level.summary == REFUSED:
        return REFUSED
    if not each:
        if not customer_level.allowed:
            return customer_level.summary
        return f"{customer_level.summary}; the customer has no service, so no data of this field"
    denied = [e for e in each if not e.allowed]
    if not denied:
        return f"allowed for every service of the customer ({len(each)})"
    names = ", ".join(f"{e.service_id} ({e.service_category.value if e.service_category else '?'})" for e in denied)
    return f"denied for {len(denied)} of {len(each)} services: {names}"


def _summary(allowed: bool, policy_ids: tuple[str, ...]) -> str:
    names = ", ".join(policy_ids)
    if allowed:
        return f"allowed by {names}"
    if policy_ids:
        return f"denied by {names}"
    return "denied: no policy permits it (Cedar's default deny)"


@dataclass(frozen=True)
class FieldExplanation:
    """`policy explain` about one field of one customer."""

    field: str  # "Type.field"
    category: Category
    per_service: bool
    customer: str
    division: Division
    purpose: Purpose
    regime: str
    campaign: CampaignRef | None
    explanation: Explanation
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
    *,
    per_service: bool = False,
    services: Sequence[ServiceRef] = (),
    service: ServiceRef | None = None,
    campaign: CampaignRef | None = None,
    steps: Sequence[Step] = (),
) -> FieldExplanation:
    """Explain `field` for one customer, as `explain_access` decides it."""
    explanation = explain_access(
        authorizer, division, purpose, category, facts,
        per_service=per_service, services=services, service=service, campaign=campaign, steps=steps,
    )
    relevant = authorizer.relevant_facts(division, purpose, category)
    depends_on = tuple(CEDAR_ATTRIBUTE[name] for name in CEDAR_ATTRIBUTE if name in relevant)
    return FieldExplanation(
        field, Category(category), per_service, customer, division, Purpose(purpose),
        authorizer.regime.value, campaign if Purpose(purpose).is_marketing else None, explanation,
        facts_json(facts), depends_on,
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
    ]
    if report.purpose.is_marketing:
        lines.append(f"campaign: {_campaign_text(report.campaign)}")
    lines.append(f"regime: {report.regime}")
    top = report.explanation

    def decision(label: str, e: Explanation) -> list[str]:
        return [f"{label}: {e.summary}"] + [
            f"  {pid} @cite {cite}" for pid, cite in zip(e.policy_ids, e.cites, strict=True)
        ]

    for e in top.services:
        lines += decision(_service_label(e), e)
    lines += decision(_service_label(top) if top.service_id else "decision", top)
    shown = " ".join(f"{k}={_value(v)}" for k, v in report.facts.items())
    lines.append(f"facts: {shown}")
    lines.append(f"decided on: {', '.join(report.depends_on) or 'no customer fact'}")
    return "\n".join(lines)


def _service_label(e: Explanation) -> str:
    return f"service {e.service_id} ({e.service_category.value if e.service_category else '?'})"


def _campaign_text(campaign: CampaignRef | None) -> str:
    if campaign is None or campaign.id is None:
        return "none given (a marketing request without one is refused)"
    if campaign.categories is None:
        return f"{campaign.id}: not a current approved campaign of this division for this purpose"
    return f"{campaign.id} (categories {', '.join(sorted(c.value for c in campaign.categories)) or 'none'})"


def explanation_json(e: Explanation) -> dict[str, Any]:
    """One explanation as a JSON-able document (SPEC 5's AccessExplanation names)."""
    return {
        "allowed": e.allowed,
        "serviceId": e.service_id,
        "serviceCategory": e.service_category.value if e.service_category else None,
        "policyIds": list(e.policy_ids),
        "cites": list(e.cites),
        "summary": e.summary,
        "services": [explanation_json(s) for s in e.services],
    }


def render_field_json(report: FieldExplanation) -> dict[str, Any]:
    """The same report as a JSON-able document."""
    campaign = report.campaign
    return {
        "field": report.field,
        "category": report.category.value,
        "perService": report.per_service,
        "customer": report.customer,
        "division": report.division.id,
        "purpose": report.purpose.value,
        "campaign": None if campaign is None else {
            "id": campaign.id,
            "categories": sorted(c.value for c in campaign.categories) if campaign.categories is not None else None,
        },
        "regime": report.regime,
        **explanation_json(report.explanation),
        "facts": dict(report.facts),
        "decidedOn": list(report.depends_on),
    }


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ",".join(str(v) for v in value) + "]"
    return str(value)
