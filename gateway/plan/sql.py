"""A Customer selection compiled to one SQL expression that builds its answer as JSON.

The statement that finds the customers (by id, or a page) carries one more
column: each customer's answer, built by PostgreSQL (``json_build_object``,
``json_agg``) with exactly the selected fields, in the orderings of
`gateway.resolvers`. Every part behind a category boundary is guarded in
SQL by the caller's decision, written as a condition on the customer's
facts code (`Authorizer.readable_facts`: every point of it decided by
Cedar, once per cell and process), so a denied part is never read.

What PostgreSQL leaves for Python (:mod:`gateway.plan.walk`):

- a denied field is ``{}``: no GraphQL value is an empty object (a
  selection set is never empty);
- an item of a per-service list (``services``, ``lastKnownLocation``)
  carries its service category under ``"#"``, which is not a GraphQL name,
  and nothing else when it is denied.

Python then makes the same decisions with the authorizer (they are what
the audit records), checks that PostgreSQL agreed, and turns each denial
into its FORBIDDEN error.

A customer whose facts *settle* the selection (``settled``: for them every
decision is known in advance, the same for every service) gets its answer
written final instead: a denied field is ``null``, a per-service list
holds only the items the caller may see, nothing is marked. That text
goes into the response as it is; Python adds the errors and records the
decisions its facts code stands for, reading the text only when the
selection is decided below the Customer's own fields, to find where
(`gateway.plan.walk.Outcome`). A selection this
module does not know raises :class:`NotCompiled`, and the plan assembles
the answer in Python instead.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from graphql import GraphQLError

from gateway.authz.model import Category, ServiceCategory
from gateway.plan.compile import Node, NotPlanned
from gateway.resolvers.batch import shift_placeholders
from gateway.resolvers.customers import FactsCondition
from gateway.resolvers.facts import ALL_FACTS
from gateway.schema.lookups import page_size
from gateway.schema.scalars import is_month

if TYPE_CHECKING:
    from gateway.plan.execute import Execution

MARK = "#"  # the service category of a per-service list's item
DENIED = "'{}'::json"
# The lists whose items are each decided with their own service's category
# (SPEC 4): an item the caller may not see is left out, not an error.
PER_SERVICE: dict[tuple[str, str], Category] = {
    ("Customer", "services"): Category.SERVICE,
    ("Customer", "lastKnownLocation"): Category.LOCATION,
}
# json_build_object takes at most 100 arguments: 50 keys (and the mark).
MAX_KEYS = 49

Condition = Callable[[Category, "str | None"], FactsCondition]
ArgumentOf = Callable[["Execution", Node], Any]


class NotCompiled(Exception):
    """This selection is assembled in Python, not built by PostgreSQL."""


@dataclass(frozen=True)
class Document:
    """A Customer selection's JSON expression over ``c`` (customers) and ``f`` (its facts code).

    Its placeholders are numbered from ``$1``; :meth:`sql` renumbers them
    after a statement's own. ``arguments`` give their values for a request.
    ``facts``: the bits of the facts code its statement must compute (those
    the caller's decisions read). ``settles``: some customers' answers are
    written final (their text goes into the response as it is).
    """

    expression: str
    arguments: tuple[tuple[Node, ArgumentOf], ...]
    facts: int = ALL_FACTS
    settles: bool = False
    _shifted: dict[int, str] = field(default_factory=dict, compare=False, repr=False)

    def sql(self, after: int) -> str:
        found = self._shifted.get(after)
        if found is None:  # a statement has a handful of offsets (its filters)
            found = self._shifted[after] = shift_placeholders(self.expression, after)
        return found

    def values(self, run: Execution) -> list[Any]:
        return [argument(run, node) for node, argument in self.arguments]


def compile_document(
    nodes: Sequence[Node], condition: Condition, facts: int = ALL_FACTS, *, settled: FactsCondition | None = None
) -> Document:
    """The JSON expression of a Customer selected by ``nodes``, for the caller ``condition`` decides for.

    ``facts``: the bits of the facts code that caller's decisions read.
    ``settled``: the customers whose answer is written final (by their
    facts code); the others' is marked for the walk.
    """
    which = "false" if settled is None else _condition(settled)
    if which != "false":
        final = _Builder(condition, final=True)
        written = final.object("Customer", nodes, None)
        if which == "true":
            return Document(written, tuple(final.arguments), facts, settles=True)
    marked = _Builder(condition)
    walked = marked.object("Customer", nodes, None)
    if which == "false":
        return Document(walked, tuple(marked.arguments), facts)
    # Both forms, chosen by the facts code; the marked one's placeholders follow the final one's.
    walked = shift_placeholders(walked, len(final.arguments))
    expression = f"CASE WHEN {which} THEN {written} ELSE {walked} END"
    return Document(expression, (*final.arguments, *marked.arguments), facts, settles=True)


# -- leaves: (type, field) -> SQL over the type's alias -------------------------

# Whole seconds as PostgreSQL writes a timestamptz in JSON (the gateway's sessions run
# in UTC, gateway.db.create_pool: "+00:00"); a fraction with its six digits, as
# isoformat() writes it, by to_char (whose pattern is read on every call: a
# microsecond a value, twice the JSON output's cost). date_trunc compares
# timestamps: cheaper than extract's numeric.
_ISO = (
    "(CASE WHEN date_trunc('second', {0}) = {0} THEN to_json({0})"
    " ELSE to_json(to_char({0} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US+00:00')) END)"
)


def iso(column: str) -> str:
    """``datetime.isoformat()`` of a timestamptz, in UTC, as the reference path writes it, as json (null stays null)."""
    return _ISO.format(column)


LEAVES: dict[str, dict[str, str]] = {
    "Customer": {
        "id": "c.id::text", "accountNumber": "c.account_number", "segment": "c.segment", "status": "c.status",
        "name": "c.name", "listedPhone": "c.listed_phone",
    },
    "Address": {"line1": "a.line1", "city": "a.city", "state": "a.state", "postalCode": "a.postal_code"},
    "Service": {
        "id": "s.id::text", "category": "s.category", "plan": "s.plan", "status": "s.status",
        "activatedAt": iso("s.activated_at"),
    },
    "ServiceConfiguration": {
        "features": "g.features", "equipment": "g.equipment", "bandwidthMbps": "g.bandwidth_mbps",
        "ipAddress": "g.ip_address",
    },
    "UsageRecord": {
        "startedAt": iso("u.started_at"), "durationSeconds": "u.duration_seconds", "direction": "u.direction",
        "counterparty": "u.counterparty", "bytes": "u.bytes", "cellSite": "u.cell_site",
    },
    "UsageSummary": {
        "calls": "(count(*) FILTER (WHERE u.direction <> 'DATA'))::int4",
        "minutes": "((coalesce(sum(u.duration_seconds) FILTER (WHERE u.direction <> 'DATA'), 0)) / 60)::int4",
        "bytes": "coalesce(sum(u.bytes), 0)::int8",
    },
    "Invoice": {"id": "i.id::text", "period": "i.period", "issuedAt": iso("i.issued_at"), "status": "i.status"},
    "Money": {"amountCents": "{m}.amount_cents", "currency": "{m}.currency"},
    "PaymentMethod": {"kind": "p.kind", "last4": "p.last4"},
    "CpniApproval": {"status": "r.status", "scope": "r.scope", "channel": "r.channel", "recordedAt": iso("r.recorded_at")},
    "CpniNotice": {"id": "n.id::text", "sentAt": iso("n.sent_at"), "method": "n.method"},
    "DeviceLocation": {
        "serviceId": "s.id::text", "serviceCategory": "s.category", "cellSite": "l.cell_site",
        "seenAt": iso("l.started_at"),
    },
}  # fmt: skip


class _Builder:
    def __init__(self, condition: Condition, *, final: bool = False) -> None:
        self.condition = condition
        self.final = final  # denials written null and items left out, nothing marked
        self.arguments: list[tuple[Node, ArgumentOf]] = []

    def parameter(self, node: Node, argument: ArgumentOf, cast: str) -> str:
        self.arguments.append((node, argument))
        return f"${len(self.arguments)}::{cast}"

    # -- decisions ---------------------------------------------------------

    def allowed(self, category: Category, scope: str | None) -> str:
        """The caller's decision as SQL: for the customer, or (``scope``) for a service of that category."""
        if scope is None:
            found = _condition(self.condition(category, None))
        else:
            cases = [(value.value, _condition(self.condition(category, value.value))) for value in ServiceCategory]
            if len({sql for _, sql in cases}) == 1:
                found = cases[0][1]
            else:
                whens = " ".join(f"WHEN '{value}' THEN {sql}" for value, sql in cases)
                found = f"(CASE {scope} {whens} ELSE false END)"
        return found

    # -- objects -------------------------------------------------------------

    def object(self, type_name: str, nodes: Sequence[Node], scope: str | None, *, mark: str | None = None, money: str = "") -> str:
        if len(nodes) > MAX_KEYS:
            raise NotCompiled()
        pairs = [f"'{MARK}', {mark}"] if mark is not None else []
        for node in nodes:
            pairs.append(f"'{node.key}', {self.field(type_name, node, scope, money)}")
        return f"json_build_object({', '.join(pairs)})"

    def field(self, type_name: str, node: Node, scope: str | None, money: str = "") -> str:
        if node.definition is None:
            return f"to_json('{type_name}'::text)"
        boundary = node.boundary
        condition = "true"
        denied = "NULL::json" if self.final else DENIED
        if boundary is not None:
            condition = self.allowed(boundary.category, scope if boundary.service_scoped else None)
            if condition == "false":
                return denied  # nothing under it is read, not even its parameters
        build = OBJECTS.get((type_name, node.name))
        if build is not None:
            value = build(self, node)
        elif node.children is None and node.name in LEAVES.get(type_name, {}):
            # json_build_object writes a column as to_json would; a CASE beside the denial needs json
            column = LEAVES[type_name][node.name].format(m=money)
            value = column if condition == "true" else f"to_json({column})"
        else:
            raise NotCompiled()
        if condition == "true":
            return value
        return f"CASE WHEN {condition} THEN {value} ELSE {denied} END"

    def children(self, node: Node, scope: str | None = None, **options: Any) -> str:
        assert node.children is not None
        return self.object(node.type_name, node.children, scope, **options)

    def per_service(self, node: Node, category: Category, source: str, order: str) -> str:
        """A list with one item per service row of ``source``, each decided with that service's category."""
        allowed = self.allowed(category, "s.category")
        if self.final:  # only the items the caller may see
            if allowed == "false":
                return "'[]'::json"
            keep = "" if allowed == "true" else f" FILTER (WHERE {allowed})"
            item = self.children(node, "s.category")
            return f"coalesce((SELECT json_agg({item} ORDER BY {order}){keep} FROM {source}), '[]'::json)"
        if allowed == "false":
            item = f"json_build_object('{MARK}', s.category)"
        else:
            item = self.children(node, "s.category", mark="s.category")
        if allowed not in ("true", "false"):
            item = f"CASE WHEN {allowed} THEN {item} ELSE json_build_object('{MARK}', s.category) END"
        return f"coalesce((SELECT json_agg({item} ORDER BY {order}) FROM {source}), '[]'::json)"


def _condition(readable: FactsCondition) -> str:
    if not readable.codes:
        return "false"
    if not readable.mask:
        return "true"
    codes = ",".join(str(code) for code in readable.codes)
    return f"((f.facts_code & {readable.mask}) = ANY('{{{codes}}}'::int[]))"


# -- objects: (type, field) -> its JSON expression -----------------------------


def _address(kind: str) -> Callable[[_Builder, Node], str]:
    def build(b: _Builder, node: Node) -> str:
        return f"(SELECT {b.children(node)} FROM addresses a WHERE a.customer_id = c.id AND a.kind = '{kind}')"

    return build


def _contact(column: str) -> Callable[[_Builder, Node], str]:
    def build(b: _Builder, node: Node) -> str:
        return f"(SELECT to_json(k.{column}) FROM customer_contacts k WHERE k.customer_id = c.id)"

    return build


def _services(b: _Builder, node: Node) -> str:
    return b.per_service(node, Category.SERVICE, "services s WHERE s.customer_id = c.id", "s.id")


def _last_locations(b: _Builder, node: Node) -> str:
    source = (
        "services s CROSS JOIN LATERAL (SELECT u.cell_site, u.started_at FROM usage_records u"
        " WHERE u.customer_id = s.customer_id AND u.service_id = s.id AND u.cell_site IS NOT NULL"
        " ORDER BY u.started_at DESC LIMIT 1) l WHERE s.customer_id = c.id"
    )
    return b.per_service(node, Category.LOCATION, source, "s.id")


def page_argument(value: int | None, default: int, limit: int) -> int:
    """A ``first``/``last`` argument as the reference path checks it; NotPlanned where it refuses it."""
    try:
        return page_size(default if value is None else value, limit, "first")
    except GraphQLError:
        raise NotPlanned() from None  # the reference says how it fails


def _first(default: int, limit_of: Callable[[Execution], int], name: str) -> ArgumentOf:
    def value(run: Execution, node: Node) -> int:
        return page_argument(run.arguments(node).get(name), default, limit_of(run))

    return value


def _invoices(b: _Builder, node: Node) -> str:
    last = b.parameter(node, _first(12, lambda run: run.ctx.max_page_size, "last"), "int")
    return (
        f"coalesce((SELECT json_agg({b.children(node, money='i')} ORDER BY i.issued_at DESC, i.id DESC)"
        f" FROM (SELECT * FROM invoices i WHERE i.customer_id = c.id"
        f" ORDER BY i.issued_at DESC, i.id DESC LIMIT {last}) i), '[]'::json)"
    )


def _money(b: _Builder, node: Node) -> str:
    return b.children(node, money="i")


def _balance(b: _Builder, node: Node) -> str:
    return f"(SELECT {b.children(node, money='m')} FROM balances m WHERE m.customer_id = c.id)"


def _payment_method(b: _Builder, node: Node) -> str:
    return f"(SELECT {b.children(node)} FROM payment_methods p WHERE p.customer_id = c.id)"


def _approval(scope: str) -> Callable[[_Builder, Node], str]:
    def build(b: _Builder, node: Node) -> str:
        return (
            f"(SELECT {b.children(node)} FROM (SELECT * FROM cpni_approvals r"
            f" WHERE r.customer_id = c.id AND r.scope = '{scope}' ORDER BY r.recorded_at DESC, r.id DESC LIMIT 1) r)"
        )

    return build


def _notices(b: _Builder, node: Node) -> str:
    return (
        f"coalesce((SELECT json_agg({b.children(node)} ORDER BY n.sent_at DESC, n.id DESC)"
        " FROM cpni_notices n WHERE n.customer_id = c.id), '[]'::json)"
    )


def _configuration(b: _Builder, node: Node) -> str:
    return f"(SELECT {b.children(node)} FROM service_configurations g WHERE g.service_id = s.id)"


def _argument(name: str) -> ArgumentOf:
    def value(run: Execution, node: Node) -> Any:
        return run.arguments(node).get(name)

    return value


def _usage(b: _Builder, node: Node) -> str:
    since = b.parameter(node, _argument("from"), "timestamptz")
    until = b.parameter(node, _argument("to"), "timestamptz")
    first = b.parameter(node, _first(50, lambda run: run.ctx.max_usage_page, "first"), "int")
    return (
        f"coalesce((SELECT json_agg({b.children(node, 's.category')} ORDER BY u.started_at DESC)"
        f" FROM (SELECT * FROM usage_records u WHERE u.service_id = s.id"
        f" AND ({since} IS NULL OR u.started_at >= {since}) AND ({until} IS NULL OR u.started_at < {until})"
        f" ORDER BY u.started_at DESC LIMIT {first}) u), '[]'::json)"
    )


def month_of(run: Execution, node: Node) -> str:
    """The month a usage summary is for (this month when not given), as the reference path reads it."""
    month = run.arguments(node).get("month")
    if month is None:
        return run.this_month
    if not is_month(month):
        raise NotPlanned()
    return str(month)


@functools.lru_cache(maxsize=256)
def month_bounds(month: str) -> tuple[datetime, datetime]:
    """The first instant of ``YYYY-MM`` (UTC) and of the month after it."""
    start = datetime(int(month[:4]), int(month[5:]), 1, tzinfo=UTC)
    end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
    return start, end


def _month_start(run: Execution, node: Node) -> datetime:
    return month_bounds(month_of(run, node))[0]


def _month_end(run: Execution, node: Node) -> datetime:
    return month_bounds(month_of(run, node))[1]


def _usage_summary(b: _Builder, node: Node) -> str:
    assert node.children is not None
    start = b.parameter(node, _month_start, "timestamptz")
    end = b.parameter(node, _month_end, "timestamptz")
    pairs = []
    for child in node.children:
        if child.definition is None:
            value = "to_json('UsageSummary'::text)"
        elif child.name == "month":
            value = f"to_json({b.parameter(child, lambda run, _: month_of(run, node), 'text')})"
        else:
            value = f"to_json({LEAVES['UsageSummary'][child.name]})"
        pairs.append(f"'{child.key}', {value}")
    if len(pairs) > MAX_KEYS:
        raise NotCompiled()
    return (
        f"(SELECT json_build_object({', '.join(pairs)}) FROM usage_records u"
        f" WHERE u.service_id = s.id AND u.started_at >= {start} AND u.started_at < {end})"
    )


OBJECTS: dict[tuple[str, str], Callable[[_Builder, Node], str]] = {
    ("Customer", "serviceAddress"): _address("SERVICE"),
    ("Customer", "billingAddress"): _address("BILLING"),
    ("Customer", "email"): _contact("email"),
    ("Customer", "contactPhone"): _contact("contact_phone"),
    ("Customer", "services"): _services,
    ("Customer", "lastKnownLocation"): _last_locations,
    ("Customer", "invoices"): _invoices,
    ("Customer", "balance"): _balance,
    ("Customer", "paymentMethod"): _payment_method,
    ("Customer", "cpniApproval"): _approval("CPNI"),
    ("Customer", "locationApproval"): _approval("LOCATION"),
    ("Customer", "cpniNotices"): _notices,
    ("Invoice", "amount"): _money,
    ("Service", "configuration"): _configuration,
    ("Service", "usage"): _usage,
    ("Service", "usageSummary"): _usage_summary,
}
