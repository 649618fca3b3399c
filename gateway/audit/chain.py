"""The hash chain over audit events: canonical content, digests, links. Pure.

An event's *digest* is the sha256 of its canonical content: a JSON array of
the fields the gateway sends, in a fixed order, encoded by orjson (no spaces,
UTF-8, so the same values always give the same bytes). The database links it
(link version 2, every event since migration 0004):

    hash = sha256(prev_hash || chain (int32 BE) || seq (int64 BE)
                  || at as microseconds since the epoch (int64 BE)
                  || id (int64 BE) || digest)

A row may be a *record* of several events (migration 0010): the customers
a request treated alike, their ids in one list, everything else shared. Its
digest covers the whole list (canonical version 3) and it takes one link;
removing, adding or reordering a customer breaks it.

Events written before 0004 carry link version 1, the same without the id.
A changed id breaks a version-2 link; lowering the version breaks it too
(the stored hash was computed with the id).

The database computes the link (``audit_append`` in 0002_audit.sql) because
only it knows the chain head under its lock; ``audit verify`` recomputes
both the digest and the link from the stored columns and trusts neither.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, Protocol

import orjson

# Bumped if the canonical content ever changes; part of every digest.
CANONICAL_VERSION = 1
# Content that records a trusted-document check (migration 0007) appends its
# two fields and says so with this version; content without them keeps
# version 1, so every event written before still verifies.
CANONICAL_VERSION_DOCUMENTS = 2
# A record of several customers treated alike (migration 0010): their ids as
# one list where one event has its customer id, the document fields always.
CANONICAL_VERSION_RECORDS = 3
GENESIS = bytes(32)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LINK_V1 = struct.Struct(">iqq")
_LINK_V2 = struct.Struct(">iqqq")
LINK_VERSIONS = (1, 2)


class Row(Protocol):
    def __getitem__(self, key: str) -> Any: ...


class EventContent(NamedTuple):
    """What one audit event says: everything but its place in a chain.

    Or what one *record* says (``customer_ids`` set, ``customer_id`` None):
    one event per customer of ``customer_ids``, alike in every other field
    (:func:`gateway.audit.group.records`).

    A named tuple: a page makes one per customer, and a tuple is made
    several times faster than a frozen dataclass.
    """

    request_id: str
    client: str
    division: str
    purpose: str
    regime: str
    campaign_id: str | None
    operation_name: str | None
    customer_id: int | None
    disclosed: tuple[str, ...]
    denied: tuple[str, ...]
    policy_ids: tuple[str, ...]
    # The trusted-document check (gateway/trusted): the document's id and
    # REGISTERED, UNREGISTERED (run under `log`) or REFUSED; None when off.
    document_id: str | None = None
    document_trust: str | None = None
    # A record's customers, in the request's order (two or more); None for one event.
    customer_ids: tuple[int, ...] | None = None

    def canonical(self) -> bytes:
        if self.customer_ids is not None:
            return orjson.dumps(
                [
                    CANONICAL_VERSION_RECORDS,
                    *self[:7],  # request_id .. operation_name
                    self.customer_ids,
                    self.disclosed,
                    self.denied,
                    self.policy_ids,
                    self.document_id,
                    self.document_trust,
                ]
            )
        documents = self.document_id is not None or self.document_trust is not None
        return orjson.dumps(
            [
                CANONICAL_VERSION_DOCUMENTS if documents else CANONICAL_VERSION,
                self.request_id,
                self.client,
                self.division,
                self.purpose,
                self.regime,
                self.campaign_id,
                self.operation_name,
                self.customer_id,
                self.disclosed,  # orjson writes a tuple as a list
                self.denied,
                self.policy_ids,
                *([self.document_id, self.document_trust] if documents else []),
            ]
        )

    def digest(self) -> bytes:
        return hashlib.sha256(self.canonical()).digest()


def micros(at: datetime) -> int:
    """``at`` as whole microseconds since the Unix epoch (exact integer arithmetic)."""
    return (at - EPOCH) // timedelta(microseconds=1)


def link(
    prev_hash: bytes, chain: int, seq: int, at: datetime, digest: bytes, event_id: int | None = None
) -> bytes:
    """The hash of an event at position ``seq`` of ``chain``, following ``prev_hash``.

    With ``event_id`` the link covers the id (version 2); without, it is the
    version-1 link of events written before migration 0004.
    """
    if event_id is None:
        position = _LINK_V1.pack(chain, seq, micros(at))
    else:
        position = _LINK_V2.pack(chain, seq, micros(at), event_id)
    return hashlib.sha256(prev_hash + position + digest).digest()


@dataclass(frozen=True)
class StoredEvent:
    """An event as the audit table holds it."""

    id: int
    chain: int
    seq: int
    at: datetime
    content: EventContent
    prev_hash: bytes
    hash: bytes
    link_version: int = 2

    def expected_hash(self, prev_hash: bytes) -> bytes | None:
        """The hash this event must have after ``prev_hash`` (None: an unknown link version)."""
        if self.link_version not in LINK_VERSIONS:
            return None
        event_id = self.id if self.link_version >= 2 else None
        return link(prev_hash, self.chain, self.seq, self.at, self.content.digest(), event_id)

    @classmethod
    def from_row(cls, row: Row) -> StoredEvent:
        """From an ``audit_events`` row (an asyncpg Record or a dict of its columns)."""
        get = row.__getitem__
        return cls(
            id=get("id"),
            chain=get("chain"),
            seq=get("seq"),
            at=get("at"),
            content=EventContent(
                request_id=get("request_id"),
                client=get("client"),
                division=get("division"),
                purpose=get("purpose"),
                regime=get("regime"),
                campaign_id=get("campaign_id"),
                operation_name=get("operation_name"),
                customer_id=get("customer_id"),
                disclosed=tuple(get("disclosed")),
                denied=tuple(get("denied")),
                policy_ids=tuple(get("policy_ids")),
                document_id=_optional(row, "document_id"),
                document_trust=_optional(row, "document_trust"),
                customer_ids=_optional_tuple(row, "customer_ids"),
            ),
            prev_hash=bytes(get("prev_hash")),
            hash=bytes(get("hash")),
            link_version=get("link_version"),
        )


def _optional(row: Row, key: str) -> Any:
    """A column added by a later migration: None when the row predates it."""
    try:
        return row[key]
    except KeyError:
        return None


def _optional_tuple(row: Row, key: str) -> tuple[Any, ...] | None:
    value = _optional(row, key)
    return None if value is None else tuple(value)


@dataclass(frozen=True)
class Break:
    """The first event of a chain that does not verify, and why."""

    chain: int
    event_id: int | None
    seq: int | None
    reason: str

    def describe(self) -> str:
        where = f"chain {self.chain}"
        if self.event_id is not None:
            where += f", event id {self.event_id} (seq {self.seq})"
        return f"{where}: {self.reason}"


class ChainWalker:
    """Checks the events of one chain in seq order, from a trusted starting point.

    Feed it every stored event with seq above ``start_seq``, in order; the
    first problem is kept in :attr:`broken` and later events are ignored.
    ``checkpoints`` (seq -> hash) are earlier verified points the walk must
    pass through unchanged: a chain rewritten wholesale after a checkpoint
    (every hash recomputed) still disagrees with it.
    """

    def __init__(self, chain: int, start_seq: int, start_hash: bytes, checkpoints: dict[int, bytes]) -> None:
        self.chain = chain
        self.seq = start_seq
        self.hash = start_hash
        self.last_at: datetime | None = None
        self.checkpoints = checkpoints
        self.count = 0
        self.broken: Break | None = None

    def feed(self, event: StoredEvent) -> None:
        if self.broken is not None:
            return
        expected = self.seq + 1
        if event.seq != expected:
            what = "missing" if event.seq > expected else "out of order"
            self._fail(event, f"event(s) {what}: expected seq {expected}, found {event.seq}")
            return
        if event.prev_hash != self.hash:
            self._fail(event, "prev_hash does not match the previous event's hash")
            return
        if event.expected_hash(self.hash) != event.hash:
            self._fail(event, "contents do not match the stored hash (the event was altered)")
            return
        known = self.checkpoints.get(event.seq)
        if known is not None and known != event.hash:
            self._fail(event, "hash differs from the one recorded at a checkpoint (the chain was rewritten)")
            return
        self.seq, self.hash, self.last_at = event.seq, event.hash, event.at
        members = event.content.customer_ids
        self.count += 1 if members is None else len(members)  # events, a record's one per customer

    def finish(self, head_seq: int, head_hash: bytes) -> Break | None:
        """After the last event: the walk must end at the chain head."""
        if self.broken is None and max(self.checkpoints, default=0) > self.seq:
            reason = f"events up to the checkpoint at seq {max(self.checkpoints)} are missing"
            self.broken = Break(self.chain, None, None, reason)
        if self.broken is None and (self.seq, self.hash) != (head_seq, head_hash):
            if self.seq < head_seq:
                reason = f"events after seq {self.seq} are missing (the head is at seq {head_seq})"
            else:
                reason = f"the chain head (seq {head_seq}) does not match the last event (seq {self.seq})"
            self.broken = Break(self.chain, None, None, reason)
        return self.broken

    def _fail(self, event: StoredEvent, reason: str) -> None:
        self.broken = Break(self.chain, event.id, event.seq, reason)
