"""Checksums the blob hosts announce: md5 and CRC-32C (Castagnoli), plus ``x-goog-hash`` parsing.

CRC-32C uses the ``google_crc32c`` C extension when it is importable (Colab and Kaggle ship it)
and a table-driven pure-Python fallback otherwise.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable
from typing import Any

_CASTAGNOLI_REVERSED = 0x82F63B78


def _make_tables() -> list[list[int]]:
    first = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ _CASTAGNOLI_REVERSED if crc & 1 else crc >> 1
        first.append(crc)
    tables = [first]
    for _ in range(7):
        previous = tables[-1]
        tables.append([(previous[i] >> 8) ^ first[previous[i] & 0xFF] for i in range(256)])
    return tables


_TABLES = _make_tables()
_LITTLE_ENDIAN = memoryview(b"\x01\x00").cast("H")[0] == 1  # the word loop reads native words


def crc32c_pure(data: bytes | bytearray | memoryview, crc: int = 0) -> int:
    """CRC-32C of ``data`` continuing from ``crc`` (slicing-by-8 over 64-bit words)."""
    t0, t1, t2, t3, t4, t5, t6, t7 = _TABLES
    view = memoryview(data).cast("B")
    crc ^= 0xFFFFFFFF
    head = len(view) - len(view) % 8 if _LITTLE_ENDIAN else 0
    if head:
        for word in view[:head].cast("Q"):
            low = (word & 0xFFFFFFFF) ^ crc
            high = word >> 32
            crc = (
                t7[low & 0xFF]
                ^ t6[(low >> 8) & 0xFF]
                ^ t5[(low >> 16) & 0xFF]
                ^ t4[low >> 24]
                ^ t3[high & 0xFF]
                ^ t2[(high >> 8) & 0xFF]
                ^ t1[(high >> 16) & 0xFF]
                ^ t0[high >> 24]
            )
    for byte in view[head:]:
        crc = (crc >> 8) ^ t0[(crc ^ byte) & 0xFF]
    return crc ^ 0xFFFFFFFF


def _native_extend() -> Any:
    try:
        import google_crc32c  # type: ignore[import-not-found]
    except ImportError:
        return None
    if getattr(google_crc32c, "implementation", "c") != "c":
        return None
    return google_crc32c.extend


_NATIVE_EXTEND = _native_extend()
HAS_NATIVE_CRC32C = _NATIVE_EXTEND is not None


def crc32c(data: bytes | bytearray | memoryview, crc: int = 0) -> int:
    """CRC-32C of ``data`` continuing from ``crc``."""
    if _NATIVE_EXTEND is not None:
        return int(_NATIVE_EXTEND(crc, bytes(data)))
    return crc32c_pure(data, crc)


def _gf2_times(matrix: list[int], vector: int) -> int:
    product = 0
    row = 0
    while vector:
        if vector & 1:
            product ^= matrix[row]
        vector >>= 1
        row += 1
    return product


def _gf2_square(matrix: list[int]) -> list[int]:
    return [_gf2_times(matrix, column) for column in matrix]


def _zero_byte_operators() -> list[list[int]]:
    """Operator ``k`` advances a CRC-32C register over ``2**k`` zero bytes (k < 64)."""
    one_bit = [_CASTAGNOLI_REVERSED] + [1 << (row - 1) for row in range(1, 32)]
    operator = _gf2_square(_gf2_square(_gf2_square(one_bit)))  # 8 bits: one zero byte
    operators = [operator]
    for _ in range(63):
        operator = _gf2_square(operator)
        operators.append(operator)
    return operators


_ZERO_BYTE_OPERATORS: list[list[int]] = []


def crc32c_combine(crc_a: int, crc_b: int, len_b: int) -> int:
    """CRC-32C of ``A + B`` from ``crc32c(A)``, ``crc32c(B)`` and ``len(B)``, in O(log len_b)
    (the GF(2) matrix method of zlib's ``crc32_combine``, for the Castagnoli polynomial)."""
    if len_b <= 0:
        return crc_a
    if not _ZERO_BYTE_OPERATORS:
        _ZERO_BYTE_OPERATORS.extend(_zero_byte_operators())
    register = crc_a
    power = 0
    while len_b:
        if len_b & 1:
            register = _gf2_times(_ZERO_BYTE_OPERATORS[power], register)
        len_b >>= 1
        power += 1
    return register ^ crc_b


class Md5Hasher:
    name = "md5"

    def __init__(self) -> None:
        self._md5 = hashlib.md5(usedforsecurity=False)

    def update(self, data: bytes | bytearray | memoryview) -> None:
        self._md5.update(data)

    def hexdigest(self) -> str:
        return self._md5.hexdigest()

    def b64digest(self) -> str:
        return base64.b64encode(self._md5.digest()).decode("ascii")


class Crc32cHasher:
    name = "crc32c"

    def __init__(self) -> None:
        self._crc = 0

    def update(self, data: bytes | bytearray | memoryview) -> None:
        self._crc = crc32c(data, self._crc)

    @property
    def value(self) -> int:
        return self._crc

    def b64digest(self) -> str:
        return crc32c_to_b64(self._crc)


def crc32c_to_b64(crc: int) -> str:
    """The ``x-goog-hash`` form of a CRC-32C: its 4 big-endian bytes in base64."""
    return base64.b64encode(crc.to_bytes(4, "big")).decode("ascii")


def parse_goog_hash(values: Iterable[str]) -> dict[str, str]:
    """``{"md5": b64, "crc32c": b64}`` from ``x-goog-hash`` values, whether the server sent one
    comma-joined header or repeated header lines. Unknown or malformed parts are ignored."""
    found: dict[str, str] = {}
    for value in values:
        for part in value.split(","):
            name, sep, digest = part.strip().partition("=")
            if not sep:
                continue
            name = name.strip().lower()
            digest = digest.strip()
            if name in ("md5", "crc32c") and _is_base64(digest):
                found[name] = digest
    return found


def _is_base64(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return False
    return bool(text)


def md5_hex_to_b64(hex_digest: str) -> str | None:
    try:
        return base64.b64encode(bytes.fromhex(hex_digest.strip())).decode("ascii")
    except ValueError:
        return None
