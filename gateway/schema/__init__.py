"""The public graph: Strawberry types, their data categories and enforcement."""

from __future__ import annotations

import strawberry
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from gateway.authz.model import Category
from gateway.schema.categories import TYPE_CATEGORY_ATTR
from gateway.schema.check import check_categories
from gateway.schema.core import graphql_schema
from gateway.schema.mutation import Mutation
from gateway.schema.privacy import PrivacyQuery
from gateway.schema.query import Query
from gateway.schema.scalars import SCALAR_MAP

__all__ = ["build_schema", "graphql_schema"]


def build_schema() -> strawberry.Schema:
    """Build the schema; refuse to if any field lacks an enforced category."""
    # The privacy office's queries (audit trail, explain) live in their own module.
    query = merge_types("Query", (Query, PrivacyQuery))
    setattr(query, TYPE_CATEGORY_ATTR, Category.PUBLIC.value)
    check_categories([query, Mutation])
    return strawberry.Schema(query=query, mutation=Mutation, config=StrawberryConfig(scalar_map=SCALAR_MAP))

