"""The gateway with authorization and audit replaced by pass-throughs (bench only).

Built by the real :func:`gateway.app.create_app`; then, in this benchmark
process and nowhere else:

* :meth:`gateway.schema.context.Decisions.check` and ``check_loaded`` (the
  planned path's) allow everything without loading customer facts or
  asking the authorizer (no facts query, no Cedar, no memo, nothing
  recorded for the audit); the planned path still reads the facts with the
  customers, in the same statement;
* once the lifespan has built the runtime, the endpoint's audit writer is
  swapped for one that writes nothing (no ``audit_append`` round trip).

What remains is the gateway's own GraphQL work: token check, parse and
validate cache, execution with its DataLoaders, the enforcement extension's
dispatch (it now awaits the pass-through), serialization. The difference to
the shipped gateway is what authorization and audit cost.

Run with ``uvicorn --factory bench.unguarded:create_unguarded_app``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette

from gateway.app import Runtime, create_app
from gateway.authz.model import Category, Decision
from gateway.schema.context import Decisions

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


class NoAudit:
    """Stands in for the audit writer: records nothing."""

    async def record(self, *args: Any, **kwargs: Any) -> int:
        return 0

    async def close(self) -> None:
        return None


def create_unguarded_app() -> Starlette:
    """The gateway app, patched in this process to skip authorization and audit."""
    Decisions.check = allow_everything  # type: ignore[method-assign]
    Decisions.check_loaded = allow_loaded  # type: ignore[method-assign]
    app = create_app()
    shipped = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app_: Starlette) -> AsyncIterator[None]:
        async with shipped(app_):
            runtime: Runtime = app_.state.runtime
            runtime.endpoint.audit = NoAudit()  # type: ignore[assignment]
            yield

    app.router.lifespan_context = lifespan
    return app
