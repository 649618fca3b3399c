"""Finishing a customer that PostgreSQL built (gateway.plan.sql): decisions, denials, checks.

PostgreSQL decided each boundary from the customer's facts code; Python
makes the same decisions with the authorizer, at the same places the
reference path does (a boundary inside a null or denied part is never
reached), so the audit records the same decisions. Each denial becomes a
null and a FORBIDDEN error at its path; a per-service list loses the items
the caller may not see. Where the two disagree (PostgreSQL left data where
the authorizer denies, or the other way round) the walk raises
:class:`NotPlanned` and the reference path answers.

The walk is compiled once per selection and visits only the parts of the
answer on the way to a boundary. A customer whose facts settle the
selection is not walked: PostgreSQL wrote its answer final, and its
decisions and denials are those its facts code stands for (:class:`Settled`,
:class:`Outcome`). Below the Customer's own fields a decision is made only
where the answer holds an object it is asked on (a usage record's cell
site, for each usage record): for such a selection the final text is read
to find them, without deciding or checking anything again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import orjson

from gateway.authz.model import Category, Decision, Division, Purpose, ServiceCategory
from gateway.plan.compile import Node, NotPlanned
from gateway.plan.sql import MARK, PER_SERVICE, Condition
from gateway.resolvers.customers import FactsCondition
from gateway.resolvers.facts import codes_under, decode, facts_mask
from gateway.schema.context import Alike

if TYPE_CHECKING:
    from gateway.authz.decide import Authorizer
    from gateway.plan.assemble import Link
    from gateway.plan.execute import Execution

# (execution, customer id, service category in scope, the object, its link)
Walk = Callable[["Execution", int, "str | None", dict[str, Any], "Link"], None]


class Built(NamedTuple):
    """A customer's answer as PostgreSQL wrote it, to be finished where it lands in the response."""

    customer_id: int
    answer: dict[str, Any]  # as PostgreSQL built it, decoded; finished in place
    walk: Walk | None

    def finish(self, run: Execution, link: Link) -> dict[str, Any]:
        out = self.answer
        if self.walk is not None:
            self.walk(run, self.customer_id, None, out, link)
        return out


class Outcome(NamedTuple):
    """What a selection comes to for customers of one facts code, when their facts settle it (gateway.plan.sql).

    ``decisions``: the decisions at the Customer's own fields (an item of a
    per-service list is decided as its list, for every service), recorded
    for every such customer; ``denials``: the fields denied there, each a
    null and a FORBIDDEN error, in document order.

    A selection decided deeper (a service's usage, a usage record's cell
    site) has ``visits``: where in the answer its deeper boundaries lie. A
    deeper decision is recorded only where the answer holds an object it
    was asked on (``reachable``, by index), and a denied one is an error
    at each such object; the visit finds them, in document order, with the
    Customer's own denials among them.
    """

    decisions: Alike
    denials: tuple[tuple[Node, str], ...]
    visits: tuple[Visit, ...] | None = None
    reachable: tuple[tuple[Category, Decision], ...] = ()
    alike: dict[frozenset[int], Alike] | None = None  # by the deeper decisions reached

    def apply(self, run: Execution, customer_id: int, text: str, link: Link) -> None:
        """Record this outcome for one customer whose answer PostgreSQL wrote final (``text``), denials at ``link``."""
        if self.visits is None:
            run.decisions.record_alike(customer_id, self.decisions)
            if self.denials:
                run.denials.extend((link, denial) for denial in self.denials)
            return
        reached: set[int] = set()
        _visit(self.visits, orjson.loads(text), link, run.denials, reached)
        key = frozenset(reached)
        assert self.alike is not None
        alike = self.alike.get(key)
        if alike is None:
            found = dict.fromkeys((*self.decisions.decisions, *(self.reachable[i] for i in sorted(key))))
            alike = self.alike[key] = Alike.of(tuple(found))
        run.decisions.record_alike(customer_id, alike)


