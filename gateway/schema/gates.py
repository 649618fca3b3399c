"""Action gates: fields that are operations (mutations, privacy-office queries).

Such a field reads no customer's data by itself; the Cedar action for it
decides whether the caller's division, for its declared purpose, may run it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from strawberry.extensions import FieldExtension
from strawberry.types import Info

from gateway.authz.model import Action
from gateway.schema.context import RequestContext
from gateway.schema.errors import OperationForbiddenError


class ActionGate(FieldExtension):
    """Refuse the field with FORBIDDEN unless the caller may perform ``action``."""

    is_action_gate = True  # schema/check.py: this field is enforced by an action

    def __init__(self, action: Action) -> None:
        self.action = action

    async def resolve_async(self, next_: Callable[..., Any], source: Any, info: Info, **kwargs: Any) -> Any:
        ctx: RequestContext = info.context
        if not ctx.decisions.authorizer.may_perform(ctx.division, ctx.purpose, self.action).allowed:
            raise OperationForbiddenError()
        result = next_(source, info, **kwargs)
        if isinstance(result, Awaitable):
            return await result
        return result
