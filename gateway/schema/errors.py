"""Errors the graph raises, each with a public ``extensions.code``.

The message never says why a field was denied: the reason may itself be
protected data (a consent status). Reasons go to the audit trail.
"""

from __future__ import annotations

import bisect
from functools import lru_cache

from graphql import GraphQLError, SourceLocation
from graphql.language import FieldNode

from gateway.authz.model import Category


class ForbiddenError(GraphQLError):
    """A denied field: null in ``data``, this error at its path."""

    def __init__(self, category: Category) -> None:
        super().__init__(
            "Not authorized to read this field",
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
        if node.loc is not None:
            body = node.loc.source.body
            error.locations = [_location(body, node.loc.start)]
        return error


@lru_cache(maxsize=256)
def _line_starts(body: str) -> tuple[int, ...]:
    starts = [0]
    for index, char in enumerate(body):
        if char == "\n" or (char == "\r" and body[index + 1 : index + 2] != "\n"):
            starts.append(index + 1)
    return tuple(starts)


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
