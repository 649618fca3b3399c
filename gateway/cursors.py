"""Opaque page cursors: encrypted and authenticated with the server's cursor key.

A cursor is ``AES-256-GCM(position)`` with the page's *binding* as associated
data: which connection it pages (``customers``, ``auditEvents``), the
filter, and the caller (client, division, purpose, campaign). So a cursor
says nothing (not even which customer id it stands after), and one that was
forged, altered, or made for another filter or caller fails authentication
and is refused as ``BAD_USER_INPUT``. The key (``CPNI_GATEWAY_CURSOR_KEY``)
is the same on every process and host, so any gateway continues any page.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import struct
from collections.abc import Sequence

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

VERSION = b"\x01"
NONCE_BYTES = 12
# A page position is a few 64-bit integers (an id; a time and an id).
MAX_POSITION_INTS = 4


class InvalidCursor(ValueError):
    """Not a cursor this gateway issued for this connection, filter and caller."""


def binding(connection: str, caller: Sequence[object], filter: object) -> bytes:
    """The associated data that ties a cursor to one connection, caller and filter."""
    return orjson.dumps([connection, list(caller), filter], option=orjson.OPT_SORT_KEYS)


class CursorCodec:
    """Seals and opens cursors with one key (built once per process)."""

    def __init__(self, key: str) -> None:
        # A configured secret of any form becomes a 256-bit key; the label
        # keeps it apart from any other use of the same secret.
        digest = hashlib.sha256(b"cpni-gateway cursor key v1\x00" + key.encode()).digest()
        self._aead = AESGCM(digest)

    def seal(self, bound: bytes, position: Sequence[int]) -> str:
        plain = struct.pack(f">{len(position)}q", *position)
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plain, VERSION + bound)
        return base64.urlsafe_b64encode(VERSION + nonce + sealed).rstrip(b"=").decode()

    def open(self, bound: bytes, cursor: str) -> tuple[int, ...]:
        """The position sealed in ``cursor``, or :class:`InvalidCursor`."""
        try:
            raw = base64.urlsafe_b64decode(cursor.encode("ascii") + b"=" * (-len(cursor) % 4))
        except (UnicodeEncodeError, binascii.Error, ValueError):
            raise InvalidCursor() from None
        if len(raw) < 1 + NONCE_BYTES + 16 or raw[:1] != VERSION:
            raise InvalidCursor()
        nonce, sealed = raw[1 : 1 + NONCE_BYTES], raw[1 + NONCE_BYTES :]
        try:
            plain = self._aead.decrypt(nonce, sealed, VERSION + bound)
        except InvalidTag:
            raise InvalidCursor() from None
        count, rest = divmod(len(plain), 8)
        if rest or not 1 <= count <= MAX_POSITION_INTS:
            raise InvalidCursor()
        return struct.unpack(f">{count}q", plain)
