"""SPEC section 5: the graph's public names, categories and bounded SQL round trips."""

from __future__ import annotations

import re

import asyncpg
import pytest
import strawberry
from graphql import GraphQLEnumType, GraphQLInputObjectType, GraphQLObjectType
from graphql import build_schema as build_sdl

from gateway.authz.model import Category
from gateway.schema import build_schema, graphql_schema
from gateway.schema.categories import categorized, field
from gateway.schema.check import SchemaCategoryError, check_categories
from tests.e2e.conftest import Gateway
from tests.factories import make_customer

# The minimum schema of SPEC section 5, verbatim: these names are public interface.
SPEC_SDL = '''
type Query {
  customer(id: ID!): Customer
  customerByPhone(phone: String!): Customer
  customers(first: Int = 20, after: String, filter: CustomerFilter): CustomerConnection!
  me: Caller!
  auditEvents(first: Int = 50, after: String, filter: AuditFilter): AuditEventConnection!
  explainAccess(division: ID!, purpose: Purpose!, customerId: ID!, field: String!,
                serviceId: ID, campaignId: ID): AccessExplanation!
}
type Mutation {
  recordCpniApproval(input: CpniApprovalInput!): CpniApproval!
  recordCpniNotice(input: CpniNoticeInput!): CpniNotice!
  createCampaign(input: CampaignInput!): Campaign!
  approveCampaign(id: ID!): Campaign!
}
type Customer {
  id: ID!  accountNumber: String!  segment: Segment!  status: CustomerStatus!
  name: String  listedPhone: String  serviceAddress: Address
  email: String  contactPhone: String  billingAddress: Address
  services: [Service!]
  invoices(last: Int = 12): [Invoice!]  balance: Money
  paymentMethod: PaymentMethod
  cpniApproval: CpniApproval  locationApproval: CpniApproval
  cpniNotices: [CpniNotice!]
  lastKnownLocation: [DeviceLocation!]
}
type Address { line1: String!  city: String!  state: String!  postalCode: String! }
type Service {
  id: ID!  category: ServiceCategory!
  plan: String  status: ServiceStatus  activatedAt: DateTime
  configuration: ServiceConfiguration
  usage(from: DateTime, to: DateTime, first: Int = 50): [UsageRecord!]
  usageSummary(month: String): UsageSummary
}
type ServiceConfiguration { features: [String!]!  equipment: String  bandwidthMbps: Int  ipAddress: String }
type UsageRecord { startedAt: DateTime!  durationSeconds: Int!  direction: Direction!
                   counterparty: String  bytes: BigInt
                   cellSite: String }
type UsageSummary { month: String!  calls: Int!  minutes: Int!  bytes: BigInt! }
type DeviceLocation { serviceId: ID!  serviceCategory: ServiceCategory!  cellSite: String  seenAt: DateTime! }
type Invoice { id: ID!  period: String!  issuedAt: DateTime!  amount: Money!  status: InvoiceStatus! }
type Money { amountCents: BigInt!  currency: String! }
type PaymentMethod { kind: PaymentKind!  last4: String }
type CpniApproval { status: CpniApprovalStatus!  scope: ApprovalScope!  channel: String!  recordedAt: DateTime! }
type CpniNotice { id: ID!  sentAt: DateTime!  method: NoticeMethod! }
type Campaign { id: ID!  name: String!  division: ID!  purpose: Purpose!  status: CampaignStatus!
                categories: [DataCategory!]!  startsAt: DateTime!  endsAt: DateTime! }
type Caller { client: String!  division: ID!  purpose: Purpose!  purposes: [Purpose!]! }
type AuditEvent { id: ID!  at: DateTime!  requestId: String!  client: String!  division: ID!
                  purpose: Purpose!  campaignId: ID  operationName: String  customerId: ID
                  disclosed: [DataCategory!]!  denied: [DataCategory!]!  policyIds: [String!]! }
type AccessExplanation { allowed: Boolean!  serviceId: ID  policyIds: [String!]!  cites: [String!]!  facts: JSON!
                         services: [AccessExplanation!]! }
input CustomerFilter { segment: Segment  status: CustomerStatus  state: String  namePrefix: String
                       serviceCategory: ServiceCategory }
input CpniApprovalInput { customerId: ID!  status: CpniApprovalStatus!  scope: ApprovalScope = CPNI  channel: String! }
input CpniNoticeInput { customerId: ID!  sentAt: DateTime!  method: NoticeMethod! }
input CampaignInput { name: String!  description: String!  purpose: Purpose!  categories: [DataCategory!]!
                      targetCategories: [ServiceCategory!]  startsAt: DateTime!  endsAt: DateTime! }
enum ServiceCategory { LOCAL LONG_DISTANCE WIRELESS INTERNET VIDEO }
enum Segment { RESIDENTIAL BUSINESS }
enum CustomerStatus { ACTIVE TERMINATED }
enum CpniApprovalStatus { OPT_IN OPT_OUT NONE }
enum ApprovalScope { CPNI LOCATION }
enum NoticeMethod { MAIL EMAIL }
enum ServiceStatus { ACTIVE SUSPENDED DISCONNECTED }
enum Purpose { PROVISIONING BILLING_COLLECTION CUSTOMER_CARE FRAUD_PROTECTION EMERGENCY
               DIRECTORY_PUBLISHING MARKETING_SAME_CATEGORY MARKETING_CROSS_CATEGORY
               MARKETING_NON_COMM THIRD_PARTY_MARKETING ANALYTICS_AGGREGATE COMPLIANCE_AUDIT }
enum DataCategory { PUBLIC SUBSCRIBER_LIST CONTACT SERVICE CONFIGURATION USAGE LOCATION
                    BILLING PAYMENT CONSENT }
'''

