"""Read the pixels of a screenshot with the standard library only (8-bit PNGs, as Chromium
writes them), to tell a real rendering from a blank one."""

from __future__ import annotations

import struct
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # grey, RGB, grey+alpha, RGBA


@dataclass(frozen=True)
class PixelStats:
    width: int
    height: int
    distinct_colours: int
    dominant_share: float  # fraction of pixels with the most common colour

    @property
    def looks_blank(self) -> bool:
        return self.distinct_colours < 3 or self.dominant_share > 0.995


def _paeth(left: int, up: int, up_left: int) -> int:
    estimate = left + up - up_left
    d_left, d_up, d_up_left = abs(estimate - left), abs(estimate - up), abs(estimate - up_left)
    if d_left <= d_up and d_left <= d_up_left:
        return left
    return up if d_up <= d_up_left else up_left


def _unfilter(raw: bytes, width: int, height: int, pixel_bytes: int) -> list[bytes]:
    stride = width * pixel_bytes
    rows: list[bytes] = []
    previous = bytearray(stride)
    offset = 0
    for _ in range(height):
        kind = raw[offset]
        line = bytearray(raw[offset + 1 : offset + 1 + stride])
        offset += 1 + stride
        for i in range(stride):
            left = line[i - pixel_bytes] if i >= pixel_bytes else 0
            up = previous[i]
            up_left = previous[i - pixel_bytes] if i >= pixel_bytes else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                line[i] = (line[i] + _paeth(left, up, up_left)) & 0xFF
            elif kind != 0:
                raise ValueError(f"unknown PNG filter {kind}")
        rows.append(bytes(line))
        previous = line
    return rows


def pixel_stats(path: Path) -> PixelStats:
    data = path.read_bytes()
    if not data.startswith(_SIGNATURE):
        raise ValueError(f"{path} is not a PNG file")
    offset = len(_SIGNATURE)
    header = b""
    compressed = bytearray()
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        offset += 12 + length
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            compressed += body
        elif kind == b"IEND":
            break
    width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", header)
    if depth != 8 or colour_type not in _CHANNELS or interlace:
        raise ValueError(f"{path}: only 8-bit, non-interlaced PNGs are read here")
    pixel_bytes = _CHANNELS[colour_type]
    rows = _unfilter(zlib.decompress(bytes(compressed)), width, height, pixel_bytes)
    colours: Counter[bytes] = Counter()
    for row in rows:
        for x in range(0, len(row), pixel_bytes):
            colours[row[x : x + pixel_bytes]] += 1
    total = max(width * height, 1)
    dominant = colours.most_common(1)[0][1] if colours else 0
    return PixelStats(width, height, len(colours), dominant / total)
