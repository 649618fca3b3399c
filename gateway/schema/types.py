"""The customer account graph (SPEC section 5), each field with its data category."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from gateway.authz.model import Category
from gateway.resolvers.rows import (
    AddressRow,
    ApprovalRow,
    ConfigurationRow,
    DeviceLocationRow,
    InvoiceRow,
    MoneyRow,
    NoticeRow,
    PaymentMethodRow,
    ServiceRow,
    UsageRow,
    UsageSummaryRow,
)
from gateway.resolvers.services import UsageKey
from gateway.schema.categories import categorized, field
from gateway.schema.errors import BadUserInputError
from gateway.schema.lookups import page_size
from gateway.schema.scalars import (
    ApprovalScope,
    BigInt,
    CpniApprovalStatus,
    CustomerStatus,
    Direction,
    InvoiceStatus,
    NoticeMethod,
    PaymentKind,
    Segment,
    ServiceCategory,
    ServiceStatus,
    current_month,
    is_month,
)

PUBLIC, SUBSCRIBER_LIST, CONTACT = Category.PUBLIC, Category.SUBSCRIBER_LIST, Category.CONTACT
SERVICE, CONFIGURATION, USAGE = Category.SERVICE, Category.CONFIGURATION, Category.USAGE
LOCATION, BILLING, PAYMENT, CONSENT = Category.LOCATION, Category.BILLING, Category.PAYMENT, Category.CONSENT


@strawberry.type(description="A postal address.")
@categorized(None)
class Address:
    line1: str = field(None)
    city: str = field(None)
    state: str = field(None)
    postal_code: str = field(None)


@strawberry.type(description="An amount of money in minor units.")
@categorized(BILLING)
class Money:
    amount_cents: BigInt = field(BILLING)
    currency: str = field(BILLING)


@strawberry.type(description="Technical configuration of one service (CPNI).")
@categorized(CONFIGURATION)
class ServiceConfiguration:
    features: list[str] = field(CONFIGURATION)
    equipment: str | None = field(CONFIGURATION)
    bandwidth_mbps: int | None = field(CONFIGURATION)
    ip_address: str | None = field(CONFIGURATION)


@strawberry.type(description="One call or data session (call detail: CPNI).")
@categorized(USAGE)
class UsageRecord:
    started_at: datetime = field(USAGE)
    duration_seconds: int = field(USAGE)
    direction: Direction = field(USAGE)
    counterparty: str | None = field(USAGE)
    bytes: BigInt | None = field(USAGE)
    cell_site: str | None = field(
        LOCATION, enforce=True, service_scoped=True, description="Where the device was."
    )


@strawberry.type(description="Usage totals of one service in one month.")
@categorized(USAGE)
class UsageSummary:
    month: str = field(USAGE)
    calls: int = field(USAGE)
    minutes: int = field(USAGE)
    bytes: BigInt = field(USAGE)


@strawberry.type(description="Where the device of one service was last seen: its newest cell site (LOCATION).")
@categorized(LOCATION)
class DeviceLocation:
    service_id: strawberry.ID = field(PUBLIC)
    service_category: ServiceCategory = field(PUBLIC)
    cell_site: str | None = field(LOCATION, description="The cell site.")
    seen_at: datetime = field(LOCATION, description="When the device was seen there.")


@strawberry.type(description="A service the customer buys.")
@categorized(SERVICE)
class Service:
    id: strawberry.ID = field(PUBLIC)
    category: ServiceCategory = field(PUBLIC)
    plan: str | None = field(SERVICE)
    status: ServiceStatus | None = field(SERVICE)
    activated_at: datetime | None = field(SERVICE)

    @field(CONFIGURATION, enforce=True, service_scoped=True)  # type: ignore[untyped-decorator]
    async def configuration(self: Any, info: Info) -> ServiceConfiguration | None:
        row: ConfigurationRow | None = await info.context.loaders.configuration.load(self.id)
        return row  # type: ignore[return-value]

    @field(USAGE, enforce=True, service_scoped=True)  # type: ignore[untyped-decorator]
    async def usage(
        self: Any,
        info: Info,
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        to: datetime | None = None,
        first: int | None = 50,
    ) -> list[UsageRecord] | None:
        first = page_size(50 if first is None else first, info.context.max_usage_page, "first")
        service: ServiceRow = self
        rows: list[UsageRow] = await info.context.loaders.usage.load(
            UsageKey(service.id, service.category, from_, to, first)
        )
        return rows  # type: ignore[return-value]

    @field(USAGE, enforce=True, service_scoped=True)  # type: ignore[untyped-decorator]
    async def usage_summary(self: Any, info: Info, month: str | None = None) -> UsageSummary | None:
        if month is None:
            month = current_month()
        elif not is_month(month):
            raise BadUserInputError("`month` must be YYYY-MM")
        row: UsageSummaryRow | None = await info.context.loaders.usage_summary.load((self.id, month))
        return row  # type: ignore[return-value]


@strawberry.type(description="A monthly invoice.")
@categorized(BILLING)
class Invoice:
    id: strawberry.ID = field(PUBLIC)
    period: str = field(BILLING)
    issued_at: datetime = field(BILLING)
    amount: Money = field(BILLING)
    status: InvoiceStatus = field(BILLING)


@strawberry.type(description="The payment instrument: its kind and last four digits only.")
@categorized(PAYMENT)
class PaymentMethod:
    kind: PaymentKind = field(PAYMENT)
    last4: str | None = field(PAYMENT)


@strawberry.type(description="A CPNI approval record (64.2007).")
@categorized(CONSENT)
class CpniApproval:
    status: CpniApprovalStatus = field(CONSENT)
    scope: ApprovalScope = field(CONSENT)
    channel: str = field(CONSENT)
    recorded_at: datetime = field(CONSENT)


@strawberry.type(description="An opt-out notice sent to the customer (64.2008).")
@categorized(CONSENT)
class CpniNotice:
    id: strawberry.ID = field(PUBLIC)
    sent_at: datetime = field(CONSENT)
    method: NoticeMethod = field(CONSENT)


@strawberry.type(description="A customer account: one node of the unified graph.")
@categorized(PUBLIC)
class Customer:
    id: strawberry.ID = field(PUBLIC)
    account_number: str = field(PUBLIC)
    segment: Segment = field(PUBLIC)
    status: CustomerStatus = field(PUBLIC)
    name: str | None = field(SUBSCRIBER_LIST, enforce=True, description="Published name.")
    listed_phone: str | None = field(
        SUBSCRIBER_LIST, enforce=True, description="Published number; null when non-published."
    )

    @field(SUBSCRIBER_LIST, enforce=True)  # type: ignore[untyped-decorator]
    async def service_address(self: Any, info: Info) -> Address | None:
        row: AddressRow | None = await info.context.loaders.address.load((self.id, "SERVICE"))
        return row  # type: ignore[return-value]

    @field(CONTACT, enforce=True)  # type: ignore[untyped-decorator]
    async def email(self: Any, info: Info) -> str | None:
        row = await info.context.loaders.contact.load(self.id)
        return row.email if row else None

    @field(CONTACT, enforce=True, description="Contact number, possibly non-published.")  # type: ignore[untyped-decorator]
    async def contact_phone(self: Any, info: Info) -> str | None:
        row = await info.context.loaders.contact.load(self.id)
        return row.contact_phone if row else None

    @field(CONTACT, enforce=True)  # type: ignore[untyped-decorator]
    async def billing_address(self: Any, info: Info) -> Address | None:
        row: AddressRow | None = await info.context.loaders.address.load((self.id, "BILLING"))
        return row  # type: ignore[return-value]

    @field(  # type: ignore[untyped-decorator]
        SERVICE, enforce=True, per_item_service=True, description="Services the caller may see for its purpose."
    )
    async def services(self: Any, info: Info) -> list[Service] | None:
        rows: list[ServiceRow] = await info.context.loaders.services.load(self.id)
        decisions = info.context.decisions
        visible = []
        for row in rows:
            # A service outside the caller's relationship is left out, not an error.
            if (await decisions.check(row.customer_id, SERVICE, row.category)).allowed:
                visible.append(row)
        return visible  # type: ignore[return-value]

    @field(  # type: ignore[untyped-decorator]
        LOCATION,
        enforce=True,
        per_item_service=True,
        description="The newest cell site of each of the customer's services that has one; a service the "
        "caller may not see the location of is left out.",
    )
    async def last_known_location(self: Any, info: Info) -> list[DeviceLocation] | None:
        rows: list[DeviceLocationRow] = await info.context.loaders.last_location.load(self.id)
        decisions = info.context.decisions
        visible = []
        for row in rows:
            # Each device is location data of its own service (like UsageRecord.cellSite).
            if (await decisions.check(row.customer_id, LOCATION, row.service_category)).allowed:
                visible.append(row)
        return visible  # type: ignore[return-value]

    @field(BILLING, enforce=True)  # type: ignore[untyped-decorator]
    async def invoices(self: Any, info: Info, last: int | None = 12) -> list[Invoice] | None:
        last = page_size(12 if last is None else last, info.context.max_page_size, "last")
        rows: list[InvoiceRow] = await info.context.loaders.invoices.load((self.id, last))
        return rows  # type: ignore[return-value]

    @field(BILLING, enforce=True)  # type: ignore[untyped-decorator]
    async def balance(self: Any, info: Info) -> Money | None:
        row: MoneyRow | None = await info.context.loaders.balance.load(self.id)
        return row  # type: ignore[return-value]

    @field(PAYMENT, enforce=True)  # type: ignore[untyped-decorator]
    async def payment_method(self: Any, info: Info) -> PaymentMethod | None:
        row: PaymentMethodRow | None = await info.context.loaders.payment_method.load(self.id)
        return row  # type: ignore[return-value]

    @field(CONSENT, enforce=True, description="Latest CPNI-scope approval.")  # type: ignore[untyped-decorator]
    async def cpni_approval(self: Any, info: Info) -> CpniApproval | None:
        row: ApprovalRow | None = await info.context.loaders.approval.load((self.id, "CPNI"))
        return row  # type: ignore[return-value]

    @field(CONSENT, enforce=True, description="Latest LOCATION-scope approval.")  # type: ignore[untyped-decorator]
    async def location_approval(self: Any, info: Info) -> CpniApproval | None:
        row: ApprovalRow | None = await info.context.loaders.approval.load((self.id, "LOCATION"))
        return row  # type: ignore[return-value]

    @field(CONSENT, enforce=True)  # type: ignore[untyped-decorator]
    async def cpni_notices(self: Any, info: Info) -> list[CpniNotice] | None:
        rows: list[NoticeRow] = await info.context.loaders.notices.load(self.id)
        return rows  # type: ignore[return-value]
