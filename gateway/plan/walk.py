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
answer on the way to a boundary.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import orjson

from gateway.plan.compile import Node, NotPlanned
from gateway.plan.sql import MARK, PER_SERVICE

if TYPE_CHECKING:
    from gateway.authz.model import Category
    from gateway.plan.assemble import Link
    from gateway.plan.execute import Execution
    from gateway.schema.context import Alike

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


class Constant(NamedTuple):
    """A customer's answer as PostgreSQL wrote it for a caller allowed all of it, whatever the facts and service.

    (`gateway.plan.sql.compile_constant`.) Every customer is decided alike,
    so the walk reduces to recording ``decisions``, the decision of each
    boundary the walk would reach: the items of a per-service list are
    decided as the list itself is (the planner checks every service), and
    recording a decision again changes nothing. The text goes into the
    response as it is.
    """

    customer_id: int
    text: str
    decisions: Alike

    def finish(self, run: Execution, link: Link) -> orjson.Fragment:
        if "{}" in self.text:
            raise NotPlanned()  # a denial where none can be (or a value that looks like one): the reference answers
        run.decisions.record_alike(self.customer_id, self.decisions)
        return orjson.Fragment(self.text)


def boundaries_of(type_name: str, nodes: Sequence[Node]) -> list[tuple[Category, Category | None]] | None:
    """The boundaries a walk of ``nodes`` decides, each with its per-service items' category; None if it decides deeper.

    A walk that decides only at the selection's own fields asks each of them
    once per object (and each item of a per-service list with the item's
    category and service).
    """
    found: list[tuple[Category, Category | None]] = []
    for node in nodes:
        if node.children is not None and walk_of(node.type_name, node.children) is not None:
            return None  # something under it is decided
        item_category = PER_SERVICE.get((type_name, node.name))
        if node.boundary is None:
            if item_category is not None:
                return None
            continue
        found.append((node.boundary.category, item_category))
    return found


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
