"""The campaign a marketing request runs under: approved, current, of the division, for the purpose.

One definition of "usable campaign" for the request gate (gateway/campaigns.py)
and for the explanations that must agree with it (`explainAccess`,
`policy explain --campaign`).
"""

from __future__ import annotations

from gateway.authz.model import CATEGORIES_BY_VALUE, Category
from gateway.resolvers.database import Database

USABLE_CAMPAIGN_SQL = """
SELECT categories FROM campaigns
WHERE id = $1 AND division = $2 AND purpose = $3 AND status = 'APPROVED'
  AND starts_at <= now() AND now() < ends_at
"""


def known_categories(names: list[str]) -> frozenset[Category]:
    """The campaign's categories the model knows; an unknown name bounds nothing and is dropped."""
    known = CATEGORIES_BY_VALUE
    return frozenset(Category(c) for c in names if c in known)


async def usable_campaign_categories(
    db: Database, campaign_id: str, division: str, purpose: str
) -> frozenset[Category] | None:
    """The categories of the campaign if a request by `division` for `purpose` may run under it, else None."""
    row = await db.fetchrow(USABLE_CAMPAIGN_SQL, campaign_id, division, purpose)
    return None if row is None else known_categories(list(row["categories"]))
