"""What a policy change changes: the matrix cells whose label differs.

A cell's label is its letter, with `P` when it also requires a published
listing (`A` -> `AP` when a subscriber-list permit starts reading
`listingPublished`).
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.authz.matrix import Cell, Matrix
from gateway.authz.model import Category, Purpose

ABSENT = "-"  # the cell does not exist on that side (division or purpose added or removed)


@dataclass(frozen=True)
class Change:
    """One division x purpose x category cell whose label changed."""

    division: str
    purpose: Purpose
    category: Category
    old: str
    new: str

    def __str__(self) -> str:
        return f"{self.division} {self.purpose.value} {self.category.value}: {self.old} -> {self.new}"


def diff_matrices(old: Matrix, new: Matrix) -> list[Change]:
    """Changed cells, in the new matrix's order (removed cells last)."""
    before = _index(old.cells)
    after = _index(new.cells)
    changes = [
        Change(*key, before[key].label if key in before else ABSENT, cell.label)
        for key, cell in after.items()
        if key not in before or before[key].label != cell.label
    ]
    changes += [Change(*key, cell.label, ABSENT) for key, cell in before.items() if key not in after]
    return changes


def _index(cells: tuple[Cell, ...]) -> dict[tuple[str, Purpose, Category], Cell]:
    return {(c.division, c.purpose, c.category): c for c in cells}
