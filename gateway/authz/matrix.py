"""The effective policy matrix, computed by asking Cedar, never from a table.

For every division, every purpose the registry lets it declare and every data
category, Cedar decides at every point of the fact space (`space.py`); the
outcomes are then matched against the condition letters of SPEC 6.2's legend.
A cell whose outcomes match no letter is `?`: the policy says something the
legend cannot express, and a reviewer should look (`policy explain`).

The purpose-level matrix (SPEC 6.2's table) shows, per purpose, the cells of
a representative division: a carrier one if any declares the purpose,
preferring one without a service of its own; a hypothetical carrier division
for a purpose no division declares.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.authz.classify import LEGEND, MARKETING_NOTE, PUBLISHED_NOTE, classify
from gateway.authz.decide import Authorizer
from gateway.authz.model import Category, Division, Purpose, RecipientClass, Regime


@dataclass(frozen=True)
class Cell:
    """One division (or purpose representative) x purpose x category outcome."""

    division: str  # "" for a hypothetical division (purpose no division declares)
    purpose: Purpose
    category: Category
    letter: str
    policy_ids: tuple[str, ...]  # every policy that determined a decision at some point
    published_only: bool = False  # SUBSCRIBER_LIST: only for a customer whose listing is published

    @property
    def label(self) -> str:
        """The letter, with `P` when it also requires a published listing (e.g. `AP`)."""
        return self.letter + ("P" if self.published_only else "")


@dataclass(frozen=True)
class PolicyInfo:
    """What a rendered matrix links to: a policy's id, effect, cite, place and text."""

    id: str
    effect: str
    cite: str
    file: str
    line: int
    text: str


@dataclass(frozen=True)
class Matrix:
    """Division-level cells, purpose-level cells and the policies they name."""

    regime: Regime
    cells: tuple[Cell, ...]
    purpose_cells: tuple[Cell, ...]
    policies: tuple[PolicyInfo, ...]

    def cell(self, division: str, purpose: Purpose, category: Category) -> Cell:
        """The cell of one division, purpose and category (KeyError if not computed)."""
        for c in self.cells:
            if (c.division, c.purpose, c.category) == (division, purpose, category):
                return c
        raise KeyError((division, purpose, category))

    def purpose_cell(self, purpose: Purpose, category: Category) -> Cell:
        """The purpose-level cell (SPEC 6.2's table)."""
        for c in self.purpose_cells:
            if (c.purpose, c.category) == (purpose, category):
                return c
        raise KeyError((purpose, category))


def compute_matrix(authorizer: Authorizer) -> Matrix:
    """Evaluate the whole matrix with Cedar.

    About a second of Cedar work, so the cells are kept for the last few
    policy contents seen: the key is the full policy text, registry and
    regime, so an edited policy is always recomputed.
    """
    key = (authorizer.bundle.policies_text, frozenset(authorizer.divisions.items()), authorizer.regime)
    with _LOCK:
        known = _RECENT.get(key)
    if known is None:
        known = _compute_cells(authorizer)
        with _LOCK:
            _RECENT[key] = known
            while len(_RECENT) > 4:
                _RECENT.pop(next(iter(_RECENT)))
    cells, purpose_cells = known
    bundle = authorizer.bundle
    policies = tuple(
        PolicyInfo(
            id=pid,
            effect=bundle.effects.get(pid, ""),
            cite=bundle.annotations[pid].get("cite", ""),
            file=bundle.source[pid][0],
            line=bundle.source[pid][1],
            text=bundle.texts.get(pid, ""),
        )
        for pid in sorted(bundle.annotations)
    )
    return Matrix(authorizer.regime, cells, purpose_cells, policies)


_Cells = tuple[tuple[Cell, ...], tuple[Cell, ...]]
_RECENT: dict[tuple[str, frozenset[tuple[str, Division]], Regime], _Cells] = {}
_LOCK = threading.Lock()


def _compute_cells(authorizer: Authorizer) -> _Cells:
    cells: dict[tuple[str, Purpose, Category], Cell] = {}
    for division in authorizer.divisions.values():
        for purpose in sorted(division.purposes, key=list(Purpose).index):
            for category in Category:
                cells[(division.id, purpose, category)] = _cell(authorizer, division, purpose, category)
    purpose_cells: list[Cell] = []
    for purpose in Purpose:
        representative = _representative(authorizer.divisions, purpose)
        for category in Category:
            known = cells.get((representative.id, purpose, category))
            purpose_cells.append(known or _cell(authorizer, representative, purpose, category, hypothetical=True))
    return tuple(cells.values()), tuple(purpose_cells)


def _representative(divisions: Mapping[str, Division], purpose: Purpose) -> Division:
    declaring = [d for d in divisions.values() if purpose in d.purposes]
    if not declaring:
        return Division("", RecipientClass.CARRIER, None, frozenset({purpose}))
    order = list(divisions)
    return min(
        declaring,
        key=lambda d: (d.recipient_class is not RecipientClass.CARRIER, d.own_category is not None, order.index(d.id)),
    )


