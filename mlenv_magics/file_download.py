"""Downloading one file for :func:`mlenv_magics.transfer.fetch_files`.

One :class:`FileDownload` follows redirects by hand (the source's headers stay on its own
host), resumes with ``Range``/``If-Range`` after drops and across calls (state in a JSON sidecar
next to the partial bytes), splits large files into parallel ranges, verifies size and
md5/crc32c, and finally renames the bytes into place.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import threading
import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from .checksums import (
    HAS_NATIVE_CRC32C,
    Crc32cHasher,
    Md5Hasher,
    crc32c,
    crc32c_combine,
    crc32c_to_b64,
    md5_hex_to_b64,
    parse_goog_hash,
)
from .errors import (
    AccessDeniedError,
    CredentialsError,
    DiskSpaceError,
    IntegrityError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TransferError,
)
from .transfer import (
    MAX_REDIRECTS,
    PARTIAL_SUFFIX,
    REDIRECT_STATUSES,
    SIDECAR_SUFFIX,
    WAIT_SLICE,
    ActiveResponses,
    Cancelled,
    FetchedFile,
    RemoteFile,
    RetryBudget,
    SharedState,
    check_free_space,
    describe_network_error,
    host_of,
    network_error_types,
    read_size_for,
    safe_relpath,
    send,
)

SIDECAR_SAVE_INTERVAL = 0.5  # seconds between progress saves of a ranged download


class _ValidatorChanged(Exception):
    """The blob changed (or stopped honouring ranges) during a ranged download."""


@dataclass(frozen=True)
class _Checks:
    """Which hashes a download computes."""

    md5: bool
    crc32c: bool

    @classmethod
    def choose(cls, source_md5: str | None, server_hashes: dict[str, str]) -> _Checks:
        """crc32c when the server announces it and it is cheap (native code) or the only hash;
        md5 when the source listed one (always checked) or the server's crc32c is not used."""
        has_md5 = source_md5 is not None or "md5" in server_hashes
        crc = "crc32c" in server_hashes and (HAS_NATIVE_CRC32C or not has_md5)
        return cls(md5=source_md5 is not None or ("md5" in server_hashes and not crc), crc32c=crc)


class _Digests:
    """The hashes ``checks`` asks for, over the first ``upto`` bytes of the file."""

    def __init__(self, checks: _Checks) -> None:
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


