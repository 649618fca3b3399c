"""Executing a plan: decide, then fetch, wave by wave; assemble the answer directly.

The response is built as plain dicts and lists in document order. Objects
of one kind that one wave needs (the contacts of every customer of the
page, the usage of every allowed service, ...) are fetched by one statement,
on the request's one connection, after every decision of the wave is made:
a denied part is never queried, and yields null and one FORBIDDEN error at
its path. Decisions are those of the reference path (the same
`Decisions`, so the same memo and the same audit record); the batch
functions are those of `gateway.resolvers`.

Anything unusual (an argument the reference would refuse, a value that
breaks the schema) raises :class:`NotPlanned` before the answer is
complete; the endpoint then runs the reference path on a fresh context.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from datetime import datetime
from types import ModuleType
from typing import Any, NamedTuple

from graphql import GraphQLError, GraphQLSchema, OperationDefinitionNode
from graphql.execution.values import VariableValues, get_argument_values

from gateway.authz.model import Category, Facts
from gateway.plan.compile import Node, NotPlanned
from gateway.resolvers import billing, consent, customers, services
from gateway.resolvers.batch import Batch, combined
from gateway.resolvers.services import UsageKey
from gateway.schema.context import RequestContext
from gateway.schema.errors import ForbiddenError
from gateway.schema.lookups import find_by_phone, page_customers, page_size
from gateway.schema.scalars import customer_id_of, is_month

Path = tuple[str | int, ...]
Deliver = Callable[[Any], None]

# The batch of each kind (kind -> module and name of its `Batch`), looked up
# when used, like any call into `gateway.resolvers`.
BATCHES: dict[str, tuple[ModuleType, str]] = {
    "contact": (customers, "CONTACTS"),
    "address": (customers, "ADDRESSES"),
    "services": (services, "SERVICES"),
    "configuration": (services, "CONFIGURATIONS"),
    "usage": (services, "USAGE"),
    "usage_summary": (services, "USAGE_SUMMARIES"),
    "last_location": (services, "LAST_LOCATIONS"),
    "invoices": (billing, "INVOICES"),
    "balance": (billing, "BALANCES"),
    "payment_method": (billing, "PAYMENT_METHODS"),
    "approval": (consent, "LATEST_APPROVALS"),
    "notices": (consent, "NOTICES"),
}


class Edge(NamedTuple):
    cursor: str
    node: Any


class PageInfo(NamedTuple):
    has_next_page: bool
    end_cursor: str | None


class Connection(NamedTuple):
    edges: list[Edge]
    page_info: PageInfo


class Caller(NamedTuple):
    client: str
    division: str
    purpose: Any
    purposes: list[Any]


class Result(NamedTuple):
    data: dict[str, Any] | None
    errors: list[GraphQLError]


ROOTS = frozenset({"customer", "customers", "customerByPhone", "me"})


class Execution:
    """One run of one plan for one request."""

    def __init__(self, schema: GraphQLSchema, ctx: RequestContext, variables: VariableValues) -> None:
        self.schema = schema
        self.ctx = ctx
        self.decisions = ctx.decisions
        self.db = ctx.loaders.db
        self.variables = variables
        self.facts: dict[int, Facts | None] = {}
        self.errors: list[GraphQLError] = []
        self._pending: dict[str, dict[Hashable, list[Deliver]]] = {}

    # -- the waves -----------------------------------------------------------

    def fetch(self, kind: str, key: Hashable, deliver: Deliver) -> None:
        """Ask for one object of ``kind`` in the next wave; ``deliver`` gets it."""
        self._pending.setdefault(kind, {}).setdefault(key, []).append(deliver)

    async def run(self, operation: OperationDefinitionNode, roots: tuple[Node, ...]) -> Result:
        data: dict[str, Any] = {}
        for node in roots:
            data[node.key] = None
            await self._root(node, data)
        while self._pending:
            wave, self._pending = self._pending, {}
            await self._fetch(wave)
        return Result(data, self.errors)

    async def _fetch(self, wave: dict[str, dict[Hashable, list[Deliver]]]) -> None:
        """Every kind of this wave in one statement (one round trip), then each value delivered."""
        parts = []
        for kind, waiting in wave.items():
            module, name = BATCHES[kind]
            spec: Batch[Any, Any] = getattr(module, name)
            keys = list(waiting)
            parts.append((spec, keys, waiting, spec.statements(keys)))
        statements = [s for *_, part in parts for s in part]
        if len(statements) == 1:
            (statement,) = statements
            results: list[Any] = [await self.db.fetch(statement.sql, *statement.args)]
        else:
            query = combined(statements)
            (record,) = await self.db.fetch(query.sql, *query.args)
            results = query.rows(record)
        offset = 0
        for spec, keys, waiting, own in parts:
            values = spec.assemble(keys, results[offset : offset + len(own)])
            offset += len(own)
            for key, value in zip(keys, values, strict=True):
                for deliver in waiting[key]:
                    deliver(value)

    # -- roots ---------------------------------------------------------------

    def _args(self, node: Node) -> dict[str, Any]:
        assert node.definition is not None
        try:
            return get_argument_values(node.definition, node.field, self.variables, hide_suggestions=True)
        except GraphQLError:
            raise NotPlanned() from None

    async def _root(self, node: Node, data: dict[str, Any]) -> None:
        ctx = self.ctx
        path: Path = (node.key,)
        if node.name == "__typename":
            data[node.key] = "Query"
            return
        args = self._args(node)
        try:
            if node.name == "me":
                value: Any = Caller(
                    ctx.client, ctx.division.id, ctx.purpose, sorted(ctx.purposes, key=lambda p: p.value)
                )
            elif node.name == "customer":
                value = None
                cid = customer_id_of(args["id"])
                if cid is not None:
                    (found,) = await customers.customers_with_facts(self.db, [cid])
                    if found is not None:
                        value, self.facts[cid] = found
                        self.decisions.note_public(cid)
            elif node.name == "customerByPhone":
                found = await find_by_phone(ctx, args["phone"])
                value = None
                if found is not None:
                    value, self.facts[found[0].id] = found
            elif node.name == "customers":
                page = await page_customers(ctx, args.get("first"), args.get("after"), Filter.of(args.get("filter")))
                self.facts.update(page.facts)
                value = Connection(
                    [Edge(cursor, row) for cursor, row in page.edges], PageInfo(page.has_next, page.end_cursor)
                )
            else:
                raise NotPlanned()  # not in ROOTS
        except GraphQLError:
            raise NotPlanned() from None  # the reference says how it fails
        data[node.key] = self.complete(node, value, path)

    # -- assembly ------------------------------------------------------------

    def complete(self, node: Node, value: Any, path: Path) -> Any:
        """The response value of ``node`` for ``value`` (a row, a list of rows, a scalar)."""
        if value is None:
            if node.non_null:
                raise NotPlanned()
            return None
        children = node.children
        if children is None:
            serialize = node.serialize
            if serialize is None:
                return _strings(value) if node.is_list else _string(value)
            return [serialize(v) for v in value] if node.is_list else serialize(value)
        if node.is_list:
            return [self.object(node, children, item, (*path, index)) for index, item in enumerate(value)]
        return self.object(node, children, value, path)

    def object(self, parent: Node, nodes: tuple[Node, ...], source: Any, path: Path) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for node in nodes:
            key = node.key
            boundary = node.boundary
            if boundary is not None:
                scope = source.service_category if boundary.service_scoped else None
                cid = source.customer_id
                decision = self.decisions.check_loaded(cid, boundary.category, scope, self.facts.get(cid))
                if not decision.allowed:
                    out[key] = None
                    self.errors.append(ForbiddenError.at(boundary.category, [*path, key], node.field))
                    continue
            if node.fetch is not None:
                out[key] = None  # filled when its wave has run
                HANDLERS[node.fetch](self, node, source, out, (*path, key))
            elif node.definition is None:  # __typename
                out[key] = parent.type_name
            elif node.children is None and not node.is_list:
                value = getattr(source, node.attribute)
                serialize = node.serialize
                if value is None:
                    if node.non_null:
                        raise NotPlanned()
                    out[key] = None
                else:
                    out[key] = _string(value) if serialize is None else serialize(value)
            else:
                out[key] = self.complete(node, getattr(source, node.attribute), (*path, key))
        return out

    def later(self, node: Node, out: dict[str, Any], path: Path, kind: str, key: Hashable) -> None:
        """Fill ``out[node.key]`` with the object of ``kind`` at ``key`` once its wave has run."""

        def deliver(value: Any) -> None:
            out[node.key] = self.complete(node, value, path)

        self.fetch(kind, key, deliver)


def _string(value: Any) -> str:
    if type(value) is not str:
        raise NotPlanned()  # graphql-core would coerce or refuse it: let the reference answer
    return value


def _strings(values: Any) -> list[str]:
    return [_string(v) for v in values]


class Filter(NamedTuple):
    """`CustomerFilter` from its coerced argument value."""

    segment: Any = None
    status: Any = None
    state: str | None = None
    name_prefix: str | None = None
    service_category: Any = None

    @classmethod
    def of(cls, value: dict[str, Any] | None) -> Filter:
        value = value or {}
        return cls(
            value.get("segment"), value.get("status"), value.get("state"),
            value.get("namePrefix"), value.get("serviceCategory"),
        )  # fmt: skip


# -- the planned fetches, by field name ---------------------------------------

Handler = Callable[[Execution, Node, Any, dict[str, Any], Path], None]


def _by_customer(kind: str) -> Handler:
    def handler(run: Execution, node: Node, source: Any, out: dict[str, Any], path: Path) -> None:
        run.later(node, out, path, kind, source.id)

    return handler


def _address(kind: str) -> Handler:
    def handler(run: Execution, node: Node, source: Any, out: dict[str, Any], path: Path) -> None:
        run.later(node, out, path, "address", (source.id, kind))

    return handler


def _approval(scope: str) -> Handler:
    def handler(run: Execution, node: Node, source: Any, out: dict[str, Any], path: Path) -> None:
        run.later(node, out, path, "approval", (source.id, scope))

    return handler


def _contact(attribute: str) -> Handler:
    def handler(run: Execution, node: Node, source: Any, out: dict[str, Any], path: Path) -> None:
        def deliver(row: Any) -> None:
            out[node.key] = run.complete(node, getattr(row, attribute) if row else None, path)

        run.fetch("contact", source.id, deliver)

    return handler


def _per_service(kind: str, category: Category) -> Handler:
    """A list whose items each belong to one service, decided with that service's category.

    An item outside the caller's relationship (another division's service
    under provisioning, a device without express approval) is left out,
    not an error.
    """

    def handler(run: Execution, node: Node, source: Any, out: dict[str, Any], path: Path) -> None:
        def deliver(rows: list[Any]) -> None:
            facts = run.facts.get(source.id)
            check = run.decisions.check_loaded
            visible = [row for row in rows if check(row.customer_id, category, row.service_category, facts).allowed]
            out[node.key] = run.complete(node, visible, path)

        run.fetch(kind, source.id, deliver)

    return handler


def _invoices(run: Execution, node: Node, source: Any, out: dict[str, Any], path: Path) -> None:
    last = run._args(node).get("last")
    last = _checked(last, 12, run.ctx.max_page_size)
    run.later(node, out, path, "invoices", (source.id, last))


def _configuration(run: Execution, node: Node, source: Any, out: dict[str, Any], path: Path) -> None:
    run.later(node, out, path, "configuration", source.id)


def _usage(run: Execution, node: Node, source: Any, out: dict[str, Any], path: Path) -> None:
    args = run._args(node)
    first = _checked(args.get("first"), 50, run.ctx.max_usage_page)
    run.later(node, out, path, "usage", UsageKey(source.id, source.category, args.get("from"), args.get("to"), first))


def _usage_summary(run: Execution, node: Node, source: Any, out: dict[str, Any], path: Path) -> None:
    month = run._args(node).get("month")
    if month is None:
        month = datetime.now().strftime("%Y-%m")
    elif not is_month(month):
        raise NotPlanned()
    run.later(node, out, path, "usage_summary", (source.id, month))


def _checked(value: int | None, default: int, limit: int) -> int:
    try:
        return page_size(default if value is None else value, limit, "first")
    except GraphQLError:
        raise NotPlanned() from None


HANDLERS: dict[tuple[str, str], Handler] = {
    ("Customer", "serviceAddress"): _address("SERVICE"),
    ("Customer", "billingAddress"): _address("BILLING"),
    ("Customer", "email"): _contact("email"),
    ("Customer", "contactPhone"): _contact("contact_phone"),
    ("Customer", "services"): _per_service("services", Category.SERVICE),
    ("Customer", "lastKnownLocation"): _per_service("last_location", Category.LOCATION),
    ("Customer", "invoices"): _invoices,
    ("Customer", "balance"): _by_customer("balance"),
    ("Customer", "paymentMethod"): _by_customer("payment_method"),
    ("Customer", "cpniApproval"): _approval("CPNI"),
    ("Customer", "locationApproval"): _approval("LOCATION"),
    ("Customer", "cpniNotices"): _by_customer("notices"),
    ("Service", "configuration"): _configuration,
    ("Service", "usage"): _usage,
    ("Service", "usageSummary"): _usage_summary,
}
