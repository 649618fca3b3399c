"""``operations check`` and the startup check: the registry validated against the built schema.

Builds the schema (Strawberry), so it sits beside, not inside, the pure
registry module.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphql import GraphQLSchema

from gateway.authz.model import Category
from gateway.authz.policy import PolicyBundle
from gateway.config import Limits
from gateway.documents import Prepared, Validator
from gateway.trusted.prepared import prepare_registry
from gateway.trusted.registry import Registry, load_registry


@dataclass(frozen=True)
class Checked:
    """A registry whose every file parses and validates."""

    registry: Registry
    prepared: dict[str, Prepared]
    schema: GraphQLSchema


def check_registry(bundle: PolicyBundle, limits: Limits) -> Checked:
    """Load and validate the registry beside ``bundle``; :class:`RegistryError` names the first bad file."""
    from gateway.schema import build_schema, graphql_schema  # noqa: PLC0415 - Strawberry only when checking

    schema = graphql_schema(build_schema())
    registry = load_registry(bundle.directory, bundle.divisions, max_tokens=limits.max_tokens)
    return Checked(registry, prepare_registry(registry, Validator(schema, limits)), schema)


def schema_categories() -> dict[str, Category]:
    """``Type.field`` -> the category it declares, from the built schema."""
    from gateway.schema import build_schema  # noqa: PLC0415
    from gateway.schema.fields import field_categories  # noqa: PLC0415

    return {name: f.category for name, f in field_categories(build_schema()).items()}
