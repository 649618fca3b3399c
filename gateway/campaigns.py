"""The campaign gate for marketing purposes (SPEC 4, 6.3; 47 CFR 64.2009(c), (d)).

A request declaring a marketing purpose runs under a campaign: ``X-Campaign-Id``
must name an APPROVED campaign of the caller's division, for the declared
purpose, current at the time of the request. The campaign's data categories
then bound what the request may read (the Cedar guard ``campaign-scope``).
Anything else is HTTP 403 ``CAMPAIGN_REQUIRED``, with one message for every
case: which check failed would tell a caller about other divisions' campaigns.

A campaign is never used unconfirmed: its approval or end takes effect on
the very next request, on every worker. What a process last read of a
campaign only saves a round trip. A request under a campaign known that way
runs with it and confirms it in the same snapshot as its data: the
planner's first statement carries the check (:class:`CampaignCheck`), and
anything else reads the campaign before the answer leaves
(:meth:`CampaignGate.confirm`). If it no longer holds, the request is run
again with the campaign read afresh, or refused; nothing of the first run
is sent.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from gateway.auth import AuthError, Caller
from gateway.authz.model import Category, Purpose
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


# Campaigns a process remembers (by id, division and purpose): a few dozen in practice.
MAX_KNOWN_CAMPAIGNS = 1024


class CampaignCheck:
    """Whether one request's campaign still holds, asked in one of its statements.

    ``sql(n)`` is a column (its placeholders numbered after the statement's
    first ``n``, values in ``args``) whose value the statement hands to
    :meth:`seen`. ``confirmed`` is True once the campaign was read or seen
    as the request assumes it; ``changed`` once it was seen otherwise.
    """

    def __init__(self, campaign: Campaign, division: str, purpose: Purpose, *, confirmed: bool) -> None:
        self.campaign = campaign
        self.division = division
        self.purpose = Purpose(purpose)
        self.confirmed = confirmed
        self.changed = False

    @property
    def args(self) -> tuple[object, ...]:
        return (self.campaign.id, self.division, self.purpose.value)

    def sql(self, after: int) -> str:
        return (
            f"(SELECT categories FROM campaigns WHERE id = ${after + 1} AND division = ${after + 2}"
            f" AND purpose = ${after + 3} AND status = 'APPROVED' AND starts_at <= now() AND now() < ends_at)"
        )

    def seen(self, categories: Any) -> None:
        """``categories``: the campaign's, as the statement found it usable (a list of names), or None."""
        if isinstance(categories, list) and known_categories(categories) == self.campaign.categories:
            self.confirmed = True
        else:
            self.changed = True


class CampaignGate:
    """Checks ``X-Campaign-Id`` against the campaign records; built once per process."""

    def __init__(self, pool: asyncpg.Pool, *, acquire_timeout: float = 2.0) -> None:
        self.pool = pool
        # asyncpg waits for a free connection forever unless told otherwise.
        self.acquire_timeout = acquire_timeout
        # What was last read of each campaign: it saves a read, it decides nothing (see the module).
        self._known: dict[tuple[str, str, Purpose], frozenset[Category]] = {}

    async def require(
        self, campaign_id: str | None, caller: Caller, purpose: Purpose, *, mutation: bool = False, known: bool = True
    ) -> CampaignCheck | None:
        """The approved campaign this marketing request runs under, to be confirmed (None for other purposes).

        ``known``: start from what this process last read of the campaign
        (its check then still to be confirmed), else read it now.

        Mutations need none: they read no customer data under a marketing
        purpose (the only one a marketing purpose may perform is
        ``createCampaign``, which is how a division gets a campaign at all).
        """
        if not Purpose(purpose).is_marketing or mutation:
            return None
        campaign_id = (campaign_id or "").strip()
        if not campaign_id or len(campaign_id) > MAX_CAMPAIGN_ID_LENGTH:
            raise campaign_required()
        key = (campaign_id, caller.division.id, Purpose(purpose))
        categories = self._known.get(key) if known else None
        if categories is not None:
            return CampaignCheck(Campaign(campaign_id, categories), caller.division.id, purpose, confirmed=False)
        found = await self._read(key)
        if found is None:
            raise campaign_required()
        return CampaignCheck(Campaign(campaign_id, found), caller.division.id, purpose, confirmed=True)

    async def confirm(self, check: CampaignCheck) -> bool:
        """Read the campaign unless a statement already confirmed it: does it hold as the request assumed?"""
        if not check.confirmed and not check.changed:
            found = await self._read((check.campaign.id, check.division, check.purpose))
            check.confirmed = found == check.campaign.categories
            check.changed = not check.confirmed
        return check.confirmed and not check.changed

    async def _read(self, key: tuple[str, str, Purpose]) -> frozenset[Category] | None:
        campaign_id, division, purpose = key
        async with self.pool.acquire(timeout=self.acquire_timeout) as conn:
            categories = await conn.fetchval(USABLE_CAMPAIGN_SQL, campaign_id, division, purpose.value)
        if categories is None:
            self._known.pop(key, None)
            return None
        found = known_categories(list(categories))
        if len(self._known) >= MAX_KNOWN_CAMPAIGNS:
            self._known.clear()
        self._known[key] = found
        return found
