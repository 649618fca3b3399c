"""The enforcement extension: ask the authorization layer before a field resolves.

A denied field never calls its resolver (so never reads its data) and
resolves to null with a FORBIDDEN error naming only the category.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from strawberry.extensions import FieldExtension
from strawberry.types import Info

from gateway.authz.model import Category
from gateway.schema.errors import ForbiddenError


class Enforce(FieldExtension):
    """Authorize ``category`` for the customer (and service) the parent object belongs to.

    ``per_item_service``: the field is a list whose items each belong to one
    service (``Customer.services``, ``Customer.lastKnownLocation``); its
    resolver leaves out the items whose service the caller may not see, so
    the field is decided per service (``schema/fields.py`` reads this).
    """

    def __init__(self, category: Category, *, service_scoped: bool = False, per_item_service: bool = False) -> None:
        self.category = category
        self.service_scoped = service_scoped
        self.per_item_service = per_item_service

    async def resolve_async(
        self, next_: Callable[..., Any], source: Any, info: Info, **kwargs: Any
    ) -> Any:
        service_category = source.service_category if self.service_scoped else None
        decision = await info.context.decisions.check(
            source.customer_id, self.category, service_category
        )
        if not decision.allowed:
            raise ForbiddenError(self.category)  # graphql-core adds the path and locations
        result = next_(source, info, **kwargs)
        if isinstance(result, Awaitable):
            return await result
        return result
