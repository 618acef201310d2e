"""A loopback blob host that behaves like a signed-URL object store (GCS-style).

It serves registered blobs, from bytes or from files on disk (a 1 GiB blob needs no RAM), at
``http://HOST:PORT/bucket/<name>?X-Goog-Algorithm=GOOG4-RSA-SHA256&...&X-Goog-Signature=...``
with ``Content-Length``, ``Last-Modified``, ``ETag``, ``Accept-Ranges``, ``x-goog-hash`` and
``Content-Type``; it answers ``Range`` with ``206``/``Content-Range`` (``If-Range`` honoured) and
``416`` when out of range, and ``HEAD``. Faults can be injected per blob: dropped connections at a
byte offset, 429 with ``Retry-After``, 5xx, a wrong hash header, a per-connection rate cap,
stalls, ignored ranges, corrupted bytes, expired signatures, redirects anywhere, gzip-encoded
bodies and bodies without a length. It counts requests and bytes per blob.

Only the standard library is used, so the kit works without the rest of the package::

    with BlobHost() as host:
        url = host.add("data/train.csv", b"a,b\\n1,2\\n", content_type="text/csv")
        host.faults("data/train.csv", drop_at=4)
"""

from __future__ import annotations

import base64
import contextlib
import email.utils
import gzip
import hashlib
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, quote, unquote, urlsplit

__all__ = ["BlobHost", "BlobStats", "Faults", "RequestRecord"]

BUCKET = "bucket"
SEND_BLOCK = 64 << 10


def _crc32c_tables() -> list[list[int]]:
    first = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        first.append(crc)
    tables = [first]
    for _ in range(7):
        tables.append([(tables[-1][i] >> 8) ^ first[tables[-1][i] & 0xFF] for i in range(256)])
    return tables


_CRC_TABLES = _crc32c_tables()
_LITTLE_ENDIAN = memoryview(b"\x01\x00").cast("H")[0] == 1


def _crc32c_update(crc: int, chunk: bytes) -> int:
    t0, t1, t2, t3, t4, t5, t6, t7 = _CRC_TABLES
    crc ^= 0xFFFFFFFF
    head = len(chunk) - len(chunk) % 8 if _LITTLE_ENDIAN else 0
    for word in memoryview(chunk)[:head].cast("Q"):
        low, high = (word & 0xFFFFFFFF) ^ crc, word >> 32
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
    for byte in chunk[head:]:
        crc = (crc >> 8) ^ t0[(crc ^ byte) & 0xFF]
    return crc ^ 0xFFFFFFFF


def _crc32c_extender() -> Callable[[int, bytes], int]:
    try:
        import google_crc32c
    except ImportError:
        return _crc32c_update
    return cast(Callable[[int, bytes], int], google_crc32c.extend)


def _crc32c(chunks: Iterable[bytes]) -> int:
    extend = _crc32c_extender()
    crc = 0
    for chunk in chunks:
        crc = extend(crc, chunk)
    return int(crc)


@dataclass
class Faults:
    """Faults of one blob. Counters (``*_times``) count down as faults fire.

    - ``drop_at``: close the connection after sending the body up to this absolute offset,
      ``drop_times`` times.
    - ``status``: answer this status (e.g. 429, 503) ``status_times`` times, with
      ``retry_after`` as ``Retry-After`` when set.
    - ``wrong_hash``: announce a wrong md5 and crc32c in ``x-goog-hash``.
    - ``corrupt_at``: flip the bits of the byte at this absolute offset in every body that
      carries it (the announced hashes stay those of the stored bytes).
    - ``rate``: cap each connection at this many bytes per second.
    - ``stall``: sleep this many seconds after the headers, ``stall_times`` times.
    - ``ignore_range``: answer ``200`` with the whole blob to ``Range`` requests.
    - ``expired``: answer requests signed with an older signature with this status (400 or
      403); call :meth:`BlobHost.expire` to rotate the signature.
    - ``hashes``: which hashes ``x-goog-hash`` carries (``("crc32c",)`` like a composite object).
    - ``split_hash_headers``: send ``x-goog-hash`` as repeated header lines.
    - ``status_from``: serve this many requests normally before ``status`` starts.
    - ``redirect_to``: answer every request with ``302`` to this ``Location`` (any scheme).
    - ``gzip``: encode bodies with gzip when the request accepts it (as object stores
      transcode); ``Content-Length`` is then the encoded length, ``x-goog-hash`` still
      describes the stored bytes.
    - ``no_length``: send no ``Content-Length``; the body ends when the connection closes.
    """

    drop_at: int | None = None
    drop_times: int = 1
    status: int | None = None
    status_times: int = 1
    retry_after: str | None = None
    wrong_hash: bool = False
    corrupt_at: int | None = None
    rate: float | None = None
    stall: float | None = None
    stall_times: int = 1
    ignore_range: bool = False
    expired: int = 403
    hashes: tuple[str, ...] = ("crc32c", "md5")
    split_hash_headers: bool = False
    status_from: int = 0
    redirect_to: str | None = None
    gzip: bool = False
    no_length: bool = False


