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
from functools import cached_property
from types import ModuleType
from typing import Any, NamedTuple

import orjson
from graphql import GraphQLError, ListValueNode, ObjectValueNode, ValueNode, VariableNode
from graphql.execution.values import VariableValues, get_argument_values

from gateway.authz.model import Category, Decision, Facts
from gateway.errors import FieldError
from gateway.plan.assemble import Assembled, Complete, FetchStep, Link, Step, complete_of, path_of
from gateway.plan.compile import Node, NotPlanned
from gateway.plan.sql import Document, NotCompiled, compile_document, month_of, page_argument
from gateway.plan.walk import Built, Outcome, Settled, Walk, categories_decided, facts_read, outcomes_of, walk_of
from gateway.resolvers import billing, consent, customers, services
from gateway.resolvers.batch import Batch, combined
from gateway.resolvers.customers import Answer, AnsweredRow, AnswerOutOfRange, FactsCondition
from gateway.resolvers.facts import code_of, facts_mask
from gateway.resolvers.services import UsageKey
from gateway.schema.context import RequestContext
from gateway.schema.errors import FORBIDDEN_MESSAGE, location_of
from gateway.schema.lookups import find_by_phone, page_customers, readable_condition
from gateway.schema.scalars import current_month, customer_id_of

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
    cursor: str | None  # None when no edge's cursor is selected
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
    errors: list[FieldError]  # in document order


ROOTS = frozenset({"customer", "customers", "customerByPhone", "me"})


class Program:
    """A plan's root nodes with the functions that assemble them (built once per plan)."""

    def __init__(self, roots: tuple[Node, ...]) -> None:
        self.roots = roots
        self.completes = {id(node): complete_of(node, None, FETCHES) for node in roots if node.children is not None}
        self._children: dict[int, dict[str, tuple[int, Node]]] = {}
        self._root_index = {node.key: (index, node) for index, node in enumerate(roots)}
        self._denials: dict[int, tuple[dict[str, Any], str, str | None]] = {}
        # The Customer selection PostgreSQL can build, per root (gateway.plan.sql)
        self._answered = {id(node): customer for node in roots if (customer := _answered(node)) is not None}
        pages = [node for node in roots if node.name == "customers"]
        self._cursors = {id(node): _selects(node, "edges", "cursor") for node in pages}
        self._end_cursors = {id(node): _selects(node, "pageInfo", "endCursor") for node in pages}
        self._edge_layouts = {id(node): _edge_layout(node) for node in pages}
        self._documents: dict[Hashable, Answering | None] = {}
        self._constant: dict[int, dict[str, Any] | None] = {}

    def document(self, root: Node, ctx: RequestContext) -> Answering | None:
        """How PostgreSQL answers the root's customers for this caller; None to assemble in Python."""
        customer = self._answered.get(id(root))
        if customer is None or customer.children is None:
            return None
        decisions = ctx.decisions
        key = (id(customer), decisions.authorizer, ctx.division.id, ctx.purpose, decisions.campaign_categories)
        try:
            return self._documents[key]
        except KeyError:
            pass
        found = _answering(customer.children, ctx)
        if len(self._documents) >= DOCUMENTS_PER_PLAN:
            self._documents.clear()
        self._documents[key] = found
        return found

    def constant_arguments(self, node: Node) -> dict[str, Any] | None:
        """The node's coerced arguments when they read no variable (the same for every request), else None."""
        try:
            return self._constant[id(node)]
        except KeyError:
            pass
        found = None
        if node.definition is not None and not any(_reads_variables(a.value) for a in node.field.arguments or ()):
            try:
                found = get_argument_values(node.definition, node.field, None, hide_suggestions=True)
            except GraphQLError:
                found = None  # reported where it is reached, on each request
        self._constant[id(node)] = found
        return found

    def edge_cursors(self, root: Node) -> bool:
        return self._cursors.get(id(root), True)

    def end_cursor(self, root: Node) -> bool:
        return self._end_cursors.get(id(root), True)

    def edge_layout(self, root: Node) -> EdgeLayout | None:
        return self._edge_layouts.get(id(root))

    def position(self, path: list[str | int]) -> tuple[int, ...]:
        """Where ``path`` sits in the answer: its keys' places among their siblings, and list indexes."""
        index = self._root_index
        position: list[int] = []
        for segment in path:
            if isinstance(segment, int):
                position.append(segment)
                continue
            place, node = index[segment]
            position.append(place)
            found = self._children.get(id(node))
            if found is None:
                found = self._children[id(node)] = {n.key: (i, n) for i, n in enumerate(node.children or ())}
            index = found
        return tuple(position)

    def denial(self, node: Node) -> tuple[dict[str, Any], str, str | None]:
        """The FORBIDDEN error of ``node`` but its path, with its code and category (`FieldError.at`)."""
        found = self._denials.get(id(node))
        if found is None:
            located = location_of(node.field)
            category = node.boundary.category.value if node.boundary else ""
            found = self._denials[id(node)] = (
                {
                    "message": FORBIDDEN_MESSAGE,
                    "locations": [] if located is None else [{"line": located.line, "column": located.column}],
                    "path": None,  # keeps the members' order: message, locations, path, extensions
                    "extensions": {"code": "FORBIDDEN", "category": category},
                },
                "FORBIDDEN",
                category,
            )
        return found


