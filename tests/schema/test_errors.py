"""Denials arrive located without rescanning the query text for each error."""

from __future__ import annotations

from graphql import Source

from gateway.schema.errors import _location


def test_locations_match_graphql_core_for_every_token_position() -> None:
    body = "query Q {\n  a\r\n  b\r c {\n\n d } }"
    for position, char in enumerate(body):
        if char in "\r\n":
            continue  # never the start of a field
        assert _location(body, position) == Source(body).get_location(position)
