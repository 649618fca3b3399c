"""Errors in document order: the order of their paths in the response.

Both execution paths report errors in this order (graphql-core's own order
follows the event loop), so the same request always gets the same answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from graphql import GraphQLError


def _position(data: Any, path: Sequence[str | int] | None) -> tuple[int, ...]:
    if not path:
        return ()
    position: list[int] = []
    value = data
    for segment in path:
        if isinstance(segment, int):
            position.append(segment)
            value = value[segment] if isinstance(value, list) and segment < len(value) else None
        elif isinstance(value, dict):
            keys = list(value)
            position.append(keys.index(segment) if segment in value else len(keys))
            value = value.get(segment)
        else:
            position.append(0)
            value = None
    return tuple(position)


def in_document_order(data: Any, errors: Sequence[GraphQLError]) -> list[GraphQLError]:
    """``errors`` sorted by where their path sits in ``data`` (errors without a path first)."""
    if len(errors) < 2:
        return list(errors)
    return sorted(errors, key=lambda e: _position(data, e.path))