# Where a settled customer's deeper boundaries lie (Outcome.visits):
# (DENY, denial, reachable index or -1, None): a field denied here;
# (REACH, reachable index, None, None): a decision made here, when reached;
# (DESCEND, key, is a list, visits): the same within each object under key;
# (LEAVES, key, denials, reachable indexes): a list whose items hold only the
#   former two: each item's denials, the decisions once (a usage record's cell site).
DENY, REACH, DESCEND, LEAVES = 0, 1, 2, 3
Visit = tuple[int, Any, Any, Any]


def _descend(key: str, is_list: bool, inner: tuple[Visit, ...]) -> Visit:
    if not is_list or any(kind in (DESCEND, LEAVES) for kind, *_ in inner):
        return (DESCEND, key, is_list, inner)
    denials = tuple(a for kind, a, _, _ in inner if kind == DENY)
    reached = tuple(sorted({b if kind == DENY else a for kind, a, b, _ in inner} - {-1}))
    return (LEAVES, key, denials, reached)


def _visit(
    visits: tuple[Visit, ...], out: dict[str, Any], link: Link, denials: list[Any], reached: set[int]
) -> None:
    for kind, a, b, c in visits:
        if kind == DENY:
            denials.append((link, a))
            if b >= 0:
                reached.add(b)
        elif kind == REACH:
            reached.add(a)
        elif kind == LEAVES:
            value = out[a]
            if value:
                here = (link, a)
                if b:
                    denials.extend(((here, index), denial) for index in range(len(value)) for denial in b)
                reached.update(c)
        else:
            value = out[a]
            if value is None:
                continue  # null (or denied above): nothing under it is reached
            here = (link, a)
            if b:
                for index, item in enumerate(value):
                    _visit(c, item, (here, index), denials, reached)
            else:
                _visit(c, value, here, denials, reached)


class Settled(NamedTuple):
    """A customer's answer as PostgreSQL wrote it final: its facts settled every decision (`Outcome`).

    The text goes into the response as it is; the errors and the record
    are the outcome's. Recording a decision again changes nothing.
    """

    customer_id: int
    text: str
    outcome: Outcome

    def finish(self, run: Execution, link: Link) -> orjson.Fragment:
        self.outcome.apply(run, self.customer_id, self.text, link)
        return orjson.Fragment(self.text)


def facts_read(
    authorizer: Authorizer,
    division: Division,
    purpose: Purpose,
    campaign: frozenset[Category] | None,
    categories: Iterable[Category],
) -> int:
    """The bits of the facts code that the caller's decisions of ``categories`` read."""
    read: set[str] = set()
    for category in categories:
        read |= authorizer.relevant_facts(division, purpose, category, campaign_categories=campaign)
    return facts_mask(read)


# A selection's facts are enumerated code by code: beyond this many codes its customers are walked.
MAX_SETTLED_CODES = 512


def outcomes_of(
    nodes: Sequence[Node],
    authorizer: Authorizer,
    division: Division,
    purpose: Purpose,
    campaign: frozenset[Category] | None,
    condition: Condition,
) -> tuple[int, dict[int, Outcome], FactsCondition] | None:
    """The facts codes that settle a Customer selected by ``nodes``, each with its outcome; None if none does.

    Returns ``(mask, outcomes, settled)``: the bits of the facts code the
    selection's decisions read, the outcome of each settling code over
    them, and the condition PostgreSQL finds those customers by. A code
    settles the selection when every decision its walk could make, at any
    depth, is the same for every service in scope (a per-service list's
    items decided as the list itself), and when PostgreSQL's condition for
    every boundary (``condition``) agrees with the decision: what the walk
    checks customer by customer, checked once per code.
    """
    mask = facts_read(authorizer, division, purpose, campaign, categories_decided("Customer", nodes))
    codes = codes_under(mask)
    if len(codes) > MAX_SETTLED_CODES:
        return None
    outcomes: dict[int, Outcome] = {}
    for code in codes:
        settling = _Settling(authorizer, division, purpose, campaign, condition, code)
        visits = settling.visits("Customer", nodes, nested=False, in_service=False)
        if visits is None:
            continue
        base = Alike.of(tuple(settling.base))
        denials = tuple(a for kind, a, _, _ in visits if kind == DENY)
        if any(kind in (DESCEND, LEAVES) for kind, *_ in visits):
            outcomes[code] = Outcome(base, denials, visits, tuple(settling.reachable), {})
        else:
            outcomes[code] = Outcome(base, denials)
    if not outcomes:
        return None
    if len(outcomes) == len(codes):
        return mask, outcomes, FactsCondition(0, (0,))  # every customer
    return mask, outcomes, FactsCondition(mask, tuple(sorted(outcomes)))


