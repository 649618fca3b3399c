"""Decisions through Cedar: the default policy, guards and the memo."""

from __future__ import annotations

from dataclasses import replace

import cedarpy
import pytest

from gateway.authz.decide import Authorizer
from gateway.authz.model import (
    Action,
    ApprovalStatus,
    Category,
    Decision,
    Facts,
    Purpose,
    Regime,
    ServiceCategory,
)
from gateway.authz.policy import load_policy

W = ServiceCategory.WIRELESS
L = ServiceCategory.LOCAL


def facts(
    *subscribed: ServiceCategory,
    approval: ApprovalStatus = ApprovalStatus.NONE,
    notice: bool = False,
    location: bool = False,
    terminated: bool = False,
    business: bool = False,
    published: bool = True,
) -> Facts:
    return Facts(frozenset(subscribed), terminated, business, approval, notice, location, published)


def test_fraud_reads_usage_of_opted_out_customer(authz: Authorizer) -> None:
    fraud = authz.divisions["fraud_security"]
    opted_out = facts(W, approval=ApprovalStatus.OPT_OUT)
    assert authz.decide(fraud, Purpose.FRAUD_PROTECTION, Category.USAGE, opted_out) == Decision(
        True, ("fraud-reads-all",)
    )
    refused = authz.decide(fraud, Purpose.MARKETING_CROSS_CATEGORY, Category.USAGE, opted_out)
    assert refused == Decision(False, ("purpose-not-declared",))


def test_public_is_readable_for_any_declared_purpose(authz: Authorizer) -> None:
    for division in authz.divisions.values():
        for purpose in division.purposes:
            decision = authz.decide(division, purpose, Category.PUBLIC, facts(terminated=True))
            assert decision.allowed, (division.id, purpose)


def test_provisioning_sees_own_services_only(authz: Authorizer) -> None:
    wireless = authz.divisions["wireless"]
    both = facts(W, L)
    own = authz.decide(wireless, Purpose.PROVISIONING, Category.USAGE, both, service_category=W)
    other = authz.decide(wireless, Purpose.PROVISIONING, Category.USAGE, both, service_category=L)
    whole_list = authz.decide(wireless, Purpose.PROVISIONING, Category.SERVICE, both)
    assert own.allowed and whole_list.allowed
    assert other == Decision(False, ("provisioning-own-services-only",))


def test_campaign_scope_limits_categories(authz: Authorizer) -> None:
    marketing = authz.divisions["marketing"]
    approved = facts(L, approval=ApprovalStatus.OPT_IN)
    campaign = frozenset({Category.USAGE})
    usage = authz.decide(
        marketing, Purpose.MARKETING_CROSS_CATEGORY, Category.USAGE, approved, campaign_categories=campaign
    )
    billing = authz.decide(
        marketing, Purpose.MARKETING_CROSS_CATEGORY, Category.BILLING, approved, campaign_categories=campaign
    )
    public = authz.decide(
        marketing, Purpose.MARKETING_CROSS_CATEGORY, Category.PUBLIC, approved, campaign_categories=campaign
    )
    assert usage.allowed and public.allowed
    assert billing == Decision(False, ("campaign-scope",))


def test_operations(authz: Authorizer) -> None:
    d = authz.divisions
    assert authz.may_perform(d["customer_care"], Purpose.CUSTOMER_CARE, Action.RECORD_CPNI_APPROVAL).allowed
    assert authz.may_perform(d["customer_care"], Purpose.CUSTOMER_CARE, Action.RECORD_CPNI_NOTICE).allowed
    assert not authz.may_perform(d["marketing"], Purpose.MARKETING_CROSS_CATEGORY, Action.RECORD_CPNI_APPROVAL).allowed
    assert authz.may_perform(d["wireless"], Purpose.MARKETING_SAME_CATEGORY, Action.CREATE_CAMPAIGN).allowed
    assert not authz.may_perform(d["wireless"], Purpose.PROVISIONING, Action.CREATE_CAMPAIGN).allowed
    for action in (Action.APPROVE_CAMPAIGN, Action.READ_AUDIT, Action.EXPLAIN_ACCESS):
        assert authz.may_perform(d["privacy_office"], Purpose.COMPLIANCE_AUDIT, action).allowed
        assert not authz.may_perform(d["customer_care"], Purpose.CUSTOMER_CARE, action).allowed
    with pytest.raises(ValueError):
        authz.may_perform(d["privacy_office"], Purpose.COMPLIANCE_AUDIT, Action.READ)


