"""Errors the graph raises, each with a public ``extensions.code``.

The message never says why a field was denied: the reason may itself be
protected data (a consent status). Reasons go to the audit trail.
"""

from __future__ import annotations

from graphql import GraphQLError

from gateway.authz.model import Category


class ForbiddenError(GraphQLError):
    """A denied field: null in ``data``, this error at its path."""

    def __init__(self, category: Category) -> None:
        super().__init__(
            "Not authorized to read this field",
            extensions={"code": "FORBIDDEN", "category": category.value},
        )


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
