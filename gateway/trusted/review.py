"""What reviewers see of the registry: per operation, what it can read and what each purpose gets.

For every registered document: the data categories of the fields it
selects (through fragments too) and, for each purpose its division may
declare, the policy matrix's letter for each of those categories (the
cells of `gateway.authz.matrix.compute_matrix`, the same computation as
``policy matrix`` and ``GET /policy``). Also the changes between two
registries, for ``policy diff``. Pure: the schema's ``Type.field`` ->
category map is passed in (``gateway.schema.fields.field_categories``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import FieldNode, GraphQLSchema, TypeInfo, TypeInfoVisitor, Visitor, parse, visit

from gateway.authz.matrix import Matrix
from gateway.authz.model import Category, Division, Purpose
from gateway.trusted.registry import Registry, TrustedDocument

CATEGORY_ORDER = {c: i for i, c in enumerate(Category)}


@dataclass(frozen=True)
class Reviewed:
    """One registered document as a reviewer reads it."""

    document: TrustedDocument
    categories: tuple[Category, ...]
    # purpose -> category -> the matrix label (letter, with P for published listings only)
    outcomes: Mapping[Purpose, Mapping[Category, str]]

    def as_json(self) -> dict[str, Any]:
        doc = self.document
        return {
            "division": doc.division,
            "name": doc.name,
            "file": doc.file,
            "id": doc.id,
            "operations": list(doc.operations),
            "categories": [c.value for c in self.categories],
            "outcomes": {p.value: {c.value: label for c, label in row.items()} for p, row in self.outcomes.items()},
        }


class _Collector(Visitor):
    def __init__(self, type_info: TypeInfo, categories: Mapping[str, Category]) -> None:
        super().__init__()
        self.type_info = type_info
        self.categories = categories
        self.found: set[Category] = set()

    def enter_field(self, node: FieldNode, *_: object) -> None:
        parent = self.type_info.get_parent_type()
        if parent is not None:
            category = self.categories.get(f"{parent.name}.{node.name.value}")
            if category is not None:
                self.found.add(category)


def document_categories(schema: GraphQLSchema, categories: Mapping[str, Category], text: str) -> tuple[Category, ...]:
    """The categories of every field ``text`` selects, in the schema's category order."""
    type_info = TypeInfo(schema)
    collector = _Collector(type_info, categories)
    visit(parse(text, no_location=True), TypeInfoVisitor(type_info, collector))
    return tuple(sorted(collector.found, key=CATEGORY_ORDER.__getitem__))


def review(
    registry: Registry,
    schema: GraphQLSchema,
    categories: Mapping[str, Category],
    matrix: Matrix,
    divisions: Mapping[str, Division],
    *,
    division: str | None = None,
) -> list[Reviewed]:
    """Every registered document (of ``division`` only, if given), with its categories and outcomes."""
    reviewed: list[Reviewed] = []
    for doc in registry.documents:
        if division is not None and doc.division != division:
            continue
        found = document_categories(schema, categories, doc.text)
        purposes = sorted(divisions[doc.division].purposes, key=list(Purpose).index) if doc.division in divisions else []
        outcomes = {p: {c: matrix.cell(doc.division, p, c).label for c in found} for p in purposes}
        reviewed.append(Reviewed(doc, found, outcomes))
    return reviewed


def render_json(reviewed: list[Reviewed]) -> str:
    return json.dumps({"operations": [r.as_json() for r in reviewed]}, indent=2)


def render_markdown(reviewed: list[Reviewed]) -> str:
    """One section per division, one table per document (purposes x the categories it reads)."""
    lines = ["# Registered operations (trusted documents)", ""]
    if not reviewed:
        lines.append("No operation is registered.")
    division = None
    for r in reviewed:
        doc = r.document
        if doc.division != division:
            division = doc.division
            lines += [f"## {division}", ""]
        names = ", ".join(o or "(anonymous)" for o in doc.operations)
        lines += [f"### {doc.name}", "", f"- file: `{doc.file}`", f"- id: `{doc.id}`", f"- operations: {names}"]
        lines.append(f"- reads: {', '.join(c.value for c in r.categories) or 'nothing categorized'}")
        lines.append("")
        if r.categories and r.outcomes:
            lines.append("| purpose | " + " | ".join(c.value for c in r.categories) + " |")
            lines.append("| --- |" + " --- |" * len(r.categories))
            for purpose, row in r.outcomes.items():
                lines.append(f"| {purpose.value} | " + " | ".join(row[c] for c in r.categories) + " |")
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


@dataclass(frozen=True)
class OperationChange:
    """A registered document added (``+``), removed (``-``) or changed (``~``) between two registries."""

    kind: str
    division: str
    name: str
    old_id: str | None
    new_id: str | None
    categories: tuple[Category, ...]  # read by the new one (+), by the old one (-), added by the change (~)

    def __str__(self) -> str:
        cats = ", ".join(c.value for c in self.categories) or "nothing"
        where = f"{self.division}/{self.name}"
        if self.kind == "+":
            return f"+ operation {where} ({self.new_id}): reads {cats}"
        if self.kind == "-":
            return f"- operation {where} ({self.old_id}): read {cats}"
        return f"~ operation {where} ({self.old_id} -> {self.new_id}): adds {cats}"


def diff_registries(
    old: Registry, new: Registry, schema: GraphQLSchema, categories: Mapping[str, Category]
) -> list[OperationChange]:
    """Documents added, removed or changed, keyed by division and file name."""
    before = {(d.division, d.name): d for d in old.documents}
    after = {(d.division, d.name): d for d in new.documents}

    def cats(doc: TrustedDocument) -> tuple[Category, ...]:
        return document_categories(schema, categories, doc.text)

    changes: list[OperationChange] = []
    for key in sorted(after.keys() | before.keys()):
        was, now = before.get(key), after.get(key)
        if was is None and now is not None:
            changes.append(OperationChange("+", *key, None, now.id, cats(now)))
        elif now is None and was is not None:
            changes.append(OperationChange("-", *key, was.id, None, cats(was)))
        elif was is not None and now is not None and was.id != now.id:
            added = tuple(c for c in cats(now) if c not in set(cats(was)))
            changes.append(OperationChange("~", *key, was.id, now.id, added))
    return changes
