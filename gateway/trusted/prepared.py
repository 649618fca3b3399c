"""The registry as the endpoint uses it: prepared once, looked up per request.

At startup every registered document is validated against the schema and
the limits (the same :class:`~gateway.documents.Validator` requests get)
and parsed from its normalised text; a file that does not validate stops
startup with one line naming it. Per request, :meth:`TrustedDocuments.resolve`
turns the body (``query``, ``documentId`` or Apollo's
``extensions.persistedQuery.sha256Hash``) into the text to run and the
verdict of the check, before anything else reads the document:

- ``off``: no check; a ``documentId`` is still resolved from the registry.
- ``log``: everything runs; the audit events say whether the document was
  registered for the caller's division.
- ``enforce``: a document not registered for the caller's division is
  refused (``OPERATION_NOT_REGISTERED``) before it is validated or run.

An id the registry does not hold is ``PERSISTED_DOCUMENT_NOT_FOUND`` in
every mode: there is no text to run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLError

from gateway.documents import Prepared, Validator
from gateway.responses import Refusal
from gateway.schema.sized_cache import SizedCache
from gateway.trusted.registry import ID_PREFIX, MODES, Registry, RegistryError, normalise, text_id

REGISTERED = "REGISTERED"
UNREGISTERED = "UNREGISTERED"
REFUSED = "REFUSED"
# Texts seen -> their ids: normalising costs a parse, repeated texts cost a lookup.
ID_CACHE_BYTES = 8 * 1024 * 1024
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class Resolved:
    """What a request runs, and what the check found (``trust`` None: the check is off)."""

    text: str
    document_id: str | None
    trust: str | None
    prepared: Prepared | None = None  # prepared at startup (a registered document)

    @property
    def mark(self) -> tuple[str | None, str] | None:
        """What the audit events record."""
        return None if self.trust is None else (self.document_id, self.trust)


class NotRegistered(Refusal):
    """400 OPERATION_NOT_REGISTERED; carries the id, for the audit event of the refusal."""

    def __init__(self, document_id: str | None) -> None:
        super().__init__("OPERATION_NOT_REGISTERED", "This operation is not registered for your division")
        self.document_id = document_id


def prepare_registry(registry: Registry, validator: Validator) -> dict[str, Prepared]:
    """Each registered document, validated and parsed; :class:`RegistryError` naming the first bad file."""
    prepared: dict[str, Prepared] = {}
    for doc in registry.documents:
        if doc.id in prepared:
            continue
        result = validator.prepare(doc.text)
        if result.document is None:
            message = "; ".join(result.messages[:3]) or "invalid"
            raise RegistryError(f"{doc.file}: {result.code}: {message}")
        prepared[doc.id] = result
    return prepared


def requested_id(body: Mapping[str, Any]) -> str | None:
    """The document id a body names (``documentId``, or Apollo's persisted-query hash), if any.

    Raises :class:`Refusal` (BAD_REQUEST) for an id of the wrong shape.
    """
    doc_id = body.get("documentId")
    if doc_id is None:
        extensions = body.get("extensions")
        persisted = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
        if isinstance(persisted, dict) and persisted.get("sha256Hash") is not None:
            digest = persisted["sha256Hash"]
            doc_id = f"{ID_PREFIX}{digest}" if isinstance(digest, str) and not digest.startswith(ID_PREFIX) else digest
    if doc_id is None:
        return None
    if not isinstance(doc_id, str) or not _well_formed(doc_id):
        raise Refusal("BAD_REQUEST", "`documentId` must be sha256: and 64 lowercase hex digits")
    return doc_id


def _well_formed(doc_id: str) -> bool:
    digest = doc_id.removeprefix(ID_PREFIX)
    return doc_id.startswith(ID_PREFIX) and len(digest) == 64 and set(digest) <= _HEX


class TrustedDocuments:
    """The prepared registry of one process and the check it runs on each request."""

    def __init__(self, registry: Registry, mode: str, validator: Validator) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown trusted-documents mode {mode!r}")
        self.registry = registry
        self.mode = mode
        self.max_tokens = validator.max_tokens
        # Off, nothing is checked: the registry only resolves ids (prepared per request, as any text).
        self.prepared = prepare_registry(registry, validator) if mode != "off" else {}
        self._ids: SizedCache[str] = SizedCache(ID_CACHE_BYTES)
        for doc in registry.documents:
            self._ids.put(doc.text, doc.id, len(doc.text))

    def documents(self) -> Iterable[tuple[str, Prepared]]:
        """(normalised text, prepared document) of every registered document."""
        for doc_id, prepared in self.prepared.items():
            text = self.registry.text(doc_id)
            assert text is not None
            yield text, prepared

    def resolve(self, body: Mapping[str, Any], division: str) -> Resolved:
        """The text to run for ``body`` sent by ``division``; raises :class:`Refusal` (see the module)."""
        query = body.get("query")
        asked = requested_id(body)
        if asked is not None:
            text = self.registry.text(asked)
            if text is None:
                raise Refusal("PERSISTED_DOCUMENT_NOT_FOUND", "No registered document has this `documentId`")
            if isinstance(query, str) and self._id_of(query) != asked:
                raise Refusal("BAD_REQUEST", "`query` and `documentId` name different documents")
            return self._verdict(text, asked, division)
        if not isinstance(query, str):
            raise Refusal("BAD_REQUEST", "The body needs a `query` string or a `documentId`")
        if self.mode == "off":
            return Resolved(query, None, None)
        return self._verdict(query, self._id_of(query), division)

    def _verdict(self, text: str, doc_id: str | None, division: str) -> Resolved:
        if self.mode == "off":
            return Resolved(text, doc_id, None)
        if doc_id is not None and self.registry.registered(division, doc_id):
            registered = self.registry.text(doc_id)
            assert registered is not None
            return Resolved(registered, doc_id, REGISTERED, self.prepared[doc_id])
        if self.mode == "enforce":
            raise NotRegistered(doc_id)
        return Resolved(text, doc_id, UNREGISTERED)

    def _id_of(self, text: str) -> str | None:
        """The id of ``text``; None when it does not parse (it cannot be registered)."""
        known = self._ids.get(text)
        if known is not None:
            return known
        try:
            doc_id = text_id(normalise(text, max_tokens=self.max_tokens))
        except GraphQLError:
            return None
        self._ids.put(text, doc_id, len(text) + 128)
        return doc_id
