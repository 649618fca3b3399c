"""The vocabulary of an authorization decision.

Plain values only: this module imports nothing of the project, so every other
part of the gateway can depend on it. The names and string values are public
(they appear in the GraphQL schema, the Cedar policies, tokens and the audit
trail), so keep them exactly as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Category(StrEnum):
    """Data category of a field (SPEC section 5); values are the names."""

    PUBLIC = "PUBLIC"
    SUBSCRIBER_LIST = "SUBSCRIBER_LIST"
    CONTACT = "CONTACT"
    SERVICE = "SERVICE"
    CONFIGURATION = "CONFIGURATION"
    USAGE = "USAGE"
    LOCATION = "LOCATION"
    BILLING = "BILLING"
    PAYMENT = "PAYMENT"
    CONSENT = "CONSENT"

    @property
    def service_scoped(self) -> bool:
        """True for data that belongs to one service (and so has a service category)."""
        return self in SERVICE_SCOPED


# Data that describes one service: a decision about it may depend on the
# category of that service (total service approach, own-services provisioning).
SERVICE_SCOPED: frozenset[Category] = frozenset(
    {Category.SERVICE, Category.CONFIGURATION, Category.USAGE, Category.LOCATION}
)


class Purpose(StrEnum):
    """Declared purpose of use (SPEC 6.1); values are lower case as in `X-Purpose`."""

    PROVISIONING = "provisioning"
    BILLING_COLLECTION = "billing_collection"
    CUSTOMER_CARE = "customer_care"
    FRAUD_PROTECTION = "fraud_protection"
    EMERGENCY = "emergency"
    DIRECTORY_PUBLISHING = "directory_publishing"
    MARKETING_SAME_CATEGORY = "marketing_same_category"
    MARKETING_CROSS_CATEGORY = "marketing_cross_category"
    MARKETING_NON_COMM = "marketing_non_comm"
    THIRD_PARTY_MARKETING = "third_party_marketing"
    ANALYTICS_AGGREGATE = "analytics_aggregate"
    COMPLIANCE_AUDIT = "compliance_audit"

    @property
    def is_marketing(self) -> bool:
        """True for the four marketing purposes (they need an approved campaign)."""
        return self in MARKETING_PURPOSES


MARKETING_PURPOSES: frozenset[Purpose] = frozenset(
    {
        Purpose.MARKETING_SAME_CATEGORY,
        Purpose.MARKETING_CROSS_CATEGORY,
        Purpose.MARKETING_NON_COMM,
        Purpose.THIRD_PARTY_MARKETING,
    }
)


class ServiceCategory(StrEnum):
    """Category of service (64.2005); values are the names."""

    LOCAL = "LOCAL"
    LONG_DISTANCE = "LONG_DISTANCE"
    WIRELESS = "WIRELESS"
    INTERNET = "INTERNET"
    VIDEO = "VIDEO"


class RecipientClass(StrEnum):
    """Who a division is, relative to the carrier (64.2007)."""

    CARRIER = "CARRIER"
    AFFILIATE_COMM = "AFFILIATE_COMM"
    AFFILIATE_NONCOMM = "AFFILIATE_NONCOMM"
    THIRD_PARTY = "THIRD_PARTY"


class Regime(StrEnum):
    """`CPNI_GATEWAY_REGIME`: the FCC's 2002 opt-out rules or the AGs' opt-in position."""

    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"


class ApprovalStatus(StrEnum):
    """Status of the latest approval record of one scope (NONE when there is none)."""

    OPT_IN = "OPT_IN"
    OPT_OUT = "OPT_OUT"
    NONE = "NONE"


class Action(StrEnum):
    """Cedar actions: `read` for customer data, one per privileged operation."""

    READ = "read"
    RECORD_CPNI_APPROVAL = "recordCpniApproval"
    RECORD_CPNI_NOTICE = "recordCpniNotice"
    CREATE_CAMPAIGN = "createCampaign"
    APPROVE_CAMPAIGN = "approveCampaign"
    READ_AUDIT = "auditEvents"
    EXPLAIN_ACCESS = "explainAccess"


@dataclass(frozen=True)
class Division:
    """A calling division, as the registry `policies/divisions.toml` describes it."""

    id: str
    recipient_class: RecipientClass
    own_category: ServiceCategory | None
    purposes: frozenset[Purpose]


@dataclass(frozen=True)
class Facts:
    """What the policy may know about one customer, loaded per request by the caller.

    Never cache these across requests: a consent change applies to the very
    next request (SPEC 6.3).
    """

    subscribed: frozenset[ServiceCategory]  # categories with an ACTIVE or SUSPENDED service
    terminated: bool
    business: bool  # segment BUSINESS
    cpni_approval: ApprovalStatus  # latest CPNI-scope approval, NONE if none
    # an opt-out notice sent >= 30 days (mailed: 30 days from the 3rd day after
    # mailing) and < 2 years ago
    notice_in_window: bool
    location_approved: bool  # latest LOCATION-scope approval is OPT_IN
    # The customer's listing is published (a listed number): only then are the
    # name, number and service address subscriber list information (222(h)(3)).
    listing_published: bool


@dataclass(frozen=True)
class Decision:
    """Allow or deny, with the determining policy ids (Cedar `diagnostics.reason`).

    A deny with no policy ids is Cedar's default deny: no permit applied.
    """

    allowed: bool
    policy_ids: tuple[str, ...]


# The members by value (a lookup that never raises, without the enum's private map).
PURPOSES_BY_VALUE: dict[str, Purpose] = {p.value: p for p in Purpose}
CATEGORIES_BY_VALUE: dict[str, Category] = {c.value: c for c in Category}
