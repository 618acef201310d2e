"""Writing validated archive members into a staging folder, links last."""

from __future__ import annotations

import io
import os
import shutil
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from .. import archives
from ..archives import Member

EntryDone = Callable[[str], None]


class StagingWriter:
    """Writes members under ``root`` (an empty staging folder): regular files and folders as
    they come, links only at the end (:meth:`write_links`), once every member is known and
    validated, so nothing can be written through a link while the archive streams."""

    def __init__(self, archive: Path, root: Path, on_entry: EntryDone | None = None) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.archive = archive
        self.root = root.resolve()
        self.on_entry = on_entry
        self._folders: set[str] = set()

    def destination(self, member: Member) -> Path:
        return self.root.joinpath(*member.name.split("/"))

    def folder(self, member: Member) -> None:
        with self._entry_errors(member):
            self._make_folder(self.destination(member))

    def file(self, member: Member, source: IO[bytes]) -> None:
        with self._entry_errors(member):
            destination = self._prepared(member)
            archives.write_new_file(destination, source)
            archives.finish_file(destination, member)
        self._done(member)

    def write_links(self, links: list[Member]) -> None:
        for member in links:
            with self._entry_errors(member):
                destination = self._prepared(member)
                assert member.link is not None
                if member.kind == "symlink":
                    os.symlink(member.link, destination)
                else:  # a hard link: a copy of the file extracted before it (validated)
                    shutil.copyfile(self.root.joinpath(*member.link.split("/")), destination)
                    archives.finish_file(destination, member)
            self._done(member)

    @contextmanager
    def _entry_errors(self, member: Member) -> Iterator[None]:
        """An error that comes from the entry itself (a name too long, a file where a folder
        must be) becomes ArchiveError; one from the disk (full, read-only) propagates."""
        try:
            yield
        except OSError as exc:
            if exc.errno not in archives.ENTRY_ERRNOS:
                raise
            reason = os.strerror(exc.errno) if exc.errno is not None else "invalid"
            problem = archives.refuse_error(
                self.archive, member.name, f"cannot be created ({reason})", before_writing=False
            )
        else:
            return
        raise problem  # outside the handler: the OSError (with its long name) is not chained

    def _prepared(self, member: Member) -> Path:
        destination = self.destination(member)
        parent = destination.parent
        if str(parent) not in self._folders:
            self._make_folder(parent)
            if archives.is_outside(self.root, parent):
                raise archives.refuse_error(
                    self.archive, member.name, "would be written outside the folder"
                )
        return destination

    def _make_folder(self, folder: Path) -> None:
        key = str(folder)
        if key not in self._folders:
            folder.mkdir(parents=True, exist_ok=True)
            self._folders.add(key)

    def _done(self, member: Member) -> None:
        if self.on_entry is not None:
            self.on_entry(member.name)


class BackgroundWrites:
    """Whole small entries written by a few threads while the caller decompresses the next
    ones (writes release the GIL); at most ``max_pending`` bytes wait in memory."""

    def __init__(self, writer: StagingWriter, threads: int = 2, max_pending: int = 16 << 20):
        self.writer = writer
        self.max_pending = max_pending
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="mlenv-write")
        self._pending: deque[tuple[Future[None], int]] = deque()
        self._bytes = 0

    def submit(self, member: Member, data: bytes) -> None:
        while self._pending and self._bytes + len(data) > self.max_pending:
            self._finish_oldest()
        future = self._pool.submit(self.writer.file, member, io.BytesIO(data))
        self._pending.append((future, len(data)))
        self._bytes += len(data)

    def drain(self) -> None:
        while self._pending:
            self._finish_oldest()

    def _finish_oldest(self) -> None:
        future, size = self._pending.popleft()
        self._bytes -= size
        future.result()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