class FileDownload:
    """Downloads one :class:`RemoteFile` into ``dest``, keeping partial bytes in
    ``partial_dir``."""

    def __init__(self, shared: SharedState, remote: RemoteFile, dest: Path, partial_dir: Path):
        self.shared = shared
        self.policy = shared.policy
        self.remote = remote
        self.relpath = str(safe_relpath(remote.relpath))
        self.final_path = dest / self.relpath
        self.part = partial_dir / (self.relpath + PARTIAL_SUFFIX)
        self.sidecar = partial_dir / (self.relpath + SIDECAR_SUFFIX)
        self.budget = RetryBudget(self.policy)
        self.restarts = 0
        self.re_resolved = False
        self.home_url: str | None = None  # the URL the source handed us (headers go there)
        self.url: str | None = None  # the URL to request next (a redirect target after one)
        self.validator: str | None = None
        self.total: int | None = remote.size
        self.ranges: list[list[int]] | None = None  # [start, end, next byte] per range
        self.range_crcs: list[int | None] = []  # crc32c of each range's bytes so far
        self.source_md5: str | None = None  # base64, from the source's own listing
        self.server_hashes: dict[str, str] = {}  # base64, from x-goog-hash of this version
        self.digests: _Digests | None = None
        self.reported = 0  # bytes of this file counted on the progress sink
        self._lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        if remote.md5:
            b64 = md5_hex_to_b64(remote.md5)
            if b64:
                self.source_md5 = b64

    # -- entry point

    def run(self) -> FetchedFile:
        if self.shared.cancel.is_set():
            raise Cancelled
        self.shared.sink.file_started(self.relpath, self.remote.size)
        self.part.parent.mkdir(parents=True, exist_ok=True)
        offset = self._load_partial()
        resumed_from = offset
        if offset:
            self._report(offset)  # the bar starts where the earlier download stopped
        self.home_url = self.url = self._fresh_url()
        size = self._download(offset)
        md5_hex = self._verify(size)
        self.final_path.parent.mkdir(parents=True, exist_ok=True)
        if self.final_path.is_dir():
            shutil.rmtree(self.final_path)
        try:
            os.replace(self.part, self.final_path)
        except OSError:
            shutil.move(str(self.part), str(self.final_path))
        self.sidecar.unlink(missing_ok=True)
        self.shared.sink.file_done(self.relpath)
        return FetchedFile(self.relpath, self.final_path, size, md5_hex, resumed_from)

    def _download(self, offset: int) -> int:
        """Fetch the missing bytes; returns the final size."""
        if self.ranges is not None:
            try:
                return self._download_ranges(None)
            except _ValidatorChanged:
                offset = self._restart("the file changed during a ranged download")
        while True:
            response, offset = self._open(offset)
            if offset == 0 and self._worth_splitting(response):
                try:
                    return self._download_ranges(response)
                except _ValidatorChanged:
                    offset = self._restart("the file changed during a ranged download")
                    continue
            with self.shared.active.track(response):
                offset, finished = self._stream(response, offset)
            if finished:
                return offset

    # -- resume state

    def _load_partial(self) -> int:
        if not self.part.is_file():
            self.sidecar.unlink(missing_ok=True)
            return 0
        try:
            saved = json.loads(self.sidecar.read_text())
        except (OSError, ValueError):
            saved = None
        if not isinstance(saved, dict) or not self._partial_matches(saved):
            self._discard_partial()
            return 0
        self.validator = saved.get("validator")
        self.total = saved.get("total") or self.remote.size
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

    def _partial_matches(self, saved: dict[str, Any]) -> bool:
        have = self.part.stat().st_size
        total = saved.get("total")
        if saved.get("source_validator") != self.remote.validator:
            return False
        if not (saved.get("validator") or self.remote.validator):
            return False  # nothing proves the bytes belong to this version
        if self.remote.size is not None and total not in (None, self.remote.size):
            return False
        if saved.get("ranges"):
            return bool(total) and have == total and saved.get("validator") is not None
        return 0 < have < (total or self.remote.size or have + 1)

    def _save_sidecar(self) -> None:
        with self._lock:
            state = {
                "validator": self.validator,
                "total": self.total,
                "source_validator": self.remote.validator,
                "ranges": [list(item) for item in self.ranges] if self.ranges else None,
                "hashes": dict(self.server_hashes),
            }
        tmp = self.sidecar.with_name(f"{self.sidecar.name}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(state))
        os.replace(tmp, self.sidecar)

    def _report(self, nbytes: int) -> None:
        with self._lock:
            self.reported += nbytes
        self.shared.sink.advance(self.relpath, nbytes)

    def _discard_partial(self) -> None:
        if self.reported:  # take back what the progress bar counted for the discarded bytes
            self._report(-self.reported)
        self.part.unlink(missing_ok=True)
        self.sidecar.unlink(missing_ok=True)
        self.ranges = None
        self.digests = None

    def _restart(self, why: str) -> int:
        self.restarts += 1
        if self.restarts > self.policy.max_restarts:
            raise ServerError(
                f"{self._where()} kept breaking resumed downloads ({why}).",
                fix="Rerun later; if it persists, rerun with --force.",
            )
        self._discard_partial()
        self.validator = None
        return 0

    # -- requests

    def _fresh_url(self) -> str:
        if self.remote.resolve is not None:
            return self.remote.resolve(self.shared.session)
        if self.remote.url is None:
            raise ServerError(f"No download URL for {self.relpath}.", fix="Report this source.")
        return self.remote.url

    def _where(self) -> str:
        return f"{host_of(self.url or '')} ({self.relpath})"

    def _request_headers(self, url: str, start: int, end: int | None) -> dict[str, str]:
        headers: dict[str, str] = {}
        if self.home_url is not None and host_of(url) == host_of(self.home_url):
            headers.update(self.remote.headers)
        if start > 0 or end is not None:
            headers["Range"] = f"bytes={start}-" if end is None else f"bytes={start}-{end - 1}"
            if self.validator:
                headers["If-Range"] = self.validator
        return headers

    def _get(self, start: int, end: int | None = None) -> Any:
        """GET bytes ``start``..``end`` of the current URL, following redirects by hand so the
        source's headers never reach another host."""
        start_url = url = self.url or ""
        for _ in range(MAX_REDIRECTS + 1):
            if self.shared.cancel.is_set():
                raise Cancelled
            response = send(
                self.shared.session,
                "GET",
                url,
                policy=self.policy,
                headers=self._request_headers(url, start, end),
                stream=True,
                allow_redirects=False,
            )
            location = response.headers.get("Location")
            if response.status_code in REDIRECT_STATUSES and location:
                response.close()
                url = urljoin(url, location)
                continue
            if url != start_url:
                with self._lock:
                    if self.url == start_url:  # later requests go straight to the target
                        self.url = url
            return response
        raise ServerError(f"Too many redirects for {self.relpath}.", fix="Report this source.")

    def _refresh_url(self, used_url: str) -> bool:
        """After a 400/403 from ``used_url``: get a fresh signed URL once; False when spent."""
        with self._refresh_lock:
            if self.url != used_url:
                return True  # another range already refreshed it
            can_refresh = self.remote.resolve is not None or self.url != self.home_url
            if not can_refresh or self.re_resolved:
                return False
            self.re_resolved = True
            fresh = self._fresh_url()
            with self._lock:
                self.home_url = self.url = fresh
            return True

    def _open(self, offset: int) -> tuple[Any, int]:
        """A response that streams the file from the returned offset (206 or 200)."""
        while True:
            used_url = self.url or ""
            response = self._get(offset)
            status = response.status_code
            if status == 206 and offset > 0:
                if self._range_matches(response, offset, None):
                    self._check_room(response, offset)
                    return response, offset
                response.close()
                offset = self._restart("a 206 answer with the wrong Content-Range")
                continue
            if status == 200:
                if offset > 0:  # the validator changed or the server ignores ranges
                    self._discard_partial()
                    offset = 0
                self._take_headers(response, offset)
                self._check_room(response, offset)
                return response, offset
            if status == 206:  # asked for everything, got a part
                response.close()
                offset = self._restart("a 206 answer to a plain GET")
                continue
            if status == 416:
                response.close()
                offset = self._restart("416 Range Not Satisfiable")
                continue
            if status in (400, 403) and self._refresh_url(used_url):
                response.close()
                continue
            self._raise_for_status(response, offset)

    def _check_room(self, response: Any, offset: int) -> None:
        """Sizes the source did not know are checked against free space once announced."""
        if self.remote.size is not None or self.total is None:
            return
        try:
            check_free_space(self.part.parent, self.total - offset, self.policy.free_space)
        except DiskSpaceError:
            response.close()
            raise

    def _range_matches(self, response: Any, start: int, end: int | None) -> bool:
        value = response.headers.get("Content-Range", "")
        unit, _, spec = value.partition(" ")
        span, _, total_text = spec.partition("/")
        first_text, _, last_text = span.partition("-")
        try:
            first, last = int(first_text), int(last_text)
            total = None if total_text.strip() == "*" else int(total_text)
        except ValueError:
            return False
        if unit.strip().lower() != "bytes" or first != start:
            return False
        expected_last = (end - 1) if end is not None else (total - 1 if total else last)
        if last != expected_last or (total is not None and self.total and total != self.total):
            return False
        if end is None:
            self._take_headers(response, start, total=total)
        return True

    def _take_headers(self, response: Any, offset: int, total: int | None = None) -> None:
        headers = response.headers
        if total is None:
            length = headers.get("Content-Length")
            if length is not None and length.isdigit():
                total = offset + int(length)
        if total is not None:
            if self.total is None and self.remote.size is None:
                # The source did not know the size (an archive); the bar can show it now.
                self.shared.sink.file_started(self.relpath, total)
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
        self._save_sidecar()

    def _raise_for_status(self, response: Any, offset: int) -> Any:
        status = response.status_code
        response.close()
        where = self._where()
        resume = " The partial download is kept; a rerun resumes." if offset else ""
        if status == 401:
            raise CredentialsError(
                f"{where} rejected the credentials (401).",
                fix="Log in again (or refresh the token), then rerun.",
            )
        if status in (400, 403):
            raise AccessDeniedError(
                f"{where} refused the download ({status}).",
                fix="Check that you have access (and that the link is still valid), then rerun.",
            )
        if status == 404:
            raise NotFoundError(
                f"{where} has no such file (404).",
                fix="Check the name; the file may have been removed from the source.",
            )
        if status == 429:
            raise RateLimitedError(
                f"{where} kept answering 429 Too Many Requests.{resume}",
                fix="Wait a few minutes, then rerun to resume.",
            )
        if 500 <= status <= 599:
            raise ServerError(
                f"{where} kept failing with HTTP {status}.{resume}",
                fix="Rerun later to resume.",
            )
        raise ServerError(
            f"{where} answered an unexpected HTTP {status}.",
            fix="Rerun later; report it if it persists.",
        )

    # -- sequential streaming

    def _checks(self) -> _Checks:
        return _Checks.choose(self.source_md5, self.server_hashes)

    def _digests_at(self, offset: int) -> _Digests:
        checks = self._checks()
        digests = self.digests
        if digests is None or digests.upto > offset or digests.checks != checks:
            digests = self.digests = _Digests(checks)
        digests.catch_up(self.part, offset, self.policy.chunk_size)
        return digests

    def _stream(self, response: Any, offset: int) -> tuple[int, bool]:
        """Append the body to the partial file; (new offset, whether the file is complete)."""
        network_errors = network_error_types()
        try:
            with open(self.part, "r+b" if offset else "wb") as out:
                out.seek(offset)
                out.truncate()
                digests = self._digests_at(offset)
                read_size = read_size_for(self.total - offset if self.total else None)
                for chunk in response.iter_content(chunk_size=read_size):
                    if self.shared.cancel.is_set():
                        raise Cancelled
                    if not chunk:
                        continue
                    out.write(chunk)
                    digests.feed(chunk)
                    offset += len(chunk)
                    self.budget.made_progress()
                    self._report(len(chunk))
        except network_errors as exc:
            if self.shared.cancel.is_set():
                raise Cancelled from None
            self._wait_before_retry(self.budget, offset, describe_network_error(exc))
            return offset, False
        finally:
            response.close()
        if self.total is not None and offset < self.total:
            self._wait_before_retry(self.budget, offset, "the connection closed early")
            return offset, False
        return offset, True

    def _wait_before_retry(self, budget: RetryBudget, offset: int, why: str) -> None:
        delay = budget.next_delay()
        if delay is None:
            from .render import human_bytes

            total = f" of {human_bytes(self.total)}" if self.total is not None else ""
            raise TransferError(
                f"Downloading {self.relpath} from {host_of(self.url or '')} stopped at "
                f"{human_bytes(offset)}{total} after {budget.failures} tries ({why}).",
                fix="Check the network connection, then rerun to resume.",
            )
        self.policy.sleep(delay)

    # -- parallel ranges

    def _worth_splitting(self, response: Any) -> bool:
        policy = self.policy
        return (
            response.status_code == 200
            and policy.parallel_ranges > 1
            and self.total is not None
            and self.total >= max(policy.range_threshold, 2)
            and response.headers.get("Accept-Ranges", "").lower() == "bytes"
            and bool(self.validator)
        )

    def _download_ranges(self, first: Any) -> int:
        """Fetch the file as parallel ranges into a preallocated partial file.

        ``first`` is an open 200 response, reused for the first range. Raises _ValidatorChanged
        when the server stops answering matching 206s.
        """
        total = self.total
        assert total is not None
        if self.ranges is None:
            count = min(self.policy.parallel_ranges, total)
            step = -(-total // count)
            self.ranges = [[s, min(s + step, total), s] for s in range(0, total, step)]
            with open(self.part, "wb") as out:
                out.truncate(total)
        self.range_crcs = [None] * len(self.ranges)
        checks = self._checks()
        self._save_sidecar()
        stop = threading.Event()
        local = ActiveResponses()
        pool = ThreadPoolExecutor(len(self.ranges) + 1, thread_name_prefix="mlenv-range")
        if checks.md5:
            # md5 cannot be combined from ranges: hash the finished prefix while the rest arrives
            self.digests = _Digests(_Checks(md5=True, crc32c=False))
            pool.submit(self._md5_follower, self.digests, total, stop)
        try:
            futures = [
                pool.submit(
                    self._range_worker,
                    index,
                    first if index == 0 else None,
                    stop,
                    local,
                    checks.crc32c,
                )
                for index in range(len(self.ranges))
            ]
            if first is not None and futures:
                first = None  # owned by the first worker now
            pending = set(futures)
            saved_at = time.monotonic()
            while pending:
                done, pending = wait(pending, WAIT_SLICE, FIRST_EXCEPTION)
                if time.monotonic() - saved_at >= SIDECAR_SAVE_INTERVAL:
                    self._save_sidecar()
                    saved_at = time.monotonic()
                for future in done:
                    error = future.exception()
                    if error is not None:
                        raise error
        except BaseException:
            stop.set()
            local.abort_all()
            raise
        finally:
            if first is not None:
                first.close()
            stop.set()
            pool.shutdown(wait=True, cancel_futures=True)
            if self.part.exists():
                self._save_sidecar()
        return total

    def _completed_prefix(self) -> int:
        """How many bytes from the start of the file are already on disk."""
        assert self.ranges is not None
        with self._lock:
            for _start, end, position in self.ranges:
                if position < end:
                    return position
            return self.ranges[-1][1]

    def _md5_follower(self, digests: _Digests, total: int, stop: threading.Event) -> None:
        block = self.policy.chunk_size
        # on a read error the verification step hashes what is left
        with contextlib.suppress(OSError), open(self.part, "rb") as data:
            while digests.upto < total and not stop.is_set():
                ready = self._completed_prefix()
                if ready <= digests.upto:
                    stop.wait(WAIT_SLICE)
                    continue
                data.seek(digests.upto)
                chunk = data.read(min(block, ready - digests.upto))
                if not chunk:
                    return
                digests.feed(chunk)

    def _range_worker(
        self,
        index: int,
        response: Any,
        stop: threading.Event,
        local: ActiveResponses,
        with_crc32c: bool,
    ) -> None:
        assert self.ranges is not None
        start, end, position = self.ranges[index]
        budget = RetryBudget(self.policy)
        network_errors = network_error_types()
        if response is not None and position != start:
            response.close()
            response = None
        # After a resume the bytes already written are hashed from disk, so what gets checked
        # is what is on disk, not what a crashed run believed it wrote.
        crc = self._crc32c_on_disk(start, position) if with_crc32c else 0
        while position < end:
            if stop.is_set() or self.shared.cancel.is_set():
                raise Cancelled
            if response is None:
                response = self._open_range(position, end)
            try:
                # unbuffered: the saved position never runs ahead of the bytes on disk
                with (
                    self.shared.active.track(response),
                    local.track(response),
                    open(self.part, "r+b", buffering=0) as out,
                ):
                    out.seek(position)
                    for chunk in response.iter_content(chunk_size=read_size_for(end - start)):
                        if stop.is_set() or self.shared.cancel.is_set():
                            raise Cancelled
                        if len(chunk) > end - position:
                            chunk = chunk[: end - position]
                        taken = len(chunk)
                        piece = memoryview(chunk)
                        while piece:
                            written = out.write(piece) or 0
                            piece = piece[written:]
                        if with_crc32c:
                            crc = crc32c(chunk, crc)
                        position += taken
                        with self._lock:
                            self.ranges[index][2] = position
                        budget.made_progress()
                        self._report(taken)
                        if position >= end:
                            break
            except network_errors as exc:
                if stop.is_set() or self.shared.cancel.is_set():
                    raise Cancelled from None
                self._wait_before_retry(budget, position, describe_network_error(exc))
                continue
            finally:
                response.close()
                response = None
            if position < end:
                self._wait_before_retry(budget, position, "the connection closed early")
        self.range_crcs[index] = crc if with_crc32c else None

    def _crc32c_on_disk(self, start: int, end: int) -> int:
        crc = 0
        block = self.policy.chunk_size
        with open(self.part, "rb") as data:
            data.seek(start)
            while start < end:
                chunk = data.read(min(block, end - start))
                if not chunk:
                    break
                crc = crc32c(chunk, crc)
                start += len(chunk)
        return crc

    def _open_range(self, start: int, end: int) -> Any:
        while True:
            used_url = self.url or ""
            response = self._get(start, end)
            status = response.status_code
            if status == 206 and self._range_matches(response, start, end):
                return response
            if status in (200, 206, 416):
                response.close()
                raise _ValidatorChanged
            if status in (400, 403) and self._refresh_url(used_url):
                response.close()
                continue
            self._raise_for_status(response, start)

    # -- verification

    def _ranges_crc32c(self) -> int | None:
        """The file's crc32c, combined from the per-range values; None when one is missing."""
        assert self.ranges is not None
        combined = 0
        for (start, end, _position), crc in zip(self.ranges, self.range_crcs, strict=True):
            if crc is None:
                return None
            combined = crc32c_combine(combined, crc, end - start)
        return combined

    def _verify(self, size: int) -> str | None:
        expected_size = self.remote.size if self.remote.size is not None else self.total
        if expected_size is not None and size != expected_size:
            self._discard_partial()
            raise IntegrityError(
                f"{self.relpath}: received {size} bytes, expected {expected_size}; the bytes "
                "were discarded.",
                fix="Rerun to download it again.",
            )
        checks = self._checks()
        crc: int | None = None
        if self.ranges is not None:
            if checks.crc32c:
                crc = self._ranges_crc32c()
            md5_only = _Checks(md5=checks.md5, crc32c=False)
            digests = self.digests or _Digests(md5_only)
            if digests.checks != md5_only or digests.upto > size:
                digests = _Digests(md5_only)
            digests.catch_up(self.part, size, self.policy.chunk_size)  # the follower's rest
        else:
            digests = self._digests_at(size)
            if digests.crc32c is not None:
                crc = digests.crc32c.value
        if checks.crc32c and crc is None:
            crc = self._crc32c_on_disk(0, size)
        md5_b64 = digests.md5.b64digest() if digests.md5 is not None else None
        expected = [
            ("md5", md5_b64, self.source_md5, "the source listed"),
            ("md5", md5_b64, self.server_hashes.get("md5"), "the server sent"),
        ]
        if crc is not None:
            expected.append(
                ("crc32c", crc32c_to_b64(crc), self.server_hashes.get("crc32c"), "the server sent")
            )
        for name, actual, wanted, origin in expected:
            if wanted is not None and actual is not None and actual != wanted:
                self._discard_partial()
                raise IntegrityError(
                    f"{self.relpath}: the {name} checksum of the downloaded bytes does not match"
                    f" the one {origin}; the bytes were discarded.",
                    fix="Rerun to download it again.",
                )
        return digests.md5.hexdigest() if digests.md5 is not None else None
