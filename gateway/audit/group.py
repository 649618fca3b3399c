"""Group commit: concurrent requests' audit events share one transaction and one WAL flush.

A request's read is answered only once its events are durable, and a
durable commit costs a WAL flush (0.6-0.8 ms on the development machine,
more than the append itself). :class:`GroupCommit` lets the requests in
flight share it: each request's events become one :class:`Append` (encoded
and checked on the request's own task, so one unencodable value fails only
its own request), queue, and a flusher task of the writer writes what is
queued as one group:

- one statement, :data:`GROUP_SQL`, calls ``audit_append`` once per request
  (each with its own request fields and events) in one implicit
  transaction: one round trip, one commit, one flush;
- when nothing is in flight a request's append is written at once (no added
  latency when idle); while a group is being written, arriving requests
  queue and go together in the next group, at most ``max_requests``
  requests and ``max_events`` events (a lone request above that still goes,
  alone);
- at most ``max_queued`` requests wait (queued or in flight); more wait for
  room (backpressure) instead of growing the queue;
- every request learns the outcome of its group's commit: its count of
  events written, or :class:`CommitFailed` when the statement or its commit
  failed or is uncertain (a lost connection) - the writer answers 503 then.
  Nothing is answered before the commit returned.

Chains: the group passes one hint (its first request's). ``audit_append``
locks a chain head ``FOR UPDATE SKIP LOCKED``; a head the group's own
transaction holds is not skipped, so the group's later calls find the
chain its first call took and append after it: a group holds one head
(two, rarely, when a head before it frees meanwhile) and only its first
call can ever wait for one, before it holds anything. Groups of several
writers or processes hence cannot deadlock on heads, and each chain stays
one linked sequence (``audit verify``).
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson

from gateway.audit.chain import EventContent

log = logging.getLogger("cpni_gateway.audit")

MAX_GROUP_REQUESTS = 64
MAX_GROUP_EVENTS = 2048
MAX_QUEUED_REQUESTS = 1024
# close(): how long pending groups may take to commit before they are failed (as gateway.db.close_pool).
CLOSE_TIMEOUT_S = 1.0
# The values audit_events.document_trust accepts (CHECK in migration 0007).
DOCUMENT_TRUST = frozenset({"REGISTERED", "UNREGISTERED", "REFUSED"})
INT8 = range(-(2**63), 2**63)

# Since migration 0007 the request's fields include its trusted-document check.
APPEND_SIGNATURE = "audit_append(integer, text, text, text, text, text, text, text, text, text, audit_event_in[])"


def _events(parameter: str) -> str:
    """SQL for the ``audit_event_in[]`` that ``parameter`` (JSON text, see :meth:`Append.of`) holds.

    asyncpg encodes an array of composite values element by element (about
    a microsecond each, a page of 50 customers has hundreds); PostgreSQL
    reads the same events from one JSON text at once. Orders are kept.
    """

    def texts(index: int) -> str:
        return f"ARRAY(SELECT x FROM json_array_elements_text(e->{index}) WITH ORDINALITY AS a(x, i) ORDER BY i)"

    return (
        f"(SELECT array_agg(ROW((e->>0)::bigint, {texts(1)}, {texts(2)}, {texts(3)}, decode(e->>4, 'hex'))"
        f"::audit_event_in ORDER BY n) FROM json_array_elements({parameter}::json) WITH ORDINALITY AS t(e, n))"
    )


APPEND_SQL = f"SELECT audit_append($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, {_events('$11')})"
# One audit_append per request: the requests' fields as parallel arrays, the
# events of all of them as one array that each call slices ([lo:hi], 1-based).
GROUP_SQL = f"""
SELECT r.ord, audit_append($1, r.request_id, r.client, r.division, r.purpose, r.regime, r.campaign_id,
                           r.operation_name, r.document_id, r.document_trust, events.all[r.lo:r.hi])
  FROM (SELECT {_events('$13')} AS all) events,
       unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
              $9::text[], $10::text[], $11::int4[], $12::int4[]) WITH ORDINALITY
       AS r(request_id, client, division, purpose, regime, campaign_id, operation_name, document_id,
            document_trust, lo, hi, ord)
"""

OnConnection = Callable[[Any], Awaitable[None]]
# Told each group's size and whether it committed (gateway.metrics.Metrics.audit_group).
Observer = Callable[[int, bool], None]


class CommitFailed(Exception):
    """The group holding the request's events did not commit (or may not have); ``args[0]``: why, safe to log."""