def test_may_ever(authz: Authorizer) -> None:
    d = authz.divisions
    assert authz.may_ever(d["marketing"], Purpose.MARKETING_CROSS_CATEGORY, Category.SERVICE)
    assert not authz.may_ever(d["marketing"], Purpose.MARKETING_CROSS_CATEGORY, Category.PAYMENT)
    assert not authz.may_ever(d["dex_directory"], Purpose.DIRECTORY_PUBLISHING, Category.SERVICE)
    assert authz.may_ever(d["wireless"], Purpose.PROVISIONING, Category.SERVICE)
    assert not authz.may_ever(
        d["marketing"],
        Purpose.MARKETING_CROSS_CATEGORY,
        Category.SERVICE,
        campaign_categories=frozenset({Category.USAGE}),
    )


def test_second_identical_decision_does_not_call_cedar(monkeypatch: pytest.MonkeyPatch) -> None:
    authz = Authorizer(load_policy(), Regime.OPT_OUT)
    calls: list[int] = []
    real = cedarpy.is_authorized_batch

    def counting(requests: list[dict[str, object]], *args: object, **kwargs: object) -> object:
        calls.append(len(requests))
        return real(requests, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(cedarpy, "is_authorized_batch", counting)
    care = authz.divisions["customer_care"]
    residential = facts(W, approval=ApprovalStatus.OPT_OUT)
    business = facts(W, approval=ApprovalStatus.OPT_OUT, business=True)
    first = authz.decide(care, Purpose.CUSTOMER_CARE, Category.USAGE, residential)
    second = authz.decide(care, Purpose.CUSTOMER_CARE, Category.USAGE, residential)
    # No policy reads the segment, so a business customer with the same facts hits the memo too.
    third = authz.decide(care, Purpose.CUSTOMER_CARE, Category.USAGE, business)
    assert first == second == third
    assert calls == [1]
    other = authz.decide(care, Purpose.CUSTOMER_CARE, Category.LOCATION, residential)
    assert not other.allowed
    assert calls == [1, 1]


def test_memo_is_per_authorizer() -> None:
    bundle = load_policy()
    a, b = Authorizer(bundle, Regime.OPT_OUT), Authorizer(bundle, Regime.OPT_IN)
    marketing = a.divisions["marketing"]
    noticed = facts(L, notice=True)
    assert a.decide(marketing, Purpose.MARKETING_CROSS_CATEGORY, Category.USAGE, noticed).allowed
    assert not b.decide(marketing, Purpose.MARKETING_CROSS_CATEGORY, Category.USAGE, noticed).allowed


def test_memo_tells_a_look_alike_division_from_the_registry_one(authz: Authorizer) -> None:
    wireless = authz.divisions["wireless"]
    impostor = replace(wireless, purposes=frozenset({Purpose.FRAUD_PROTECTION}))
    customer = facts(W)
    assert authz.decide(wireless, Purpose.PROVISIONING, Category.USAGE, customer).allowed
    denied = authz.decide(impostor, Purpose.PROVISIONING, Category.USAGE, customer)
    assert denied == Decision(False, ("purpose-not-declared",))


def test_cache_info_counts_cedar_evaluations() -> None:
    authz = Authorizer(load_policy(), Regime.OPT_OUT)
    care = authz.divisions["customer_care"]
    for _ in range(3):
        authz.decide(care, Purpose.CUSTOMER_CARE, Category.BILLING, facts(L))
    assert authz.cache_info() == (1, 1)
