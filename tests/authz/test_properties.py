"""Invariants of the decision, checked with hypothesis over random requests.

Forbid always wins; adding a forbid never turns a deny into an allow; the
memo and the unread facts never change an answer, nor do the facts a cell never reads.
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.authz.decide import Authorizer
from gateway.authz.model import (
    ApprovalStatus,
    Category,
    Division,
    Facts,
    Purpose,
    RecipientClass,
    Regime,
    ServiceCategory,
)
from gateway.authz.policy import PolicyBundle, load_policy
from gateway.authz.space import Point
from gateway.resolvers.facts import FIELD_MASKS, code_condition, decode, encode, facts_mask

_REGISTRY = list(load_policy().divisions.values())

divisions = st.one_of(
    st.sampled_from(_REGISTRY),
    st.builds(
        Division,
        id=st.sampled_from(["d1", "d2"]),
        recipient_class=st.sampled_from(RecipientClass),
        own_category=st.none() | st.sampled_from(ServiceCategory),
        purposes=st.frozensets(st.sampled_from(Purpose), min_size=1),
    ),
)
facts = st.builds(
    Facts,
    subscribed=st.frozensets(st.sampled_from(ServiceCategory)),
    terminated=st.booleans(),
    business=st.booleans(),
    cpni_approval=st.sampled_from(ApprovalStatus),
    notice_in_window=st.booleans(),
    location_approved=st.booleans(),
)


@st.composite
def requests(draw: st.DrawFn) -> tuple[Division, Purpose, Category, Facts, ServiceCategory | None, frozenset[Category] | None]:
    division = draw(divisions)
    # Mostly purposes the division may declare: the interesting part of the space.
    purpose = draw(st.sampled_from(sorted(division.purposes)) | st.sampled_from(Purpose))
    scope = draw(st.none() | st.sampled_from(ServiceCategory))
    campaign = draw(st.none() | st.frozensets(st.sampled_from(Category)))
    return division, purpose, draw(st.sampled_from(Category)), draw(facts), scope, campaign


Request = tuple[Division, Purpose, Category, Facts, ServiceCategory | None, frozenset[Category] | None]

_ATOMS = st.one_of(
    st.sampled_from(
        [
            "context.customer.terminated",
            "context.customer.business",
            "context.customer.noticeInWindow",
            "context.customer.locationApproved",
            "principal.hasOwnCategory",
            "context has serviceCategory",
        ]
    ),
    st.sampled_from(ApprovalStatus).map(lambda a: f'context.customer.cpniApproval == "{a.value}"'),
    st.sampled_from(Purpose).map(lambda p: f'context.purpose == "{p.value}"'),
    st.sampled_from(Category).map(lambda c: f'resource == DataCategory::"{c.value}"'),
    st.sampled_from(ServiceCategory).map(lambda s: f'context.customer.subscribed.contains("{s.value}")'),
    st.integers(0, 3).map(lambda n: f"context.customer.subscribedCount >= {n}"),
    st.sampled_from(RecipientClass).map(lambda r: f'principal.recipientClass == "{r.value}"'),
)
conditions = st.lists(st.tuples(st.booleans(), _ATOMS), min_size=1, max_size=3).flatmap(
    lambda atoms: st.sampled_from([" && ", " || "]).map(
        lambda join: join.join(f"!({a})" if negate else f"({a})" for negate, a in atoms)
    )
)


def _decide(authz: Authorizer, request: Request) -> tuple[bool, tuple[str, ...]]:
    division, purpose, category, fact, scope, campaign = request
    decision = authz.decide(division, purpose, category, fact, service_category=scope, campaign_categories=campaign)
    return decision.allowed, decision.policy_ids


def _with(bundle: PolicyBundle, extra: str) -> Authorizer:
    return Authorizer(replace(bundle, policies_text=bundle.policies_text + "\n" + extra), Regime.OPT_OUT)


_SLOW = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@_SLOW
@given(st.lists(requests(), min_size=1, max_size=20))
def test_forbid_always_wins(authz: Authorizer, batch: list[Request]) -> None:
    extended = _with(authz.bundle, '@id("forbid-everything")\n@cite("test")\nforbid (principal, action, resource);')
    for request in batch:
        allowed, ids = _decide(extended, request)
        assert not allowed
        assert "forbid-everything" in ids


@_SLOW
@given(conditions, st.lists(requests(), min_size=1, max_size=30))
def test_adding_a_forbid_never_turns_deny_into_allow(authz: Authorizer, condition: str, batch: list[Request]) -> None:
    extended = _with(
        authz.bundle,
        f'@id("extra-forbid")\n@cite("test")\nforbid (principal, action == Action::"read", resource)\nwhen {{ {condition} }};',
    )
    for request in batch:
        before, _ = _decide(authz, request)
        after, ids = _decide(extended, request)
        assert after <= before  # allowed after only if allowed before
        if before and not after:
            assert "extra-forbid" in ids


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(requests())
def test_memo_and_unread_facts_never_change_an_answer(authz: Authorizer, request: Request) -> None:
    division, purpose, category, fact, scope, campaign = request
    memoized = authz.decide(division, purpose, category, fact, service_category=scope, campaign_categories=campaign)
    # decide_many bypasses the memo: a fresh Cedar evaluation of the same input...
    fresh, flipped = authz.decide_many(
        division,
        purpose,
        category,
        [Point(fact, scope), Point(replace(fact, business=not fact.business), scope)],
        campaign_categories=campaign,
    )
    assert memoized == fresh
    # ...and the segment, which no policy reads, changes nothing.
    assert fresh == flipped
    if fresh.allowed:
        assert authz.may_ever(division, purpose, category, campaign_categories=campaign)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(requests())
def test_readable_facts_match_exactly_the_customers_the_decision_allows(authz: Authorizer, request: Request) -> None:
    # What a filter matches in SQL (gateway/resolvers/customers.py) must be
    # exactly what a field read of the same customer would be allowed.
    division, purpose, category, facts_, scope, campaign = request
    readable = authz.readable_facts(division, purpose, category, service_category=scope, campaign_categories=campaign)
    mask, codes = code_condition(readable.fields, readable.allowed)
    assert mask == sum(FIELD_MASKS[f] for f in readable.fields)
    matched = (encode(facts_) & mask) in codes
    decided = authz.decide(division, purpose, category, facts_, service_category=scope, campaign_categories=campaign)
    assert matched == decided.allowed


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(requests())
def test_facts_a_cell_never_reads_never_change_its_answer(authz: Authorizer, request: Request) -> None:
    # The planner loads only the facts the categories it decides read (`relevant_facts`,
    # gateway/plan/execute.py): whatever the rest are, the category's decision is the same.
    division, purpose, category, fact, scope, campaign = request
    reads = authz.relevant_facts(division, purpose, category, campaign_categories=campaign)
    loaded = decode(encode(fact) & facts_mask(reads))
    full, partial = authz.decide_many(
        division, purpose, category, [Point(fact, scope), Point(loaded, scope)], campaign_categories=campaign
    )
    assert partial == full
