"""The schema as SDL, with the ``@category`` directive applied on every field.

Introspection does not carry applied directives, so clients and reviewers
get the categories from this text: ``cpni-gateway schema print`` and
``GET /graphql/schema.graphql`` both serve it.
"""

from __future__ import annotations

from functools import cache

from gateway.schema import build_schema


@cache
def schema_sdl() -> str:
    return build_schema().as_str() + "\n"