def request_fields(event: EventContent) -> tuple[str | None, ...]:
    """What ``audit_append`` stores once per request rather than per event, in its argument order."""
    return (
        event.request_id,
        event.client,
        event.division,
        event.purpose,
        event.regime,
        event.campaign_id,
        event.operation_name,
        event.document_id,
        event.document_trust,
    )


# Which of request_fields() may be NULL (the NOT NULL columns of audit_events may not).
_NULLABLE = (False, False, False, False, False, True, True, True, True)


@dataclass(frozen=True)
class Append:
    """One request's events as one ``audit_append`` call takes them: encoded and checked."""

    hint: int
    fields: tuple[str | None, ...]
    rows: tuple[list[Any], ...]  # audit_event_in: customer_id, disclosed, denied, policy_ids, digest (hex)

    @classmethod
    def of(cls, events: Sequence[EventContent]) -> Append:
        """Raises ValueError or TypeError for anything the database would refuse (a lone
        surrogate, a NUL character, a missing field): it must fail this request, not its group."""
        if not events:
            raise ValueError("an append needs at least one event")
        fields = request_fields(events[0])
        if any(request_fields(e) != fields for e in events):
            raise ValueError("the events of one append must come from one request")
        for value, nullable in zip(fields, _NULLABLE, strict=True):
            if value is None and nullable:
                continue
            _check_text(value)
        if fields[-1] is not None and fields[-1] not in DOCUMENT_TRUST:
            raise ValueError("unknown document trust")
        rows = []
        for e in events:
            if e.customer_id is not None and (type(e.customer_id) is not int or e.customer_id not in INT8):
                raise TypeError("a customer id is a 64-bit integer")
            for names in (e.disclosed, e.denied, e.policy_ids):
                if names not in _CHECKED_NAMES:
                    for name in names:
                        _check_text(name)
                    if len(_CHECKED_NAMES) < MAX_CHECKED_NAMES:
                        _CHECKED_NAMES.add(tuple(names))
            rows.append([e.customer_id, e.disclosed, e.denied, e.policy_ids, e.digest().hex()])
        # Spreads requests over the chains; any free chain is taken anyway.
        hint = zlib.crc32(events[0].request_id.encode()) & 0x7FFFFFFF
        return cls(hint, fields, tuple(rows))


# Lists of names already found storable: categories and policy ids, a few
# hundred combinations in practice (a page repeats them for every customer).
_CHECKED_NAMES: set[tuple[str, ...]] = set()
MAX_CHECKED_NAMES = 4096


def events_json(rows: Sequence[list[Any]]) -> str:
    """Events' rows as the JSON text :data:`APPEND_SQL` and :data:`GROUP_SQL` take."""
    return orjson.dumps(rows).decode()


def _check_text(value: object) -> None:
    if not isinstance(value, str):
        raise TypeError("an audit field is text")
    value.encode("utf-8")  # a lone surrogate raises UnicodeEncodeError (a ValueError)
    if "\x00" in value:
        raise ValueError("PostgreSQL text holds no NUL character")


async def append_group(conn: Any, appends: Sequence[Append]) -> list[int]:
    """Append each request's events with its own ``audit_append`` call, all in one statement
    (one implicit transaction unless ``conn`` is in one); the counts written, in order."""
    if len(appends) == 1:  # the idle case: the plain call encodes less (~60 us) than the arrays
        only = appends[0]
        return [await conn.fetchval(APPEND_SQL, only.hint, *only.fields, events_json(only.rows))]
    columns: list[list[Any]] = [[a.fields[i] for a in appends] for i in range(len(_NULLABLE))]
    lo: list[int] = []
    hi: list[int] = []
    rows: list[list[Any]] = []
    for a in appends:
        lo.append(len(rows) + 1)
        rows.extend(a.rows)
        hi.append(len(rows))
    found = await conn.fetch(GROUP_SQL, appends[0].hint, *columns, lo, hi, events_json(rows))
    written = dict(found)
    return [written[n] for n in range(1, len(appends) + 1)]


@dataclass
class _Waiter:
    append: Append
    done: asyncio.Future[int]