# One document per caller cell (division, purpose, campaign): a few in practice.
DOCUMENTS_PER_PLAN = 64


class Answering(NamedTuple):
    """A Customer selection as PostgreSQL answers it for one caller cell."""

    document: Document
    walk: Walk | None
    # The outcome of each facts code (masked by ``mask``) that settles the selection; the others are walked.
    outcomes: dict[int, Outcome]
    mask: int = 0

    def customer(self, customer_id: int, answer: Any, code: int) -> Built | Settled:
        outcome = self.outcomes.get(code & self.mask)
        if outcome is not None:
            return Settled(customer_id, answer, outcome)
        if self.document.settles:
            answer = orjson.loads(answer)  # the answers are kept as text: this one is walked
        return Built(customer_id, answer, self.walk)


def _answering(nodes: tuple[Node, ...], ctx: RequestContext) -> Answering | None:
    decisions = ctx.decisions
    authorizer, campaign = decisions.authorizer, decisions.campaign_categories
    # The statement computes only the facts its decisions read: those of the selection's
    # boundaries, and of the categories a page's filter is matched on (gateway.schema.lookups).
    decided = categories_decided("Customer", nodes) | {Category.SUBSCRIBER_LIST, Category.SERVICE}
    facts = facts_read(authorizer, ctx.division, ctx.purpose, campaign, decided)

    def condition(category: Category, scope: str | None) -> FactsCondition:
        return readable_condition(ctx, category, scope)

    walk = walk_of("Customer", nodes)
    settling = outcomes_of(nodes, authorizer, ctx.division, ctx.purpose, campaign, condition)
    try:
        if settling is None:
            return Answering(compile_document(nodes, condition, facts), walk, {})
        mask, outcomes, settled = settling
        return Answering(compile_document(nodes, condition, facts, settled=settled), walk, outcomes, mask)
    except NotCompiled:
        return None


def _answered(root: Node) -> Node | None:
    """The one Customer selection under ``root`` that PostgreSQL can build: ``customer``, or a page's ``edges.node``."""
    if root.name == "customer":
        return root
    if root.name != "customers" or root.children is None:
        return None
    nodes = [
        node
        for edges in root.children
        if edges.name == "edges"
        for node in edges.children or ()
        if node.name == "node"
    ]
    return nodes[0] if len(nodes) == 1 else None


def _reads_variables(value: ValueNode) -> bool:
    if isinstance(value, VariableNode):
        return True
    if isinstance(value, ListValueNode):
        return any(_reads_variables(item) for item in value.values)
    if isinstance(value, ObjectValueNode):
        return any(_reads_variables(field.value) for field in value.fields)
    return False


class EdgeLayout(NamedTuple):
    """A page's one ``edges`` selection: its key, its type and its fields' keys and names (node, cursor, __typename)."""

    key: str
    type_name: str
    fields: tuple[tuple[str, str], ...]
    node_key: str


