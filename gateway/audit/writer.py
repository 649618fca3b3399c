"""Writes the events of a request, durable before the response.

One event per customer the request read or was denied, plus one without a
customer for a denial tied to none (a filter on a category the caller can
never read). A request's events go to ``audit_append`` (migrations 0002,
0004, 0007, 0008, 0010: the customers treated alike as one record, made
as one from the request's decisions, :func:`request_records`), which
links them into a hash chain under the chain head's lock. If the write
fails the request fails closed (:class:`AuditUnavailable` -> HTTP 503, no
data). Never field values, never tokens.

Reads append after execution by group commit (:mod:`gateway.audit.group`):
the appends of concurrent requests share one statement, one transaction and
one WAL flush, and each request returns only once the commit holding its
events succeeded; a failed group fails every request in it. A mutation
appends inside the transaction of its write (:meth:`AuditWriter.record_within`),
so the change and its record commit together or not at all; the endpoint's
later :meth:`AuditWriter.record` then skips what that append already holds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from gateway.audit.chain import EventContent
from gateway.audit.group import (
    APPEND_SIGNATURE,
    Append,
    CommitFailed,
    GroupCommit,
    append_group,
    request_fields,
)
from gateway.authz.model import Category, Regime
from gateway.config import Settings
from gateway.db import DatabaseError, close_pool, create_pool
from gateway.resolvers.database import DATABASE_ERRORS

if TYPE_CHECKING:
    from gateway.schema.context import RequestContext, Shape

log = logging.getLogger("cpni_gateway.audit")

# The role audit writes run as: it may call audit_append() and nothing else
# on the audit tables (no INSERT, UPDATE, DELETE or TRUNCATE).
AUDIT_ROLE = "cpni_gateway_app"
# Monthly partitions are kept this many months ahead, checked this often.
MONTHS_AHEAD = 3
PARTITION_CHECK_INTERVAL_S = 6 * 3600.0

CATEGORY_ORDER = {c: i for i, c in enumerate(Category)}
Names = tuple[str, ...]
# A plain connection or one lent by a pool.
Connection: TypeAlias = "asyncpg.Connection | PoolConnectionProxy[Any]"

PARTITION_LOCK_TIMEOUT_MS = 200
# What an append inside a write's transaction may fail with: the audit store is unavailable.
APPEND_FAILURES: tuple[type[Exception], ...] = (*DATABASE_ERRORS, CommitFailed)


class AuditUnavailable(Exception):
    """The audit store refused or could not take the request's events."""


def sorted_categories(categories: Iterable[Category | str]) -> tuple[str, ...]:
    """Categories in the schema's order (stable, so digests are reproducible)."""
    given = frozenset(categories)
    found = _SORTED.get(given)
    if found is None:
        found = tuple(c.value for c in sorted({Category(c) for c in given}, key=CATEGORY_ORDER.__getitem__))
        if len(_SORTED) < 4096:  # sets of a dozen categories: a few hundred in practice
            _SORTED[given] = found
    return found


_SORTED: dict[frozenset[Category | str], tuple[str, ...]] = {}


def request_events(
    ctx: RequestContext,
    operation_name: str | None,
    regime: Regime,
    *,
    withheld: bool = False,
    denied_categories: Iterable[Category | str] = (),
) -> list[EventContent]:
    """The events of one request, one per customer in customer id order.

    ``withheld``: the response carried no data (strict mode), so nothing was
    disclosed whatever the decisions allowed. ``denied_categories``: the
    categories of the request's FORBIDDEN errors; those no customer's event
    accounts for get an event without a customer.
    """
    request = _Request(ctx, operation_name, regime, withheld)
    events = [request.event(customer_id, None, request.names(shape)) for customer_id, shape in ctx.decisions.shapes()]
    return request.finish(events, denied_categories)


