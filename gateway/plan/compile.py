"""Compiling a validated operation into a plan: the selection tree, resolved once.

Fragments, aliases and ``@include``/``@skip`` are resolved here (the
directives' variables are part of the cache key), so executing a plan walks
a tree of :class:`Node` and never the document. Each node knows its output
key, the field it reads (its Python attribute, or a planned fetch), how to
serialize a leaf, and, at a category boundary, the category it must be
allowed (taken from the schema's own enforcement extensions: the Strawberry
schema stays the one definition).

An operation the planner does not cover (mutations, introspection, the
privacy office's roots, a field without a planned fetch) compiles to None
and runs on the reference path (graphql-core).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from graphql import (
    BooleanValueNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)

from gateway.authz.model import Category

# Types the planner assembles; a selection reaching any other type is not covered.
COVERED_TYPES = frozenset(
    {
        "Query", "Customer", "CustomerConnection", "CustomerEdge", "PageInfo", "Caller", "Address",
        "Service", "ServiceConfiguration", "UsageRecord", "UsageSummary", "Invoice", "Money",
        "PaymentMethod", "CpniApproval", "CpniNotice", "DeviceLocation",
    }
)  # fmt: skip
TYPENAME = "__typename"


@dataclass(frozen=True, slots=True)
class Boundary:
    """The category a field must be allowed before it resolves (SPEC 4, deny behaviour)."""

    category: Category
    service_scoped: bool


@dataclass(frozen=True, slots=True)
class Node:
    """One response key of one selection set."""

    key: str
    name: str
    field: FieldNode  # the first node merged under the key: its arguments and location
    definition: GraphQLField | None  # None for __typename
    type_name: str  # the named return type
    attribute: str  # the Python attribute of the source object that holds the value
    is_list: bool
    non_null: bool
    boundary: Boundary | None
    named: GraphQLNamedType | None  # the named return type (None for __typename)
    children: tuple[Node, ...] | None  # objects only
    fetch: tuple[str, str] | None = None  # (type, field) of a planned fetch, else the attribute is read


class NotPlanned(Exception):
    """This operation runs on the reference path."""


def directive_variables(document: DocumentNode) -> tuple[str, ...]:
    """Names of the variables `@include`/`@skip` read anywhere in the document (the plan's cache key)."""
    names: set[str] = set()

    def walk(selection_set: SelectionSetNode | None) -> None:
        if selection_set is None:
            return
        for selection in selection_set.selections:
            for directive in selection.directives or ():
                for argument in directive.arguments or ():
                    if isinstance(argument.value, VariableNode):
                        names.add(argument.value.name.value)
            if isinstance(selection, FieldNode | InlineFragmentNode):
                walk(selection.selection_set)

    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode | FragmentDefinitionNode):
            walk(definition.selection_set)
    return tuple(sorted(names))


def _included(selection: Any, variables: Mapping[str, Any]) -> bool:
    for directive in selection.directives or ():
        name = directive.name.value
        if name not in ("include", "skip"):
            continue
        (argument,) = [a for a in directive.arguments if a.name.value == "if"]
        value = argument.value
        if isinstance(value, BooleanValueNode):
            condition = value.value
        elif isinstance(value, VariableNode):
            given = variables.get(value.name.value)
            if not isinstance(given, bool):
                raise NotPlanned()
            condition = given
        else:
            raise NotPlanned()
        if (name == "include") != condition:
            return False
    return True


_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


class Compiler:
    """Compiles operations of one schema."""

    def __init__(self, schema: GraphQLSchema, planned: frozenset[tuple[str, str]]) -> None:
        """``planned``: the (type, field) pairs with a resolver that the executor fetches itself."""
        self.schema = schema
        self.planned = planned

    def compile(
        self, document: DocumentNode, operation: OperationDefinitionNode, variables: Mapping[str, Any]
    ) -> tuple[Node, ...]:
        """The root nodes of ``operation``; :class:`NotPlanned` when it is not covered."""
        if operation.operation is not OperationType.QUERY or self.schema.query_type is None:
            raise NotPlanned()
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        return self._nodes(self.schema.query_type, [operation.selection_set], fragments, variables)

    def _nodes(
        self,
        parent: GraphQLObjectType,
        selection_sets: Sequence[SelectionSetNode],
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
    ) -> tuple[Node, ...]:
        if parent.name not in COVERED_TYPES:
            raise NotPlanned()
        grouped: dict[str, list[FieldNode]] = {}

        def collect(selection_set: SelectionSetNode, seen: frozenset[str]) -> None:
            for selection in selection_set.selections:
                if not _included(selection, variables):
                    continue
                if isinstance(selection, FieldNode):
                    key = selection.alias.value if selection.alias else selection.name.value
                    grouped.setdefault(key, []).append(selection)
                elif isinstance(selection, InlineFragmentNode):
                    condition = selection.type_condition
                    if condition is None or condition.name.value == parent.name:
                        collect(selection.selection_set, seen)
                elif isinstance(selection, FragmentSpreadNode):
                    name = selection.name.value
                    fragment = fragments.get(name)
                    if fragment is None or name in seen:
                        continue
                    if fragment.type_condition.name.value == parent.name:
                        collect(fragment.selection_set, seen | {name})

        for selection_set in selection_sets:
            collect(selection_set, frozenset())
        return tuple(self._node(parent, key, fields, fragments, variables) for key, fields in grouped.items())

    def _node(
        self,
        parent: GraphQLObjectType,
        key: str,
        fields: list[FieldNode],
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
    ) -> Node:
        first = fields[0]
        name = first.name.value
        if name == TYPENAME:
            return Node(key, name, first, None, "String", "", False, True, None, None, None)
        if name.startswith("__"):
            raise NotPlanned()  # introspection runs on the reference path
        definition = parent.fields.get(name)
        if definition is None:
            raise NotPlanned()
        strawberry_field = (definition.extensions or {}).get("strawberry-definition")
        attribute = getattr(strawberry_field, "python_name", None) or _CAMEL.sub("_", name).lower()
        planned = (parent.name, name) in self.planned
        if getattr(strawberry_field, "base_resolver", None) is not None and not planned:
            raise NotPlanned()  # a resolver the executor does not know
        boundary = None
        for extension in getattr(strawberry_field, "extensions", None) or ():
            category = getattr(extension, "category", None)
            if isinstance(category, Category) and hasattr(extension, "service_scoped"):
                boundary = Boundary(category, bool(extension.service_scoped))
        output = definition.type
        non_null = isinstance(output, GraphQLNonNull)
        inner = output.of_type if isinstance(output, GraphQLNonNull) else output
        is_list = isinstance(inner, GraphQLList)
        named = get_named_type(output)
        if isinstance(named, GraphQLObjectType):
            selection_sets = [f.selection_set for f in fields if f.selection_set is not None]
            children = self._nodes(named, selection_sets, fragments, variables)
            fetch = (parent.name, name) if planned else None
            return Node(
                key, name, first, definition, named.name, attribute, is_list, non_null, boundary, named, children, fetch
            )
        if getattr(named, "serialize", None) is None:
            raise NotPlanned()
        fetch = (parent.name, name) if planned else None
        return Node(key, name, first, definition, named.name, attribute, is_list, non_null, boundary, named, None, fetch)
