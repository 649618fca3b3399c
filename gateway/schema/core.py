"""Where the gateway meets Strawberry's internals: one function, pinned by a test."""

from __future__ import annotations

import strawberry
from graphql import GraphQLSchema


def graphql_schema(schema: strawberry.Schema) -> GraphQLSchema:
    """The graphql-core schema Strawberry built: what validation, execution and the planner use.

    Strawberry keeps it as ``Schema._schema`` and has no public accessor (its
    maintainers point there); this is the one place in the gateway that reads
    it, and ``tests/schema`` pins that it is the schema Strawberry prints.
    """
    built: GraphQLSchema = schema._schema
    return built
