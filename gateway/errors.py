"""The gateway's errors, and what a caller sees of each.

A request ends in one of three ways: it is answered (data, perhaps with
field errors), refused (one error, no data), or the gateway cannot answer
(a backing store is unavailable: fail closed). The classes:

    FieldError                 a field answered null with an error at its path
                               (FORBIDDEN + category); the rest of the data is sent
    Refusal                    the whole request refused with one public code
                               (``gateway.responses``: code -> HTTP status)
      NotRegistered            not a registered trusted document (``gateway.trusted``)
    AuthError                  no valid token or purpose (``gateway.auth``): 401/400/403
    KeySourceUnavailable       the JWKS cannot be read: 503
    ServiceUnavailableError    the database, policy or facts cannot be used: 503
    AuditUnavailable           the audit store refused the request's events: 503, no data
    Disconnected               the client went away: nothing is sent (logged as 499)

Errors of graphql-core's reference path (``GraphQLError``) become
:class:`FieldError` (or a refusal) once, in the endpoint; nothing after that
matches on message text.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError


class FieldError:
    """One error of an answer, in its public form (message, locations, path, extensions)."""

    __slots__ = ("formatted", "code", "category")
    formatted: dict[str, Any]
    code: str
    category: str | None

    def __init__(self, formatted: dict[str, Any]) -> None:
        self.formatted = formatted
        # Read once: the endpoint asks every error for both (an answer may hold hundreds).
        extensions = formatted["extensions"]
        self.code = str(extensions["code"])
        category = extensions.get("category")
        self.category = category if isinstance(category, str) else None

    @classmethod
    def at(cls, path: list[str | int], shared: tuple[dict[str, Any], str, str | None]) -> FieldError:
        """The error of ``shared`` (its form without a path, its code and category, made once per field) at ``path``.

        The planner makes hundreds of denials of one field per answer. The
        template's values (locations, extensions) are shared by every error
        made from it, across requests: a formatted error is never changed.
        """
        error = cls.__new__(cls)
        template, error.code, error.category = shared
        error.formatted = {**template, "path": path}
        return error

    @classmethod
    def of(cls, error: GraphQLError) -> FieldError:
        """A graphql-core error in its public form: no "Did you mean", a code always."""
        formatted: dict[str, Any] = {"message": strip_suggestions(error.message)}
        if error.locations:
            formatted["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
        if error.path is not None:
            formatted["path"] = error.path
        extensions = dict(error.extensions or {})
        extensions.setdefault("code", "INTERNAL_SERVER_ERROR")
        formatted["extensions"] = extensions
        return cls(formatted)


def strip_suggestions(message: str) -> str:
    """graphql-core's message without its "Did you mean ..." (it would list schema names)."""
    cut = message.find(" Did you mean")
    return message if cut < 0 else message[:cut]
