"""Group commit: concurrent requests' audit events share one transaction and one WAL flush.

A request's read is answered only once its events are durable, and a
durable commit costs a WAL flush (0.6-0.8 ms on the development machine,
more than the append itself). :class:`GroupCommit` lets the requests in
flight share it: each request's events become one :class:`Append` (encoded
and checked on the request's own task, so one unencodable value fails only
its own request), queue, and a flusher task of the writer writes what is
queued as one group:

- a request's events are packed into rows first (:func:`records`: the
  customers treated alike share one);
- one statement, :data:`APPEND_SQL`, calls ``audit_append`` once for the
  whole group (the requests' fields and their events as parallel arrays,
  migration 0008) in one implicit transaction: one round trip, one commit,
  one flush, one chain head locked and moved once;
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
locks one chain head ``FOR UPDATE SKIP LOCKED`` (waiting only when every
head is taken, before it holds anything) and links the group's events
after it, request after request, in order. Groups of several writers or
processes hence cannot deadlock on heads, and each chain stays one linked
sequence (``audit verify``).
"""

from __future__ import annotations

import asyncio
import logging
import operator
import zlib
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

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

# Since migration 0008 one call appends a whole group (0007 added the trusted-document
# check, 0010 the records of several customers).
APPEND_SIGNATURE = (
    "audit_append(integer, text[], text[], text[], text[], text[], text[], text[], text[], text[],"
    " text[], integer[], bigint[], integer[], integer[], integer[], bytea, text[])"
)
# The requests' fields as parallel arrays and the distinct lists of names
# (text[] literals, see names_literal); then, per event, its request, its
# customer and its lists (indexes into the names), passed as comma-separated
# text: asyncpg encodes arrays element by element (about a microsecond each,
# a page of 50 customers has hundreds), PostgreSQL splits one text at once.
# Then the digests, 32 bytes each, as one value, and per row the customers
# of a record (a bigint[] literal) or NULL.
APPEND_SQL = (
    "SELECT audit_append($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,"
    " string_to_array($12, ',')::integer[], string_to_array($13, ',', 'n')::bigint[],"
    " string_to_array($14, ',')::integer[], string_to_array($15, ',')::integer[],"
    " string_to_array($16, ',')::integer[], $17, $18)"
)

OnConnection = Callable[[Any], Awaitable[None]]
# Told each group's size and whether it committed (gateway.metrics.Metrics.audit_group).
Observer = Callable[[int, bool], None]


class CommitFailed(Exception):
    """The group holding the request's events did not commit (or may not have); ``args[0]``: why, safe to log."""


# What audit_append stores once per request rather than per event, in its argument order.
REQUEST_FIELDS = (
    "request_id", "client", "division", "purpose", "regime", "campaign_id", "operation_name",
    "document_id", "document_trust",
)  # fmt: skip
_request_fields = operator.itemgetter(*(EventContent._fields.index(name) for name in REQUEST_FIELDS))


def request_fields(event: EventContent) -> tuple[str | None, ...]:
    """The event's :data:`REQUEST_FIELDS`, in that order."""
    return _request_fields(event)  # type: ignore[no-any-return]


# Which of request_fields() may be NULL (the NOT NULL columns of audit_events may not).
_NULLABLE = (False, False, False, False, False, True, True, True, True)


def records(events: Sequence[EventContent]) -> list[EventContent]:
    """One request's events as the rows that store them: one record per group of customers treated alike.

    The events of customers that disclose, deny and cite the same become one
    record (``customer_ids``, in the events' order) when there are two or
    more of them; an event alike to no other, or tied to no customer, stays
    one row. Rows come in the order of each group's first event.
    """
    groups: dict[tuple[tuple[str, ...], ...], list[EventContent]] = {}
    rows: list[list[EventContent]] = []
    for event in events:
        if event.customer_id is None:
            rows.append([event])
            continue
        key: tuple[tuple[str, ...], ...] = _shape(event)
        group = groups.get(key)
        if group is None:
            groups[key] = group = [event]
            rows.append(group)
        else:
            group.append(event)
    return [
        group[0]
        if len(group) == 1
        else group[0]._replace(customer_id=None, customer_ids=tuple(e.customer_id for e in group))  # type: ignore[misc]
        for group in rows
    ]


# What customers treated alike share: their events' disclosed, denied and policy ids.
_shape = operator.itemgetter(*(EventContent._fields.index(name) for name in ("disclosed", "denied", "policy_ids")))