def request_records(
    ctx: RequestContext,
    operation_name: str | None,
    regime: Regime,
    *,
    withheld: bool = False,
    denied_categories: Iterable[Category | str] = (),
) -> list[EventContent]:
    """:func:`~gateway.audit.group.records` of :func:`request_events`, without an event per customer.

    The customers of one shape (`Decisions.groups`) become their record at
    once: a page of 50 customers alike is one row, made as one.
    """
    request = _Request(ctx, operation_name, regime, withheld)
    rows = [
        request.event(customers[0], None, request.names(shape))
        if len(customers) == 1
        else request.event(None, customers, request.names(shape))
        for shape, customers in ctx.decisions.groups()
    ]
    return request.finish(rows, denied_categories)


class _Request:
    """What every event of one request shares, and the names of each shape (sorted once per shape)."""

    __slots__ = ("fields", "documents", "withheld", "accounted", "lookups", "_names")

    def __init__(self, ctx: RequestContext, operation_name: str | None, regime: Regime, withheld: bool) -> None:
        document_id, document_trust = ctx.trusted_document or (None, None)
        # EventContent's fields in order: positional is several times faster than keywords.
        self.fields = (
            ctx.request_id,
            ctx.client,
            ctx.division.id,
            ctx.purpose.value,
            Regime(regime).value,
            ctx.campaign.id if ctx.campaign else None,
            operation_name,
        )
        self.documents = (document_id, document_trust)
        self.withheld = withheld
        self.accounted: set[str] = set()
        self.lookups = ctx.decisions.lookups
        self._names: dict[Shape, tuple[Names, Names, Names]] = {}

    def names(self, shape: Shape) -> tuple[Names, Names, Names]:
        """``shape``'s disclosed, denied and policy ids, sorted (nothing disclosed when withheld)."""
        names = self._names.get(shape)
        if names is None:
            denied = sorted_categories(shape.denied)
            self.accounted.update(denied)
            disclosed = () if self.withheld else sorted_categories(shape.disclosed)
            names = self._names[shape] = (disclosed, denied, tuple(sorted(shape.policy_ids)))
        return names

    def event(
        self, customer_id: int | None, customer_ids: tuple[int, ...] | None, names: tuple[Names, Names, Names]
    ) -> EventContent:
        return EventContent._make((*self.fields, customer_id, *names, *self.documents, customer_ids))

    def finish(self, events: list[EventContent], denied_categories: Iterable[Category | str]) -> list[EventContent]:
        unaccounted = sorted_categories({Category(c).value for c in set(denied_categories)} - self.accounted)
        if unaccounted or (not events and self.lookups):
            # A denial tied to no customer, or a lookup that found no one.
            events.append(self.event(None, None, ((), unaccounted, ())))
        return events


def not_yet_recorded(events: Sequence[EventContent], recorded: Sequence[EventContent]) -> list[EventContent]:
    """The events of ``events`` that no event of ``recorded`` (same request) already accounts for.

    An event is accounted for by a recorded one of the same customer that
    disclosed, denied and cited at least as much.
    """
    def covers(old: EventContent, new: EventContent) -> bool:
        return (
            old.customer_id == new.customer_id
            and set(new.disclosed) <= set(old.disclosed)
            and set(new.denied) <= set(old.denied)
            and set(new.policy_ids) <= set(old.policy_ids)
            and request_fields(old) == request_fields(new)
        )

    return [e for e in events if not any(covers(old, e) for old in recorded)]


async def append_on(conn: Connection, events: Sequence[EventContent]) -> int:
    """Append events of one request (they share its request fields) in one statement on ``conn``."""
    if not events:
        return 0
    (written,) = await append_group(conn, [Append.of(events)])
    return written


async def _as_audit_role(conn: asyncpg.Connection) -> None:
    # Set once per connection: the pool skips asyncpg's reset on release
    # (gateway.db), so the role holds for the connection's life.
    await conn.execute(f"SET ROLE {AUDIT_ROLE}")


