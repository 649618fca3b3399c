"""Mutation root (consent, notices, campaigns): see the consent issue."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from gateway.authz.model import Category
from gateway.schema.categories import categorized, field
from gateway.schema.errors import OperationForbiddenError


@strawberry.type
@categorized(Category.PUBLIC)
class Mutation:
    @field(Category.PUBLIC, description="Placeholder until consent mutations land.")  # type: ignore[untyped-decorator]
    def noop(self, info: Info) -> bool:
        raise OperationForbiddenError()
