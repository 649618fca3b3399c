"""The division registry (`policies/divisions.toml`), parsed and checked.

Pure: `policy.load_policy` reads the file and hands the parsed TOML here.
Every problem names the file, the division and the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from gateway.authz.model import Division, Purpose, RecipientClass, ServiceCategory

_E = TypeVar("_E", RecipientClass, ServiceCategory, Purpose)
_DIVISION_FIELDS = frozenset({"description", "recipient_class", "own_category", "purposes"})


def parse_registry(shown: str, data: Mapping[str, object], problems: list[str]) -> dict[str, Division]:
    """Divisions from the registry's TOML; each problem is appended to `problems`."""
    table = data.get("divisions")
    if not isinstance(table, dict) or not table:
        problems.append(f"{shown}: expected a [divisions.<id>] table per division")
        return {}
    divisions: dict[str, Division] = {}
    for division_id, entry in table.items():
        division = _division(shown, division_id, entry, problems)
        if division is not None:
            divisions[division_id] = division
    return divisions


def _division(shown: str, division_id: str, entry: object, problems: list[str]) -> Division | None:
    where = f"{shown}: division `{division_id}`"
    if not isinstance(entry, dict):
        problems.append(f"{where}: expected a table")
        return None
    before = len(problems)
    for unknown in sorted(set(entry) - _DIVISION_FIELDS):
        problems.append(f"{where}: unknown field `{unknown}`")
    recipient = _enum(RecipientClass, entry.get("recipient_class"), f"{where}: recipient class", problems)
    own: ServiceCategory | None = None
    if "own_category" in entry:
        own = _enum(ServiceCategory, entry["own_category"], f"{where}: own category", problems)
    raw_purposes = entry.get("purposes")
    purposes: set[Purpose] = set()
    if not isinstance(raw_purposes, list) or not raw_purposes:
        problems.append(f"{where}: `purposes` must be a non-empty list")
    else:
        for raw in raw_purposes:
            purpose = _enum(Purpose, raw, f"{where}: purpose", problems)
            if purpose is not None:
                purposes.add(purpose)
    if len(problems) > before or recipient is None:
        return None
    return Division(division_id, recipient, own, frozenset(purposes))


def _enum(kind: type[_E], raw: object, what: str, problems: list[str]) -> _E | None:
    if isinstance(raw, str):
        try:
            return kind(raw)
        except ValueError:
            pass
    known = ", ".join(m.value for m in kind)
    problems.append(f"{what}: unknown value `{raw}` (known: {known})")
    return None
