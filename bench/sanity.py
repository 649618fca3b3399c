"""Before timing: every target answers the same requests with the floor's data, denied parts aside.

A benchmark of a server that answers errors fast measures nothing, so for
each query a few sample requests (the same customers or page positions for
every target) go to every target first, and:

* every answer is HTTP 200 with data (``data.customer`` with the asked id,
  or a full page of customers);
* the floor's answer is the reference. ``off`` (nothing denied) must equal
  it exactly, without errors. ``on`` may carry ``FORBIDDEN`` errors only;
  its data must equal the floor's with the value at each such error's path
  null, and with the services a per-service decision hid left out of a
  ``services`` list (the gateway leaves out, without an error, a service
  outside the caller's relationship).

Anything else stops the run with :class:`SanityError` naming target and query.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import httpx

from bench.workload import PAGE_SIZE, PATH, Query

Document = dict[str, Any]
HIDDEN_ITEMS = frozenset({"services"})  # lists whose items a decision may leave out without an error


class SanityError(Exception):
    """A target's answer is not the expected data; the message says what and where."""


def fetch(url: str, headers: dict[str, str], bodies: Sequence[bytes], where: str) -> list[Document]:
    """The decoded answers to ``bodies``, each HTTP 200 with JSON."""
    out = []
    with httpx.Client(base_url=url, headers=headers, timeout=60.0) as client:
        for index, content in enumerate(bodies):
            response = client.post(PATH, content=content)
            if response.status_code != 200:
                raise SanityError(f"{where}: sample {index}: HTTP {response.status_code}: {response.text[:300]}")
            out.append(response.json())
    return out


def check_shape(query: Query, document: Document, where: str) -> None:
    """The answer has data of the query's shape."""
    data = document.get("data") or {}
    if query.paged:
        page = data.get("customers")
        edges = page.get("edges") if isinstance(page, dict) else None
        if not isinstance(edges, list) or len(edges) != PAGE_SIZE:
            raise SanityError(f"{where}: not a page of {PAGE_SIZE} customers: {str(document)[:300]}")
    elif not isinstance(data.get("customer"), dict) or not data["customer"].get("id"):
        raise SanityError(f"{where}: no data.customer in {str(document)[:300]}")


def expected_from_floor(floor: Document, forbidden_paths: Sequence[Sequence[str | int]]) -> Any:
    """The floor's data with the value at each denied path set to null."""
    data = copy.deepcopy(floor["data"])
    for path in forbidden_paths:
        node = data
        try:
            for step in path[:-1]:
                node = node[step]
            node[path[-1]] = None
        except (KeyError, IndexError, TypeError):
            raise SanityError(f"a FORBIDDEN error at {list(path)}, a path the floor's answer does not have") from None
    return data


def difference(expected: Any, actual: Any, *, hidden_items: bool, path: str = "data", key: str = "") -> str | None:
    """Where ``actual`` first differs from ``expected`` (None: equal).

    With ``hidden_items``, a list under a key of :data:`HIDDEN_ITEMS` may
    leave out items (matched by ``id``), keeping the order of the rest.
    """
    if type(expected) is not type(actual):
        return f"{path}: {expected!r:.80} vs {actual!r:.80}"
    if isinstance(expected, dict):
        for k in list(expected) + [k for k in actual if k not in expected]:
            if k not in expected or k not in actual:
                return f"{path}.{k}: present in only one"
            found = difference(expected[k], actual[k], hidden_items=hidden_items, path=f"{path}.{k}", key=k)
            if found:
                return found
        return None
    if isinstance(expected, list):
        if hidden_items and key in HIDDEN_ITEMS and all(isinstance(x, dict) and "id" in x for x in expected + actual):
            kept = {x["id"] for x in actual}
            expected = [x for x in expected if x["id"] in kept]
        if len(expected) != len(actual):
            return f"{path}: {len(expected)} vs {len(actual)} items"
        for i, (x, y) in enumerate(zip(expected, actual, strict=True)):
            found = difference(x, y, hidden_items=hidden_items, path=f"{path}[{i}]", key=key)
            if found:
                return found
        return None
    return None if expected == actual else f"{path}: {expected!r:.80} vs {actual!r:.80}"


def compare(target: str, floor: Document, answer: Document, where: str) -> None:
    """Raise unless ``answer`` (of ``target``) is the floor's data, denied parts aside (module docstring)."""
    errors = answer.get("errors") or []
    if target != "on" and errors:
        raise SanityError(f"{where}: unexpected errors {str(errors)[:300]}")
    for error in errors:
        if (error.get("extensions") or {}).get("code") != "FORBIDDEN" or not error.get("path"):
            raise SanityError(f"{where}: unexpected error {str(error)[:300]}")
    try:
        expected = expected_from_floor(floor, [e["path"] for e in errors])
    except SanityError as exc:
        raise SanityError(f"{where}: {exc}") from None
    found = difference(expected, answer.get("data"), hidden_items=target == "on")
    if found:
        raise SanityError(f"{where}: differs from the floor at {found}")
