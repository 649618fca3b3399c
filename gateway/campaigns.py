"""The campaign gate for marketing purposes (SPEC 6.3).

Until the consent and campaign work lands, marketing purposes run without a
campaign: :meth:`CampaignGate.require` returns None and no category bound.
"""

from __future__ import annotations

import asyncpg

from gateway.auth import Caller
from gateway.authz.model import Purpose
from gateway.schema.context import Campaign


class CampaignGate:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def require(self, campaign_id: str | None, caller: Caller, purpose: Purpose) -> Campaign | None:
        """The approved campaign this marketing request runs under (None otherwise)."""
        return None
