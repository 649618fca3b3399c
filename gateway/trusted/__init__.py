"""Trusted documents (SPEC 4): each division runs only the operations security has reviewed.

``policies/operations/<division>/*.graphql`` holds each division's registered
operations, reviewed beside the policies. A document's id is
``sha256:<hex>`` of its *normalised* text: graphql-core's
``print_ast(parse(text))``, which drops comments, insignificant whitespace
and commas, so a reformatted or commented copy keeps its id (the order of
fields and definitions still counts: it changes the response).

Modules:

- ``registry``: load the registry, normalise texts, compute ids. Pure (no
  Strawberry, no I/O beyond reading the files).
- ``review``: what a registered operation can read (its categories) and,
  per purpose its division may declare, the matrix letter of each; the
  changes between two registries. Renders md and json.
- ``prepared``: the registry validated against the schema and the limits
  and parsed once (startup), and the lookups the endpoint makes per request.
- ``check``: the registry checked against the built schema (``operations
  check``, ``serve``'s startup check).

Audit: every event records ``document_id`` and ``document_trust``
(REGISTERED, UNREGISTERED under ``log``, REFUSED), covered by its digest
(migration 0007, gateway/audit/chain.py).
"""

from __future__ import annotations

from gateway.trusted.registry import (
    MODES,
    Registry,
    RegistryError,
    TrustedDocument,
    document_id,
    load_registry,
    normalise,
)

__all__ = ["MODES", "Registry", "RegistryError", "TrustedDocument", "document_id", "load_registry", "normalise"]
