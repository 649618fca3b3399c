"""Errors the graph raises, each with a public ``extensions.code``.

The message never says why a field was denied: the reason may itself be
protected data (a consent status). Reasons go to the audit trail.
"""

from __future__ import annotations

import bisect
import re
import sys
from array import array

from graphql import GraphQLError, SourceLocation
from graphql.language import FieldNode

from gateway.authz.model import Category
from gateway.schema.sized_cache import SizedCache

FORBIDDEN_MESSAGE = "Not authorized to read this field"


class ForbiddenError(GraphQLError):
    """A denied field: null in ``data``, this error at its path."""

    def __init__(self, category: Category) -> None:
        super().__init__(
            FORBIDDEN_MESSAGE,
            extensions={"code": "FORBIDDEN", "category": category.value},
        )

    @classmethod
    def at(cls, category: Category, path: list[str | int], node: FieldNode) -> ForbiddenError:
        """A denial already located at ``path`` and ``node``.

        A list of 50 usage records can deny 50 cell sites; graphql-core would
        rescan the query text for each error's line and column, so the error
        arrives located, from a line table kept per document text.
        """
        error = cls(category)
        error.path = path
        located = location_of(node)
        if located is not None:
            error.locations = [located]
        return error


def location_of(node: FieldNode) -> SourceLocation | None:
    """Where ``node`` starts in its document (line and column, as graphql-core counts them)."""
    if node.loc is None:
        return None
    return _location(node.loc.source.body, node.loc.start)


# Line tables by document text, bounded in bytes (a distinct 1 MiB text of
# newlines must not pin its text and a million-entry table per entry).
_LINE_STARTS: SizedCache[array[int]] = SizedCache(64 * 1024 * 1024, max_entry_bytes=16 * 1024 * 1024)
_LINE_END = re.compile(r"\r\n|[\n\r]")


def _line_starts(body: str) -> array[int]:
    cached = _LINE_STARTS.get(body)
    if cached is not None:
        return cached
    table = array("q", [0])
    table.extend(match.end() for match in _LINE_END.finditer(body))
    _LINE_STARTS.put(body, table, sys.getsizeof(body) + table.itemsize * len(table))
    return table


def _location(body: str, position: int) -> SourceLocation:
    starts = _line_starts(body)
    line = bisect.bisect_right(starts, position)
    return SourceLocation(line, position - starts[line - 1] + 1)


class OperationForbiddenError(GraphQLError):
    """An operation the caller's division or purpose may not perform at all."""

    def __init__(self, message: str = "Not authorized for this operation") -> None:
        super().__init__(message, extensions={"code": "FORBIDDEN"})


class BadUserInputError(GraphQLError):
    def __init__(self, message: str) -> None:
        super().__init__(message, extensions={"code": "BAD_USER_INPUT"})


class QueryTooComplexError(GraphQLError):
    def __init__(self, message: str) -> None:
        super().__init__(message, extensions={"code": "QUERY_TOO_COMPLEX"})


class ServiceUnavailableError(Exception):
    """The database, policy or audit store cannot be used: fail closed (HTTP 503)."""