def _edge_layout(root: Node) -> EdgeLayout | None:
    """How a page's edges are laid out, when it selects them once with one ``node``; else None."""
    edges = [part for part in root.children or () if part.name == "edges"]
    if len(edges) != 1 or edges[0].children is None:
        return None
    fields = tuple((field.key, field.name) for field in edges[0].children)
    nodes = [key for key, name in fields if name == "node"]
    if len(nodes) != 1 or any(name not in ("node", "cursor", "__typename") for _, name in fields):
        return None
    return EdgeLayout(edges[0].key, edges[0].type_name, fields, nodes[0])


def _selects(root: Node, parent: str, name: str) -> bool:
    """Whether ``root`` selects ``name`` under ``parent`` (a page's ``edges { cursor }``, ``pageInfo { endCursor }``)."""
    return any(node.name == name for part in root.children or () if part.name == parent for node in part.children or ())


class Execution:
    """One run of one plan for one request."""

    def __init__(self, program: Program, ctx: RequestContext, variables: VariableValues) -> None:
        self.program = program
        self.ctx = ctx
        self.decisions = ctx.decisions
        self.db = ctx.loaders.db
        self.variables = variables
        self.facts: dict[int, Facts | None] = {}
        # (link of the object, (node, key)) of every denied field, in the order decided
        self.denials: list[tuple[Link, tuple[Node, str]]] = []
        # Decisions by the part of the facts code each (category, scope) reads (its cell's mask):
        # the customers of a page have a handful of distinct ones between them.
        self._masks: dict[Category, int] = {}
        self._alike: dict[tuple[Category, str | None, int], Decision] = {}
        self._arguments: dict[int, dict[str, Any]] = {}
        self._pending: dict[str, dict[Hashable, list[Deliver]]] = {}

    def allowed(self, customer_id: int, category: Category, service_category: str | None) -> bool:
        """The request's decision, recorded for the audit; facts loaded with the customer.

        A decision depends only on the facts its cell reads (the cell's mask
        of the facts code, `Authorizer.relevant_facts`): customers alike in
        those share it, as they share the authorizer's memo entry. Asked
        again for the same customer, it records the same decision again
        (recording is idempotent).
        """
        facts = self.facts.get(customer_id)
        mask = self._masks.get(category)
        if mask is None:
            decisions = self.decisions
            mask = self._masks[category] = facts_mask(
                decisions.authorizer.relevant_facts(
                    decisions.division, decisions.purpose, category, campaign_categories=decisions.campaign_categories
                )
            )
        alike = (category, service_category, -1 if facts is None else code_of(facts) & mask)
        decision = self._alike.get(alike)
        if decision is None:
            decision = self._alike[alike] = self.decisions.check_loaded(customer_id, category, service_category, facts)
        else:
            self.decisions.record(customer_id, category, service_category, decision)
        return decision.allowed

    @cached_property
    def this_month(self) -> str:
        """The month a usage summary is for when none is asked, as the reference path reads it (once per request)."""
        return current_month()

    # -- the waves -----------------------------------------------------------

    def fetch(self, kind: str, key: Hashable, deliver: Deliver) -> None:
        """Ask for one object of ``kind`` in the next wave; ``deliver`` gets it."""
        waiting = self._pending.get(kind)
        if waiting is None:
            waiting = self._pending[kind] = {}
        delivers = waiting.get(key)
        if delivers is None:
            waiting[key] = [deliver]
        else:
            delivers.append(deliver)

    async def run(self) -> Result:
        data: dict[str, Any] = {}
        for node in self.program.roots:
            data[node.key] = None
            await self._root(node, data)
        # Without waves every denial was met walking the answer in document order.
        in_order = not self._pending
        while self._pending:
            wave, self._pending = self._pending, {}
            await self._fetch(wave)
        return Result(data, self._errors(in_order))

    def _errors(self, in_order: bool) -> list[FieldError]:
        """One FORBIDDEN error per denial, in document order (sorted unless met in it)."""
        program = self.program
        at, denial = FieldError.at, program.denial
        errors = []
        # The denials of a list's items come one after another under one parent: its path is made once.
        parent: Link = None
        above: list[str | int] = []  # the parent's path
        for link, (node, key) in self.denials:
            if link is not None and (head := link[0]) is not None:
                if head is not parent:
                    parent, above = head, path_of(head)
                path = [*above, link[1], key]
            else:
                path = path_of((link, key))
            errors.append(at(path, denial(node)))
        if not in_order:
            errors.sort(key=lambda error: program.position(error.formatted["path"]))
        return errors

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

    def arguments(self, node: Node) -> dict[str, Any]:
        """The node's coerced arguments (the same for every object it is selected on)."""
        found = self._arguments.get(id(node))
        if found is None:
            found = self.program.constant_arguments(node)
        if found is None:
            assert node.definition is not None
            try:
                found = get_argument_values(node.definition, node.field, self.variables, hide_suggestions=True)
            except GraphQLError:
                raise NotPlanned() from None
            self._arguments[id(node)] = found
        return found

    def _answer(self, document: Document) -> Answer | None:
        """The document's column for this request; None to assemble in Python (an argument the reference refuses where reached)."""
        try:
            check = self.ctx.campaign_check
            if check is not None and (check.confirmed or check.changed):
                check = None  # one statement confirms it
            return Answer(document.sql, document.values(self), document.facts, document.settles, check)
        except NotPlanned:
            return None

    async def _root(self, node: Node, data: dict[str, Any]) -> None:
        ctx = self.ctx
        if node.name == "__typename":
            data[node.key] = "Query"
            return
        args = self.arguments(node)
        try:
            if node.name == "me":
                value: Any = Caller(
                    ctx.client, ctx.division.id, ctx.purpose, sorted(ctx.purposes, key=lambda p: p.value)
                )
            elif node.name == "customer":
                value = None
                cid = customer_id_of(args["id"])
                answering = self.program.document(node, ctx)
                answer = None if answering is None else self._answer(answering.document)
                if cid is not None and answering is not None and answer is not None:
                    (answered,) = await customers.customers_answered(self.db, [cid], answer)
                    if answered is not None:
                        self.facts[cid] = answered[1]
                        self.decisions.note_public(cid)
                        value = answering.customer(cid, answered[0].answer, answered[0].code)
                elif cid is not None:
                    (found,) = await customers.customers_with_facts(
                        self.db, [cid], readable_condition(ctx, Category.SUBSCRIBER_LIST)
                    )
                    if found is not None:
                        value, self.facts[cid] = found
                        self.decisions.note_public(cid)
            elif node.name == "customerByPhone":
                found = await find_by_phone(ctx, args["phone"])
                value = None
                if found is not None:
                    value, self.facts[found[0].id] = found
            elif node.name == "customers":
                answering = self.program.document(node, ctx)
                answer = None if answering is None else self._answer(answering.document)
                page = await page_customers(
                    ctx, args.get("first"), args.get("after"), Filter.of(args.get("filter")),
                    answer=answer, cursors=self.program.edge_cursors(node), end_cursor=self.program.end_cursor(node),
                )  # fmt: skip
                self.facts.update(page.facts)
                edges: list[Any] | None
                if answering is None or answer is None:
                    edges = [Edge(cursor, row) for cursor, row in page.edges]
                else:
                    edges = self._settled_edges(node, page.edges, answering) if answering.document.settles else None  # type: ignore[arg-type]
                    if edges is None:
                        built = answering.customer
                        edges = [Edge(cursor, built(row.id, row.answer, row.code)) for cursor, row in page.edges]  # type: ignore[union-attr]
                value = Connection(edges, PageInfo(page.has_next, page.end_cursor))
            else:
                raise NotPlanned()  # not in ROOTS
        except (GraphQLError, AnswerOutOfRange):
            raise NotPlanned() from None  # the reference says how it fails
        data[node.key] = self.program.completes[id(node)](self, value, (None, node.key))

    def _settled_edges(
        self, root: Node, rows: list[tuple[str | None, AnsweredRow]], answering: Answering
    ) -> Assembled | None:
        """The edges of a page whose every customer is settled, assembled at once; None when one is walked.

        What completing each customer's `Settled` would do, without an
        edge, a `Settled` and their completion per customer: the answer's
        text in place, the outcome's decisions recorded and its denials
        noted at the customer's node, customer after customer.
        """
        layout = self.program.edge_layout(root)
        if layout is None:
            return None
        outcomes, mask = answering.outcomes, answering.mask
        found = [outcomes.get(row.code & mask) for _, row in rows]
        if any(outcome is None for outcome in found):
            return None
        here: Link = ((None, root.key), layout.key)
        edges = Assembled()
        for index, ((cursor, row), outcome) in enumerate(zip(rows, found, strict=True)):
            assert outcome is not None
            outcome.apply(self, row.id, row.answer, ((here, index), layout.node_key))  # type: ignore[arg-type]  # text: settles
            edge: dict[str, Any] = {}
            for key, name in layout.fields:
                edge[key] = orjson.Fragment(row.answer) if name == "node" else cursor if name == "cursor" else layout.type_name
            edges.append(edge)
        return edges


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


