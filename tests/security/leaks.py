"""What no response or log line of the gateway may ever contain, and the refusal shape."""

from __future__ import annotations

import re

import httpx

# SQL, driver names, stack traces, file paths, "Did you mean" suggestions.
LEAKS = ("Traceback", "asyncpg", "psycopg", "postgres", "SELECT ", "INSERT ", " FROM ", "Did you mean", ".py", "/work/")
PATH = re.compile(r"(?:/[\w.-]+){2,}\.(?:py|pem|key)\b|File \"")


def leaks_in(text: str, *secrets: str) -> list[str]:
    """The forbidden things found in ``text`` (with any given secrets, e.g. the token)."""
    found = [leak for leak in LEAKS if leak in text]
    found += [f"path {m.group(0)!r}" for m in PATH.finditer(text)]
    found += [f"secret {s[:8]}..." for s in secrets if s and s in text]
    return found


def assert_refused(response: httpx.Response, status: int, code: str, *secrets: str) -> None:
    """Refused with ``status`` and ``code``: no data, one error, nothing leaked."""
    assert response.status_code == status, response.text
    body = response.json()
    assert "data" not in body, body
    assert body["errors"][0]["extensions"]["code"] == code, body
    assert leaks_in(response.text, *secrets) == [], response.text
