"""The decision: a pure function of its inputs, evaluated by Cedar, memoized.

`Authorizer` is built once per loaded policy (in the ASGI lifespan) and
shared by all requests. Its memo is keyed on the full input tuple, with the
customer's facts reduced to what the policies read, never on a customer id or
a caller, so sharing it across requests leaks nothing: two customers with the
same facts get the same answer anyway. A reload builds a new `Authorizer` and
so a new, empty memo.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any, NamedTuple

import cedarpy

from gateway.authz.model import Action, Category, Decision, Division, Facts, Purpose, Regime, ServiceCategory
from gateway.authz.policy import PolicyBundle
from gateway.authz.space import (
    CEDAR_ATTRIBUTE,
    NEUTRAL,
    Point,
    categories_named,
    every_facts,
    facts_read,
    points,
    reduce,
)

MEMO_SIZE = 65_536

# A Cedar read request: (division, purpose, category, service category, campaign
# categories, facts reduced to what the policies read)
Key = tuple[Division, Purpose, Category, ServiceCategory | None, frozenset[Category] | None, Facts]
# (division, purpose, category, campaign categories): one cell of the matrix
CellKey = tuple[Division, Purpose, Category, frozenset[Category] | None]

_ERROR_POLICY = re.compile(r"policy `([^`]+)`")
# How an `unknown("name")` call appears in a residual policy (Cedar's EST JSON).
_UNKNOWN_CALL = re.compile(r'"unknown": \[\{"Value": "(\w+)"\}\]')


class Authorizer:
    """Decides, with Cedar, what a division may do for a declared purpose."""

    def __init__(self, bundle: PolicyBundle, regime: Regime) -> None:
        self.bundle = bundle
        self.regime = Regime(regime)
        self.divisions: Mapping[str, Division] = bundle.divisions
        self._policies = cedarpy.PolicySet.from_str(bundle.policies_text)
        # Cedar names policies positionally (policy0, ...); reasons map back to @id.
        self._ids = {
            internal: template.annotations.get("id", internal)
            for internal, template in self._policies.to_pst().static_policies.items()
        }
        self.facts_read = facts_read(bundle.policies_text)
        self._named = categories_named(bundle.policies_text)
        self._entities: dict[Division, cedarpy.Entities] = {}
        self._memo: dict[tuple[object, ...], Decision] = {}
        # Per cell, the facts its decisions depend on (a few of them, often none).
        self._cell_facts: dict[tuple[object, ...], Callable[[Facts], tuple[object, ...]]] = {}
        self._cell_relevant: dict[tuple[object, ...], frozenset[str]] = {}
        self._misses = 0
        self._perform = lru_cache(maxsize=1024)(self._perform_key)
        self._ever = lru_cache(maxsize=4096)(self._ever_key)
        self._relevant = lru_cache(maxsize=4096)(self._relevant_key)
        self._readable = lru_cache(maxsize=4096)(self._readable_key)

    def decide(
        self,
        division: Division,
        purpose: Purpose,
        category: Category,
        facts: Facts,
        *,
        service_category: ServiceCategory | None = None,
        campaign_categories: frozenset[Category] | None = None,
    ) -> Decision:
        """May `division`, declaring `purpose`, read `category` of a customer with `facts`?

        `service_category` is the category of the service the data belongs to
        (service-scoped data only); `campaign_categories` the categories the
        approved campaign names (marketing purposes only).
        """
        # The hot path: a memo hit must cost a microsecond or two.
        who = self._who(division)
        cell = (who, purpose, category, campaign_categories)
        facts_key = self._cell_facts.get(cell)
        if facts_key is None:
            facts_key = self._cell_facts[cell] = self._cell_facts_key(division, purpose, category, campaign_categories)
        key = (who, purpose, category, service_category, campaign_categories, facts_key(facts))
        decision = self._memo.get(key)
        if decision is None:
            self._misses += 1
            reduced = reduce(facts, self.facts_read)
            request = self._read_request(
                (division, Purpose(purpose), Category(category), service_category, campaign_categories, reduced)
            )
            decision = self._evaluate([request], division)[0]
            if len(self._memo) >= MEMO_SIZE:
                self._memo.clear()  # rare; a plain clear is atomic and cheap to refill
            self._memo[key] = decision
        return decision

    def _cell_facts_key(
        self,
        division: Division,
        purpose: Purpose,
        category: Category,
        campaign_categories: frozenset[Category] | None,
    ) -> Callable[[Facts], tuple[object, ...]]:
        """The memo key's facts for one cell: only those its decisions can depend on.

        Two customers that differ only in facts no policy of the cell reads
        (Cedar's partial evaluation: no residual mentions them) get the same
        decision and the same determining policies, so they share an entry.
        """
        if len(self._cell_facts) > 4096:  # ad hoc divisions (tests); the registry's cells are few
            self._cell_facts.clear()
        cell = (division, Purpose(purpose), Category(category), campaign_categories)
        return _fields_getter(self._relevant(cell))

    def decide_many(
        self,
        division: Division,
        purpose: Purpose,
        category: Category,
        at: Iterable[Point],
        *,
        campaign_categories: frozenset[Category] | None = None,
    ) -> list[Decision]:
        """`decide` at many points in one Cedar batch, bypassing the memo (for the matrix)."""
        keys = [
            (division, purpose, category, p.service_category, campaign_categories, p.facts)
            for p in at
        ]
        return self._evaluate([self._read_request(k) for k in keys], division)

    def may_perform(self, division: Division, purpose: Purpose, action: Action) -> Decision:
        """May `division`, declaring `purpose`, perform an operation that reads no customer data?"""
        if Action(action) is Action.READ:
            raise ValueError("`read` depends on a customer: use Authorizer.decide")
        return self._perform((division, Purpose(purpose), Action(action)))

    def may_ever(
        self,
        division: Division,
        purpose: Purpose,
        category: Category,
        *,
        campaign_categories: frozenset[Category] | None = None,
    ) -> bool:
        """Is there any customer (and service) for which the read would be allowed?

        A filter on a category that is never readable is refused outright.
        """
        return self._ever((division, Purpose(purpose), Category(category), campaign_categories))

    def points(
        self,
        division: Division,
        purpose: Purpose,
        category: Category,
        *,
        campaign_categories: frozenset[Category] | None = None,
    ) -> list[Point]:
        """The fact space `may_ever` and the matrix enumerate for one cell.

        Only the facts the cell can depend on vary; the others stay neutral.
        Which facts those are, Cedar's partial evaluation says (every fact
        unknown: the ones left in a residual policy). Pruning only chooses
        where to look; every point is then decided by a full evaluation.
        """
        read = self._relevant((division, Purpose(purpose), Category(category), campaign_categories))
        return list(points(division, category, read, self._named))

    def readable_facts(
        self,
        division: Division,
        purpose: Purpose,
        category: Category,
        *,
        service_category: ServiceCategory | None = None,
        campaign_categories: frozenset[Category] | None = None,
    ) -> Readable:
        """Exactly which customers' `category` the read allows, as a condition on their facts.

        For matching a filter in the database: the customers whose facts,
        restricted to `Readable.fields`, are among `Readable.allowed`. Every
        point is decided by Cedar (one batch, once per cell and process).
        """
        return self._readable(
            (division, Purpose(purpose), Category(category), service_category, campaign_categories)
        )

    def relevant_facts(
        self,
        division: Division,
        purpose: Purpose,
        category: Category,
        *,
        campaign_categories: frozenset[Category] | None = None,
    ) -> frozenset[str]:
        """The `Facts` fields one cell's decisions can depend on (Cedar's partial evaluation).

        Asked on every planned request: keyed as :meth:`decide` keys its cells.
        """
        cell = (self._who(division), purpose, category, campaign_categories)
        found = self._cell_relevant.get(cell)
        if found is None:
            if len(self._cell_relevant) > 4096:  # ad hoc divisions (tests); the registry's cells are few
                self._cell_relevant.clear()
            found = self._cell_relevant[cell] = self._relevant(
                (division, Purpose(purpose), Category(category), campaign_categories)
            )
        return found

    def _who(self, division: Division) -> str | Division:
        """A division as the memos key it: a registry division by its id (identity check), any other by value."""
        return division.id if self.divisions.get(division.id) is division else division

    def cache_info(self) -> MemoInfo:
        """Size and misses (Cedar evaluations) of the decision memo, for metrics and tests."""
        return MemoInfo(misses=self._misses, size=len(self._memo))

    # -- evaluation -------------------------------------------------------

    def _perform_key(self, key: tuple[Division, Purpose, Action]) -> Decision:
        division, purpose, action = key
        request = {
            "principal": _division_uid(division),
            "action": {"type": "Action", "id": action.value},
            "resource": {"type": "Gateway", "id": "cpni-gateway"},
            "context": {"purpose": purpose.value, "regime": self.regime.value},
        }
        return self._evaluate([request], division)[0]

    def _ever_key(self, key: CellKey) -> bool:
        division, purpose, category, campaign = key
        at = self.points(division, purpose, category, campaign_categories=campaign)
        decisions = self.decide_many(division, purpose, category, at, campaign_categories=campaign)
        return any(d.allowed for d in decisions)

    def _readable_key(
        self, key: tuple[Division, Purpose, Category, ServiceCategory | None, frozenset[Category] | None]
    ) -> Readable:
        division, purpose, category, scope, campaign = key
        fields = self._relevant((division, purpose, category, campaign))
        at = list(every_facts(fields))
        decisions = self.decide_many(
            division, purpose, category, (Point(f, scope) for f in at), campaign_categories=campaign
        )
        return Readable(fields, frozenset(f for f, d in zip(at, decisions, strict=True) if d.allowed))

    def _relevant_key(self, key: CellKey) -> frozenset[str]:
        division, purpose, category, campaign = key
        unknown = {name: {"__extn": {"fn": "unknown", "arg": name}} for name in CEDAR_ATTRIBUTE.values()}
        unknown["subscribedCount"] = {"__extn": {"fn": "unknown", "arg": "subscribedCount"}}
        scopes: list[ServiceCategory | None] = [None]
        if category.service_scoped:
            scopes.append(next(iter(ServiceCategory)))  # replaced by an unknown below
        names: set[str] = set()
        for scope in scopes:
            request = self._read_request((division, purpose, category, scope, campaign, NEUTRAL))
            request["context"]["customer"] = unknown
            if scope is not None:
                request["context"]["serviceCategory"] = {"__extn": {"fn": "unknown", "arg": "serviceCategory"}}
            request["principal"] = f'Division::{json.dumps(division.id)}'
            request["action"] = f'Action::{json.dumps(Action.READ.value)}'
            request["resource"] = f'DataCategory::{json.dumps(category.value)}'
            try:
                result = cedarpy.is_authorized_partial(request, self._policies, self._entities_for(division))
            except (ValueError, TypeError):
                return self.facts_read  # cannot prune: enumerate every fact
            if result.diagnostics.errors:
                return self.facts_read
            # A residual reduced to true or false depends on no unknown.
            residuals = result.residuals
            names.update(_unknown_names([residuals[p] for p in result.diagnostics.nontrivial_residuals]))
        if "subscribedCount" in names:
            names.add("subscribed")
        fields = {field for field, attribute in CEDAR_ATTRIBUTE.items() if attribute in names}
        return frozenset(fields) & self.facts_read

    def _read_request(self, key: Key) -> dict[str, Any]:
        division, purpose, category, service_category, campaign, facts = key
        context: dict[str, Any] = {
            "purpose": purpose.value,
            "regime": self.regime.value,
            "customer": {
                "subscribed": sorted(c.value for c in facts.subscribed),
                "subscribedCount": len(facts.subscribed),
                "terminated": facts.terminated,
                "business": facts.business,
                "cpniApproval": facts.cpni_approval.value,
                "noticeInWindow": facts.notice_in_window,
                "locationApproved": facts.location_approved,
                "listingPublished": facts.listing_published,
            },
        }
        if service_category is not None:
            context["serviceCategory"] = ServiceCategory(service_category).value
        if campaign is not None:
            context["campaignCategories"] = [
                {"__entity": {"type": "DataCategory", "id": Category(c).value}}
                for c in sorted(campaign)
            ]
        return {
            "principal": _division_uid(division),
            "action": {"type": "Action", "id": Action.READ.value},
            "resource": {"type": "DataCategory", "id": category.value},
            "context": context,
        }

    def _evaluate(self, requests: Sequence[dict[str, Any]], division: Division) -> list[Decision]:
        if not requests:
            return []
        results = cedarpy.is_authorized_batch(list(requests), self._policies, self._entities_for(division))
        return [self._decision(r) for r in results]

    def _decision(self, result: cedarpy.AuthzResult) -> Decision:
        errors = result.diagnostics.errors
        if errors:
            # Cedar skips a policy whose evaluation fails; a skipped forbid
            # could turn into an allow, so fail closed instead.
            failed = {self._ids.get(m, m) for e in errors for m in _ERROR_POLICY.findall(e)}
            return Decision(False, tuple(sorted(failed)))
        ids = tuple(sorted({self._ids.get(r, r) for r in result.diagnostics.reasons}))
        return Decision(result.allowed, ids)

    def _entities_for(self, division: Division) -> cedarpy.Entities:
        entities = self._entities.get(division)
        if entities is None:
            if len(self._entities) > 1024:  # ad hoc divisions (tests); the registry is small
                self._entities.clear()
            entities = cedarpy.Entities.from_json_str(json.dumps([_division_entity(division)]))
            self._entities[division] = entities
        return entities


class Readable(NamedTuple):
    """The customers a read allows: those whose `fields` of `Facts` equal one of `allowed`."""

    fields: frozenset[str]
    allowed: frozenset[Facts]


class MemoInfo(NamedTuple):
    """Decision memo statistics."""

    misses: int
    size: int


def _fields_getter(fields: frozenset[str]) -> Callable[[Facts], tuple[object, ...]]:
    """A fast function from `Facts` to the tuple of the fields the policies read."""
    if not fields:
        return lambda facts: ()
    getter = operator.attrgetter(*sorted(fields))
    if len(fields) == 1:
        return lambda facts: (getter(facts),)
    return getter  # attrgetter of 2+ names returns a tuple


def _unknown_names(residuals: object) -> set[str]:
    """Names of the `unknown("...")` calls left in residual policies (EST JSON)."""
    return set(_UNKNOWN_CALL.findall(json.dumps(residuals)))


def _division_uid(division: Division) -> dict[str, str]:
    return {"type": "Division", "id": division.id}


def _division_entity(division: Division) -> dict[str, Any]:
    return {
        "uid": _division_uid(division),
        "attrs": {
            "recipientClass": division.recipient_class.value,
            "ownCategory": division.own_category.value if division.own_category else "",
            "hasOwnCategory": division.own_category is not None,
            "purposes": sorted(p.value for p in division.purposes),
        },
        "parents": [],
    }
