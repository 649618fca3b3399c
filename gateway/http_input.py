"""What a POST /graphql request carries, checked before anything uses it.

Every check raises :class:`~gateway.responses.Refusal` with the public code:
the body must be JSON (``application/json`` or
``application/graphql-response+json``, UTF-8; anything else is 415), arrive
within the time budget, and hold no NUL character anywhere (PostgreSQL text
cannot store one, so it is bad input, never a driver error); headers hold no
NUL either, and ``X-Purpose`` names at most one purpose.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from starlette.requests import ClientDisconnect, Request

from gateway.responses import Refusal

JSON_MEDIA_TYPES = frozenset({"application/json", "application/graphql-response+json"})


class Disconnected(Exception):
    """The client went away before its request was read: nobody is left to answer."""


def check_media_type(request: Request) -> None:
    media_type, _, params = request.headers.get("content-type", "").partition(";")
    if media_type.strip().lower() not in JSON_MEDIA_TYPES:
        raise Refusal("UNSUPPORTED_MEDIA_TYPE", "Send a JSON body with Content-Type: application/json")
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise Refusal("UNSUPPORTED_MEDIA_TYPE", "JSON bodies are UTF-8")


def check_headers(request: Request) -> None:
    """No header value may carry a NUL byte."""
    for _, value in request.headers.raw:
        if b"\x00" in value:
            raise Refusal("BAD_USER_INPUT", "A header contains a NUL character")


def declared_purpose(request: Request) -> str | None:
    """The one purpose ``X-Purpose`` declares (repeated or comma-joined values must agree)."""
    values = {
        part.strip().lower()
        for header in request.headers.getlist("x-purpose")
        for part in header.split(",")
        if part.strip()
    }
    if len(values) > 1:
        raise Refusal("PURPOSE_REQUIRED", "Declare exactly one purpose in the X-Purpose header")
    return next(iter(values), None)


async def read_body(request: Request, *, timeout: float) -> dict[str, Any]:
    """The GraphQL request object in the body, read within ``timeout`` seconds."""
    check_media_type(request)
    try:
        raw = await asyncio.wait_for(request.body(), timeout=timeout)
    except TimeoutError:
        raise Refusal("TIMEOUT", "The request body did not arrive within the time budget") from None
    except ClientDisconnect:
        raise Disconnected() from None
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise Refusal("BAD_REQUEST", "The body is not valid JSON") from None
    if isinstance(body, list):
        raise Refusal("BAD_REQUEST", "Batched operations are not supported")
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        raise Refusal("BAD_REQUEST", "The body needs a `query` string")
    variables = body.get("variables")
    if variables is not None and not isinstance(variables, dict):
        raise Refusal("BAD_USER_INPUT", "`variables` must be an object")
    name = body.get("operationName")
    if name is not None and not isinstance(name, str):
        raise Refusal("BAD_REQUEST", "`operationName` must be a string")
    if _has_nul(variables) or (name is not None and "\x00" in name):
        raise Refusal("BAD_USER_INPUT", "A variable contains a NUL character")
    return body


def _has_nul(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False
