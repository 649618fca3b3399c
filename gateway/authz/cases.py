"""Policy test cases: data security reviewers read and extend (`policies/tests/*.toml`).

A case is one request and its expected outcome::

    [[case]]
    name = "CPNI.md 2: notice 30 days ago, no reply -> allowed"
    division = "marketing"            # a registry id, or an inline table
    purpose = "marketing_cross_category"
    category = "USAGE"                # or: action = "approveCampaign"
    service_category = "LOCAL"        # optional, service-scoped data
    campaign_categories = ["USAGE"]   # optional, marketing campaigns
    regime = "opt_out"                # optional; absent = run under both regimes
    facts = { subscribed = ["LOCAL"], cpni_approval = "NONE", notice_in_window = true }
    allowed = true
    policies = ["marketing-opt-out-approval"]   # optional; [] = Cedar's default deny

Facts not given take their neutral value (no service, not terminated,
residential, approval NONE, no notice, no location approval, a published
listing: `listing_published = false` is a customer with a non-published number). Parsing and
running are pure; `policy.read_cases` reads the files.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gateway.authz.decide import Authorizer
from gateway.authz.model import (
    Action,
    ApprovalStatus,
    Category,
    Decision,
    Division,
    Facts,
    Purpose,
    RecipientClass,
    Regime,
    ServiceCategory,
)
from gateway.authz.policy import PolicyBundle

_KEYS = frozenset(
    {"name", "division", "purpose", "category", "action", "service_category", "campaign_categories",
     "regime", "facts", "allowed", "policies", "note"}
)
_FACTS = frozenset(
    {"subscribed", "terminated", "business", "cpni_approval", "notice_in_window", "location_approved",
     "listing_published"}
)


class CaseError(ValueError):
    """Malformed case files; `.problems` names each file and case."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class Case:
    """One request of a policy test and its expected outcome."""

    file: str
    name: str
    division: str | Division  # a registry id, or an inline division
    purpose: Purpose
    category: Category | None  # None for an operation (`action`)
    action: Action
    service_category: ServiceCategory | None
    campaign_categories: frozenset[Category] | None
    regimes: tuple[Regime, ...]
    facts: Facts
    allowed: bool
    policies: tuple[str, ...] | None  # None: not checked


@dataclass(frozen=True)
class CaseResult:
    """The outcome of one case under one regime."""

    case: Case
    regime: Regime
    decision: Decision | None  # None when the case could not run (unknown division)
    passed: bool
    message: str  # empty when passed


def parse_cases(documents: Iterable[tuple[str, Mapping[str, Any]]]) -> list[Case]:
    """Cases from parsed TOML documents (file name, content); `CaseError` if any is malformed."""
    cases: list[Case] = []
    problems: list[str] = []
    for file, document in documents:
        entries = document.get("case", [])
        if not isinstance(entries, list):
            problems.append(f"{file}: expected [[case]] tables")
            continue
        for number, entry in enumerate(entries, start=1):
            name = str(entry.get("name", f"case {number}")) if isinstance(entry, dict) else f"case {number}"
            try:
                cases.append(_case(file, name, entry))
            except (KeyError, ValueError, TypeError) as exc:
                problems.append(f"{file}: case `{name}`: {exc}")
    if problems:
        raise CaseError(problems)
    return cases


def run_cases(bundle: PolicyBundle, cases: Iterable[Case]) -> list[CaseResult]:
    """Run every case under each of its regimes, with one `Authorizer` per regime."""
    authorizers: dict[Regime, Authorizer] = {}
    results: list[CaseResult] = []
    for case in cases:
        for regime in case.regimes:
            if regime not in authorizers:
                authorizers[regime] = Authorizer(bundle, regime)
            authorizer = authorizers[regime]
            results.append(_run(authorizer, case, regime))
    return results


def _run(authorizer: Authorizer, case: Case, regime: Regime) -> CaseResult:
    division = case.division
    if isinstance(division, str):
        if division not in authorizer.divisions:
            return CaseResult(case, regime, None, False, f"unknown division `{division}`")
        division = authorizer.divisions[division]
    if case.category is None:
        decision = authorizer.may_perform(division, case.purpose, case.action)
    else:
        decision = authorizer.decide(
            division,
            case.purpose,
            case.category,
            case.facts,
            service_category=case.service_category,
            campaign_categories=case.campaign_categories,
        )
    wrong: list[str] = []
    if decision.allowed != case.allowed:
        wrong.append(f"expected {'allow' if case.allowed else 'deny'}, got {'allow' if decision.allowed else 'deny'}")
    if case.policies is not None and tuple(sorted(case.policies)) != decision.policy_ids:
        wrong.append(f"expected policies {list(case.policies)}, got {list(decision.policy_ids)}")
    return CaseResult(case, regime, decision, not wrong, "; ".join(wrong))


def _case(file: str, name: str, entry: object) -> Case:
    if not isinstance(entry, dict):
        raise TypeError("expected a table")
    unknown = set(entry) - _KEYS
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(sorted(unknown))}")
    category = Category(entry["category"]) if "category" in entry else None
    action = Action(entry.get("action", Action.READ.value))
    if (category is None) == (action is Action.READ):
        raise ValueError("give either `category` (a read) or `action` (an operation)")
    campaign = entry.get("campaign_categories")
    regime = entry.get("regime")
    policies = entry.get("policies")
    if not isinstance(entry.get("allowed"), bool):
        raise ValueError("`allowed` must be true or false")
    return Case(
        file=file,
        name=name,
        division=_division(entry["division"]),
        purpose=Purpose(entry["purpose"]),
        category=category,
        action=action,
        service_category=ServiceCategory(entry["service_category"]) if "service_category" in entry else None,
        campaign_categories=frozenset(Category(c) for c in campaign) if campaign is not None else None,
        regimes=(Regime(regime),) if regime is not None else tuple(Regime),
        facts=_facts(entry.get("facts", {})),
        allowed=entry["allowed"],
        policies=tuple(str(p) for p in policies) if policies is not None else None,
    )


def _division(raw: object) -> str | Division:
    if isinstance(raw, str):
        return raw
    if not isinstance(raw, dict):
        raise TypeError("`division` must be a registry id or an inline table")
    own = raw.get("own_category")
    return Division(
        id=str(raw["id"]),
        recipient_class=RecipientClass(raw["recipient_class"]),
        own_category=ServiceCategory(own) if own is not None else None,
        purposes=frozenset(Purpose(p) for p in raw["purposes"]),
    )


def _facts(raw: object) -> Facts:
    if not isinstance(raw, dict):
        raise TypeError("`facts` must be a table")
    unknown = set(raw) - _FACTS
    if unknown:
        raise ValueError(f"unknown fact(s) {', '.join(sorted(unknown))}")
    flags = {name: raw.get(name, False) for name in ("terminated", "business", "notice_in_window", "location_approved")}
    flags["listing_published"] = raw.get("listing_published", True)
    for name, value in flags.items():
        if not isinstance(value, bool):
            raise ValueError(f"fact `{name}` must be true or false")
    return Facts(
        subscribed=frozenset(ServiceCategory(c) for c in raw.get("subscribed", [])),
        terminated=flags["terminated"],
        business=flags["business"],
        cpni_approval=ApprovalStatus(raw.get("cpni_approval", ApprovalStatus.NONE.value)),
        notice_in_window=flags["notice_in_window"],
        location_approved=flags["location_approved"],
        listing_published=flags["listing_published"],
    )
