"""What every part of the Kaggle fake shares: the call record, error replies, fixed dates,
deterministic zips. The dataset fake and the model and notebook fakes import it; it imports
none of them.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FileMap = Mapping[str, bytes]
# A dataset file is bytes, or a Path served from disk (never read into memory for a download).
DatasetFileMap = Mapping[str, bytes | Path]

CREATION_DATE = "2025-01-01T00:00:00.000Z"


def build_zip(files: DatasetFileMap) -> bytes:
    """A deterministic zip of ``files`` (posix relative names; files on disk are read)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=(2025, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, file_bytes(files[name]))
    return buffer.getvalue()


def file_bytes(content: bytes | Path) -> bytes:
    """The content in memory: only for zips and mounts, never for a single-file download."""
    return content.read_bytes() if isinstance(content, Path) else content


@dataclass(frozen=True)
class Call:
    method: str  # RPC method name, or "attach", "colab:is_supported", "colab:mount", "secret"
    body: dict[str, Any]
    auth: str  # "bearer", "basic", "none" or "invalid"
    user_agent: str | None


class Reply(Exception):
    """Raised by a handler: the status, JSON body and headers to answer with."""

    def __init__(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = dict(headers or {})


def envelope(status: int, message: str) -> Reply:
    """Kaggle's error body: ``{"code": status, "message": message}``."""
    return Reply(status, {"code": status, "message": message})