def categories_decided(type_name: str, nodes: Sequence[Node]) -> set[Category]:
    """Every category a walk of ``nodes`` may ask for: their boundaries' and per-service items', at any depth."""
    found: set[Category] = set()
    for node in nodes:
        if node.boundary is not None:
            found.add(node.boundary.category)
        items = PER_SERVICE.get((type_name, node.name))
        if items is not None:
            found.add(items)
        if node.children is not None:
            found |= categories_decided(node.type_name, node.children)
    return found


class _Settling:
    """One facts code's decisions over a selection, made as its walk would make them (`outcomes_of`)."""

    def __init__(
        self,
        authorizer: Authorizer,
        division: Division,
        purpose: Purpose,
        campaign: frozenset[Category] | None,
        condition: Condition,
        code: int,
    ) -> None:
        self.authorizer, self.division, self.purpose, self.campaign = authorizer, division, purpose, campaign
        self.condition, self.code, self.facts = condition, code, decode(code)
        self.base: dict[tuple[Category, Decision], None] = {}  # the Customer's own fields', in order
        self.reachable: list[tuple[Category, Decision]] = []

    def decision(self, category: Category, services: Iterable[ServiceCategory | None]) -> Decision | None:
        """The one decision of ``category`` for every service in scope, when PostgreSQL's condition agrees; else None."""
        found: Decision | None = None
        for service in services:
            decision = self.authorizer.decide(
                self.division, self.purpose, category, self.facts,
                service_category=service, campaign_categories=self.campaign,
            )  # fmt: skip
            if found is not None and decision != found:
                return None
            readable = self.condition(category, None if service is None else service.value)
            if decision.allowed is not ((self.code & readable.mask) in readable.codes):
                return None
            found = decision
        return found

    def reach(self, decided: tuple[Category, Decision]) -> int:
        if decided not in self.reachable:
            self.reachable.append(decided)
        return self.reachable.index(decided)

    def visits(self, type_name: str, nodes: Sequence[Node], *, nested: bool, in_service: bool) -> tuple[Visit, ...] | None:
        """Where the boundaries under ``nodes`` lie, decided; None when something there is not settled."""
        found: list[Visit] = []
        for node in nodes:
            boundary, items = node.boundary, PER_SERVICE.get((type_name, node.name))
            if boundary is not None:
                scoped = in_service and boundary.service_scoped
                decision = self.decision(boundary.category, ServiceCategory if scoped else (None,))
                if decision is None:
                    return None
                decided = (boundary.category, decision)
                if not nested:
                    self.base[decided] = None
                if not decision.allowed:
                    found.append((DENY, (node, node.key), self.reach(decided) if nested else -1, None))
                    continue  # nothing under it is reached
                if nested and decided not in self.base:
                    found.append((REACH, self.reach(decided), None, None))
            if items is not None:
                # Settled only when each item is decided as the list: every service alike, allowed as the list is.
                if boundary is None or items is not boundary.category or self.decision(items, ServiceCategory) != decision:
                    return None
            if node.children is not None and walk_of(node.type_name, node.children) is not None:
                inner = self.visits(node.type_name, node.children, nested=True, in_service=in_service or items is not None)
                if inner is None:
                    return None
                if inner:
                    found.append(_descend(node.key, node.is_list, inner))
        return tuple(found)


def walk_of(type_name: str, nodes: Sequence[Node]) -> Walk | None:
    """The walk of an object of ``type_name`` selected by ``nodes``; None when nothing under it is decided."""
    steps = [step for node in nodes if (step := _step(type_name, node)) is not None]
    if not steps:
        return None
    if len(steps) == 1:
        return steps[0]

    def walk(run: Execution, customer_id: int, scope: str | None, out: dict[str, Any], link: Link) -> None:
        for step in steps:
            step(run, customer_id, scope, out, link)

    return walk


