"""HTTP answers of the GraphQL endpoint: one public code and status per case.

No answer carries a stack trace, SQL, a driver name, a file path, a token or a
"Did you mean" suggestion (graphql-core adds those to some messages).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import Response

from gateway.errors import strip_suggestions

__all__ = ["STATUS_BY_CODE", "Refusal", "error_response", "json_response", "new_request_id", "strip_suggestions"]

STATUS_BY_CODE = {
    "GRAPHQL_PARSE_FAILED": 400,
    "GRAPHQL_VALIDATION_FAILED": 400,
    "QUERY_TOO_COMPLEX": 400,
    "BAD_USER_INPUT": 400,
    "BAD_REQUEST": 400,
    "OPERATION_NOT_REGISTERED": 400,
    "PERSISTED_DOCUMENT_NOT_FOUND": 400,
    "UNAUTHENTICATED": 401,
    "PURPOSE_REQUIRED": 400,
    "PURPOSE_NOT_ALLOWED": 403,
    "CAMPAIGN_REQUIRED": 403,
    "FORBIDDEN": 403,
    "METHOD_NOT_ALLOWED": 405,
    "PAYLOAD_TOO_LARGE": 413,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "SERVICE_UNAVAILABLE": 503,
    "TIMEOUT": 504,
    "INTERNAL_SERVER_ERROR": 500,
}


def new_request_id() -> str:
    """A fresh request id: in the ``X-Request-Id`` header, the log line and the audit events."""
    return secrets.token_hex(8)


class Refusal(Exception):
    """A request answered with one error and no data."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def error_response(code: str, message: str, request_id: str, extra: Mapping[str, Any] | None = None) -> Response:
    body = {"errors": [{"message": message, "extensions": {"code": code, **(extra or {})}}]}
    return json_response(body, STATUS_BY_CODE[code], request_id)


def json_response(body: Any, status: int, request_id: str, headers: Mapping[str, str] | None = None) -> Response:
    all_headers = {"X-Request-Id": request_id, "Cache-Control": "no-store", **(headers or {})}
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=all_headers)