@dataclass(frozen=True)
class Append:
    """One request's events as one ``audit_append`` call takes them: packed (:func:`records`), encoded and checked."""

    hint: int
    fields: tuple[str | None, ...]
    # per row: customer id, the record's customers (a bigint[] literal), disclosed, denied,
    # policy ids (text[] literals), digest
    rows: tuple[tuple[int | None, str | None, str, str, str, bytes], ...]
    events: int  # what the rows stand for: one per customer of a record

    @classmethod
    def of(cls, events: Sequence[EventContent]) -> Append:
        """Raises ValueError or TypeError for anything the database would refuse (a lone
        surrogate, a NUL character, a missing field): it must fail this request, not its group."""
        if not events:
            raise ValueError("an append needs at least one event")
        fields = _checked_fields(events[0])
        for e in events:
            if request_fields(e) != fields:
                raise ValueError("the events of one append must come from one request")
            if e.customer_ids is not None:
                raise ValueError("an append takes events, not records")
            _check_customer(e.customer_id)
        return cls._packed(fields, records(events), len(events))

    @classmethod
    def of_records(cls, rows: Sequence[EventContent]) -> Append:
        """:meth:`of` the events ``rows`` stand for, given as :func:`records` makes them
        (gateway.audit.writer.request_records: a page's customers alike never become events)."""
        if not rows:
            raise ValueError("an append needs at least one event")
        fields = _checked_fields(rows[0])
        events = 0
        seen: set[int] = set()
        for r in rows:
            if request_fields(r) != fields:
                raise ValueError("the rows of one append must come from one request")
            customers = r.customer_ids
            if customers is None:
                _check_customer(r.customer_id)
                customers = () if r.customer_id is None else (r.customer_id,)
                events += 1
            else:
                if r.customer_id is not None or len(customers) < 2:
                    raise ValueError("a record stands for two or more customers, without a customer id")
                # All at once (a page's record holds 50): integers, and the extremes in range.
                if set(map(type, customers)) != {int} or min(customers) < INT8.start or max(customers) >= INT8.stop:
                    raise TypeError("a customer id is a 64-bit integer")
                events += len(customers)
            before = len(seen)
            seen.update(customers)
            if len(seen) - before != len(customers):
                raise ValueError("a customer has one event per request")
        return cls._packed(fields, rows, events)

    @classmethod
    def _packed(cls, fields: tuple[str | None, ...], rows: Sequence[EventContent], events: int) -> Append:
        packed = []
        for r in rows:
            members = None if r.customer_ids is None else "{" + ",".join(map(str, r.customer_ids)) + "}"
            packed.append((r.customer_id, members, names_literal(r.disclosed), names_literal(r.denied),
                           names_literal(r.policy_ids), r.digest()))  # fmt: skip
        # Spreads requests over the chains; any free chain is taken anyway.
        hint = zlib.crc32(rows[0].request_id.encode()) & 0x7FFFFFFF
        return cls(hint, fields, tuple(packed), events)


def _checked_fields(event: EventContent) -> tuple[str | None, ...]:
    fields = request_fields(event)
    for value, nullable in zip(fields, _NULLABLE, strict=True):
        if value is None and nullable:
            continue
        _check_text(value)
    if fields[-1] is not None and fields[-1] not in DOCUMENT_TRUST:
        raise ValueError("unknown document trust")
    return fields


def _check_customer(customer_id: object) -> None:
    if customer_id is not None and (type(customer_id) is not int or customer_id not in INT8):
        raise TypeError("a customer id is a 64-bit integer")


# Literals of lists of names already checked: categories and policy ids, a
# few hundred combinations in practice (a page repeats them for every customer).
_LITERALS: dict[tuple[str, ...], str] = {}
MAX_LITERALS = 4096


def names_literal(names: Sequence[str]) -> str:
    """``names`` as a PostgreSQL ``text[]`` literal, every element quoted; raises for unstorable text."""
    key = tuple(names)
    literal = _LITERALS.get(key)
    if literal is None:
        for name in key:
            _check_text(name)
        literal = "{" + ",".join('"' + n.replace("\\", "\\\\").replace('"', '\\"') + '"' for n in key) + "}"
        if len(_LITERALS) < MAX_LITERALS:
            _LITERALS[key] = literal
    return literal


def _check_text(value: object) -> None:
    if not isinstance(value, str):
        raise TypeError("an audit field is text")
    value.encode("utf-8")  # a lone surrogate raises UnicodeEncodeError (a ValueError)
    if "\x00" in value:
        raise ValueError("PostgreSQL text holds no NUL character")


async def append_group(conn: Any, appends: Sequence[Append]) -> list[int]:
    """Append the requests' events with one ``audit_append`` call (one implicit transaction
    unless ``conn`` is in one); the counts written, in order."""
    columns: list[list[Any]] = [[a.fields[i] for a in appends] for i in range(len(_NULLABLE))]
    names: dict[str, str] = {}  # literal -> its 1-based index, as text

    def index(literal: str) -> str:
        found = names.get(literal)
        if found is None:
            found = names[literal] = str(len(names) + 1)
        return found

    request_of: list[str] = []
    customers: list[str] = []
    members: list[str | None] = []
    disclosed: list[str] = []
    denied: list[str] = []
    policy_ids: list[str] = []
    digests: list[bytes] = []
    for number, a in enumerate(appends, start=1):
        request = str(number)
        for customer_id, record, disclosed_names, denied_names, policy_names, digest in a.rows:
            request_of.append(request)
            customers.append("n" if customer_id is None else str(customer_id))  # n: NULL
            members.append(record)
            disclosed.append(index(disclosed_names))
            denied.append(index(denied_names))
            policy_ids.append(index(policy_names))
            digests.append(digest)
    written = await conn.fetchval(
        APPEND_SQL,
        appends[0].hint,
        *columns,
        list(names),
        ",".join(request_of),
        ",".join(customers),
        ",".join(disclosed),
        ",".join(denied),
        ",".join(policy_ids),
        b"".join(digests),
        members,
    )
    counts = [a.events for a in appends]
    if written != sum(counts):
        raise CommitFailed("the database appended another number of events")
    return counts


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
        events = group[0].append.events
        while self._queue and len(group) < self.max_requests:
            more = self._queue[0].append.events
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