def _later(kind: str, key_of: Callable[[Execution, Node, Any], Hashable]) -> FetchStep:
    """A field whose value is the object of ``kind`` at ``key_of(...)``, fetched in the next wave."""

    def build(node: Node, complete: Complete) -> Step:
        key = node.key

        def step(run: Execution, source: Any, out: dict[str, Any], link: Link) -> None:
            out[key] = None  # filled when its wave has run
            here = (link, key)

            def deliver(value: Any) -> None:
                out[key] = complete(run, value, here)

            run.fetch(kind, key_of(run, node, source), deliver)

        return step

    return build


def _contact(attribute: str) -> FetchStep:
    def build(node: Node, complete: Complete) -> Step:
        key = node.key

        def step(run: Execution, source: Any, out: dict[str, Any], link: Link) -> None:
            out[key] = None
            here = (link, key)

            def deliver(row: Any) -> None:
                out[key] = complete(run, getattr(row, attribute) if row else None, here)

            run.fetch("contact", source.id, deliver)

        return step

    return build


def _per_service(kind: str, category: Category) -> FetchStep:
    """A list whose items each belong to one service, decided with that service's category.

    An item outside the caller's relationship (another division's service
    under provisioning, a device without express approval) is left out,
    not an error.
    """

    def build(node: Node, complete: Complete) -> Step:
        key = node.key

        def step(run: Execution, source: Any, out: dict[str, Any], link: Link) -> None:
            out[key] = None
            here = (link, key)

            def deliver(rows: list[Any]) -> None:
                allowed = run.allowed
                visible = [row for row in rows if allowed(row.customer_id, category, row.service_category)]
                out[key] = complete(run, visible, here)

            run.fetch(kind, source.id, deliver)

        return step

    return build


