"""Per-request state: who calls, for what purpose, loaders and decisions.

Built fresh for every request in the ASGI app; nothing here outlives it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import asyncpg

from gateway.authz.model import Category, Decision, Division, Facts, Purpose, ServiceCategory
from gateway.cursors import CursorCodec, InvalidCursor, binding
from gateway.resolvers.database import DATABASE_ERRORS
from gateway.resolvers.loaders import Loaders
from gateway.schema.errors import BadUserInputError, ServiceUnavailableError

if TYPE_CHECKING:
    from gateway.audit.chain import EventContent
    from gateway.authz.decide import Authorizer
    from gateway.campaigns import CampaignCheck


# A service's category as its row gives it (text) -> the enum (a dict lookup, not an enum call).
SERVICE_CATEGORIES: dict[str | None, ServiceCategory] = {c.value: c for c in ServiceCategory}


class AuditRecorder(Protocol):
    """Appends this request's events inside a write's transaction (``gateway.audit.AuditWriter``)."""

    async def record_within(self, conn: Any, ctx: RequestContext, operation_name: str | None) -> int: ...


class CustomerAccess:
    """What one request disclosed and denied about one customer (for the audit trail).

    A plain class with slots: a page makes one per customer.
    """

    __slots__ = ("disclosed", "denied", "policy_ids")

    def __init__(self) -> None:
        self.disclosed: set[Category] = set()
        self.denied: set[Category] = set()
        self.policy_ids: set[str] = set()

    def add(self, shape: Shape) -> None:
        """What ``shape`` discloses, denies and cites, added to this access."""
        self.disclosed |= shape.disclosed
        self.denied |= shape.denied
        self.policy_ids |= shape.policy_ids


@dataclass(frozen=True)
class Campaign:
    """The approved campaign a marketing request runs under."""

    id: str
    categories: frozenset[Category]


class Shape(NamedTuple):
    """What a request disclosed, denied and cited about one customer: customers treated alike share one."""

    disclosed: frozenset[Category]
    denied: frozenset[Category]
    policy_ids: frozenset[str]


class Alike(NamedTuple):
    """Decisions a customer gets alike with others (gateway.plan.walk.Settled), recorded together.

    ``shape`` is what recording each of ``decisions`` adds to a customer's access.
    """

    decisions: tuple[tuple[Category, Decision], ...]
    shape: Shape

    @classmethod
    def of(cls, decisions: tuple[tuple[Category, Decision], ...]) -> Alike:
        return cls(
            decisions,
            Shape(
                frozenset(c for c, d in decisions if d.allowed),
                frozenset(c for c, d in decisions if not d.allowed),
                frozenset(p for _, d in decisions for p in d.policy_ids),
            ),
        )

    @property
    def disclosed(self) -> frozenset[Category]:
        return self.shape.disclosed

    @property
    def denied(self) -> frozenset[Category]:
        return self.shape.denied


PUBLIC_ONLY = Shape(frozenset({Category.PUBLIC}), frozenset(), frozenset())


class Decisions:
    """Asks the authorizer about this request's customers and remembers every answer.

    What each customer was disclosed and denied is kept three ways, the
    cheapest that holds it: customers only seen with their PUBLIC fields (a
    set), customers whose decisions are one `Alike` (a page of settled
    customers, gateway.plan.walk), and customers decided one decision at a
    time (a `CustomerAccess` each). :meth:`shapes` reads them together.
    """

    def __init__(
        self,
        authorizer: Authorizer,
        division: Division,
        purpose: Purpose,
        loaders: Loaders,
        campaign: Campaign | None = None,
    ) -> None:
        self.authorizer = authorizer
        self.division = division
        self.purpose = purpose
        self.loaders = loaders
        self.campaign_categories = campaign.categories if campaign else None
        self.by_customer: dict[int, CustomerAccess] = {}
        self.lookups = 0
        self._memo: dict[tuple[int, Category, str | None], Decision] = {}
        self._public: set[int] = set()
        self._alike: dict[int, Alike] = {}
        self._shapes: list[tuple[int, Shape]] | None = None  # until something more is recorded
        self._groups: list[tuple[Shape, tuple[int, ...]]] | None = None  # as _shapes

    def _access(self, customer_id: int) -> CustomerAccess:
        self._shapes = self._groups = None  # every change of an access comes through here
        access = self.by_customer.get(customer_id)
        if access is None:
            access = self.by_customer[customer_id] = CustomerAccess()
            alike = self._alike.pop(customer_id, None)
            if alike is not None:  # decided one at a time from now on: its decisions so far come along
                access.add(alike.shape)
        return access

    def shapes(self) -> list[tuple[int, Shape]]:
        """Every customer's shape, in customer id order; customers recorded alike share one object.

        Read by the audit and the metrics of the request: made once, until something more is recorded.
        """
        if self._shapes is not None:
            return self._shapes
        public, alike, by_customer = self._public, self._alike, self.by_customer
        seen_alike: dict[int, Shape] = {}  # by the Alike's id: its shape with the PUBLIC fields
        found: list[tuple[int, Shape]] = []
        for customer_id in sorted(public.union(alike, by_customer)):
            seen = customer_id in public
            access = by_customer.get(customer_id)
            if access is not None:
                disclosed = access.disclosed | {Category.PUBLIC} if seen else access.disclosed
                found.append((customer_id, Shape(frozenset(disclosed), frozenset(access.denied), frozenset(access.policy_ids))))
                continue
            decided = alike.get(customer_id)
            if decided is None:
                found.append((customer_id, PUBLIC_ONLY))
                continue
            if not seen:
                found.append((customer_id, decided.shape))
                continue
            shape = seen_alike.get(id(decided))
            if shape is None:
                shape = seen_alike[id(decided)] = decided.shape._replace(disclosed=decided.disclosed | PUBLIC_ONLY.disclosed)
            found.append((customer_id, shape))
        self._shapes = found
        return found

    def groups(self) -> list[tuple[Shape, tuple[int, ...]]]:
        """The customers of each shape (:meth:`shapes` grouped), in customer id order; groups in the order of their first.

        A page of 50 customers has a few shapes between them: the audit
        writes one record per shape and the metrics count per shape.
        """
        if self._groups is not None:
            return self._groups
        members: dict[Shape, list[int]] = {}
        for customer_id, shape in self.shapes():
            found = members.get(shape)
            if found is None:
                members[shape] = [customer_id]
            else:
                found.append(customer_id)
        self._groups = [(shape, tuple(ids)) for shape, ids in members.items()]
        return self._groups

    def note_lookup(self) -> None:
        """A lookup ran (by phone number): it is audited even when it found no one."""
        self.lookups += 1

    def note_public(self, *customer_ids: int) -> None:
        """Customers appeared in the response with their PUBLIC fields (a page's, at once)."""
        self._shapes = self._groups = None
        self._public.update(customer_ids)

    def note_disclosed(self, customer_id: int, categories: frozenset[Category], decision: Decision) -> None:
        """Categories of a customer shown by an operation the caller was allowed (``decision``)."""
        access = self._access(customer_id)
        access.disclosed.update(categories)
        access.policy_ids.update(decision.policy_ids)

    async def check(
        self, customer_id: int, category: Category, service_category: str | None = None
    ) -> Decision:
        """The decision for one category of one customer (and service), recorded."""
        decision = self._memo.get((customer_id, category, service_category))
        if decision is None:
            try:
                facts = await self.loaders.facts.load(customer_id)
            except asyncpg.QueryCanceledError:
                raise  # the statement timeout: the request is past its budget (504)
            except DATABASE_ERRORS as exc:
                raise ServiceUnavailableError("customer facts unavailable") from exc
            return self.check_loaded(customer_id, category, service_category, facts)
        self._record(customer_id, category, decision)
        return decision

    def check_loaded(
        self, customer_id: int, category: Category, service_category: str | None, facts: Facts | None
    ) -> Decision:
        """:meth:`check` with the customer's facts already at hand (None: no such customer, deny)."""
        key = (customer_id, category, service_category)
        decision = self._memo.get(key)
        if decision is None:
            if facts is None:
                decision = Decision(False, ())
            else:
                decision = self.authorizer.decide(
                    self.division,
                    self.purpose,
                    category,
                    facts,
                    service_category=(SERVICE_CATEGORIES.get(service_category) or ServiceCategory(service_category))
                    if service_category
                    else None,
                    campaign_categories=self.campaign_categories,
                )
            self._memo[key] = decision
        self._record(customer_id, category, decision)
        return decision

    def record(self, customer_id: int, category: Category, service_category: str | None, decision: Decision) -> None:
        """A decision made for another customer with the same facts, taken for this one (recorded)."""
        self._memo[(customer_id, category, service_category)] = decision
        self._record(customer_id, category, decision)

    def record_alike(self, customer_id: int, alike: Alike) -> None:
        """What :meth:`record` of each of ``alike``'s decisions (no service in scope) records, at once.

        (The memo is not written: a decision asked again is made again, the same.)
        """
        if customer_id not in self.by_customer:
            found = self._alike.get(customer_id)
            if found is None or found is alike:
                self._shapes = self._groups = None
                self._alike[customer_id] = alike
                return
        self._access(customer_id).add(alike.shape)

    def _record(self, customer_id: int, category: Category, decision: Decision) -> None:
        access = self._access(customer_id)
        (access.disclosed if decision.allowed else access.denied).add(category)
        if decision.policy_ids:
            access.policy_ids.update(decision.policy_ids)


@dataclass
class RequestContext:
    request_id: str
    client: str
    division: Division
    purpose: Purpose
    purposes: frozenset[Purpose]
    loaders: Loaders
    decisions: Decisions
    campaign: Campaign | None = None
    # Whether the campaign still holds, until a statement or a read confirms it (gateway.campaigns).
    campaign_check: CampaignCheck | None = None
    idempotency_key: str | None = None
    cursors: CursorCodec | None = None
    max_page_size: int = 100
    max_usage_page: int = 500
    pool: asyncpg.Pool | None = None
    # Set by the endpoint: a mutation appends its events in its own transaction.
    audit: AuditRecorder | None = None
    # The events already committed with a write (the endpoint skips them).
    audit_committed: tuple[EventContent, ...] | None = None
    # The trusted-document check (gateway/trusted): (document id, REGISTERED or
    # UNREGISTERED), recorded with every event; None when the check is off.
    trusted_document: tuple[str | None, str] | None = None

    def _binding(self, connection: str, filter: object) -> bytes:
        campaign = self.campaign.id if self.campaign else None
        return binding(connection, (self.client, self.division.id, self.purpose.value, campaign), filter)

    def seal_cursor(self, connection: str, filter: object, position: tuple[int, ...]) -> str:
        """An opaque cursor for ``position`` of ``connection``, bound to this caller and ``filter``."""
        if self.cursors is None:
            raise ServiceUnavailableError("no cursor key")
        return self.cursors.seal(self._binding(connection, filter), position)

    def open_cursor(self, connection: str, filter: object, cursor: str) -> tuple[int, ...]:
        """The position of a cursor this caller got for ``connection`` and ``filter``; else BAD_USER_INPUT."""
        if self.cursors is None:
            raise ServiceUnavailableError("no cursor key")
        try:
            return self.cursors.open(self._binding(connection, filter), cursor)
        except InvalidCursor:
            raise BadUserInputError("`after` is not a valid cursor for this query") from None
