"""The seeder's SQL: one set-based ``INSERT ... SELECT`` per table and chunk.

Rows are generated inside PostgreSQL, not in Python: usage records run to
tens of millions, and shipping them over the wire would cost more than making
them. Every value is a pure function of (seed, row key, ``now``): a draw is
``hashint8extended(key, salt)`` where the salt mixes the seed with the name of
the draw, so statements can recompute a customer's attributes (segment,
place, bundle) instead of reading them back, and chunks can run in any order
and in parallel yet produce the same rows.

Each chunk statement takes ``$1`` = first customer id, ``$2`` = last customer
id, ``$3`` = now. The vocabulary is inlined as array literals: it is
built-in constant data, quoted by :func:`text_array`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from gateway.seed import vocab
from gateway.seed.vocab import PLACES

DAY = 86_400
HISTORY_DAYS = 90  # usage records cover this many days before `now`
MIN_CUSTOMER_AGE_DAYS = 5 * 365


def text_array(values: Iterable[str | None]) -> str:
    """A ``text[]`` literal; NULL for None. Values are our own constants, quoted anyway."""
    items = ["NULL" if v is None else "'" + v.replace("'", "''") + "'" for v in values]
    return "ARRAY[" + ", ".join(items) + "]::text[]"


def int_array(values: Iterable[int]) -> str:
    """An ``int[]`` literal."""
    return "ARRAY[" + ", ".join(str(int(v)) for v in values) + "]::int[]"


class Draws:
    """SQL expressions of deterministic pseudo-random draws for one seed."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def salt(self, name: str) -> int:
        """A signed 64-bit salt for the draw ``name`` (stable across processes)."""
        digest = hashlib.blake2b(f"{self.seed}:{name}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big", signed=True)

    def _hash(self, name: str, key: str, key2: str | None) -> str:
        # hashint8extended folds its key to 32 bits, so a second key goes into
        # the (fully used) 64-bit seed argument instead of being multiplied in.
        salt = f"{self.salt(name)}::bigint"
        if key2 is not None:
            salt = f"({salt} # ({key2})::bigint)"
        return f"(hashint8extended(({key})::bigint, {salt}) & 2147483647)"

    def below(self, name: str, key: str, n: int, key2: str | None = None) -> str:
        """A uniform integer in ``[0, n)``."""
        return f"({self._hash(name, key, key2)} % {n})"

    def unit(self, name: str, key: str, key2: str | None = None) -> str:
        """A uniform float in ``[0, 1)``."""
        return f"({self._hash(name, key, key2)}::float8 / 2147483648::float8)"

    def pick(self, name: str, key: str, array: str, n: int, key2: str | None = None) -> str:
        """A uniform element of an array literal of length ``n``."""
        return f"({array})[1 + {self.below(name, key, n, key2)}]"


class Customers:
    """Per-customer attributes as SQL expressions of a customer id expression.

    Several statements need the same attribute (the place for the address and
    for the numbers a customer calls), so it is recomputed, never read back.
    """

    BUSINESS_SHARE = 0.20
    TERMINATED_SHARE = 0.05
    UNLISTED_SHARE = 0.25

    def __init__(self, draws: Draws) -> None:
        self.d = draws
        self._places = vocab.expand([(i + 1, p.weight) for i, p in enumerate(PLACES)])
        self._res = vocab.expand(list(vocab.RESIDENTIAL_BUNDLES))
        self._biz = vocab.expand(list(vocab.BUSINESS_BUNDLES))

    def business(self, cid: str) -> str:
        return f"({self.d.unit('segment', cid)} < {self.BUSINESS_SHARE})"

    def segment(self, cid: str) -> str:
        return f"(CASE WHEN {self.business(cid)} THEN 'BUSINESS' ELSE 'RESIDENTIAL' END)"

    def terminated(self, cid: str) -> str:
        return f"({self.d.unit('status', cid)} < {self.TERMINATED_SHARE})"

    def place(self, cid: str, draw: str = "place") -> str:
        """1-based index into PLACES, weighted by population (the home for the default draw)."""
        return self.d.pick(draw, cid, int_array(self._places), len(self._places))

    def bundle(self, cid: str) -> str:
        """Bit mask over CATEGORIES of the services the customer has."""
        res = self.d.pick("bundle", cid, int_array(self._res), len(self._res))
        biz = self.d.pick("bundle", cid, int_array(self._biz), len(self._biz))
        return f"(CASE WHEN {self.business(cid)} THEN {biz} ELSE {res} END)"

    def created_at(self, cid: str) -> str:
        # Customers joined 5 to 25 years ago: before any of their consent
        # records (the oldest are about 4.7 years old). Their services start
        # any time since, some inside the usage window.
        secs = f"({MIN_CUSTOMER_AGE_DAYS * DAY} + floor({self.d.unit('created', cid)} * {20 * 365 * DAY}))"
        return f"($3::timestamptz - {secs} * interval '1 second')"

    def area_code(self, place: str) -> str:
        return f"({text_array(p.area_code for p in PLACES)})[{place}]"

    def state(self, place: str) -> str:
        return f"({text_array(p.state for p in PLACES)})[{place}]"

    def phone(self, cid: str) -> str:
        # 7919 is coprime with 8,000,000: unique numbers for up to 8M customers,
        # and exchanges start at 2 as in the NANP.
        line = f"(({cid}) * 7919 % 8000000 + 2000000)::text"
        return f"('+1' || {self.area_code(self.place(cid))} || {line})"