SCALARS = "scalar DateTime scalar BigInt scalar JSON "
STUBS = (
    "type CustomerConnection { x: Int } type AuditEventConnection { x: Int } input AuditFilter { x: Int } "
    "enum Direction { X } enum InvoiceStatus { X } enum PaymentKind { X } enum CampaignStatus { X } "
)


def spec_schema():  # type: ignore[no-untyped-def]
    return build_sdl(SCALARS + STUBS + SPEC_SDL)


def spec_entries() -> list[tuple[str, str, str]]:
    """(type, field or value, printed type) for every name SPEC section 5 fixes."""
    entries = []
    for name in re.findall(r"^(?:type|input|enum) (\w+)", SPEC_SDL, flags=re.M):
        t = spec_schema().type_map[name]
        if isinstance(t, GraphQLEnumType):
            entries += [(name, v, "enum") for v in t.values]
        else:
            assert isinstance(t, GraphQLObjectType | GraphQLInputObjectType)
            for fname, f in t.fields.items():
                entries.append((name, fname, str(f.type)))
                for aname, a in getattr(f, "args", {}).items():
                    entries.append((name, f"{fname}({aname})", str(a.type)))
    return entries


@pytest.mark.parametrize(("type_name", "member", "printed"), spec_entries())
def test_the_schema_keeps_every_spec_name(type_name: str, member: str, printed: str) -> None:
    ours = graphql_schema(build_schema())
    t = ours.type_map.get(type_name)
    assert t is not None, f"type {type_name} missing"
    if printed == "enum":
        assert isinstance(t, GraphQLEnumType)
        assert member in t.values
        return
    assert isinstance(t, GraphQLObjectType | GraphQLInputObjectType)
    fname, _, arg = member.partition("(")
    f = t.fields.get(fname)
    assert f is not None, f"{type_name}.{fname} missing"
    if arg:
        a = f.args.get(arg.rstrip(")"))  # type: ignore[union-attr]
        assert a is not None, f"{type_name}.{member} missing"
        assert str(a.type) == printed
    else:
        assert str(f.type) == printed


def test_every_field_shows_its_category_in_the_sdl() -> None:
    printed = build_sdl(build_schema().as_str())
    for type_ in printed.type_map.values():
        if not isinstance(type_, GraphQLObjectType) or type_.name.startswith("__"):
            continue
        for name, f in type_.fields.items():
            assert f.ast_node is not None
            directives = [d.name.value for d in f.ast_node.directives or ()]
            assert directives == ["category"], f"{type_.name}.{name}"
            assert "Data category:" in (f.description or ""), f"{type_.name}.{name}"


def test_a_field_without_a_category_stops_the_schema_from_building() -> None:
    @strawberry.type
    @categorized(Category.PUBLIC)
    class Leaky:
        ok: str = field(Category.PUBLIC)
        secret: str | None = strawberry.field(default=None)

    with pytest.raises(SchemaCategoryError, match="Leaky.secret has no data category"):
        check_categories([Leaky])


def test_a_protected_field_without_enforcement_stops_the_schema_from_building() -> None:
    @strawberry.type
    @categorized(Category.PUBLIC)
    class Unenforced:
        usage: str | None = field(Category.USAGE)

    with pytest.raises(SchemaCategoryError, match="Unenforced.usage .* is not enforced"):
        check_categories([Unenforced])


PAGE = """
query Page($first: Int!) {
  customers(first: $first) {
    edges { cursor node { id name email services { id category plan configuration { features }
      usage(first: 5) { startedAt durationSeconds cellSite } usageSummary { calls } }
      invoices(last: 3) { id amount { amountCents } } balance { amountCents } paymentMethod { last4 }
      cpniApproval { status } cpniNotices { sentAt } billingAddress { city } serviceAddress { city } } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


def round_trips(response) -> int:  # type: ignore[no-untyped-def]
    timing = response.headers["server-timing"]
    return int(re.search(r"dur=(\d+)", timing).group(1))  # type: ignore[union-attr]


async def test_sql_round_trips_do_not_grow_with_the_page(gateway: Gateway, pool: asyncpg.Pool) -> None:
    for _ in range(50):
        await make_customer(pool, services=("LOCAL", "WIRELESS", "INTERNET"), usage_per_service=6)
    trips = {}
    for first in (5, 50):
        response = await gateway.query(
            PAGE, division="fraud_security", purpose="fraud_protection", variables={"first": first}
        )
        assert response.status_code == 200, response.text
        edges = response.json()["data"]["customers"]["edges"]
        assert len(edges) == first
        trips[first] = round_trips(response)
    assert trips[5] == trips[50]
    # customers, facts, contacts, addresses, services, configurations, usage,
    # summaries, invoices, balances, payment methods, approvals, notices.
    assert trips[50] <= 14


async def test_pages_follow_the_cursor_without_overlap(gateway: Gateway, pool: asyncpg.Pool) -> None:
    for _ in range(5):
        await make_customer(pool)
    seen: list[str] = []
    after = None
    for _ in range(3):
        response = await gateway.query(
            "query($after: String) { customers(first: 2, after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } } }",
            division="network_ops",
            purpose="provisioning",
            variables={"after": after},
        )
        page = response.json()["data"]["customers"]
        seen += [e["node"]["id"] for e in page["edges"]]
        assert page["pageInfo"]["hasNextPage"] is True
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == 6
    assert seen == sorted(seen, key=int)
