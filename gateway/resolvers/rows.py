"""Plain rows the resolvers return; the GraphQL types read their attributes.

Every row that can carry protected data knows its ``customer_id`` (and, for
service-scoped data, ``service_category``): that is the scope the enforcement
extension authorizes before any field below it resolves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class CustomerRow:
    id: int
    account_number: str
    segment: str
    status: str
    name: str
    listed_phone: str | None

    @property
    def customer_id(self) -> int:
        return self.id

    service_category = None


@dataclass(frozen=True, slots=True)
class ContactRow:
    customer_id: int
    email: str | None
    contact_phone: str | None


@dataclass(frozen=True, slots=True)
class AddressRow:
    customer_id: int
    kind: str
    line1: str
    city: str
    state: str
    postal_code: str


@dataclass(frozen=True, slots=True)
class ServiceRow:
    id: int
    customer_id: int
    category: str
    plan: str
    status: str
    activated_at: datetime

    @property
    def service_category(self) -> str:
        return self.category


@dataclass(frozen=True, slots=True)
class ConfigurationRow:
    service_id: int
    customer_id: int
    features: list[str]
    equipment: str | None
    bandwidth_mbps: int | None
    ip_address: str | None


@dataclass(frozen=True, slots=True)
class UsageRow:
    customer_id: int
    service_id: int
    service_category: str
    started_at: datetime
    duration_seconds: int
    direction: str
    counterparty: str | None
    bytes: int | None
    cell_site: str | None


@dataclass(frozen=True, slots=True)
class DeviceLocationRow:
    """The most recent cell site one service's device was seen at (LOCATION of that service)."""

    customer_id: int
    service_id: int
    service_category: str
    cell_site: str | None
    seen_at: datetime


@dataclass(frozen=True, slots=True)
class UsageSummaryRow:
    month: str
    calls: int
    minutes: int
    bytes: int


@dataclass(frozen=True, slots=True)
class MoneyRow:
    amount_cents: int
    currency: str


@dataclass(frozen=True, slots=True)
class InvoiceRow:
    id: int
    customer_id: int
    period: str
    issued_at: datetime
    amount: MoneyRow
    status: str


@dataclass(frozen=True, slots=True)
class PaymentMethodRow:
    kind: str
    last4: str | None


@dataclass(frozen=True, slots=True)
class ApprovalRow:
    id: int
    customer_id: int
    status: str
    scope: str
    channel: str
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class NoticeRow:
    id: int
    customer_id: int
    sent_at: datetime
    method: str


@dataclass(frozen=True, slots=True)
class CampaignRow:
    id: str
    name: str
    description: str
    division: str
    purpose: str
    status: str
    categories: list[str]
    target_categories: list[str]
    starts_at: datetime
    ends_at: datetime
