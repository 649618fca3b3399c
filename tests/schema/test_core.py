"""The one place the gateway reads Strawberry's internals still gives the schema Strawberry serves."""

from __future__ import annotations

import re

from graphql import GraphQLSchema

from gateway.schema import build_schema, graphql_schema


def test_the_graphql_core_schema_is_the_one_strawberry_prints() -> None:
    schema = build_schema()
    core = graphql_schema(schema)
    assert isinstance(core, GraphQLSchema)
    assert core.query_type is not None and "customer" in core.query_type.fields
    printed = set(re.findall(r"^(?:type|enum|input|scalar) (\w+)", str(schema), re.MULTILINE))
    assert printed and printed <= set(core.type_map)