class AuditWriter:
    """Appends each request's events to the hash-chained audit table.

    ``commits`` and ``appended_requests`` count the group commits of reads
    and refusals and the requests they held (``record_within`` is not
    counted: it commits with its mutation).
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        regime: Regime,
        *,
        owns_pool: bool = False,
        acquire_timeout_s: float | None = None,
        group: dict[str, int] | None = None,
    ) -> None:
        """``pool``: connections that may call ``audit_append`` (see :meth:`open`); ``group``:
        bounds for :class:`gateway.audit.group.GroupCommit` (``max_requests``, ``max_events``,
        ``max_queued``)."""
        self.pool = pool
        self.regime = Regime(regime)
        self._owns_pool = owns_pool
        self._partitions_checked = float("-inf")
        self.group = GroupCommit(
            pool, acquire_timeout_s=acquire_timeout_s, on_connection=self._keep_partitions, **(group or {})
        )

    @property
    def commits(self) -> int:
        """Group commits that succeeded (each one transaction, one WAL flush)."""
        return self.group.commits

    @property
    def appended_requests(self) -> int:
        """Requests whose events those commits held."""
        return self.group.appended_requests

    @classmethod
    async def open(cls, settings: Settings, dsn: str) -> AuditWriter:
        """A writer with its own small pool whose connections act as ``cpni_gateway_app``.

        Raises :class:`gateway.db.DatabaseError` (message safe to print) when
        that role is missing or the login role may not use it: the gateway
        then does not start, rather than serve data it cannot record.
        """
        pool = await create_pool(settings, dsn, min_size=0, max_size=settings.pool_max_size, init=_as_audit_role)
        writer = cls(pool, settings.regime, owns_pool=True, acquire_timeout_s=settings.limits.pool_acquire_timeout_s)
        refused = DatabaseError(
            f"the database login may not act as role {AUDIT_ROLE} or {AUDIT_ROLE} may not call audit_append(): "
            f"GRANT {AUDIT_ROLE} TO <login role>; GRANT EXECUTE ON FUNCTION {APPEND_SIGNATURE} TO {AUDIT_ROLE}"
        )
        try:
            async with pool.acquire() as conn:  # runs SET ROLE
                may_append = await conn.fetchval("SELECT has_function_privilege($1, 'EXECUTE')", APPEND_SIGNATURE)
                if may_append:
                    await writer._ensure_partitions(conn)
        except asyncpg.InsufficientPrivilegeError:
            may_append = False
        except (asyncpg.InvalidParameterValueError, asyncpg.UndefinedFunctionError):  # no such role / not migrated
            await pool.close()
            raise DatabaseError(
                f"role {AUDIT_ROLE} or audit_append() does not exist: run `cpni-gateway db migrate` as a role "
                "that may create roles, or create the role (NOLOGIN) and grant it to the gateway's login"
            ) from None
        except DATABASE_ERRORS as exc:
            await pool.close()
            raise DatabaseError(f"could not open the audit store: {type(exc).__name__}") from None
        if not may_append:
            await pool.close()
            raise refused
        return writer

    async def close(self) -> None:
        """Commit what is queued (bounded: what cannot commit in time fails), then close the pool."""
        await self.group.close()
        if self._owns_pool:
            await close_pool(self.pool)

    async def record(
        self,
        ctx: RequestContext,
        operation_name: str | None,
        *,
        withheld: bool = False,
        denied_categories: Iterable[Category | str] = (),
    ) -> int:
        """Write the request's events (see :func:`request_events`); return how many.

        After a mutation's :meth:`record_within`, only what was decided since
        (nothing, for the mutations of today's schema) is written.
        """
        try:
            if ctx.audit_committed is None:
                rows = request_records(
                    ctx, operation_name, self.regime, withheld=withheld, denied_categories=denied_categories
                )
                append = Append.of_records(rows) if rows else None
            else:
                events = request_events(
                    ctx, operation_name, self.regime, withheld=withheld, denied_categories=denied_categories
                )
                events = not_yet_recorded(events, ctx.audit_committed)
                append = Append.of(events) if events else None
        except (ValueError, TypeError) as exc:
            log.error("request %s: audit event not encodable (%s)", ctx.request_id, type(exc).__name__)
            raise AuditUnavailable() from None
        return 0 if append is None else await self._durably(ctx.request_id, append)

    async def record_refusal(self, event: EventContent) -> int:
        """Write the one event of a request refused before it read anything (e.g. not registered)."""
        try:
            append = Append.of([event])
        except (ValueError, TypeError) as exc:  # a value the trail cannot encode (e.g. a lone surrogate)
            log.error("request %s: audit event not encodable (%s)", event.request_id, type(exc).__name__)
            raise AuditUnavailable() from None
        return await self._durably(event.request_id, append)

    async def _durably(self, request_id: str, append: Append) -> int:
        try:
            return await self._submit(append)
        except AuditUnavailable as exc:
            log.warning("request %s: audit write failed (%s)", request_id, exc.args[0] if exc.args else "")
            raise AuditUnavailable() from None

    async def record_within(self, conn: Connection, ctx: RequestContext, operation_name: str | None) -> int:
        """Append the request's events on ``conn``, inside the transaction of a write.

        Called last before the write commits: the events commit with it or
        not at all (a failure here rolls the write back and the request is
        503 with no data). The chain head stays locked until that commit,
        one round trip. Marks the events as written for :meth:`record`.
        """
        try:
            events = request_events(ctx, operation_name, self.regime)
            if not events:
                return 0
            # The login role may be NOINHERIT; act as the audit role for the
            # rest of this transaction (nothing but the commit follows).
            await conn.execute(f"SET LOCAL ROLE {AUDIT_ROLE}")
            written = await append_on(conn, events)
        except APPEND_FAILURES as exc:
            log.warning("request %s: audit write failed (%s)", ctx.request_id, type(exc).__name__)
            raise AuditUnavailable() from None
        except (ValueError, TypeError) as exc:
            log.error("request %s: audit event not encodable (%s)", ctx.request_id, type(exc).__name__)
            raise AuditUnavailable() from None
        ctx.audit_committed = (*(ctx.audit_committed or ()), *events)
        return written

    async def append(self, events: Sequence[EventContent]) -> int:
        """Append events of one request (they share its request fields); return once they are durable.

        They are checked here, on the caller's task (ValueError or TypeError:
        not encodable), then join the next group commit. Raises
        :class:`AuditUnavailable` (``args[0]``: why, safe to log) when the
        group's commit failed or may have.
        """
        if not events:
            return 0
        return await self._submit(Append.of(events))

    async def _submit(self, append: Append) -> int:
        try:
            return await self.group.submit(append)
        except CommitFailed as exc:
            raise AuditUnavailable(*exc.args) from None

    async def _keep_partitions(self, conn: PoolConnectionProxy[Any]) -> None:
        if time.monotonic() - self._partitions_checked > PARTITION_CHECK_INTERVAL_S:
            await self._ensure_partitions(conn)

    async def _ensure_partitions(self, conn: PoolConnectionProxy[Any]) -> None:
        """Create the coming months' partitions; on failure the default partition still takes events.

        Creating a partition locks the whole audit table: waiting long for
        that lock (behind an export, say) would queue every audit write
        behind it, so it gives up quickly and tries again next time.
        """
        self._partitions_checked = time.monotonic()
        try:
            async with conn.transaction():
                await conn.execute(f"SET LOCAL lock_timeout = '{PARTITION_LOCK_TIMEOUT_MS}ms'")
                await conn.fetchval("SELECT audit_ensure_partitions($1)", MONTHS_AHEAD)
        except DATABASE_ERRORS as exc:  # the append itself says whether the store works
            log.warning("audit partitions not created this time (%s)", type(exc).__name__)