class GroupCommit:
    """Queues requests' appends and writes them in groups, one commit in flight at a time.

    ``on_connection`` runs on the group's connection before its statement
    (the writer keeps its partitions there); its failure is its own business
    and must not raise. ``commits``, ``appended_requests`` and
    ``failed_commits`` count what was written, ``pending`` what waits;
    ``observer``, if set, is told of every group's end (metrics).
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        max_requests: int = MAX_GROUP_REQUESTS,
        max_events: int = MAX_GROUP_EVENTS,
        max_queued: int = MAX_QUEUED_REQUESTS,
        acquire_timeout_s: float | None = None,
        on_connection: OnConnection | None = None,
    ) -> None:
        if max_requests < 1 or max_events < 1 or max_queued < max_requests:
            raise ValueError("a group takes at least one request, and the queue at least one group")
        self.pool = pool
        self.max_requests = max_requests
        self.max_events = max_events
        self.acquire_timeout_s = acquire_timeout_s
        self.on_connection = on_connection
        self.observer: Observer | None = None
        self.commits = 0
        self.appended_requests = 0
        self.failed_commits = 0
        self.pending = 0  # requests submitted and not yet answered (queued or in flight)
        self._queue: deque[_Waiter] = deque()
        self._room = asyncio.Semaphore(max_queued)  # released when a request's group is done
        self._flusher: asyncio.Task[None] | None = None
        self._closed = False

    async def submit(self, append: Append) -> int:
        """Wait until ``append`` is durable; return how many events it wrote.

        Raises :class:`CommitFailed` if its group failed or the writer is closed.
        """
        if self._closed:
            raise CommitFailed("closed")
        await self._room.acquire()
        if self._closed:
            self._room.release()
            raise CommitFailed("closed")
        waiter = _Waiter(append, asyncio.get_running_loop().create_future())
        self._queue.append(waiter)
        self.pending += 1
        if self._flusher is None:
            # Lives while there is work: an idle writer has no task.
            self._flusher = asyncio.get_running_loop().create_task(self._flush())
        # A cancelled request leaves its append queued: it is written anyway.
        return await waiter.done

    async def close(self, timeout_s: float = CLOSE_TIMEOUT_S) -> None:
        """Refuse new appends, let what is queued commit for up to ``timeout_s``, fail the rest."""
        self._closed = True
        flusher = self._flusher
        if flusher is None:
            return
        _, pending = await asyncio.wait({flusher}, timeout=timeout_s)
        if pending:
            flusher.cancel()
            await asyncio.wait({flusher})

    def _take(self) -> list[_Waiter]:
        group = [self._queue.popleft()]
        events = len(group[0].append.rows)
        while self._queue and len(group) < self.max_requests:
            more = len(self._queue[0].append.rows)
            if events + more > self.max_events:
                break
            group.append(self._queue.popleft())
            events += more
        return group

    async def _flush(self) -> None:
        group: list[_Waiter] = []
        try:
            while self._queue:
                group = self._take()
                await self._commit(group)
                group = []
        except BaseException:  # cancelled (close() past its deadline, loop shutdown): fail closed
            self._resolve([*group, *self._queue], "cancelled")
            self._queue.clear()
            raise
        finally:
            self._flusher = None

    async def _commit(self, group: list[_Waiter]) -> None:
        try:
            async with self.pool.acquire(timeout=self.acquire_timeout_s) as conn:
                if self.on_connection is not None:
                    await self.on_connection(conn)
                written = await append_group(conn, [w.append for w in group])
        except Exception as exc:  # any failure, or an uncertain commit: no request of the group is answered
            self.failed_commits += 1
            log.warning("audit group of %d requests not committed (%s)", len(group), type(exc).__name__)
            self._resolve(group, type(exc).__name__)
            self._observe(len(group), committed=False)
            return
        self.commits += 1
        self.appended_requests += len(group)
        for waiter, count in zip(group, written, strict=True):
            if not waiter.done.done():
                waiter.done.set_result(count)
            self._done()
        self._observe(len(group), committed=True)

    def _observe(self, requests: int, *, committed: bool) -> None:
        if self.observer is None:
            return
        try:
            self.observer(requests, committed)
        except Exception as exc:  # a metric must not fail the requests queued behind
            log.warning("audit group observer failed (%s)", type(exc).__name__)

    def _resolve(self, group: list[_Waiter], why: str) -> None:
        for waiter in group:
            if not waiter.done.done():
                waiter.done.set_exception(CommitFailed(why))  # one each: a raised exception gathers a traceback
            self._done()

    def _done(self) -> None:
        self.pending -= 1
        self._room.release()
