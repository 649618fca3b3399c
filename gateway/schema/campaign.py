"""Marketing campaigns on the graph: the Campaign type, its input and validation.

A campaign is the record 64.2009(c) asks for (description, the CPNI it uses,
the products offered) and the unit of supervisory review (64.2009(d)): a
marketing division creates it PENDING, the privacy office approves it, and
marketing requests then run under it (``X-Campaign-Id``, gateway/campaigns.py),
reading only the categories it names.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import strawberry

from gateway.authz.model import Action, Category, Purpose, ServiceCategory
from gateway.schema.categories import categorized, field
from gateway.schema.context import RequestContext
from gateway.schema.errors import BadUserInputError
from gateway.schema.scalars import CampaignStatus

# The model's enums are the graph's enums (DataCategory, Purpose,
# ServiceCategory): gateway.schema.categories and .scalars register them.

PUBLIC = Category.PUBLIC
MAX_NAME_LENGTH = 200
MAX_DESCRIPTION_LENGTH = 4000
# PUBLIC is readable anyway; PAYMENT and CONSENT are denied to every
# marketing purpose (SPEC 6.2), so a campaign naming them would record a use
# of CPNI that can never happen.
NOT_FOR_CAMPAIGNS = frozenset({Category.PUBLIC, Category.PAYMENT, Category.CONSENT})


@strawberry.type(description="A marketing campaign record (64.2009(c)); usable once APPROVED (64.2009(d)).")
@categorized(PUBLIC)
class Campaign:
    id: strawberry.ID = field(PUBLIC, description="The value of X-Campaign-Id.")
    name: str = field(PUBLIC)
    description: str = field(PUBLIC)
    division: strawberry.ID = field(PUBLIC, description="The division that runs it.")
    purpose: Purpose = field(PUBLIC, description="The marketing purpose it runs under.")
    status: CampaignStatus = field(PUBLIC)
    categories: list[Category] = field(PUBLIC, description="The data categories it may read.")
    target_categories: list[ServiceCategory] = field(PUBLIC, description="The services it offers.")
    starts_at: datetime = field(PUBLIC)
    ends_at: datetime = field(PUBLIC, description="Requests under it are refused from this time on.")


@strawberry.input(description="A marketing campaign to record for supervisory review.")
class CampaignInput:
    name: str
    description: str = strawberry.field(description="What it offers and to whom (64.2009(c)).")
    purpose: Purpose = strawberry.field(description="A marketing purpose the calling division may declare.")
    categories: list[Category] = strawberry.field(
        description="The data categories it will read: SUBSCRIBER_LIST, CONTACT, SERVICE, CONFIGURATION, "
        "USAGE, LOCATION, BILLING."
    )
    target_categories: list[ServiceCategory] | None = strawberry.field(
        default=strawberry.UNSET, description="The categories of service it offers."
    )
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class CampaignRequest:
    """A validated, normalized ``CampaignInput``."""

    name: str
    description: str
    purpose: Purpose
    categories: tuple[Category, ...]
    target_categories: tuple[ServiceCategory, ...]
    starts_at: datetime
    ends_at: datetime

    def params(self) -> dict[str, Any]:
        """What identifies the request for an Idempotency-Key (JSON values)."""
        return {
            "name": self.name,
            "description": self.description,
            "purpose": self.purpose.value,
            "categories": [c.value for c in self.categories],
            "targetCategories": [t.value for t in self.target_categories],
            "startsAt": self.starts_at.isoformat(),
            "endsAt": self.ends_at.isoformat(),
        }


def _text(value: str, name: str, limit: int) -> str:
    text = value.strip()
    if not text or len(text) > limit:
        raise BadUserInputError(f"`{name}` must be 1 to {limit} characters")
    return text


def aware(value: datetime, name: str) -> datetime:
    """``value`` in UTC; a time without an offset is ambiguous in a legal record."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise BadUserInputError(f"`{name}` needs a time zone offset, e.g. 2026-03-01T09:00:00Z")
    return value.astimezone(UTC)


def campaign_request(ctx: RequestContext, data: CampaignInput) -> CampaignRequest:
    """Validate ``data`` for the calling division; ``BAD_USER_INPUT`` names the field at fault."""
    name = _text(data.name, "input.name", MAX_NAME_LENGTH)
    description = _text(data.description, "input.description", MAX_DESCRIPTION_LENGTH)
    purpose = Purpose(data.purpose)
    may_declare = (
        purpose.is_marketing
        and purpose in ctx.division.purposes
        and purpose in ctx.purposes
        and ctx.decisions.authorizer.may_perform(ctx.division, purpose, Action.CREATE_CAMPAIGN).allowed
    )
    if not may_declare:
        raise BadUserInputError("`input.purpose` must be a marketing purpose your division may declare")
    chosen = {Category(c) for c in data.categories}
    if not chosen:
        raise BadUserInputError("`input.categories` must name at least one data category")
    if chosen & NOT_FOR_CAMPAIGNS:
        names = ", ".join(sorted(c.value for c in chosen & NOT_FOR_CAMPAIGNS))
        raise BadUserInputError(f"`input.categories`: {names} cannot be named by a marketing campaign")
    starts_at = aware(data.starts_at, "input.startsAt")
    ends_at = aware(data.ends_at, "input.endsAt")
    if ends_at <= starts_at:
        raise BadUserInputError("`input.endsAt` must be after `input.startsAt`")
    if ends_at <= datetime.now(UTC):
        raise BadUserInputError("`input.endsAt` must be in the future")
    order = list(Category)
    return CampaignRequest(
        name=name,
        description=description,
        purpose=purpose,
        categories=tuple(sorted(chosen, key=order.index)),
        target_categories=tuple(sorted({ServiceCategory(t) for t in data.target_categories or ()})),
        starts_at=starts_at,
        ends_at=ends_at,
    )
