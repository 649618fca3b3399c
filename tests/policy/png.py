"""A tiny PNG reader for screenshot checks (8-bit RGB/RGBA, not interlaced): no imaging dependency."""

from __future__ import annotations

import struct
import zlib
from collections import Counter
from dataclasses import dataclass
from itertools import accumulate

_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class Image:
    width: int
    height: int
    rows: list[bytes]  # RGB triplets per row (alpha dropped)

    def colours(self) -> Counter[tuple[int, int, int]]:
        """How many pixels have each colour."""
        counts: Counter[tuple[int, int, int]] = Counter()
        for row in self.rows:
            counts.update(zip(row[0::3], row[1::3], row[2::3], strict=True))
        return counts


def read_png(data: bytes) -> Image:
    """Decode a PNG as chromium writes screenshots."""
    if not data.startswith(_SIGNATURE):
        raise ValueError("not a PNG")
    position, idat, header = len(_SIGNATURE), bytearray(), b""
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        position += 12 + length
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", header)
    if depth != 8 or colour_type not in (2, 6) or interlace:
        raise ValueError(f"unsupported PNG: depth {depth}, colour type {colour_type}, interlace {interlace}")
    channels = 3 if colour_type == 2 else 4
    stride = width * channels
    raw = zlib.decompress(bytes(idat))
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        line = _unfilter(raw[start], bytearray(raw[start + 1 : start + 1 + stride]), previous, channels)
        rows.append(bytes(line) if channels == 3 else bytes(b for i, b in enumerate(line) if i % 4 != 3))
        previous = line
    return Image(width, height, rows)


def _unfilter(kind: int, line: bytearray, previous: bytearray, bpp: int) -> bytearray:
    """Undo one scanline's filter (PNG spec section 9); None, Sub and Up without a Python loop per byte."""
    if kind == 0:
        return line
    if kind == 1:
        for channel in range(bpp):
            values: list[int] = list(line[channel::bpp])
            summed: list[int] = list(accumulate(values, _add))
            line[channel::bpp] = bytes(summed)
        return line
    if kind == 2:
        return bytearray((a + b) & 0xFF for a, b in zip(line, previous, strict=True))
    for i in range(len(line)):
        left = line[i - bpp] if i >= bpp else 0
        up = previous[i]
        if kind == 3:
            line[i] = (line[i] + (left + up) // 2) & 0xFF
        elif kind == 4:
            corner = previous[i - bpp] if i >= bpp else 0
            line[i] = (line[i] + _paeth(left, up, corner)) & 0xFF
        else:
            raise ValueError(f"bad PNG filter {kind}")
    return line


def _add(a: int, b: int) -> int:
    return (a + b) & 0xFF


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c
