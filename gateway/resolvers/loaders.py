"""All DataLoaders of one request, built together and never shared."""

from __future__ import annotations

from functools import cached_property

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


class Loaders:
    """The request's DataLoaders, each made on first use (a planned request uses none of them)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @cached_property
    def customer(self) -> DataLoader[int, CustomerRow | None]:
        return DataLoader(lambda keys: customers.customers_by_id(self.db, keys))

    @cached_property
    def contact(self) -> DataLoader[int, ContactRow | None]:
        return DataLoader(lambda keys: customers.contacts_by_customer(self.db, keys))

    @cached_property
    def address(self) -> DataLoader[tuple[int, str], AddressRow | None]:
        return DataLoader(lambda keys: customers.addresses(self.db, keys))

    @cached_property
    def services(self) -> DataLoader[int, list[ServiceRow]]:
        return DataLoader(lambda keys: services.services_by_customer(self.db, keys))

    @cached_property
    def configuration(self) -> DataLoader[int, ConfigurationRow | None]:
        return DataLoader(lambda keys: services.configurations(self.db, keys))

    @cached_property
    def usage(self) -> DataLoader[UsageKey, list[UsageRow]]:
        return DataLoader(lambda keys: services.usage(self.db, keys))

    @cached_property
    def usage_summary(self) -> DataLoader[tuple[int, str], UsageSummaryRow | None]:
        return DataLoader(lambda keys: services.usage_summaries(self.db, keys))

    @cached_property
    def last_location(self) -> DataLoader[int, list[DeviceLocationRow]]:
        return DataLoader(lambda keys: services.last_known_locations(self.db, keys))

    @cached_property
    def invoices(self) -> DataLoader[tuple[int, int], list[InvoiceRow]]:
        return DataLoader(lambda keys: billing.invoices(self.db, keys))

    @cached_property
    def balance(self) -> DataLoader[int, MoneyRow | None]:
        return DataLoader(lambda keys: billing.balances(self.db, keys))

    @cached_property
    def payment_method(self) -> DataLoader[int, PaymentMethodRow | None]:
        return DataLoader(lambda keys: billing.payment_methods(self.db, keys))

    @cached_property
    def approval(self) -> DataLoader[tuple[int, str], ApprovalRow | None]:
        return DataLoader(lambda keys: consent.latest_approvals(self.db, keys))

    @cached_property
    def notices(self) -> DataLoader[int, list[NoticeRow]]:
        return DataLoader(lambda keys: consent.notices(self.db, keys))

    @cached_property
    def facts(self) -> DataLoader[int, Facts | None]:
        return DataLoader(lambda keys: facts.facts_by_customer(self.db, keys))
