"""Which hashes a download computes, the running digests, and the final comparison with what
the source listed and the server announced."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..checksums import (
    HAS_NATIVE_CRC32C,
    Crc32cHasher,
    Md5Hasher,
    crc32c,
    crc32c_combine,
    crc32c_to_b64,
)
from ..errors import IntegrityError


@dataclass(frozen=True)
class HashChecks:
    """Which hashes a download computes."""

    md5: bool
    crc32c: bool

    @classmethod
    def choose(cls, source_md5: str | None, server_hashes: dict[str, str]) -> HashChecks:
        """crc32c when the server announces it and it is cheap (native code) or the only hash;
        md5 when the source listed one (always checked) or the server's crc32c is not used."""
        has_md5 = source_md5 is not None or "md5" in server_hashes
        crc = "crc32c" in server_hashes and (HAS_NATIVE_CRC32C or not has_md5)
        return cls(md5=source_md5 is not None or ("md5" in server_hashes and not crc), crc32c=crc)


class Digests:
    """The hashes ``checks`` asks for, over the first ``upto`` bytes of the file."""

    def __init__(self, checks: HashChecks) -> None:
        self.checks = checks
        self.md5 = Md5Hasher() if checks.md5 else None
        self.crc32c = Crc32cHasher() if checks.crc32c else None
        self.upto = 0

    def feed(self, data: bytes) -> None:
        if self.md5 is not None:
            self.md5.update(data)
        if self.crc32c is not None:
            self.crc32c.update(data)
        self.upto += len(data)

    def catch_up(self, path: Path, offset: int, block: int) -> None:
        """Hash the bytes already on disk up to ``offset`` (after a resume)."""
        if self.upto >= offset or (self.md5 is None and self.crc32c is None):
            self.upto = max(self.upto, offset)
            return
        with open(path, "rb") as data:
            data.seek(self.upto)
            while self.upto < offset:
                chunk = data.read(min(block, offset - self.upto))
                if not chunk:
                    break
                self.feed(chunk)


def crc32c_of_file(path: Path, start: int, end: int, block: int) -> int:
    """CRC-32C of the bytes ``start``..``end`` of ``path`` as they are on disk."""
    crc = 0
    with open(path, "rb") as data:
        data.seek(start)
        while start < end:
            chunk = data.read(min(block, end - start))
            if not chunk:
                break
            crc = crc32c(chunk, crc)
            start += len(chunk)
    return crc


def combined_crc32c(spans: Sequence[tuple[int, int]], crcs: Sequence[int | None]) -> int | None:
    """The file's crc32c from the per-range values; None when one is missing."""
    combined = 0
    for (start, end), crc in zip(spans, crcs, strict=True):
        if crc is None:
            return None
        combined = crc32c_combine(combined, crc, end - start)
    return combined


def check_digests(
    relpath: str,
    *,
    md5_b64: str | None,
    crc: int | None,
    source_md5: str | None,
    server_hashes: dict[str, str],
) -> None:
    """IntegrityError when a computed hash differs from one the source listed or the server
    sent (all base64)."""
    expected = [
        ("md5", md5_b64, source_md5, "the source listed"),
        ("md5", md5_b64, server_hashes.get("md5"), "the server sent"),
    ]
    if crc is not None:
        expected.append(
            ("crc32c", crc32c_to_b64(crc), server_hashes.get("crc32c"), "the server sent")
        )
    for name, actual, wanted, origin in expected:
        if wanted is not None and actual is not None and actual != wanted:
            raise IntegrityError(
                f"{relpath}: the {name} checksum of the downloaded bytes does not match"
                f" the one {origin}; the bytes were discarded.",
                fix="Rerun to download it again.",
            )
