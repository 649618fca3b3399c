"""Plain rows the resolvers return; the GraphQL types read their attributes.

Immutable named tuples: a request builds hundreds of rows, and a tuple is
made about three times faster than a frozen dataclass.

Every row that can carry protected data knows its ``customer_id`` (and, for
service-scoped data, ``service_category``): that is the scope the enforcement
extension authorizes before any field below it resolves.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple


class CustomerRow(NamedTuple):
    id: int
    account_number: str
    segment: str
    status: str
    name: str
    listed_phone: str | None

    @property
    def customer_id(self) -> int:
        return self.id

    @property
    def service_category(self) -> None:
        """A customer is in no service's scope (the planner's boundaries ask every source for one)."""
        return None


class ContactRow(NamedTuple):
    customer_id: int
    email: str | None
    contact_phone: str | None


class AddressRow(NamedTuple):
    customer_id: int
    kind: str
    line1: str
    city: str
    state: str
    postal_code: str


class ServiceRow(NamedTuple):
    id: int
    customer_id: int
    category: str
    plan: str
    status: str
    activated_at: datetime

    @property
    def service_category(self) -> str:
        return self.category


class ConfigurationRow(NamedTuple):
    service_id: int
    customer_id: int
    features: list[str]
    equipment: str | None
    bandwidth_mbps: int | None
    ip_address: str | None


class UsageRow(NamedTuple):
    customer_id: int
    service_id: int
    service_category: str
    started_at: datetime
    duration_seconds: int
    direction: str
    counterparty: str | None
    bytes: int | None
    cell_site: str | None


class DeviceLocationRow(NamedTuple):
    """The most recent cell site one service's device was seen at (LOCATION of that service)."""

    customer_id: int
    service_id: int
    service_category: str
    cell_site: str | None
    seen_at: datetime


class UsageSummaryRow(NamedTuple):
    month: str
    calls: int
    minutes: int
    bytes: int


class MoneyRow(NamedTuple):
    amount_cents: int
    currency: str


class InvoiceRow(NamedTuple):
    id: int
    customer_id: int
    period: str
    issued_at: datetime
    amount: MoneyRow
    status: str


class PaymentMethodRow(NamedTuple):
    kind: str
    last4: str | None


class ApprovalRow(NamedTuple):
    id: int
    customer_id: int
    status: str
    scope: str
    channel: str
    recorded_at: datetime


class NoticeRow(NamedTuple):
    id: int
    customer_id: int
    sent_at: datetime
    method: str


class CampaignRow(NamedTuple):
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
