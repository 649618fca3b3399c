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
decisions and denials are those its facts code stands for (:class:`Settled`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import orjson

from gateway.authz.model import Category, Decision, Division, Facts, Purpose, ServiceCategory
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

    ``decisions``: every decision its walk would make (the Customer's own
    fields; an item of a per-service list is decided as its list, for every
    service), recorded together; ``denials``: the fields denied, each a
    null and a FORBIDDEN error, in document order.
    """

    decisions: Alike
    denials: tuple[tuple[Node, str], ...]


class Settled(NamedTuple):
    """A customer's answer as PostgreSQL wrote it final: its facts settled every decision (`Outcome`).

    The text goes into the response as it is; the errors and the record
    are the outcome's. Recording a decision again changes nothing.
    """

    customer_id: int
    text: str
    outcome: Outcome

    def finish(self, run: Execution, link: Link) -> orjson.Fragment:
        outcome = self.outcome
        run.decisions.record_alike(self.customer_id, outcome.decisions)
        if outcome.denials:
            run.denials.extend((link, denial) for denial in outcome.denials)
        return orjson.Fragment(self.text)


def boundaries_of(type_name: str, nodes: Sequence[Node]) -> list[tuple[Node, Category, Category | None]] | None:
    """The boundaries a walk of ``nodes`` decides, each with its per-service items' category; None if it decides deeper.

    A walk that decides only at the selection's own fields asks each of them
    once per object (and each item of a per-service list with the item's
    category and service).
    """
    found: list[tuple[Node, Category, Category | None]] = []
    for node in nodes:
        if node.children is not None and walk_of(node.type_name, node.children) is not None:
            return None  # something under it is decided
        item_category = PER_SERVICE.get((type_name, node.name))
        if node.boundary is None:
            if item_category is not None:
                return None
            continue
        found.append((node, node.boundary.category, item_category))
    return found


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
    settles the selection when its walk would decide only at the Customer's
    own fields (`boundaries_of`) and each per-service list's items as the
    list itself, for every service, and when PostgreSQL's condition for
    every boundary (``condition``) agrees with the decision: what the
    walk checks customer by customer, checked once per code.
    """
    boundaries = boundaries_of("Customer", nodes)
    if boundaries is None:
        return None
    decided = {asked for _, category, items in boundaries for asked in (category, items) if asked is not None}
    mask = facts_read(authorizer, division, purpose, campaign, decided)
    codes = codes_under(mask)
    if len(codes) > MAX_SETTLED_CODES:
        return None

    def agrees(allowed: bool, category: Category, scope: str | None, code: int) -> bool:
        readable = condition(category, scope)
        return allowed is ((code & readable.mask) in readable.codes)

    def decide(category: Category, facts: Facts, service: ServiceCategory | None = None) -> Decision:
        return authorizer.decide(division, purpose, category, facts, service_category=service, campaign_categories=campaign)

    outcomes: dict[int, Outcome] = {}
    for code in codes:
        facts = decode(code)
        found: dict[tuple[Category, Decision], None] = {}
        denials: list[tuple[Node, str]] = []
        for node, category, items in boundaries:
            decision = decide(category, facts)
            if not agrees(decision.allowed, category, None, code):
                break
            if decision.allowed and items is not None and (
                items is not category  # its items would be recorded under another category
                or any(decide(items, facts, s) != decision or not agrees(True, items, s.value, code) for s in ServiceCategory)
            ):
                break
            if not decision.allowed:
                denials.append((node, node.key))
            found[(category, decision)] = None
        else:
            outcomes[code] = Outcome(Alike.of(tuple(found)), tuple(denials))
    if not outcomes:
        return None
    if len(outcomes) == len(codes):
        return mask, outcomes, FactsCondition(0, (0,))  # every customer
    return mask, outcomes, FactsCondition(mask, tuple(sorted(outcomes)))


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
