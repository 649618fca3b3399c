"""The finite space of customer facts a decision can depend on.

`may_ever` and the policy matrix evaluate Cedar over every point of this
space instead of trusting a hand-written table. The space is made finite by
one symmetry: service categories that neither the division's own category
nor any policy names are interchangeable, so two stand for all of them (one
owned, one other). Subscription counts above two are therefore not
distinguished; the default policy only asks "two or more".
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass

from gateway.authz.model import ApprovalStatus, Category, Division, Facts, ServiceCategory

# Cedar attribute name of each `Facts` field, in the `CustomerFacts` record.
CEDAR_ATTRIBUTE: dict[str, str] = {
    "subscribed": "subscribed",
    "terminated": "terminated",
    "business": "business",
    "cpni_approval": "cpniApproval",
    "notice_in_window": "noticeInWindow",
    "location_approved": "locationApproved",
    "listing_published": "listingPublished",
}

# The value a fact takes when no policy reads it (it then cannot change a decision).
# A published listing is the ordinary case, so it is the neutral one.
NEUTRAL = Facts(
    subscribed=frozenset(),
    terminated=False,
    business=False,
    cpni_approval=ApprovalStatus.NONE,
    notice_in_window=False,
    location_approved=False,
    listing_published=True,
)


def facts_read(policies_text: str) -> frozenset[str]:
    """The `Facts` fields the policies may read.

    A word match on the policy text: it over-approximates (a word in a comment
    counts), which only costs memo hits, never a wrong decision.
    """
    read = {
        name
        for name, attribute in CEDAR_ATTRIBUTE.items()
        if re.search(rf"\b{attribute}\b", policies_text)
    }
    if re.search(r"\bsubscribedCount\b", policies_text):
        read.add("subscribed")  # the count is derived from the set
    return frozenset(read)


def reduce(facts: Facts, read: frozenset[str]) -> Facts:
    """`facts` with every field no policy reads set to its neutral value."""
    if len(read) == len(CEDAR_ATTRIBUTE):
        return facts
    return Facts(**{name: getattr(facts if name in read else NEUTRAL, name) for name in CEDAR_ATTRIBUTE})


def categories_named(policies_text: str) -> frozenset[ServiceCategory]:
    """Service categories the policies name as string literals."""
    return frozenset(c for c in ServiceCategory if f'"{c.value}"' in policies_text)


@dataclass(frozen=True)
class Point:
    """One combination of facts (and service category, for service-scoped data)."""

    facts: Facts
    service_category: ServiceCategory | None


def universe(division: Division, named: frozenset[ServiceCategory]) -> tuple[ServiceCategory, ...]:
    """Service categories to enumerate: the division's own (or a stand-in), the named ones, one other."""
    own = division.own_category or next(iter(ServiceCategory))
    chosen = [own] + [c for c in ServiceCategory if c in named and c != own]
    other = next((c for c in ServiceCategory if c not in chosen), None)
    if other is not None:
        chosen.append(other)
    return tuple(chosen)


def points(
    division: Division,
    category: Category,
    read: frozenset[str],
    named: frozenset[ServiceCategory] = frozenset(),
) -> Iterator[Point]:
    """Every point of the fact space that can matter for `division` reading `category`."""
    cats = universe(division, named)
    subscriptions = (
        [frozenset(s) for n in range(len(cats) + 1) for s in itertools.combinations(cats, n)]
        if "subscribed" in read
        else [NEUTRAL.subscribed]
    )
    scopes: list[ServiceCategory | None] = [None, *cats] if category.service_scoped else [None]
    booleans: list[object] = [False, True]
    values: dict[str, list[object]] = {
        "terminated": booleans,
        "business": booleans,
        "cpni_approval": [ApprovalStatus.NONE, ApprovalStatus.OPT_OUT, ApprovalStatus.OPT_IN],
        "notice_in_window": booleans,
        "location_approved": booleans,
        "listing_published": [True, False],
    }
    axes = [
        values[name] if name in read else [getattr(NEUTRAL, name)]
        for name in ("terminated", "business", "cpni_approval", "notice_in_window", "location_approved",
                     "listing_published")
    ]
    for subscribed in subscriptions:
        for combo in itertools.product(*axes):
            terminated, business, approval, notice, location, published = combo
            facts = Facts(
                subscribed=subscribed,
                terminated=bool(terminated),
                business=bool(business),
                cpni_approval=ApprovalStatus(str(approval)),
                notice_in_window=bool(notice),
                location_approved=bool(location),
                listing_published=bool(published),
            )
            for scope in scopes:
                yield Point(facts, scope)


def every_facts(fields: frozenset[str]) -> Iterator[Facts]:
    """Every `Facts` that differs only in ``fields``, each over its whole domain.

    Unlike :func:`points`, no symmetry: every subset of the real service
    categories, so each result stands for exactly the customers with those
    facts (what an SQL condition over the facts needs).
    """
    domains: dict[str, list[object]] = {
        "subscribed": [
            frozenset(s) for n in range(len(ServiceCategory) + 1) for s in itertools.combinations(ServiceCategory, n)
        ],
        "terminated": [False, True],
        "business": [False, True],
        "cpni_approval": list(ApprovalStatus),
        "notice_in_window": [False, True],
        "location_approved": [False, True],
        "listing_published": [False, True],
    }
    names = list(CEDAR_ATTRIBUTE)
    axes = [domains[name] if name in fields else [getattr(NEUTRAL, name)] for name in names]
    for combo in itertools.product(*axes):
        yield Facts(**dict(zip(names, combo, strict=True)))
