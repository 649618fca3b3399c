"""The campaign gate for marketing purposes (SPEC 4, 6.3; 47 CFR 64.2009(c), (d)).

A request declaring a marketing purpose runs under a campaign: ``X-Campaign-Id``
must name an APPROVED campaign of the caller's division, for the declared
purpose, current at the time of the request. The campaign's data categories
then bound what the request may read (the Cedar guard ``campaign-scope``).
Anything else is HTTP 403 ``CAMPAIGN_REQUIRED``, with one message for every
case: which check failed would tell a caller about other divisions' campaigns.

The campaign is read on every request (one SQL round trip), never cached:
its approval or end takes effect on the very next request, on every worker.
"""

from __future__ import annotations

import asyncpg

from gateway.auth import AuthError, Caller
from gateway.authz.model import Purpose
from gateway.resolvers.campaigns import USABLE_CAMPAIGN_SQL, known_categories
from gateway.schema.context import Campaign

# Longer ids are refused without asking the database.
MAX_CAMPAIGN_ID_LENGTH = 200


def campaign_required() -> AuthError:
    return AuthError(
        403,
        "CAMPAIGN_REQUIRED",
        "This purpose needs X-Campaign-Id naming a current, approved campaign of your division for this purpose",
    )


class CampaignGate:
    """Checks ``X-Campaign-Id`` against the campaign records; built once per process."""

    def __init__(self, pool: asyncpg.Pool, *, acquire_timeout: float = 2.0) -> None:
        self.pool = pool
        # asyncpg waits for a free connection forever unless told otherwise.
        self.acquire_timeout = acquire_timeout

    async def require(
        self, campaign_id: str | None, caller: Caller, purpose: Purpose, *, mutation: bool = False
    ) -> Campaign | None:
        """The approved campaign this marketing request runs under (None for other purposes).

        Mutations need none: they read no customer data under a marketing
        purpose (the only one a marketing purpose may perform is
        ``createCampaign``, which is how a division gets a campaign at all).
        """
        if not Purpose(purpose).is_marketing or mutation:
            return None
        campaign_id = (campaign_id or "").strip()
        if not campaign_id or len(campaign_id) > MAX_CAMPAIGN_ID_LENGTH:
            raise campaign_required()
        async with self.pool.acquire(timeout=self.acquire_timeout) as conn:
            categories = await conn.fetchval(USABLE_CAMPAIGN_SQL, campaign_id, caller.division.id, purpose.value)
        if categories is None:
            raise campaign_required()
        return Campaign(campaign_id, known_categories(list(categories)))