@dataclass
class RequestRecord:
    """One request as the host saw it; ``status`` and ``bytes_sent`` grow while it is served."""

    method: str
    name: str
    headers: dict[str, str]
    status: int
    range: str | None
    bytes_sent: int


@dataclass(frozen=True)
class BlobStats:
    requests: int
    bytes_sent: int
    statuses: tuple[int, ...]
    records: tuple[RequestRecord, ...]

    @property
    def ranges(self) -> tuple[str | None, ...]:
        return tuple(record.range for record in self.records)


@dataclass
class _Blob:
    name: str
    data: bytes | None
    path: Path | None
    size: int
    content_type: str
    last_modified: float
    generation: int
    signature: str
    faults: Faults = field(default_factory=Faults)
    md5_b64: str | None = None
    crc32c_b64: str | None = None
    records: list[RequestRecord] = field(default_factory=list)

    @property
    def etag(self) -> str:
        return f'"{(self.md5_b64 and base64.b64decode(self.md5_b64).hex()) or self.generation}"'

    @property
    def last_modified_header(self) -> str:
        return email.utils.formatdate(self.last_modified, usegmt=True)

    def chunks(self, start: int = 0, end: int | None = None) -> Iterable[bytes]:
        end = self.size if end is None else end
        if self.data is not None:
            for offset in range(start, end, SEND_BLOCK):
                yield self.data[offset : min(offset + SEND_BLOCK, end)]
            return
        assert self.path is not None
        with open(self.path, "rb") as handle:
            handle.seek(start)
            left = end - start
            while left > 0:
                block = handle.read(min(SEND_BLOCK, left))
                if not block:
                    return
                left -= len(block)
                yield block


