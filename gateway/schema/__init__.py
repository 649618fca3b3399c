"""The public graph: Strawberry types, their data categories and enforcement."""

from __future__ import annotations

import strawberry
from strawberry.schema.config import StrawberryConfig

from gateway.schema.check import check_categories
from gateway.schema.query import Query
from gateway.schema.scalars import SCALAR_MAP


def build_schema() -> strawberry.Schema:
    """Build the schema; refuse to if any field lacks an enforced category."""
    from gateway.schema.mutation import Mutation  # noqa: PLC0415 - optional root

    check_categories([Query, Mutation])
    return strawberry.Schema(query=Query, mutation=Mutation, config=StrawberryConfig(scalar_map=SCALAR_MAP))
