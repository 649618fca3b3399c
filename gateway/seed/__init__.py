"""The deterministic demo dataset: ``seed(pool, customers=N, seed=S, now=...)``.

Customers ``1..N`` with realistic mixes of segments, services, usage, bills
and CPNI consent, generated inside PostgreSQL from hashes of row ids, so the
same arguments always give the same rows. ``cpni-gateway db seed`` runs it.

Layout: :mod:`~gateway.seed.vocab` holds the built-in names, places and
plans; :mod:`~gateway.seed.sql` the hash draws; ``people``, ``services``,
``billing`` and ``consent`` one INSERT per table; :mod:`~gateway.seed.loader`
runs them chunk by chunk.
"""

from __future__ import annotations

from gateway.seed.loader import (
    DatabaseNotEmpty,
    SeedError,
    SeedReport,
    reset_tables,
    seed,
    today_utc,
)

__all__ = ["DatabaseNotEmpty", "SeedError", "SeedReport", "reset_tables", "seed", "today_utc"]
