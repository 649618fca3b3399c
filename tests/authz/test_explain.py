"""`explain`: the decision, its policies, their citations and the facts."""

from __future__ import annotations

import json

from gateway.authz.decide import Authorizer
from gateway.authz.explain import explain
from gateway.authz.model import ApprovalStatus, Category, Facts, Purpose, ServiceCategory


def _facts(**changes: object) -> Facts:
    base = {
        "subscribed": frozenset({ServiceCategory.WIRELESS}),
        "terminated": False,
        "business": False,
        "cpni_approval": ApprovalStatus.NONE,
        "notice_in_window": False,
        "location_approved": False,
        "listing_published": True,
    }
    return Facts(**{**base, **changes})  # type: ignore[arg-type]


def test_allowed_with_citation(authz: Authorizer) -> None:
    fraud = authz.divisions["fraud_security"]
    result = explain(authz, fraud, Purpose.FRAUD_PROTECTION, Category.USAGE, _facts(), ServiceCategory.WIRELESS)
    assert result.allowed
    assert result.policy_ids == ("fraud-reads-all",)
    assert result.cites == ("47 U.S.C. 222(d)(2); 47 CFR 64.2005(d)",)
    assert result.summary == "allowed by fraud-reads-all"
    assert json.loads(json.dumps(result.facts)) == {
        "division": "fraud_security",
        "recipientClass": "CARRIER",
        "ownCategory": None,
        "purpose": "fraud_protection",
        "category": "USAGE",
        "serviceCategory": "WIRELESS",
        "campaignCategories": None,
        "regime": "opt_out",
        "subscribed": ["WIRELESS"],
        "terminated": False,
        "business": False,
        "cpniApproval": "NONE",
        "noticeInWindow": False,
        "locationApproved": False,
        "listingPublished": True,
    }


def test_denials_say_which_rule(authz: Authorizer) -> None:
    care = authz.divisions["customer_care"]
    default = explain(authz, care, Purpose.CUSTOMER_CARE, Category.LOCATION, _facts())
    assert not default.allowed and default.policy_ids == () and default.cites == ()
    assert default.summary == "denied: no policy permits it (Cedar's default deny)"
    wireless = authz.divisions["wireless"]
    forbidden = explain(authz, wireless, Purpose.MARKETING_SAME_CATEGORY, Category.USAGE, _facts(terminated=True))
    assert forbidden.policy_ids == ("terminated-no-marketing",)
    assert forbidden.cites == ("47 CFR 64.2005(a); SPEC 6.2 (terminated customers)",)
    assert forbidden.summary == "denied by terminated-no-marketing"
