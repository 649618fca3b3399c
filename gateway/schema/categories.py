"""Data categories on the graph: the ``@category`` directive and the field helper.

Every field declares its category. A field whose category differs from the
category of the type it sits on gets the enforcement extension; fields of the
same category as their type were decided when the parent object was. The
schema refuses to build when a field has no category (see ``check.py``).
"""

from __future__ import annotations

from typing import Any, TypeVar

import strawberry
from strawberry.schema_directive import Location

from gateway.authz.model import Category
from gateway.schema.enforce import Enforce

DataCategory = strawberry.enum(Category, name="DataCategory", description="Data category of a field (CPNI.md).")

T = TypeVar("T")

# Python attribute set on every categorized type (see `categorized`).
TYPE_CATEGORY_ATTR = "__cpni_category__"
INHERITED = "INHERITED"


@strawberry.schema_directive(
    locations=[Location.FIELD_DEFINITION, Location.OBJECT],
    name="category",
    description=(
        "The data category of a field or type. `inherited: true` means the category "
        "of the field that returns the object (e.g. an Address)."
    ),
)
class CategoryDirective:
    name: Category | None = None
    inherited: bool = False


def categorized(category: Category | None) -> Any:
    """Class decorator: the type's own category (None = inherited from the returning field)."""

    def wrap(cls: type[T]) -> type[T]:
        setattr(cls, TYPE_CATEGORY_ATTR, category.value if category else INHERITED)
        return cls

    return wrap


# GraphiQL renders descriptions as markdown: each category links to its row
# of the policy matrix page (`GET /policy`, gateway/policy_page.py).
POLICY_ROW = "/policy#category-{name}"


def _describe(category: Category | None, description: str | None, service_scoped: bool) -> str:
    tag = (
        f"Data category: [{category.value}]({POLICY_ROW.format(name=category.value)})."
        if category
        else "Data category: inherited from the returning field."
    )
    if service_scoped:
        tag += " Decided per service."
    return f"{description} {tag}" if description else tag


def field(
    category: Category | None,
    *,
    enforce: bool = False,
    service_scoped: bool = False,
    per_item_service: bool = False,
    description: str | None = None,
    resolver: Any = None,
    **kwargs: Any,
) -> Any:
    """A strawberry field carrying its data category.

    ``enforce`` attaches the enforcement extension: set it where the category
    differs from the type's own; ``check.py`` verifies that at schema build.
    ``category=None`` is an inherited category (value types such as Address).
    """
    directive = CategoryDirective(name=category, inherited=category is None)
    extensions = list(kwargs.pop("extensions", []))
    if enforce:
        assert category is not None
        extensions.append(Enforce(category, service_scoped=service_scoped, per_item_service=per_item_service))
    options: dict[str, Any] = {
        "description": _describe(category, description, service_scoped or per_item_service),
        "directives": [directive],
        "extensions": extensions,
        **kwargs,
    }
    if resolver is not None:
        return strawberry.field(resolver=resolver, **options)
    return strawberry.field(**options)
