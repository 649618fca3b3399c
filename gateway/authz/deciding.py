"""Which policies can decide a category: `policy explain --field Type.field` without a customer.

A reviewer starts from a field: its category (the schema's `@category`)
names a column of the matrix, and every policy that determines some cell of
that column, with its `@cite` and the cells it decides, is the answer. The
matrix is decided outside any campaign, so the marketing cells are decided
once more under a campaign not naming the category (what `campaign-scope`
guards). Pure, like the matrix it reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.authz.decide import Authorizer
from gateway.authz.matrix import Cell, Matrix, PolicyInfo
from gateway.authz.model import Category, Purpose

NO_DIVISION = "(no division declares it)"


@dataclass(frozen=True)
class Deciding:
    """A policy that determines some decision about one category, and where."""

    policy: PolicyInfo
    cells: tuple[Cell, ...]  # matrix cells (outside any campaign) it determines
    under_campaign: tuple[tuple[str, Purpose], ...]  # (division, purpose) it determines under a campaign only


def deciding_policies(
    authorizer: Authorizer,
    matrix: Matrix,
    category: Category,
    *,
    division: str | None = None,
    purpose: Purpose | None = None,
) -> list[Deciding]:
    """Every policy that can decide a read of `category`, forbids first, with the cells it decides.

    The matrix cells are decided outside any campaign; a marketing request
    also runs under one, so each marketing cell is decided once more under a
    campaign that does not name `category` (what `campaign-scope` guards).
    """
    hypothetical = [c for c in matrix.purpose_cells if c.division == ""]
    cells = [
        c
        for c in (*matrix.cells, *hypothetical)
        if c.category is category
        and (division is None or c.division == division)
        and (purpose is None or c.purpose is purpose)
    ]
    in_cells: dict[str, list[Cell]] = {}
    for cell in cells:
        for pid in cell.policy_ids:
            in_cells.setdefault(pid, []).append(cell)
    in_campaign: dict[str, list[tuple[str, Purpose]]] = {}
    for cell in cells:
        found = authorizer.divisions.get(cell.division)
        if found is None or not cell.purpose.is_marketing or category is Category.PUBLIC:
            continue
        narrow = frozenset(c for c in Category if c is not category and c is not Category.PUBLIC)
        at = authorizer.points(found, cell.purpose, category, campaign_categories=narrow)
        ids = {pid for d in authorizer.decide_many(found, cell.purpose, category, at, campaign_categories=narrow)
               for pid in d.policy_ids}
        for pid in sorted(ids - set(cell.policy_ids)):
            in_campaign.setdefault(pid, []).append((cell.division, cell.purpose))
    chosen = [info for info in matrix.policies if info.id in in_cells or info.id in in_campaign]
    chosen.sort(key=lambda i: (i.effect != "forbid", i.id))
    return [
        Deciding(info, tuple(in_cells.get(info.id, ())), tuple(in_campaign.get(info.id, ()))) for info in chosen
    ]


def render_catalog_text(field: str, category: Category, catalog: list[Deciding]) -> str:
    """`policy explain --field` without a customer: each policy with its @cite and the cells it decides."""
    lines = [f"field: {field} ({category.value})", f"policies that can decide {category.value}: {len(catalog)}"]
    for entry in catalog:
        info = entry.policy
        lines.append(f"{info.effect} {info.id} @cite {info.cite}")
        lines.append(f"  in {_file_name(info.file)}, line {info.line}")
        if entry.cells:
            shown = ", ".join(f"{c.division or NO_DIVISION} {c.purpose.value} {c.label}" for c in entry.cells)
            lines.append(f"  decides: {shown}")
        if entry.under_campaign:
            shown = ", ".join(f"{d} {p.value}" for d, p in entry.under_campaign)
            lines.append(f"  under a campaign not naming {category.value}: {shown}")
    if not catalog:
        lines.append("none: no policy decides it, so it is denied to everyone (Cedar's default deny)")
    return "\n".join(lines)


def render_catalog_json(field: str, category: Category, catalog: list[Deciding]) -> dict[str, Any]:
    """The same as a JSON-able document."""
    return {
        "field": field,
        "category": category.value,
        "policies": [
            {
                "id": e.policy.id,
                "effect": e.policy.effect,
                "cite": e.policy.cite,
                "file": _file_name(e.policy.file),
                "line": e.policy.line,
                "cells": [
                    {"division": c.division or None, "purpose": c.purpose.value, "letter": c.letter,
                     "publishedOnly": c.published_only}
                    for c in e.cells
                ],
                "underCampaign": [{"division": d, "purpose": p.value} for d, p in e.under_campaign],
            }
            for e in catalog
        ],
    }


def _file_name(path: str) -> str:
    return path.replace("\\", "/").rsplit("/", 1)[-1]