def _is_denied(value: Any) -> bool:
    return type(value) is dict and not value


# A leaf behind a boundary, as a list's items are checked: (key, category, service-scoped, denial).
Leaf = tuple[str, "Category", bool, tuple[Node, str]]


def _leaves(type_name: str, nodes: Sequence[Node]) -> list[Leaf] | None:
    """The leaf boundaries of an object selected by ``nodes`` when they are all its walk has, else None."""
    leaves: list[Leaf] = []
    for node in nodes:
        if node.boundary is None:
            if node.children is None or walk_of(node.type_name, node.children) is None:
                continue  # nothing under it is decided
            return None
        if node.children is not None or PER_SERVICE.get((type_name, node.name)) is not None:
            return None
        leaves.append((node.key, node.boundary.category, node.boundary.service_scoped, (node, node.key)))
    return leaves or None


def _list_of_leaves(leaves: list[Leaf]) -> Callable[[Execution, int, str | None, list[dict[str, Any]], Any], None]:
    """The walk of a list whose items have only leaf boundaries: each decided once for the whole list.

    The same customer and scope for every item, hence the same decisions;
    recording one is idempotent, so deciding once records what deciding per
    item would. Denials are met item after item, in document order.
    """

    def walk(run: Execution, customer_id: int, scope: str | None, items: list[dict[str, Any]], here: Any) -> None:
        if not items:
            return  # nothing decided, as per item
        decided = [
            (key, run.allowed(customer_id, category, scope if scoped else None), denial)
            for key, category, scoped, denial in leaves
        ]
        denials = run.denials
        for index, item in enumerate(items):
            for key, allowed, denial in decided:
                value = item[key]
                denied = type(value) is dict and not value
                if allowed:
                    if denied:
                        raise NotPlanned()  # PostgreSQL withheld what the authorizer allows
                else:
                    if not denied:
                        raise NotPlanned()  # PostgreSQL read what the authorizer denies: never answer it
                    item[key] = None
                    denials.append(((here, index), denial))

    return walk


def _step(type_name: str, node: Node) -> Walk | None:
    key = node.key
    inner = walk_of(node.type_name, node.children) if node.children is not None else None
    leaves = _leaves(node.type_name, node.children) if node.children is not None and node.is_list else None
    list_of_leaves = _list_of_leaves(leaves) if leaves is not None else None
    item_category = PER_SERVICE.get((type_name, node.name))
    boundary = node.boundary
    if boundary is None and inner is None and item_category is None:
        return None
    category = boundary.category if boundary else None
    scoped = boundary.service_scoped if boundary else False
    is_list = node.is_list
    denial = (node, key)

    def step(run: Execution, customer_id: int, scope: str | None, out: dict[str, Any], link: Link) -> None:
        value = out[key]
        if category is not None:
            if run.allowed(customer_id, category, scope if scoped else None):
                if _is_denied(value):
                    raise NotPlanned()  # PostgreSQL withheld what the authorizer allows
            else:
                if not _is_denied(value):
                    raise NotPlanned()  # PostgreSQL read what the authorizer denies: never answer it
                out[key] = None
                run.denials.append((link, denial))
                return
        if value is None:
            return
        here = (link, key)
        if item_category is not None:
            kept: list[dict[str, Any]] = []
            scopes: list[str] = []
            for item in value:
                service_category = item.pop(MARK)
                if run.allowed(customer_id, item_category, service_category):
                    if not item:
                        raise NotPlanned()
                    kept.append(item)
                    scopes.append(service_category)
                elif item:
                    raise NotPlanned()
            out[key] = kept
            if inner is not None:
                for index, item in enumerate(kept):
                    inner(run, customer_id, scopes[index], item, (here, index))
        elif inner is not None:
            if list_of_leaves is not None:
                list_of_leaves(run, customer_id, scope, value, here)
            elif is_list:
                for index, item in enumerate(value):
                    inner(run, customer_id, scope, item, (here, index))
            else:
                inner(run, customer_id, scope, value, here)

    return step
