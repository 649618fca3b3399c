"""All DataLoaders of one request, built together and never shared."""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.authz.model import Facts
from gateway.resolvers import billing, consent, customers, facts, services
from gateway.resolvers.database import Database
from gateway.resolvers.loader import DataLoader
from gateway.resolvers.rows import (
    AddressRow,
    ApprovalRow,
    ConfigurationRow,
    ContactRow,
    CustomerRow,
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


@dataclass
class Loaders:
    db: Database
    customer: DataLoader[int, CustomerRow | None] = field(init=False)
    contact: DataLoader[int, ContactRow | None] = field(init=False)
    address: DataLoader[tuple[int, str], AddressRow | None] = field(init=False)
    services: DataLoader[int, list[ServiceRow]] = field(init=False)
    configuration: DataLoader[int, ConfigurationRow | None] = field(init=False)
    usage: DataLoader[UsageKey, list[UsageRow]] = field(init=False)
    usage_summary: DataLoader[tuple[int, str], UsageSummaryRow | None] = field(init=False)
    last_location: DataLoader[int, list[DeviceLocationRow]] = field(init=False)
    invoices: DataLoader[tuple[int, int], list[InvoiceRow]] = field(init=False)
    balance: DataLoader[int, MoneyRow | None] = field(init=False)
    payment_method: DataLoader[int, PaymentMethodRow | None] = field(init=False)
    approval: DataLoader[tuple[int, str], ApprovalRow | None] = field(init=False)
    notices: DataLoader[int, list[NoticeRow]] = field(init=False)
    facts: DataLoader[int, Facts | None] = field(init=False)

    def __post_init__(self) -> None:
        db = self.db
        self.customer = DataLoader(lambda keys: customers.customers_by_id(db, keys))
        self.contact = DataLoader(lambda keys: customers.contacts_by_customer(db, keys))
        self.address = DataLoader(lambda keys: customers.addresses(db, keys))
        self.services = DataLoader(lambda keys: services.services_by_customer(db, keys))
        self.configuration = DataLoader(lambda keys: services.configurations(db, keys))
        self.usage = DataLoader(lambda keys: services.usage(db, keys))
        self.usage_summary = DataLoader(lambda keys: services.usage_summaries(db, keys))
        self.last_location = DataLoader(lambda keys: services.last_known_locations(db, keys))
        self.invoices = DataLoader(lambda keys: billing.invoices(db, keys))
        self.balance = DataLoader(lambda keys: billing.balances(db, keys))
        self.payment_method = DataLoader(lambda keys: billing.payment_methods(db, keys))
        self.approval = DataLoader(lambda keys: consent.latest_approvals(db, keys))
        self.notices = DataLoader(lambda keys: consent.notices(db, keys))
        self.facts = DataLoader(lambda keys: facts.facts_by_customer(db, keys))