def _invoices_key(run: Execution, node: Node, source: Any) -> Hashable:
    return (source.id, page_argument(run.arguments(node).get("last"), 12, run.ctx.max_page_size))


def _usage_key(run: Execution, node: Node, source: Any) -> Hashable:
    args = run.arguments(node)
    first = page_argument(args.get("first"), 50, run.ctx.max_usage_page)
    return UsageKey(source.id, source.category, args.get("from"), args.get("to"), first)


def _usage_summary_key(run: Execution, node: Node, source: Any) -> Hashable:
    return (source.id, month_of(run, node))


def _id(run: Execution, node: Node, source: Any) -> Hashable:
    key: Hashable = source.id
    return key


FETCHES: dict[tuple[str, str], FetchStep] = {
    ("Customer", "serviceAddress"): _later("address", lambda run, node, source: (source.id, "SERVICE")),
    ("Customer", "billingAddress"): _later("address", lambda run, node, source: (source.id, "BILLING")),
    ("Customer", "email"): _contact("email"),
    ("Customer", "contactPhone"): _contact("contact_phone"),
    ("Customer", "services"): _per_service("services", Category.SERVICE),
    ("Customer", "lastKnownLocation"): _per_service("last_location", Category.LOCATION),
    ("Customer", "invoices"): _later("invoices", _invoices_key),
    ("Customer", "balance"): _later("balance", _id),
    ("Customer", "paymentMethod"): _later("payment_method", _id),
    ("Customer", "cpniApproval"): _later("approval", lambda run, node, source: (source.id, "CPNI")),
    ("Customer", "locationApproval"): _later("approval", lambda run, node, source: (source.id, "LOCATION")),
    ("Customer", "cpniNotices"): _later("notices", _id),
    ("Service", "configuration"): _later("configuration", _id),
    ("Service", "usage"): _later("usage", _usage_key),
    ("Service", "usageSummary"): _later("usage_summary", _usage_summary_key),
}
