"""Schema build check: every field carries a data category, enforced where it must be.

Rules, checked over the built Strawberry schema:
1. every object type is categorized (``@categorized``);
2. every field carries a ``@category`` directive;
3. a field whose category is neither PUBLIC, nor the category of its type,
   nor inherited, has the enforcement extension (or an action gate) for
   exactly that category;
4. a field returning a categorized object type has that type's category,
   so that the fields of the returned object were decided with the field.
"""

from __future__ import annotations

from typing import Any

from strawberry.types.base import StrawberryList, StrawberryOptional, get_object_definition

from gateway.authz.model import Category
from gateway.schema.categories import INHERITED, TYPE_CATEGORY_ATTR, CategoryDirective
from gateway.schema.enforce import Enforce


class SchemaCategoryError(Exception):
    """The schema would expose a field without an enforced category."""


def _unwrap(type_: Any) -> Any:
    while isinstance(type_, StrawberryOptional | StrawberryList):
        type_ = type_.of_type
    return type_


def _gated(extension: Any) -> bool:
    return bool(getattr(extension, "is_action_gate", False))


def check_categories(types: list[type]) -> None:
    """Raise :class:`SchemaCategoryError` naming every offending ``Type.field``."""
    problems: list[str] = []
    seen: set[type] = set()
    pending = list(types)
    while pending:
        cls = pending.pop()
        if cls in seen:
            continue
        seen.add(cls)
        definition = get_object_definition(cls)
        if definition is None or definition.is_input:
            continue
        type_category = getattr(cls, TYPE_CATEGORY_ATTR, None)
        if type_category is None:
            problems.append(f"type {definition.name} has no data category")
            continue
        for f in definition.fields:
            where = f"{definition.name}.{f.name}"
            directives = [d for d in f.directives if isinstance(d, CategoryDirective)]
            if not directives:
                problems.append(f"field {where} has no data category")
                continue
            directive = directives[0]
            category = None if directive.inherited else directive.name
            if category is None and type_category != INHERITED:
                problems.append(f"field {where} inherits a category on a categorized type")
            needs_enforcement = category not in (None, Category.PUBLIC) and category.value != type_category
            enforced = {e.category for e in f.extensions if isinstance(e, Enforce)}
            if needs_enforcement and category not in enforced and not any(_gated(e) for e in f.extensions):
                problems.append(f"field {where} ({category}) is not enforced")
            target = _unwrap(f.type)
            if isinstance(target, type) and get_object_definition(target) is not None:
                pending.append(target)
                target_category = getattr(target, TYPE_CATEGORY_ATTR, None)
                if (
                    target_category not in (None, INHERITED, Category.PUBLIC.value)
                    and category is not None
                    and target_category != category.value
                ):
                    problems.append(
                        f"field {where} ({category}) returns {target.__name__} of category {target_category}"
                    )
    if problems:
        raise SchemaCategoryError("; ".join(sorted(problems)))