class BlobHost:
    """A threaded loopback HTTP server of signed-URL blobs; also a context manager.

    ``host`` is the name used in URLs (``localhost`` by default, so a fake API on
    ``127.0.0.1`` redirecting here changes host, as the real services do); the server binds
    the loopback address that name resolves to.
    """

    def __init__(self, host: str = "localhost", port: int = 0) -> None:
        self.host = host
        self._requested_port = port
        self._blobs: dict[str, _Blob] = {}
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._generation = 0

    # -- lifecycle

    def start(self) -> BlobHost:
        if self._server is not None:
            return self
        bind = "::1" if self.host in ("::1", "[::1]") else "127.0.0.1"
        server_class = _IPv6Server if bind == "::1" else _Server
        server = server_class((bind, self._requested_port), _Handler)
        server.blobhost = self
        self._server = server
        self._stopping.clear()
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
            name="blobhost",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> BlobHost:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("BlobHost is not started")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        host = f"[{self.host.strip('[]')}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    # -- blobs

    def add(
        self,
        name: str,
        data: bytes | os.PathLike[str],
        *,
        content_type: str = "application/octet-stream",
        last_modified: float | None = None,
        hashes: Iterable[str] = ("crc32c", "md5"),
    ) -> str:
        """Register (or replace, with a new ETag and Last-Modified) a blob; return its URL.

        ``data`` is bytes or a path to a file that is served from disk. ``hashes`` are computed
        up front for ``x-goog-hash``; pass ``("md5",)`` or ``()`` for huge blobs (the pure-Python
        crc32c is slow).
        """
        hashes = tuple(hashes)
        path = None if isinstance(data, bytes | bytearray) else Path(data)
        content = bytes(data) if isinstance(data, bytes | bytearray) else None
        size = len(content) if content is not None else Path(path or "").stat().st_size
        with self._lock:
            self._generation += 1
            previous = self._blobs.get(name)
            stamp = last_modified
            if stamp is None:
                stamp = float(int(time.time()))
                if previous is not None and stamp <= previous.last_modified:
                    stamp = previous.last_modified + 1
            blob = _Blob(
                name=name,
                data=content,
                path=path,
                size=size,
                content_type=content_type,
                last_modified=stamp,
                generation=self._generation,
                signature=previous.signature if previous else secrets.token_hex(16),
                faults=previous.faults if previous else Faults(),
                records=previous.records if previous else [],
            )
        if "md5" in hashes:
            md5 = hashlib.md5(usedforsecurity=False)
            for chunk in blob.chunks():
                md5.update(chunk)
            blob.md5_b64 = base64.b64encode(md5.digest()).decode()
        if "crc32c" in hashes:
            crc = _crc32c(blob.chunks())
            blob.crc32c_b64 = base64.b64encode(crc.to_bytes(4, "big")).decode()
        with self._lock:
            self._blobs[name] = blob
        return self.url_for(name)

    def url_for(self, name: str) -> str:
        """A currently valid signed URL of ``name``."""
        with self._lock:
            blob = self._blobs[name]
            signature = blob.signature
        return (
            f"{self.base_url}/{BUCKET}/{quote(name)}?X-Goog-Algorithm=GOOG4-RSA-SHA256"
            f"&X-Goog-Credential=fake%40example.iam.gserviceaccount.com"
            f"&X-Goog-Expires=3600&X-Goog-SignedHeaders=host&X-Goog-Signature={signature}"
        )

    def expire(self, name: str) -> None:
        """Rotate the signature: URLs handed out earlier now get ``Faults.expired``."""
        with self._lock:
            self._blobs[name].signature = secrets.token_hex(16)

    def faults(self, name: str, **settings: Any) -> Faults:
        """Set faults of ``name`` (keyword names of :class:`Faults`); returns the new faults."""
        with self._lock:
            blob = self._blobs[name]
            blob.faults = replace(Faults(), **settings)
            return blob.faults

    def stats(self, name: str) -> BlobStats:
        with self._lock:
            records = tuple(replace(record) for record in self._blobs[name].records)
        return BlobStats(
            requests=len(records),
            bytes_sent=sum(record.bytes_sent for record in records),
            statuses=tuple(record.status for record in records),
            records=records,
        )

    def reset_stats(self, name: str) -> None:
        with self._lock:
            self._blobs[name].records.clear()

    def _blob(self, name: str) -> _Blob | None:
        with self._lock:
            return self._blobs.get(name)

    def _record(self, blob: _Blob, record: RequestRecord) -> None:
        with self._lock:
            blob.records.append(record)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    blobhost: BlobHost

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)  # clients hanging up are routine


class _IPv6Server(_Server):
    address_family = socket.AF_INET6


