"""A plan's nodes turned into functions, once per plan: the answer is assembled without interpreting nodes.

For each object selection the planner builds one function from a source
(a row, a page, the caller) to its response dict, made of one small step per
response key; a leaf step reads an attribute and serializes it with a
serializer chosen for its type once (a string passes as it is, an enum value
is looked up, a date is formatted). A step at a category boundary asks the
execution whether its category is allowed, and a denied one leaves null and
a denial (its path and node), turned into a FORBIDDEN error at the end.

Paths are built lazily as links ``(parent link, key or index)``; only a
denial's link is ever turned into a list.

Anything a step cannot answer as graphql-core would (a value of an
unexpected type, a null in a non-null field) raises :class:`NotPlanned`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from graphql import (
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLError,
    GraphQLFloat,
    GraphQLID,
    GraphQLInt,
    GraphQLNamedType,
    GraphQLString,
)

from gateway.plan.compile import Node, NotPlanned
from gateway.plan.walk import Built, Settled

if TYPE_CHECKING:
    from gateway.plan.execute import Execution

Link = tuple[Any, str | int] | None
Serialize = Callable[[Any], Any]
Complete = Callable[["Execution", Any, Link], Any]
Assemble = Callable[["Execution", Any, Link], dict[str, Any]]
Step = Callable[["Execution", Any, dict[str, Any], Link], None]
# A planned fetch: from its node and the completion of what it fetches, the step that asks for it.
FetchStep = Callable[[Node, Complete], Step]

INT_MIN, INT_MAX = -(2**31), 2**31 - 1


class Assembled(list[Any]):
    """A list already in its response form (a settled page's edges, gateway.plan.execute): completed as it is."""

    __slots__ = ()


def path_of(link: Link) -> list[str | int]:
    """The response path a link stands for."""
    segments: list[str | int] = []
    while link is not None:
        link, segment = link
        segments.append(segment)
    segments.reverse()
    return segments


def serializer(named: GraphQLNamedType) -> Serialize:
    """The output coercion of a leaf type, as graphql-core would apply it; NotPlanned when unsure."""
    if named is GraphQLString:
        return _string
    if named is GraphQLInt:
        return _int
    if named is GraphQLBoolean:
        return _boolean
    if named is GraphQLID:
        return _id
    if named is GraphQLFloat:
        return _float
    general = getattr(named, "serialize", None)
    if general is None:
        raise NotPlanned()
    if isinstance(named, GraphQLEnumType):
        return _memoized(general)
    if named.name == "DateTime":
        return _datetime(general)
    return _checked(general)


def _string(value: Any) -> Any:
    if type(value) is str:
        return value
    raise NotPlanned()  # graphql-core would coerce or refuse it: let the reference answer


def _int(value: Any) -> Any:
    if type(value) is int and INT_MIN <= value <= INT_MAX:
        return value
    raise NotPlanned()


def _boolean(value: Any) -> Any:
    if type(value) is bool:
        return value
    raise NotPlanned()


def _id(value: Any) -> Any:
    if type(value) is str:
        return value
    if type(value) is int:
        return str(value)
    raise NotPlanned()


def _float(value: Any) -> Any:
    if type(value) is float:
        return value
    raise NotPlanned()


def _checked(general: Serialize) -> Serialize:
    def serialize(value: Any) -> Any:
        if value is None:
            raise NotPlanned()
        try:
            return general(value)
        except (GraphQLError, ValueError, TypeError, ArithmeticError):
            raise NotPlanned() from None

    return serialize


def _datetime(general: Serialize) -> Serialize:
    checked = _checked(general)

    def serialize(value: Any) -> Any:
        return value.isoformat() if type(value) is datetime else checked(value)

    return serialize


# An enum has a handful of values: each distinct one is serialized once per plan.
ENUM_MEMO_SIZE = 256


def _memoized(general: Serialize) -> Serialize:
    checked = _checked(general)
    memo: dict[tuple[type, Any], Any] = {}

    def serialize(value: Any) -> Any:
        key = (type(value), value)
        try:
            return memo[key]
        except KeyError:
            pass
        except TypeError:  # unhashable: not an enum value
            raise NotPlanned() from None
        result = checked(value)
        if len(memo) < ENUM_MEMO_SIZE:
            memo[key] = result
        return result

    return serialize


def complete_of(node: Node, leaf: Serialize | None, fetches: dict[tuple[str, str], FetchStep]) -> Complete:
    """How a value of ``node`` (a row, a list of rows, a scalar) becomes its response value."""
    non_null = node.non_null
    if node.children is None:
        assert leaf is not None
        if node.is_list:

            def complete_leaves(run: Execution, value: Any, link: Link) -> Any:
                if value is None:
                    if non_null:
                        raise NotPlanned()
                    return None
                return [leaf(v) for v in value]

            return complete_leaves

        def complete_leaf(run: Execution, value: Any, link: Link) -> Any:
            if value is None:
                if non_null:
                    raise NotPlanned()
                return None
            return leaf(value)

        return complete_leaf
    assemble = object_of(node.type_name, node.children, fetches)
    if node.is_list:

        def complete_objects(run: Execution, value: Any, link: Link) -> Any:
            if value is None:
                if non_null:
                    raise NotPlanned()
                return None
            if type(value) is Assembled:
                return value
            return [assemble(run, item, (link, index)) for index, item in enumerate(value)]

        return complete_objects

    def complete_object(run: Execution, value: Any, link: Link) -> Any:
        if value is None:
            if non_null:
                raise NotPlanned()
            return None
        if type(value) is Built or type(value) is Settled:  # PostgreSQL built it (gateway.plan.sql)
            return value.finish(run, link)
        return assemble(run, value, link)

    return complete_object


def object_of(type_name: str, nodes: tuple[Node, ...], fetches: dict[tuple[str, str], FetchStep]) -> Assemble:
    """The function that assembles one object of ``type_name`` selected by ``nodes``."""
    steps = tuple(_step(type_name, node, fetches) for node in nodes)

    def assemble(run: Execution, source: Any, link: Link) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for step in steps:
            step(run, source, out, link)
        return out

    return assemble


def _step(type_name: str, node: Node, fetches: dict[tuple[str, str], FetchStep]) -> Step:
    key = node.key
    if node.definition is None:  # __typename

        def typename(run: Execution, source: Any, out: dict[str, Any], link: Link) -> None:
            out[key] = type_name

        return typename
    leaf = serializer(node.named) if node.children is None and node.named is not None else None
    complete = complete_of(node, leaf, fetches)
    if node.fetch is not None:
        step = fetches[node.fetch](node, complete)
    elif leaf is not None and not node.is_list:
        step = _read_leaf(node, leaf)
    else:
        attribute = node.attribute

        def read(run: Execution, source: Any, out: dict[str, Any], link: Link) -> None:
            out[key] = complete(run, getattr(source, attribute), (link, key))

        step = read
    boundary = node.boundary
    if boundary is None:
        return step
    category = boundary.category
    denial = (node, key)
    if boundary.service_scoped:

        def scoped(run: Execution, source: Any, out: dict[str, Any], link: Link) -> None:
            if run.allowed(source.customer_id, category, source.service_category):
                step(run, source, out, link)
            else:
                out[key] = None
                run.denials.append((link, denial))

        return scoped

    def guarded(run: Execution, source: Any, out: dict[str, Any], link: Link) -> None:
        if run.allowed(source.customer_id, category, None):
            step(run, source, out, link)
        else:
            out[key] = None
            run.denials.append((link, denial))

    return guarded


def _read_leaf(node: Node, leaf: Serialize) -> Step:
    key, attribute, non_null = node.key, node.attribute, node.non_null
    if leaf is _string:

        def read_string(run: Execution, source: Any, out: dict[str, Any], link: Link) -> None:
            value = getattr(source, attribute)
            if type(value) is str:
                out[key] = value
            elif value is None and not non_null:
                out[key] = None
            else:
                raise NotPlanned()

        return read_string

    def read_leaf(run: Execution, source: Any, out: dict[str, Any], link: Link) -> None:
        value = getattr(source, attribute)
        if value is None:
            if non_null:
                raise NotPlanned()
            out[key] = None
        else:
            out[key] = leaf(value)

    return read_leaf
