"""``Type.field`` -> data category, read from the schema's ``@category`` directives.

`policy explain` asks about a field the way a reviewer names it in GraphQL
(``Customer.email``, ``UsageRecord.cellSite``). The answer comes from the
built schema itself, never from a table kept by hand, so a field that
changes category changes what `explain` says.

A field is *per service* when it describes one service: it sits on a type
whose data the gateway decides service by service (a type with a field
enforced per service, e.g. ``Service``, ``UsageRecord``) or on a type only
reachable through one (``ServiceConfiguration``, ``UsageSummary``,
``DeviceLocation``), and its category is service-scoped; or it is a list
whose items are each decided with their service (``Customer.services``,
``Customer.lastKnownLocation``). Such a field is decided once per service of
the customer, with the service's category.

A field's *steps* are the decisions a query makes before its value is shown:
one per enforced field on the shortest path from ``Customer`` to it, then
the field's own (``UsageRecord.cellSite``: SERVICE at ``Customer.services``,
USAGE at ``Service.usage``, LOCATION at the field). A value reachable only
through a denied step is never shown, so the explanation decides every step.

Used by `explainAccess` and `cpni-gateway policy explain` alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import strawberry
from graphql import GraphQLObjectType, get_named_type

from gateway.authz.explain import Step
from gateway.authz.model import Category
from gateway.schema.categories import CategoryDirective
from gateway.schema.core import graphql_schema
from gateway.schema.enforce import Enforce


class FieldLookupError(ValueError):
    """The name is not a categorized ``Type.field`` of the schema (message safe to print)."""


@dataclass(frozen=True)
class FieldCategory:
    """What the schema declares about one field."""

    name: str  # "Type.field", GraphQL names
    category: Category
    per_service: bool  # decided once per service, with the service's category
    steps: tuple[Step, ...] = ()  # the decisions on its path from Customer, its own last


def field_categories(schema: strawberry.Schema) -> dict[str, FieldCategory]:
    """Every field of an object type that declares its own category (inherited ones excluded)."""
    objects = _object_types(schema)
    per_service = _per_service_types(objects)
    paths = _paths_from_customer(objects)
    found: dict[str, FieldCategory] = {}
    for type_name, graphql_type in objects.items():
        for field_name, graphql_field in graphql_type.fields.items():
            category = _declared(graphql_field)
            if category is None:
                continue
            name = f"{type_name}.{field_name}"
            path = paths.get(type_name, ())
            # Service-scoped data of a per-service type, a per-service list, or
            # anything reached only through a per-service step (Service.id).
            scoped = (
                (type_name in per_service or _per_item_service(graphql_field)) and category.service_scoped
            ) or any(step.per_service for step in path)
            own = _step(graphql_field, category) or Step(category, per_customer=not scoped, per_service=scoped)
            found[name] = FieldCategory(name, category, scoped, (*path, own))
    return found


def _step(graphql_field: Any, category: Category) -> Step | None:
    """The decision a field's enforcement extension makes, None if it has none."""
    definition = graphql_field.extensions.get("strawberry-definition")
    for e in getattr(definition, "extensions", ()):
        if isinstance(e, Enforce):
            return Step(category, per_customer=not e.service_scoped, per_service=e.service_scoped or e.per_item_service)
    return None


def _paths_from_customer(objects: dict[str, GraphQLObjectType]) -> dict[str, tuple[Step, ...]]:
    """Per object type reachable from Customer: the enforced decisions on the shortest way to it."""
    paths: dict[str, tuple[Step, ...]] = {"Customer": ()}
    frontier = ["Customer"] if "Customer" in objects else []
    while frontier:
        following: list[str] = []
        for name in frontier:
            for f in objects[name].fields.values():
                target = get_named_type(f.type)
                if not isinstance(target, GraphQLObjectType) or target.name not in objects or target.name in paths:
                    continue
                category = _declared(f)
                step = _step(f, category) if category is not None else None
                paths[target.name] = (*paths[name], *([step] if step else []))
                following.append(target.name)
        frontier = following
    return paths


def lookup_field(schema: strawberry.Schema, name: str) -> FieldCategory:
    """The category of ``Type.field``; `FieldLookupError` with a helpful message otherwise."""
    type_name, dot, field_name = name.partition(".")
    if not dot or not type_name or not field_name:
        raise FieldLookupError(f"`{name}`: name a field as Type.field, e.g. Customer.email")
    objects = _object_types(schema)
    graphql_type = objects.get(type_name)
    if graphql_type is None:
        raise FieldLookupError(f"`{name}`: the schema has no object type `{type_name}`")
    if field_name not in graphql_type.fields:
        known = ", ".join(graphql_type.fields)
        raise FieldLookupError(f"`{name}`: type `{type_name}` has no field `{field_name}` (fields: {known})")
    found = field_categories(schema).get(name)
    if found is not None:
        return found
    directive = _directive(graphql_type.fields[field_name])
    if directive is None:
        raise FieldLookupError(f"`{name}` has no data category (the schema would not build)")
    returning = sorted(
        f"{owner}.{fname} ({category.value})"
        for owner, t in objects.items()
        for fname, f in t.fields.items()
        if get_named_type(f.type) is graphql_type and (category := _declared(f)) is not None
    )
    raise FieldLookupError(
        f"`{name}` takes the category of the field that returns it; ask about that field: {', '.join(returning)}"
    )


def _object_types(schema: strawberry.Schema) -> dict[str, GraphQLObjectType]:
    return {
        name: t
        for name, t in graphql_schema(schema).type_map.items()
        if isinstance(t, GraphQLObjectType) and not name.startswith("__")
    }


def _directive(graphql_field: Any) -> CategoryDirective | None:
    definition = graphql_field.extensions.get("strawberry-definition")
    directives = getattr(definition, "directives", ())
    return next((d for d in directives if isinstance(d, CategoryDirective)), None)


def _declared(graphql_field: Any) -> Category | None:
    """The category a field declares itself, None if none or inherited."""
    directive = _directive(graphql_field)
    if directive is None or directive.inherited or directive.name is None:
        return None
    return Category(directive.name)


def _per_service_types(objects: dict[str, GraphQLObjectType]) -> set[str]:
    """Types holding a field enforced per service, types of per-service items, and what they reach."""
    pending = [
        name
        for name, t in objects.items()
        if any(_enforced_per_service(f) for f in t.fields.values())
    ]
    pending += [
        target.name
        for t in objects.values()
        for f in t.fields.values()
        if _per_item_service(f) and isinstance(target := get_named_type(f.type), GraphQLObjectType)
    ]
    seen: set[str] = set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        for f in objects[name].fields.values():
            target = get_named_type(f.type)
            if isinstance(target, GraphQLObjectType) and target.name in objects:
                pending.append(target.name)
    return seen


def _enforced_per_service(graphql_field: Any) -> bool:
    definition = graphql_field.extensions.get("strawberry-definition")
    return any(isinstance(e, Enforce) and e.service_scoped for e in getattr(definition, "extensions", ()))


def _per_item_service(graphql_field: Any) -> bool:
    definition = graphql_field.extensions.get("strawberry-definition")
    return any(isinstance(e, Enforce) and e.per_item_service for e in getattr(definition, "extensions", ()))
