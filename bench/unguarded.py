"""The gateway with authorization and audit replaced by pass-throughs (bench only).

Built by the real :func:`gateway.app.create_app`; then, in this benchmark
process and nowhere else:

* both ways of deciding allow everything without asking the authorizer:
  :meth:`gateway.schema.context.Decisions.check` (the reference path's,
  which would first load the customer's facts) and ``check_loaded`` (the
  planned path's, gateway/plan: every boundary and every per-service
  check goes through it): no Cedar, no memo. The planned path still reads
  the facts with the customers, in the same statement, because the
  statement is the same;
* the campaign gate (:class:`gateway.campaigns.CampaignGate`) accepts the
  named campaign for every category without reading the campaign record
  (one round trip fewer for Q3), so cursors stay bound to it;
* a customer filter's "may this caller match on it" checks
  (``Authorizer.may_ever``) allow; the benchmark's queries use no filter;
* once the lifespan has built the runtime, the endpoint's audit writer is
  wrapped so that ``record``, ``record_within`` and ``record_refusal``
  write nothing (no ``audit_append`` round trip, no commit).

What remains is the gateway's own work: token check, parse and validate
cache, cost check, planning or graphql-core execution, SQL, assembly and
serialization. The difference to the shipped gateway is what
authorization and audit cost.

Run by ``python -m bench.serve off``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette

from gateway.app import Runtime, create_app
from gateway.auth import Caller
from gateway.authz.decide import Authorizer
from gateway.authz.model import Category, Decision, Purpose
from gateway.campaigns import CampaignGate
from gateway.schema.context import Campaign, Decisions

ALLOW = Decision(True, ())


async def allow_everything(
    self: Decisions, customer_id: int, category: Category, service_category: str | None = None
) -> Decision:
    """Stands in for :meth:`Decisions.check`: allowed, nothing loaded, nothing recorded."""
    return ALLOW


def allow_loaded(
    self: Decisions, customer_id: int, category: Category, service_category: str | None, facts: object
) -> Decision:
    """Stands in for :meth:`Decisions.check_loaded`: allowed, nothing recorded."""
    return ALLOW


async def any_campaign(
    self: CampaignGate, campaign_id: str | None, caller: Caller, purpose: Purpose, *, mutation: bool = False
) -> Campaign | None:
    """Stands in for :meth:`CampaignGate.require`: the named campaign, every category, nothing read."""
    if not Purpose(purpose).is_marketing or mutation:
        return None
    return Campaign((campaign_id or "").strip(), frozenset(Category))


def may_always(self: Authorizer, *args: Any, **kwargs: Any) -> bool:
    """Stands in for :meth:`Authorizer.may_ever`."""
    return True


class NoAudit:
    """Wraps the audit writer: records nothing; anything else is the writer's."""

    def __init__(self, writer: Any) -> None:
        self._writer = writer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._writer, name)

    async def record(self, *args: Any, **kwargs: Any) -> int:
        return 0

    async def record_within(self, *args: Any, **kwargs: Any) -> int:
        return 0

    async def record_refusal(self, *args: Any, **kwargs: Any) -> int:
        return 0


def create_unguarded_app() -> Starlette:
    """The gateway app, patched in this process to skip authorization and audit."""
    Decisions.check = allow_everything  # type: ignore[method-assign]
    Decisions.check_loaded = allow_loaded  # type: ignore[method-assign]
    CampaignGate.require = any_campaign  # type: ignore[method-assign]
    Authorizer.may_ever = may_always  # type: ignore[method-assign]
    app = create_app()
    shipped = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app_: Starlette) -> AsyncIterator[None]:
        async with shipped(app_):
            runtime: Runtime = app_.state.runtime
            runtime.endpoint.audit = NoAudit(runtime.endpoint.audit)  # type: ignore[assignment]
            yield

    app.router.lifespan_context = lifespan
    return app
