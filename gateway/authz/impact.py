"""What a policy change does to real customers: who gains or loses visibility, per changed cell.

Pure: the caller counts the customers of the database by their facts (one
GROUP BY query, `gateway.resolvers.impact`) and hands the groups here. Each
changed cell is then decided by the old and the new policy once per distinct
group, never once per customer, and the group sizes are summed.

Visibility of a cell means what Cedar decides for that division, purpose and
category, outside any campaign (a campaign can only narrow it):
- customer data (CONTACT, BILLING, ...): the one decision about the customer;
- service data (SERVICE, CONFIGURATION, USAGE, LOCATION): the decision about
  each of the customer's services, with the service's category. A customer
  counts once if any of its services changes; customers without services
  hold no such data and are not counted. `by_service` breaks the change down
  per service category.
A side on which the cell does not exist (division or purpose added or
removed) sees nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from gateway.authz.decide import Authorizer
from gateway.authz.diff import ABSENT, Change
from gateway.authz.model import Division, Facts, ServiceCategory
from gateway.authz.space import Point, reduce


@dataclass(frozen=True)
class Group:
    """Customers sharing the same facts and the same set of service categories."""

    facts: Facts
    services: frozenset[ServiceCategory]  # categories of the customer's services, any status
    customers: int


@dataclass(frozen=True)
class ServiceImpact:
    """Customers with a service of one category whose visibility of that service changes."""

    service_category: ServiceCategory
    gain: int
    lose: int


@dataclass(frozen=True)
class Impact:
    """How many customers gain and lose visibility of one changed cell."""

    change: Change
    gain: int
    lose: int
    by_service: tuple[ServiceImpact, ...] = ()  # service data only; categories with a change

    def __str__(self) -> str:
        text = f"{self.change}: {self.lose} customer(s) lose, {self.gain} gain"
        parts = [
            f"{s.service_category.value}{f' -{s.lose}' if s.lose else ''}{f' +{s.gain}' if s.gain else ''}"
            for s in self.by_service
        ]
        return f"{text} (by service: {', '.join(parts)})" if parts else text


def impacts(changes: Iterable[Change], old: Authorizer, new: Authorizer, groups: Sequence[Group]) -> list[Impact]:
    """The impact of each changed cell on the customers counted in `groups`."""
    return [_impact(change, old, new, groups) for change in changes]


def _impact(change: Change, old: Authorizer, new: Authorizer, groups: Sequence[Group]) -> Impact:
    old_division = old.divisions.get(change.division) if change.old != ABSENT else None
    new_division = new.divisions.get(change.division) if change.new != ABSENT else None
    if not change.category.service_scoped:
        scopes: list[tuple[Group, ServiceCategory | None]] = [(g, None) for g in groups]
    else:
        scopes = [(g, s) for g in groups for s in sorted(g.services)]
    before = _decide(old, old_division, change, [(g.facts, s) for g, s in scopes])
    after = _decide(new, new_division, change, [(g.facts, s) for g, s in scopes])
    gained: dict[int, int] = {}  # id(group) -> its size, once per group
    lost: dict[int, int] = {}
    per_service: dict[ServiceCategory, list[int]] = {}
    for (group, scope), was, now in zip(scopes, before, after, strict=True):
        if was == now:
            continue
        (gained if now else lost)[id(group)] = group.customers
        if scope is not None:
            counts = per_service.setdefault(scope, [0, 0])
            counts[0 if now else 1] += group.customers
    by_service = tuple(ServiceImpact(c, gain, lose) for c, (gain, lose) in sorted(per_service.items()))
    return Impact(change, sum(gained.values()), sum(lost.values()), by_service)


def _decide(
    authorizer: Authorizer,
    division: Division | None,
    change: Change,
    at: list[tuple[Facts, ServiceCategory | None]],
) -> list[bool]:
    """Allowed or not at each point; one Cedar batch over the distinct points only."""
    if division is None:
        return [False] * len(at)
    # Facts the cell cannot depend on are set neutral, so customers differing
    # only in them share one evaluation (Cedar's partial evaluation says which).
    relevant = authorizer.relevant_facts(division, change.purpose, change.category)
    points = [Point(reduce(facts, relevant), scope) for facts, scope in at]
    distinct = list(dict.fromkeys(points))
    decisions = authorizer.decide_many(division, change.purpose, change.category, distinct)
    allowed = {p: d.allowed for p, d in zip(distinct, decisions, strict=True)}
    return [allowed[p] for p in points]
