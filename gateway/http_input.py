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


GRAPHQL_RESPONSE = "application/graphql-response+json"


def response_media_type(request: Request) -> str:
    """What to answer in (GraphQL over HTTP): ``application/graphql-response+json`` when the
    ``Accept`` header prefers it, else ``application/json`` (also for no header, ``*/*`` or
    nothing known: a GraphQL answer is always JSON)."""
    best, best_q = "application/json", 0.0
    for item in request.headers.get("accept", "").split(","):
        media, *params = (part.strip() for part in item.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        media = media.lower()
        if media == GRAPHQL_RESPONSE:
            offered = GRAPHQL_RESPONSE
        elif media in ("application/json", "application/*", "*/*"):
            offered = "application/json"
        else:
            continue
        if quality > best_q:  # ties: the first listed wins
            best, best_q = offered, quality
    return best


AUTHZ_MODES = ("partial", "strict")


def strict_mode(request: Request) -> bool:
    """``X-Authz-Mode``: ``strict`` refuses the operation on any denial; ``partial`` (the default) nulls
    denied fields. Anything else is refused, never silently the default."""
    values = {value.strip().lower() for value in request.headers.getlist("x-authz-mode") if value.strip()}
    unknown = values - set(AUTHZ_MODES)
    if unknown or len(values) > 1:
        raise Refusal("BAD_USER_INPUT", "X-Authz-Mode must be `strict` (refuse on any denial) or `partial` (the default)")
    return values == {"strict"}


async def read_body(request: Request, *, timeout: float) -> dict[str, Any]:
    """The GraphQL request object in the body, read within ``timeout`` seconds."""
    check_media_type(request)
    try:
        async with asyncio.timeout(timeout):  # no task of its own, as wait_for would make
            raw = await request.body()
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
    if not isinstance(body, dict) or not (isinstance(body.get("query"), str) or _names_document(body)):
        raise Refusal("BAD_REQUEST", "The body needs a `query` string")
    variables = body.get("variables")
    if variables is not None and not isinstance(variables, dict):
        raise Refusal("BAD_USER_INPUT", "`variables` must be an object")
    extensions = body.get("extensions")
    if extensions is not None and not isinstance(extensions, dict):
        raise Refusal("BAD_REQUEST", "`extensions` must be an object")
    name = body.get("operationName")
    if name is not None and not isinstance(name, str):
        raise Refusal("BAD_REQUEST", "`operationName` must be a string")
    if _has_nul(variables) or (name is not None and "\x00" in name):
        raise Refusal("BAD_USER_INPUT", "A variable contains a NUL character")
    return body


def _names_document(body: dict[str, Any]) -> bool:
    """A persisted (trusted) document by id: ``documentId``, or Apollo's ``extensions.persistedQuery``."""
    if body.get("documentId") is not None:
        return True
    extensions = body.get("extensions")
    return isinstance(extensions, dict) and isinstance(extensions.get("persistedQuery"), dict)


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