def _cell(
    authorizer: Authorizer, division: Division, purpose: Purpose, category: Category, *, hypothetical: bool = False
) -> Cell:
    at = authorizer.points(division, purpose, category)
    decisions = authorizer.decide_many(division, purpose, category, at)
    outcomes = [d.allowed for d in decisions]
    ids = tuple(sorted({pid for d in decisions for pid in d.policy_ids}))
    letter, published_only = classify(outcomes, at, division, purpose, category, authorizer.regime)
    return Cell("" if hypothetical else division.id, purpose, category, letter, ids, published_only)




# -- rendering ------------------------------------------------------------

TABLE_CATEGORIES = tuple(c for c in Category if c is not Category.PUBLIC)  # SPEC 6.2's columns


def render_purpose_table(matrix: Matrix) -> str:
    """SPEC 6.2's purpose x category table, in its exact markdown layout."""
    lines = [
        "| purpose | " + " | ".join(c.value for c in TABLE_CATEGORIES) + " |",
        "|" + "---|" * (len(TABLE_CATEGORIES) + 1),
    ]
    for purpose in Purpose:
        letters = [matrix.purpose_cell(purpose, c).letter for c in TABLE_CATEGORIES]
        lines.append(f"| {purpose.value} | " + " | ".join(letters) + " |")
    return "\n".join(lines)


def render_markdown(matrix: Matrix) -> str:
    """The matrix as a markdown document: legend, purpose table, division table with each cell's policies."""
    legend = "\n".join(f"- {letter} = {meaning}" for letter, meaning in LEGEND.items())
    representatives = ", ".join(
        f"{purpose.value}: {_division_label(matrix.purpose_cell(purpose, Category.PUBLIC).division)}"
        for purpose in Purpose
    )
    published = ", ".join(
        f"{c.purpose.value} {c.label}" for c in matrix.purpose_cells if c.published_only
    )
    header = "| division | purpose | " + " | ".join(c.value for c in Category) + " |"
    rows = [header, "|" + "---|" * (len(Category) + 2)]
    for division, purpose in _rows(matrix):
        cells = [_cell_text(matrix.cell(division, purpose, c)) for c in Category]
        rows.append(f"| {division} | {purpose.value} | " + " | ".join(cells) + " |")
    return "\n".join(
        [
            f"# CPNI policy matrix (regime {matrix.regime.value})",
            "",
            legend,
            "",
            MARKETING_NOTE,
            "",
            PUBLISHED_NOTE,
            "",
            "## By purpose",
            "",
            render_purpose_table(matrix),
            "",
            f"Each row shows a representative division: {representatives}.",
            *(["", f"Published listings only (P in the division table): {published}."] if published else []),
            "",
            "## By division",
            "",
            "Each cell: its letter, then the policies that determine it at some combination of customer facts "
            "(`policy explain --field Type.field` prints their @cite); `no permit` is Cedar's default deny.",
            "",
            *rows,
            "",
        ]
    )


def _cell_text(cell: Cell) -> str:
    return f"{cell.label} ({', '.join(cell.policy_ids) if cell.policy_ids else 'no permit'})"


def render_json(matrix: Matrix) -> str:
    """The matrix as JSON: cells with their letters and determining policies, and the policies."""

    def cells(division: str, purpose: Purpose, by_purpose: bool) -> dict[str, Any]:
        pick = matrix.purpose_cell if by_purpose else (lambda p, c: matrix.cell(division, p, c))
        return {
            c.value: {
                "letter": pick(purpose, c).letter,
                "publishedOnly": pick(purpose, c).published_only,
                "policies": list(pick(purpose, c).policy_ids),
            }
            for c in Category
        }

    document = {
        "regime": matrix.regime.value,
        "legend": dict(LEGEND),
        "note": MARKETING_NOTE,
        "publishedNote": PUBLISHED_NOTE,
        "purposes": [
            {
                "purpose": p.value,
                "division": matrix.purpose_cell(p, Category.PUBLIC).division or None,
                "cells": cells("", p, True),
            }
            for p in Purpose
        ],
        "divisions": [
            {"division": d, "purpose": p.value, "cells": cells(d, p, False)} for d, p in _rows(matrix)
        ],
        "policies": {
            info.id: {"effect": info.effect, "cite": info.cite, "file": info.file, "line": info.line, "text": info.text}
            for info in matrix.policies
        },
    }
    return json.dumps(document, indent=2)


def _rows(matrix: Matrix) -> list[tuple[str, Purpose]]:
    seen: dict[tuple[str, Purpose], None] = {}
    for c in matrix.cells:
        seen.setdefault((c.division, c.purpose), None)
    return list(seen)


def _division_label(division: str) -> str:
    return division or "(no division declares it: a carrier division)"

