"""The resumable bytes of one file and the JSON sidecar that proves which version they are.

The sidecar keeps the server's validator (ETag or Last-Modified), the total size, the source's
own version tag, the ranges still being fetched, and the hashes the server announced, so a
later call resumes with ``Range``/``If-Range`` instead of starting over.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from ..checksums import parse_goog_hash


def parse_content_range(value: str) -> tuple[int, int, int | None] | None:
    """(first, last, total or None) of ``bytes first-last/total``; None when malformed."""
    unit, _, spec = value.partition(" ")
    span, _, total_text = spec.partition("/")
    first_text, _, last_text = span.partition("-")
    try:
        first, last = int(first_text), int(last_text)
        total = None if total_text.strip() == "*" else int(total_text)
    except ValueError:
        return None
    if unit.strip().lower() != "bytes":
        return None
    return first, last, total


class PartialFile:
    """``part`` (the bytes so far) and ``sidecar`` (what they are) for one download."""

    def __init__(
        self, part: Path, sidecar: Path, source_validator: str | None, size: int | None
    ) -> None:
        self.part = part
        self.sidecar = sidecar
        self.source_validator = source_validator  # the source's version tag (RemoteFile)
        self.listed_size = size  # the size the source listed, when it did
        self.validator: str | None = None
        self.total: int | None = size
        self.ranges: list[list[int]] | None = None  # [start, end, next byte] per range
        self.server_hashes: dict[str, str] = {}  # base64, from x-goog-hash of this version
        self.lock = threading.Lock()

    def load(self) -> int:
        """Bytes already on disk that belong to this version (0 when nothing can be reused)."""
        if not self.part.is_file():
            self.sidecar.unlink(missing_ok=True)
            return 0
        try:
            saved = json.loads(self.sidecar.read_text())
        except (OSError, ValueError):
            saved = None
        if not isinstance(saved, dict) or not self._matches(saved):
            self.discard()
            return 0
        self.validator = saved.get("validator")
        self.total = saved.get("total") or self.listed_size
        hashes = saved.get("hashes")
        if isinstance(hashes, dict):
            self.server_hashes = {
                name: digest
                for name, digest in hashes.items()
                if name in ("md5", "crc32c") and isinstance(digest, str)
            }
        ranges = saved.get("ranges")
        if ranges and self.total:
            self.ranges = [[int(a), int(b), int(c)] for a, b, c in ranges]
            return sum(position - start for start, _end, position in self.ranges)
        return self.part.stat().st_size

    def _matches(self, saved: dict[str, Any]) -> bool:
        have = self.part.stat().st_size
        total = saved.get("total")
        if saved.get("source_validator") != self.source_validator:
            return False
        if not (saved.get("validator") or self.source_validator):
            return False  # nothing proves the bytes belong to this version
        if self.listed_size is not None and total not in (None, self.listed_size):
            return False
        if saved.get("ranges"):
            return bool(total) and have == total and saved.get("validator") is not None
        return 0 < have < (total or self.listed_size or have + 1)

    def save(self) -> None:
        with self.lock:
            state = {
                "validator": self.validator,
                "total": self.total,
                "source_validator": self.source_validator,
                "ranges": [list(item) for item in self.ranges] if self.ranges else None,
                "hashes": dict(self.server_hashes),
            }
        tmp = self.sidecar.with_name(f"{self.sidecar.name}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(state))
        os.replace(tmp, self.sidecar)

    def discard(self) -> None:
        self.part.unlink(missing_ok=True)
        self.sidecar.unlink(missing_ok=True)
        self.ranges = None

    def take_headers(self, response: Any, offset: int, total: int | None = None) -> bool:
        """Record the size, validator and hashes a response announces; True when it announced
        a size nobody knew before (the progress bar can show it now)."""
        headers = response.headers
        learned_size = False
        if total is None:
            length = headers.get("Content-Length")
            if length is not None and length.isdigit():
                total = offset + int(length)
        if total is not None:
            learned_size = self.total is None and self.listed_size is None
            self.total = total
        etag = headers.get("ETag")
        last_modified = headers.get("Last-Modified")
        if etag and not etag.startswith("W/"):
            self.validator = etag
        elif last_modified:
            self.validator = last_modified
        elif offset == 0:
            self.validator = None
        raw_headers = getattr(getattr(response, "raw", None), "headers", None)
        values: list[str] = []
        if raw_headers is not None and hasattr(raw_headers, "getlist"):
            values = list(raw_headers.getlist("x-goog-hash"))
        elif headers.get("x-goog-hash"):
            values = [headers["x-goog-hash"]]
        if offset == 0:
            self.server_hashes = {}  # a fresh copy: hashes of an older version no longer apply
        self.server_hashes.update(parse_goog_hash(values))
        self.save()
        return learned_size

    def range_matches(self, response: Any, start: int, end: int | None) -> bool:
        """Whether a 206 answers exactly ``start``..``end`` (to the end when None) of this
        version."""
        parsed = parse_content_range(response.headers.get("Content-Range", ""))
        if parsed is None:
            return False
        first, last, total = parsed
        if first != start:
            return False
        expected_last = (end - 1) if end is not None else (total - 1 if total else last)
        return last == expected_last and not (
            total is not None and self.total and total != self.total
        )

    def completed_prefix(self) -> int:
        """How many bytes from the start of a ranged download are already on disk."""
        assert self.ranges is not None
        with self.lock:
            for _start, end, position in self.ranges:
                if position < end:
                    return position
            return self.ranges[-1][1]