class _Dropped(Exception):
    pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    _live: RequestRecord

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def do_GET(self) -> None:
        self._serve(head=False)

    # -- request handling

    def _serve(self, head: bool) -> None:
        host = self.server.blobhost
        parts = urlsplit(self.path)
        prefix = f"/{BUCKET}/"
        name = unquote(parts.path[len(prefix) :]) if parts.path.startswith(prefix) else ""
        blob = host._blob(name)
        headers = {key: value for key, value in self.headers.items()}
        range_header = self.headers.get("Range")
        if blob is None:
            self._live = RequestRecord(self.command, name, headers, 0, range_header, 0)
            self._send_simple(404, b"<Error><Code>NoSuchKey</Code></Error>")
            return
        faults = blob.faults
        signature = parse_qs(parts.query).get("X-Goog-Signature", [""])[0]
        self._live = RequestRecord(self.command, name, headers, 0, range_header, 0)
        host._record(blob, self._live)
        try:
            with host._lock:
                expected_signature = blob.signature
                injected = faults.status if faults.status and faults.status_times > 0 else None
                if injected and faults.status_from > 0:
                    faults.status_from -= 1
                    injected = None
                elif injected:
                    faults.status_times -= 1
            if signature != expected_signature:
                code = b"ExpiredToken" if faults.expired == 400 else b"AccessDenied"
                self._send_simple(faults.expired, b"<Error><Code>" + code + b"</Code></Error>")
                return
            if injected:
                extra = {"Retry-After": faults.retry_after} if faults.retry_after else {}
                self._send_simple(injected, b"<Error><Code>Injected</Code></Error>", extra)
                return
            if faults.redirect_to is not None:
                self._send_simple(302, b"", {"Location": faults.redirect_to})
                return
            self._send_blob(blob, faults, range_header, head)
        except (_Dropped, ConnectionError, OSError):
            self.close_connection = True

    def _send_simple(self, status: int, body: bytes, extra: dict[str, str] | None = None) -> None:
        self._live.status = status
        self.send_response(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _selected_range(self, blob: _Blob, faults: Faults, range_header: str | None) -> Any:
        """(start, end) to send, "full" for the whole blob, or None for 416."""
        if not range_header or faults.ignore_range:
            return "full"
        if_range = self.headers.get("If-Range")
        if if_range and if_range not in (blob.etag, blob.last_modified_header):
            return "full"
        unit, _, spec = range_header.partition("=")
        if unit.strip() != "bytes" or "," in spec:
            return "full"
        first, _, last = spec.strip().partition("-")
        try:
            if first == "":
                length = int(last)
                start, end = max(blob.size - length, 0), blob.size
            else:
                start = int(first)
                end = min(int(last) + 1, blob.size) if last else blob.size
        except ValueError:
            return "full"
        if start >= blob.size or start >= end:
            return None
        return start, end

    def _send_blob(self, blob: _Blob, faults: Faults, range_header: str | None, head: bool) -> None:
        selected = self._selected_range(blob, faults, range_header)
        if selected is None:
            self._send_simple(416, b"", {"Content-Range": f"bytes */{blob.size}"})
            return
        start, end = (0, blob.size) if selected == "full" else selected
        status = 200 if selected == "full" else 206
        encoded = None
        if faults.gzip and "gzip" in (self.headers.get("Accept-Encoding") or ""):
            encoded = gzip.compress(b"".join(blob.chunks(start, end)))
        self._live.status = status
        self.send_response(status)
        self.send_header("Content-Type", blob.content_type)
        if encoded is not None:
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(encoded)))
        elif faults.no_length:
            self.send_header("Connection", "close")
            self.close_connection = True
        else:
            self.send_header("Content-Length", str(end - start))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", blob.etag)
        self.send_header("Last-Modified", blob.last_modified_header)
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end - 1}/{blob.size}")
        for line in self._hash_lines(blob, faults):
            self.send_header("x-goog-hash", line)
        self.send_header("x-goog-stored-content-length", str(blob.size))
        self.end_headers()
        if head:
            return
        if encoded is not None:
            self._write_counted(encoded)
        else:
            self._send_body(blob, faults, start, end)

    def _hash_lines(self, blob: _Blob, faults: Faults) -> list[str]:
        values = {"crc32c": blob.crc32c_b64, "md5": blob.md5_b64}
        if faults.wrong_hash:
            values = {"crc32c": "AAAAAA==", "md5": "AAAAAAAAAAAAAAAAAAAAAA=="}
        parts = [f"{name}={values[name]}" for name in faults.hashes if values.get(name)]
        if not parts:
            return []
        return parts if faults.split_hash_headers else [",".join(parts)]

    def _send_body(self, blob: _Blob, faults: Faults, start: int, end: int) -> None:
        host = self.server.blobhost
        with host._lock:
            stall = faults.stall if faults.stall and faults.stall_times > 0 else None
            if stall:
                faults.stall_times -= 1
            drop_at = faults.drop_at if faults.drop_at is not None and faults.drop_times else None
            if drop_at is not None and not start <= drop_at < end:
                drop_at = None
        if stall:
            self.wfile.flush()
            if host._stopping.wait(stall):
                raise _Dropped
        began = time.monotonic()
        position = start
        for block in blob.chunks(start, end):
            at = faults.corrupt_at - position if faults.corrupt_at is not None else -1
            if 0 <= at < len(block):
                block = block[:at] + bytes([block[at] ^ 0xFF]) + block[at + 1 :]
            if drop_at is not None and position + len(block) > drop_at and self._claim_drop(faults):
                block = block[: drop_at - position]
                self._write_counted(block)
                self.wfile.flush()
                self._drop()
                raise _Dropped
            self._write_counted(block)
            position += len(block)
            if faults.rate:
                ahead = self._live.bytes_sent / faults.rate - (time.monotonic() - began)
                if ahead > 0 and host._stopping.wait(ahead):
                    raise _Dropped

    def _write_counted(self, block: bytes) -> None:
        # counted first, so a client that has read the body always sees it in the stats
        self._live.bytes_sent += len(block)
        try:
            self.wfile.write(block)
        except OSError:
            self._live.bytes_sent -= len(block)
            raise

    def _claim_drop(self, faults: Faults) -> bool:
        """Use up one drop, unless concurrent requests already used them all."""
        with self.server.blobhost._lock:
            if faults.drop_times <= 0:
                return False
            faults.drop_times -= 1
            return True

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
