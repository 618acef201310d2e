"""Downloading one file for :func:`mlenv_magics.transfer.fetch_files`.

A :class:`FileDownload` resumes with ``Range``/``If-Range`` after drops and across calls (state
in a sidecar next to the partial bytes, ``partial.py``), hands large files to the parallel
ranges (``ranges.py``), verifies size and md5/crc32c (``verify.py``), and finally renames the
bytes into place. Its requests (redirects, signed-URL refresh, status errors) are
``requester.py``'s.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from ..checksums import md5_hex_to_b64
from ..diskspace import check_free_space
from ..errors import DiskSpaceError, IntegrityError, ServerError
from .files import FetchedFile, RemoteFile
from .http import describe_network_error, network_error_types, read_size_for
from .job import FileJob
from .partial import parse_content_range
from .policy import RetryBudget
from .ranges import RangedResult, ValidatorChanged, download_ranges
from .shared import Cancelled, SharedState
from .verify import Digests, HashChecks, check_digests, crc32c_of_file


class FileDownload:
    """Downloads one :class:`RemoteFile` into ``dest``, keeping partial bytes in
    ``partial_dir``."""

    def __init__(self, shared: SharedState, remote: RemoteFile, dest: Path, partial_dir: Path):
        self.job = FileJob(shared, remote, dest, partial_dir)
        self.shared = shared
        self.policy = shared.policy
        self.remote = remote
        self.relpath = self.job.relpath
        self.partial = self.job.partial
        self.requester = self.job.requester
        self.budget = RetryBudget(self.policy)
        self.restarts = 0
        self.source_md5: str | None = None  # base64, from the source's own listing
        self.digests: Digests | None = None
        if remote.md5:
            b64 = md5_hex_to_b64(remote.md5)
            if b64:
                self.source_md5 = b64

    def run(self) -> FetchedFile:
        if self.shared.cancel.is_set():
            raise Cancelled
        self.shared.sink.file_started(self.relpath, self.remote.size)
        self.partial.part.parent.mkdir(parents=True, exist_ok=True)
        offset = self.partial.load()
        self._announce_on_disk(offset)
        resumed_from = offset
        if offset:
            self.job.report(offset)  # the bar starts where the earlier download stopped
        self.requester.start()
        size, ranged = self._download(offset)
        md5_hex = self._verify(size, ranged)
        final_path = self.job.final_path
        final_path.parent.mkdir(parents=True, exist_ok=True)
        if final_path.is_dir():
            shutil.rmtree(final_path)
        try:
            os.replace(self.partial.part, final_path)
        except OSError:
            shutil.move(str(self.partial.part), str(final_path))
        self.partial.sidecar.unlink(missing_ok=True)
        self.shared.sink.file_done(self.relpath)
        return FetchedFile(self.relpath, final_path, size, md5_hex, resumed_from)

    def _download(self, offset: int) -> tuple[int, RangedResult | None]:
        """Fetch the missing bytes; returns the final size (and the ranges' hashes)."""
        if self.partial.ranges is not None:
            try:
                ranged = download_ranges(self.job, None, self._checks())
                return ranged.size, ranged
            except ValidatorChanged:
                offset = self._restart("the file changed during a ranged download")
        while True:
            response, offset = self._open(offset)
            if offset == 0 and self._worth_splitting(response):
                try:
                    ranged = download_ranges(self.job, response, self._checks())
                    return ranged.size, ranged
                except ValidatorChanged:
                    offset = self._restart("the file changed during a ranged download")
                    continue
            with self.shared.active.track(response):
                offset, finished = self._stream(response, offset)
            if finished:
                return offset, None

    def _announce_on_disk(self, offset: int) -> None:
        """Tell the watcher what an earlier run left on disk (a rerun extracts from it)."""
        watcher = self.remote.watcher
        if watcher is None:
            return
        watcher.restart(self.partial.total)
        if self.partial.ranges is not None:
            for start, _end, position in self.partial.ranges:
                watcher.add(start, position)
        elif offset:
            watcher.add(0, offset)

    def _discard_partial(self) -> None:
        self.job.discard_partial()
        self.digests = None

    def _restart(self, why: str) -> int:
        self.restarts += 1
        if self.restarts > self.policy.max_restarts:
            raise ServerError(
                f"{self.requester.where()} kept breaking resumed downloads ({why}).",
                fix="Rerun later; if it persists, rerun with --force.",
            )
        self._discard_partial()
        self.partial.validator = None
        return 0

    def _take_headers(self, response: Any, offset: int, total: int | None = None) -> None:
        if self.partial.take_headers(response, offset, total):
            # The source did not know the size (an archive); the bar can show it now.
            self.shared.sink.file_started(self.relpath, self.partial.total)
        listed, announced = self.remote.size, self.partial.total
        if listed is not None and announced is not None and announced != listed:
            response.close()
            self._discard_partial()
            raise IntegrityError(
                f"{self.relpath}: the server announced {announced} bytes, expected {listed}"
                " (the size the source listed); nothing was kept.",
                fix="Rerun to download it again; report the source if it persists.",
            )

    def _open(self, offset: int) -> tuple[Any, int]:
        """A response that streams the file from the returned offset (206 or 200)."""
        requester = self.requester
        while True:
            used_url = requester.url or ""
            response = requester.get(offset, None, self.partial.validator)
            status = response.status_code
            if status == 206 and offset > 0:
                if self.partial.range_matches(response, offset, None):
                    parsed = parse_content_range(response.headers.get("Content-Range", ""))
                    self._take_headers(response, offset, total=parsed[2] if parsed else None)
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
            if status in (400, 403) and requester.refresh_after(used_url):
                response.close()
                continue
            requester.raise_for_status(response, offset)

    def _check_room(self, response: Any, offset: int) -> None:
        """Sizes the source did not know are checked against free space once announced."""
        total = self.partial.total
        if self.remote.size is not None or total is None:
            return
        try:
            check_free_space(self.partial.part.parent, total - offset, self.policy.free_space)
        except DiskSpaceError:
            response.close()
            raise

    # -- sequential streaming

    def _checks(self) -> HashChecks:
        return HashChecks.choose(self.source_md5, self.partial.server_hashes)

    def _digests_at(self, offset: int) -> Digests:
        checks = self._checks()
        digests = self.digests
        if digests is None or digests.upto > offset or digests.checks != checks:
            digests = self.digests = Digests(checks)
        digests.catch_up(self.partial.part, offset, self.policy.chunk_size)
        return digests

    def _stream(self, response: Any, offset: int) -> tuple[int, bool]:
        """Append the body to the partial file; (new offset, whether the file is complete)."""
        network_errors = network_error_types()
        total = self.partial.total
        limit = self.remote.size if self.remote.size is not None else total
        watcher = self.remote.watcher
        failure: str | None = None
        overflowed = False
        try:
            if self.shared.cancel.is_set():
                raise Cancelled
            with open(self.partial.part, "r+b" if offset else "wb") as out:
                out.seek(offset)
                out.truncate()
                if watcher is not None and offset == 0:
                    watcher.restart(total)
                digests = self._digests_at(offset)
                read_size = read_size_for(total - offset if total else None)
                for chunk in response.iter_content(chunk_size=read_size):
                    if self.shared.cancel.is_set():
                        raise Cancelled
                    if not chunk:
                        continue
                    if limit is not None and offset + len(chunk) > limit:
                        overflowed = True  # never past the size announced or listed
                        break
                    out.write(chunk)
                    digests.feed(chunk)
                    offset += len(chunk)
                    if watcher is not None:
                        out.flush()  # on disk before the watcher reads it
                        watcher.add(offset - len(chunk), offset)
                    self.budget.made_progress()
                    self.job.report(len(chunk))
        except network_errors as exc:
            failure = describe_network_error(exc)
        finally:
            response.close()
        if overflowed:
            self._discard_partial()
            raise IntegrityError(
                f"{self.relpath}: the server sent more than the {limit} bytes it announced;"
                " the download was stopped and the bytes were discarded.",
                fix="Rerun to download it again; report the source if it persists.",
            )
        if failure is not None:  # out of the handler: the network error holds the request
            if self.shared.cancel.is_set():
                raise Cancelled
            self.job.wait_before_retry(self.budget, offset, failure)
            return offset, False
        if total is not None and offset < total:
            self.job.wait_before_retry(self.budget, offset, "the connection closed early")
            return offset, False
        return offset, True

    def _worth_splitting(self, response: Any) -> bool:
        policy = self.policy
        total = self.partial.total
        return (
            response.status_code == 200
            and policy.parallel_ranges > 1
            and total is not None
            and total >= max(policy.range_threshold, 2)
            and response.headers.get("Accept-Ranges", "").lower() == "bytes"
            and bool(self.partial.validator)
        )

    # -- verification

    def _verify(self, size: int, ranged: RangedResult | None) -> str | None:
        expected_size = self.remote.size if self.remote.size is not None else self.partial.total
        if expected_size is not None and size != expected_size:
            self._discard_partial()
            raise IntegrityError(
                f"{self.relpath}: received {size} bytes, expected {expected_size}; the bytes "
                "were discarded.",
                fix="Rerun to download it again.",
            )
        checks = self._checks()
        block = self.policy.chunk_size
        crc: int | None = None
        if ranged is not None:
            crc = ranged.crc32c
            md5_only = HashChecks(md5=checks.md5, crc32c=False)
            digests = ranged.md5 or Digests(md5_only)
            if digests.checks != md5_only or digests.upto > size:
                digests = Digests(md5_only)
            digests.catch_up(self.partial.part, size, block)  # the follower's rest
        else:
            digests = self._digests_at(size)
            if digests.crc32c is not None:
                crc = digests.crc32c.value
        if checks.crc32c and crc is None:
            crc = crc32c_of_file(self.partial.part, 0, size, block)
        md5_b64 = digests.md5.b64digest() if digests.md5 is not None else None
        try:
            check_digests(
                self.relpath,
                md5_b64=md5_b64,
                crc=crc,
                source_md5=self.source_md5,
                server_hashes=self.partial.server_hashes,
            )
        except IntegrityError:
            self._discard_partial()
            raise
        return digests.md5.hexdigest() if digests.md5 is not None else None
