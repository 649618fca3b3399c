"""The registry of trusted documents: files, normalised texts, ids. Pure.

Layout: ``<policy dir>/operations/<division>/<name>.graphql``, one document
per file (it may hold several operations and fragments). A file that does
not parse, names an unknown division or repeats another file of the same
division stops loading with one line naming the file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from graphql import GraphQLError, OperationDefinitionNode, parse, print_ast

MODES = ("enforce", "log", "off")
OPERATIONS_DIR = "operations"
SUFFIX = ".graphql"
ID_PREFIX = "sha256:"


class RegistryError(Exception):
    """A registry file is unusable; the message names the file (relative to the policy directory)."""


def normalise(text: str, *, max_tokens: int | None = None) -> str:
    """The canonical text of a document: comments, spacing and commas do not count.

    Raises :class:`graphql.GraphQLError` when the text does not parse.
    """
    return print_ast(parse(text, no_location=True, max_tokens=max_tokens))


def text_id(normalised: str) -> str:
    """The id of an already normalised text."""
    return ID_PREFIX + hashlib.sha256(normalised.encode("utf-8", "surrogatepass")).hexdigest()


def document_id(text: str) -> str:
    """``sha256:<hex>`` of the normalised text."""
    return text_id(normalise(text))


@dataclass(frozen=True)
class TrustedDocument:
    """One registered file of one division."""

    division: str
    name: str  # the file name without .graphql
    file: str  # relative to the policy directory, e.g. operations/customer_care/tour.graphql
    text: str  # normalised
    id: str
    operations: tuple[str, ...]  # operation names ("" for an anonymous one)


@dataclass(frozen=True)
class Registry:
    """Every division's registered documents."""

    documents: tuple[TrustedDocument, ...] = ()
    by_id: Mapping[str, tuple[TrustedDocument, ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, documents: Iterable[TrustedDocument]) -> Registry:
        docs = tuple(sorted(documents, key=lambda d: (d.division, d.name)))
        by_id: dict[str, list[TrustedDocument]] = {}
        for doc in docs:
            by_id.setdefault(doc.id, []).append(doc)
        return cls(docs, {k: tuple(v) for k, v in by_id.items()})

    def registered(self, division: str, doc_id: str) -> bool:
        return any(d.division == division for d in self.by_id.get(doc_id, ()))

    def known(self, doc_id: str) -> bool:
        return doc_id in self.by_id

    def text(self, doc_id: str) -> str | None:
        docs = self.by_id.get(doc_id)
        return docs[0].text if docs else None

    def of_division(self, division: str) -> tuple[TrustedDocument, ...]:
        return tuple(d for d in self.documents if d.division == division)

    def divisions(self) -> tuple[str, ...]:
        return tuple(sorted({d.division for d in self.documents}))


def registry_dir(policy_dir: Path) -> Path:
    return policy_dir / OPERATIONS_DIR


def read_document(path: Path, division: str, relative: str, *, max_tokens: int | None = None) -> TrustedDocument:
    """One file as a registered document; :class:`RegistryError` naming the file if it does not parse."""
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RegistryError(f"{relative}: cannot be read ({type(exc).__name__})") from None
    try:
        document = parse(raw, no_location=True, max_tokens=max_tokens)
    except GraphQLError as exc:
        raise RegistryError(f"{relative}: does not parse ({exc.message})") from None
    operations = tuple(
        d.name.value if d.name else "" for d in document.definitions if isinstance(d, OperationDefinitionNode)
    )
    if not operations:
        raise RegistryError(f"{relative}: holds no operation")
    normalised = print_ast(document)
    return TrustedDocument(division, path.stem, relative, normalised, text_id(normalised), operations)


def load_registry(
    policy_dir: Path, divisions: Iterable[str], *, max_tokens: int | None = None
) -> Registry:
    """Every ``operations/<division>/*.graphql`` under ``policy_dir`` (an absent directory: empty)."""
    root = registry_dir(policy_dir)
    if not root.is_dir():
        return Registry()
    known = set(divisions)
    documents: list[TrustedDocument] = []
    for entry in sorted(root.iterdir()):
        relative = f"{OPERATIONS_DIR}/{entry.name}"
        if not entry.is_dir():
            if entry.name.startswith(".") or entry.name.lower() in {"readme.md"}:
                continue
            raise RegistryError(f"{relative}: expected a directory named for a division")
        if entry.name not in known:
            raise RegistryError(f"{relative}: `{entry.name}` is not a division of the registry")
        seen: dict[str, str] = {}
        for path in sorted(entry.iterdir()):
            if path.name.startswith("."):
                continue
            file = f"{relative}/{path.name}"
            if path.suffix != SUFFIX or not path.is_file():
                raise RegistryError(f"{file}: registered operations are .graphql files")
            doc = read_document(path, entry.name, file, max_tokens=max_tokens)
            if doc.id in seen:
                raise RegistryError(f"{file}: the same document as {seen[doc.id]}")
            seen[doc.id] = file
            documents.append(doc)
    return Registry.of(documents)
