"""``audit verify``: walk every chain from its trusted start and name the first broken event.

A chain starts at its genesis or, once retention has dropped its oldest
events, at its latest *retention* checkpoint. Each chain is read in one
repeatable-read snapshot (head and events agree even while the gateway
writes), streamed through a server-side cursor so memory stays constant.
A clean chain gets a *verified* checkpoint: a later full walk must pass
through it unchanged, and ``--from-checkpoint`` walks only what came after.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import asyncpg

from gateway.audit.chain import GENESIS, Break, ChainWalker, StoredEvent

BATCH = 5_000
PARALLEL_CHAINS = 4

# An audit_events row's columns, as verify reads them (and events.py, expanded).
EVENT_FIELDS = (
    "id", "at", "chain", "seq", "request_id", "client", "division", "purpose", "regime", "campaign_id",
    "operation_name", "customer_id", "disclosed", "denied", "policy_ids", "prev_hash", "hash", "link_version",
    "document_id", "document_trust", "customer_ids",
)  # fmt: skip
EVENT_COLUMNS = ", ".join(EVENT_FIELDS)

# A record's customers by bucket (migration 0011): what its customer_buckets must hold.
BUCKET_SHIFT = 6
# Read beside each row: the digest covers a record's customers, not its buckets, so they must agree.
BUCKETS_AGREE = (
    f"(customer_buckets IS NULL OR customer_buckets = ARRAY(SELECT DISTINCT m >> {BUCKET_SHIFT}"
    " FROM unnest(customer_ids) m ORDER BY 1)) AS buckets_agree"
)


@dataclass(frozen=True)
class ChainResult:
    """The outcome for one chain."""

    chain: int
    start_seq: int  # events up to here were trusted (checkpoint), not walked
    verified: int  # events walked and found intact
    head_seq: int
    broken: Break | None


@dataclass(frozen=True)
class VerifyReport:
    chains: tuple[ChainResult, ...]

    @property
    def ok(self) -> bool:
        return all(c.broken is None for c in self.chains)

    @property
    def verified(self) -> int:
        return sum(c.verified for c in self.chains)

    @property
    def breaks(self) -> list[Break]:
        return [c.broken for c in self.chains if c.broken is not None]

    def summary(self) -> str:
        from_checkpoint = sum(1 for c in self.chains if c.start_seq > 0)
        if not self.ok:
            return f"BROKEN: {len(self.breaks)} of {len(self.chains)} chains; first: {self.breaks[0].describe()}"
        return (
            f"OK: {len(self.chains)} chains, {self.verified} events verified"
            f" ({from_checkpoint} chains from a checkpoint)"
        )


async def verify(
    pool: asyncpg.Pool, *, from_checkpoint: bool = False, record_checkpoints: bool = True
) -> VerifyReport:
    """Verify every chain; record a *verified* checkpoint for each clean, non-empty one."""
    chains = [r["chain"] for r in await pool.fetch("SELECT chain FROM audit_chain_heads ORDER BY chain")]
    limit = asyncio.Semaphore(PARALLEL_CHAINS)

    async def one(chain: int) -> ChainResult:
        async with limit:
            return await verify_chain(pool, chain, from_checkpoint=from_checkpoint, record=record_checkpoints)

    return VerifyReport(tuple(await asyncio.gather(*(one(c) for c in chains))))


async def verify_chain(pool: asyncpg.Pool, chain: int, *, from_checkpoint: bool, record: bool) -> ChainResult:
    """Walk one chain; see the module docstring."""
    kinds = ["retention", "verified"] if from_checkpoint else ["retention"]
    async with pool.acquire() as conn:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            head = await conn.fetchrow("SELECT seq, hash FROM audit_chain_heads WHERE chain = $1", chain)
            assert head is not None
            start = await conn.fetchrow(
                "SELECT seq, hash FROM audit_checkpoints WHERE chain = $1 AND kind = ANY($2::text[])"
                " ORDER BY seq DESC, id DESC LIMIT 1",
                chain,
                kinds,
            )
            start_seq, start_hash = (start["seq"], bytes(start["hash"])) if start else (0, GENESIS)
            known = {
                r["seq"]: bytes(r["hash"])
                for r in await conn.fetch(
                    "SELECT seq, hash FROM audit_checkpoints WHERE chain = $1 AND seq > $2", chain, start_seq
                )
            }
            walker = ChainWalker(chain, start_seq, start_hash, known)
            cursor = conn.cursor(
                f"SELECT {EVENT_COLUMNS}, {BUCKETS_AGREE} FROM audit_events WHERE chain = $1 AND seq > $2 ORDER BY seq",
                chain,
                start_seq,
                prefetch=BATCH,
            )
            buckets: Break | None = None  # the first record whose buckets disagree with its customers
            async for row in cursor:
                walker.feed(StoredEvent.from_row(row))
                if walker.broken is not None:
                    break
                if not row["buckets_agree"]:
                    buckets = Break(chain, row["id"], row["seq"], "its customer buckets do not match its customers")
                    break
            broken = buckets or walker.finish(head["seq"], bytes(head["hash"]))
        if record and broken is None and walker.count and walker.seq not in known:
            await conn.execute(
                "INSERT INTO audit_checkpoints (chain, seq, hash, event_at, kind) VALUES ($1, $2, $3, $4, 'verified')",
                chain,
                walker.seq,
                walker.hash,
                walker.last_at,
            )
    return ChainResult(chain, start_seq, walker.count, head["seq"], broken)

