"""Before measuring: every target answers 200 with real data, and all serve the same data.

A benchmark of a server that answers errors fast measures nothing, so each
target first gets the workload's request for a few customers:

* HTTP 200, ``data.customer`` with the asked id and a non-empty name;
* no GraphQL errors, except for the shipped gateway FORBIDDEN errors on
  ``cellSite`` (customer care may not read call location without express
  approval);
* the same document as the reference target (the first checked), except
  that where the shipped gateway reports FORBIDDEN its value is null.

Any failure stops the run with :class:`SanityError`.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import httpx

from bench.workload import PAGE_SIZE, PATH, body, query_kind

Document = dict[str, Any]


class SanityError(Exception):
    """A target's answer is not the expected data; the message says what and where."""


def fetch_samples(url: str, headers: dict[str, str], ids: Sequence[int], label: str) -> dict[int, Document]:
    """The decoded answers of ``label`` for ``ids``, each checked on its own."""
    samples: dict[int, Document] = {}
    with httpx.Client(base_url=url, headers=headers, timeout=30.0) as client:
        for customer_id in ids:
            response = client.post(PATH, content=body(customer_id))
            if response.status_code != 200:
                raise SanityError(
                    f"{label}: customer {customer_id}: HTTP {response.status_code}: {response.text[:300]}"
                )
            document = response.json()
            _check_document(document, customer_id, label)
            samples[customer_id] = document
    return samples


def _check_document(document: Document, customer_id: int, label: str) -> None:
    if query_kind() == "page":
        _check_page(document, customer_id, label)
        return
    customer = (document.get("data") or {}).get("customer")
    if not isinstance(customer, dict):
        raise SanityError(f"{label}: customer {customer_id}: no data.customer in {str(document)[:300]}")
    if customer.get("id") != str(customer_id) or not customer.get("name"):
        raise SanityError(f"{label}: customer {customer_id}: wrong id or no name: {str(customer)[:300]}")
    for error in document.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        path = error.get("path") or []
        if code != "FORBIDDEN" or not path or path[-1] != "cellSite":
            raise SanityError(f"{label}: customer {customer_id}: unexpected error {error}")


def _check_page(document: Document, customer_id: int, label: str) -> None:
    page = (document.get("data") or {}).get("customers")
    edges = page.get("edges") if isinstance(page, dict) else None
    if not isinstance(edges, list) or len(edges) != PAGE_SIZE:
        raise SanityError(f"{label}: page for {customer_id}: not {PAGE_SIZE} customers: {str(document)[:300]}")
    if document.get("errors"):
        raise SanityError(f"{label}: page for {customer_id}: unexpected errors {str(document['errors'])[:300]}")


def _nulled(data: Any, paths: list[list[Any]]) -> Any:
    """A copy of ``data`` with the value at each path set to null."""
    data = copy.deepcopy(data)
    for path in paths:
        node = data
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = None
    return data


def compare(reference: dict[int, Document], other: dict[int, Document], ref_label: str, label: str) -> None:
    """Raise unless ``other`` serves the same data as ``reference`` (denied values aside)."""
    for customer_id, ref in reference.items():
        mine = other[customer_id]
        forbidden = [e["path"] for e in mine.get("errors") or []]
        expected = _nulled(ref["data"], forbidden) if forbidden else ref["data"]
        if mine["data"] != expected:
            raise SanityError(
                f"{label} and {ref_label} disagree on customer {customer_id}: {_first_difference(expected, mine['data'])}"
            )


def _first_difference(a: Any, b: Any, path: str = "data") -> str:
    if type(a) is not type(b):
        return f"{path}: {a!r:.80} vs {b!r:.80}"
    if isinstance(a, dict):
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                return f"{path}.{key}: present in only one"
            if a[key] != b[key]:
                return _first_difference(a[key], b[key], f"{path}.{key}")
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} vs {len(b)} items"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                return _first_difference(x, y, f"{path}[{i}]")
    return f"{path}: {a!r:.80} vs {b!r:.80}"
