"""SPEC 6.2's table, the oracle of the authorization tests."""

from __future__ import annotations

# SPEC 6.2, copied verbatim (the shared/ folder may be absent in CI).
SPEC_6_2 = """\
| purpose | SUBSCRIBER_LIST | CONTACT | SERVICE | CONFIGURATION | USAGE | LOCATION | BILLING | PAYMENT | CONSENT |
|---|---|---|---|---|---|---|---|---|---|
| provisioning | A | A | A | A | A | A | D | D | D |
| billing_collection | A | A | A | A | A | D | A | A | D |
| customer_care | A | A | A | A | A | X | A | A | A |
| fraud_protection | A | A | A | A | A | A | A | A | A |
| emergency | A | A | D | D | D | A | D | D | D |
| directory_publishing | A | D | D | D | D | D | D | D | D |
| marketing_same_category | A | T | T | T | T | X | T | D | D |
| marketing_cross_category | A | O | O | O | O | X | O | D | D |
| marketing_non_comm | A | I | I | I | I | X | I | D | D |
| third_party_marketing | I | I | I | I | I | X | I | D | D |
| analytics_aggregate | D | D | D | D | D | D | D | D | D |
| compliance_audit | A | D | D | D | D | D | D | D | A |"""


def spec_cells() -> dict[tuple[str, str], str]:
    """(purpose, category) -> letter, parsed from SPEC_6_2."""
    lines = SPEC_6_2.splitlines()
    categories = [c.strip() for c in lines[0].strip("|").split("|")][1:]
    cells: dict[tuple[str, str], str] = {}
    for line in lines[2:]:
        purpose, *letters = (c.strip() for c in line.strip("|").split("|"))
        cells.update({(purpose, category): letter for category, letter in zip(categories, letters, strict=True)})
    return cells
