"""The gateway with authorization and audit replaced by pass-throughs (bench only).

Built by the real :func:`gateway.app.create_app`; then, in this benchmark
process and nowhere else:

* both ways of deciding allow everything without asking the authorizer:
  :meth:`gateway.schema.context.Decisions.check` (the reference path's,
  which would first load the customer's facts) and ``check_loaded`` (the
  planned path's, gateway/plan: every boundary and every per-service
  check goes through it): no Cedar, no memo;
* the authorizer allows everything and reads no fact (``decide``,
  ``relevant_facts``), so the planner does what a
  gateway without authorization would: no facts read, every answer
  PostgreSQL's as written (`gateway.plan.walk.Settled`);
* the campaign gate (:class:`gateway.campaigns.CampaignGate`) accepts the
  named campaign for every category without reading the campaign record
  (one round trip fewer for Q3), so cursors stay bound to it;
* a customer filter's checks (``Authorizer.may_ever`` and
  ``readable_facts``, which the page statement turns into a condition on
  the customers' facts) allow every customer; the benchmark's queries use
  no filter, but ``off`` means no decisions whatever the query;
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
from collections.abc import AsyncIterator, Iterator
from typing import Any

from starlette.applications import Starlette

from gateway.app import Runtime, create_app
from gateway.auth import Caller
from gateway.authz.decide import Authorizer, Readable
from gateway.authz.model import ApprovalStatus, Category, Decision, Facts, Purpose
from gateway.campaigns import CampaignCheck, CampaignGate
from gateway.config import Settings
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


def record_nothing(
    self: Decisions, customer_id: int, category: Category, service_category: str | None, decision: Decision
) -> None:
    """Stands in for :meth:`Decisions.record`: nothing recorded."""


async def any_campaign(
    self: CampaignGate,
    campaign_id: str | None,
    caller: Caller,
    purpose: Purpose,
    *,
    mutation: bool = False,
    known: bool = True,
) -> CampaignCheck | None:
    """Stands in for :meth:`CampaignGate.require`: the named campaign, every category, confirmed, nothing read."""
    if not Purpose(purpose).is_marketing or mutation:
        return None
    campaign = Campaign((campaign_id or "").strip(), frozenset(Category))
    return CampaignCheck(campaign, caller.division.id, purpose, confirmed=True)


def allow_deciding(self: Authorizer, *args: Any, **kwargs: Any) -> Decision:
    """Stands in for :meth:`Authorizer.decide`."""
    return ALLOW


def no_facts(self: Authorizer, *args: Any, **kwargs: Any) -> frozenset[str]:
    """Stands in for :meth:`Authorizer.relevant_facts`: no decision reads a fact."""
    return frozenset()


def may_always(self: Authorizer, *args: Any, **kwargs: Any) -> bool:
    """Stands in for :meth:`Authorizer.may_ever`."""
    return True


# Over no fields every customer's facts are alike: a condition that holds for all.
EVERYONE = Readable(
    frozenset(),
    frozenset({Facts(frozenset(), False, False, ApprovalStatus.NONE, False, False, False)}),
)


def everyone_readable(self: Authorizer, *args: Any, **kwargs: Any) -> Readable:
    """Stands in for :meth:`Authorizer.readable_facts`: every customer matches."""
    return EVERYONE


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


PASS_THROUGHS: tuple[tuple[type, str, Any], ...] = (
    (Decisions, "check", allow_everything),
    (Decisions, "check_loaded", allow_loaded),
    (Decisions, "record", record_nothing),
    (CampaignGate, "require", any_campaign),
    (Authorizer, "decide", allow_deciding),
    (Authorizer, "relevant_facts", no_facts),
    (Authorizer, "may_ever", may_always),
    (Authorizer, "readable_facts", everyone_readable),
)


def install() -> None:
    """Authorization replaced by the pass-throughs in this process, for good."""
    for owner, name, replacement in PASS_THROUGHS:
        setattr(owner, name, replacement)


@contextlib.contextmanager
def pass_throughs() -> Iterator[None]:
    """Authorization replaced by the pass-throughs while the block runs (tests); restored after."""
    saved = [(owner, name, owner.__dict__[name]) for owner, name, _ in PASS_THROUGHS]
    install()
    try:
        yield
    finally:
        for owner, name, original in saved:
            setattr(owner, name, original)


def without_audit(app: Starlette) -> Starlette:
    """``app`` with its endpoint's audit writer wrapped in :class:`NoAudit` once its lifespan has started."""
    shipped = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app_: Starlette) -> AsyncIterator[None]:
        async with shipped(app_):
            runtime: Runtime = app_.state.runtime
            runtime.endpoint.audit = NoAudit(runtime.endpoint.audit)  # type: ignore[assignment]
            yield

    app.router.lifespan_context = lifespan
    return app


def create_unguarded_app(settings: Settings | None = None) -> Starlette:
    """The gateway app, patched in this process (for its lifetime) to skip authorization and audit."""
    install()
    return without_audit(create_app(settings))
