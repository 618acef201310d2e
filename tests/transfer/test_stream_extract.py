"""Extraction while the bytes arrive: zips from their central directory, tars as they stream.

The archive's bytes are written into a preallocated file span by span, the way the transfer
writes them, and each span is announced on a Coverage; the extractor runs on its own thread and
the tests wait for events (an entry written, the extractor blocked on a span), never for time.
"""

from __future__ import annotations

import io
import os
import random
import struct
import tarfile
import threading
import tracemalloc
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mlenv_magics.errors import ArchiveError, DiskSpaceError
from mlenv_magics.extract import (
    Coverage,
    CoveredFile,
    DownloadRestarted,
    DownloadStopped,
    extract_streaming,
)

WAIT = 30.0  # seconds before a test gives up on an event that should come at once
PLENTY = 1 << 40


def _text(size: int, seed: int) -> bytes:
    rng = random.Random(seed)
    words = [b"alpha", b"beta", b"gamma", b"delta", b"epsilon", b"zeta", b"eta", b"theta"]
    out = bytearray()
    while len(out) < size:
        out += rng.choice(words) + b" "
    return bytes(out[:size])


ENTRIES = {
    "readme.txt": _text(40_000, 1),
    "data/a.bin": random.Random(2).randbytes(150_000),
    "data/b.csv": _text(300_000, 3),
    "data/deep/c.bin": random.Random(4).randbytes(90_000),
    "z.txt": _text(5_000, 5),
}


def _zip(
    entries: dict[str, bytes] = ENTRIES, *, stored: tuple[str, ...] = ("data/a.bin",)
) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            method = zipfile.ZIP_STORED if name in stored else zipfile.ZIP_DEFLATED
            archive.writestr(zipfile.ZipInfo(name, (2025, 1, 1, 0, 0, 0)), data, method)
    return buffer.getvalue()


def _spans(data: bytes) -> dict[str, tuple[int, int]]:
    """Each zip entry's bytes: local header to the end of its data."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        spans = {}
        for info in archive.infolist():
            (name_length, extra_length) = struct.unpack(
                "<HH", data[info.header_offset + 26 : info.header_offset + 30]
            )
            start = info.header_offset
            spans[info.filename] = (
                start,
                start + 30 + name_length + extra_length + info.compress_size,
            )
        return spans


def _directory_start(data: bytes) -> int:
    return max(end for _start, end in _spans(data).values())


class Download:
    """An archive arriving span by span into a preallocated file, announced on a Coverage."""

    def __init__(self, folder: Path, data: bytes) -> None:
        self.data = data
        self.path = folder / "archive.part"
        self.path.write_bytes(b"\0" * len(data))
        self.coverage = Coverage(len(data))

    def arrive(self, start: int, end: int) -> None:
        with open(self.path, "r+b") as out:
            out.seek(start)
            out.write(self.data[start:end])
        self.coverage.add(start, end)

    def all(self) -> None:
        self.arrive(0, len(self.data))

    def blocked_on(self) -> tuple[int, int]:
        span = self.coverage.wait_until_blocked(WAIT)
        assert span is not None, "the extractor never waited for bytes"
        return span


class Extraction:
    """extract_streaming on its own thread; entries written are recorded as they finish."""

    def __init__(
        self,
        download: Download,
        staging: Path,
        *,
        free_space: Callable[[Path], int] = lambda _path: PLENTY,
        select: Callable[[str], bool] | None = None,
        kind: str | None = None,
    ) -> None:
        self.done: list[str] = []
        self._written = threading.Condition()
        self.names: list[str] | None = None
        self.error: BaseException | None = None
        self.staging = staging
        source = CoveredFile([download.path], download.coverage)

        def run() -> None:
            try:
                self.names = extract_streaming(
                    source,
                    staging,
                    archive=Path("archive.zip"),
                    kind=kind,
                    free_space=free_space,
                    select=select,
                    on_entry=self._entry_done,
                )
            except BaseException as error:
                self.error = error
            finally:
                source.close()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def _entry_done(self, name: str) -> None:
        with self._written:
            self.done.append(name)
            self._written.notify_all()

    def wait_done(self, *names: str) -> list[str]:
        """Block until these entries are written (workers finish them in any order)."""
        with self._written:
            self._written.wait_for(lambda: set(names) <= set(self.done), WAIT)
            return sorted(self.done)

    def result(self) -> list[str]:
        self.thread.join(WAIT)
        assert not self.thread.is_alive(), "the extraction did not finish"
        if self.error is not None:
            raise self.error
        assert self.names is not None
        return self.names

    def files(self) -> dict[str, bytes]:
        return {
            p.relative_to(self.staging).as_posix(): p.read_bytes()
            for p in sorted(self.staging.rglob("*"))
            if p.is_file() and not p.is_symlink()
        }


@pytest.fixture
def staging(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "staging"
    yield folder


# --------------------------------------------------------------------------- coverage


def test_coverage_merges_spans_and_tracks_the_prefix() -> None:
    coverage = Coverage(100)
    coverage.add(90, 100)
    coverage.add(10, 20)
    assert coverage.prefix == 0 and not coverage.covers(0, 20) and coverage.covers(92, 99)
    coverage.add(0, 10)
    coverage.add(20, 90)
    assert coverage.spans() == [(0, 100)] and coverage.prefix == 100
    coverage.add(95, 300)  # clamped to the size
    assert coverage.spans() == [(0, 100)]


def test_a_stopped_download_ends_a_waiting_reader(tmp_path: Path) -> None:
    download = Download(tmp_path, b"x" * 1000)
    errors: list[BaseException] = []
    reader = CoveredFile([download.path], download.coverage)

    def read() -> None:
        try:
            reader.read(10)
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=read)
    thread.start()
    assert download.blocked_on() == (0, 10)
    download.coverage.stop(KeyboardInterrupt())
    thread.join(WAIT)
    assert not thread.is_alive() and isinstance(errors[0], DownloadStopped)
    reader.close()


def test_a_restarted_download_makes_the_reader_start_over(tmp_path: Path) -> None:
    download = Download(tmp_path, b"y" * 1000)
    download.arrive(0, 500)
    reader = CoveredFile([download.path], download.coverage)
    assert reader.read(100) == b"y" * 100
    download.coverage.restart(1000)  # the partial file was thrown away
    with pytest.raises(DownloadRestarted):
        reader.read(100)
    reader.close()


def test_reads_wait_for_the_size_the_download_learns_later(tmp_path: Path) -> None:
    data = b"z" * 4096
    (tmp_path / "late.part").write_bytes(data)
    coverage = Coverage()
    reader = CoveredFile([tmp_path / "late.part"], coverage)
    got: list[int] = []
    thread = threading.Thread(target=lambda: got.append(reader.seek(0, os.SEEK_END)))
    thread.start()
    coverage.restart(len(data))
    thread.join(WAIT)
    assert got == [len(data)]
    reader.close()


# --------------------------------------------------------------------------- zip


def test_zip_entries_are_extracted_as_the_prefix_covers_them(tmp_path: Path, staging: Path) -> None:
    data = _zip()
    spans = _spans(data)
    directory = _directory_start(data)
    download = Download(tmp_path, data)
    extraction = Extraction(download, staging, kind="zip")

    start, _end = download.blocked_on()
    assert start >= directory  # the end of central directory record comes first
    download.arrive(directory, len(data))
    assert download.blocked_on()[0] == 0  # validated, waiting for the first entry
    assert extraction.done == []

    download.arrive(0, spans["data/a.bin"][1])
    # the next entry is handed to a worker once all of it is on disk
    assert download.blocked_on() == (spans["data/b.csv"][0], spans["data/deep/c.bin"][0])
    assert extraction.wait_done("readme.txt", "data/a.bin") == ["data/a.bin", "readme.txt"]
    assert (staging / "data" / "a.bin").read_bytes() == ENTRIES["data/a.bin"]
    assert not (staging / "data" / "b.csv").exists()

    download.arrive(spans["data/a.bin"][1], directory)
    assert extraction.result() == list(ENTRIES)
    assert extraction.files() == ENTRIES


def test_a_large_zip_entry_is_inflated_as_its_bytes_arrive(
    tmp_path: Path, staging: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlenv_magics.extract import zip_stream

    monkeypatch.setattr(zip_stream, "WHOLE_ENTRY_MAX", 1000)  # every entry counts as large
    data = _zip()
    spans = _spans(data)
    download = Download(tmp_path, data)
    extraction = Extraction(download, staging, kind="zip")
    download.arrive(_directory_start(data), len(data))
    start, end = spans["data/b.csv"]
    download.arrive(0, start + 1000)
    blocked, _ = download.blocked_on()
    assert start < blocked < end  # inflating it piece by piece
    assert extraction.wait_done("readme.txt", "data/a.bin") == ["data/a.bin", "readme.txt"]
    download.arrive(start, len(data))
    assert extraction.result() == list(ENTRIES)
    assert extraction.files() == ENTRIES


def test_a_zip_entry_whose_crc_does_not_match_is_refused(tmp_path: Path, staging: Path) -> None:
    data = bytearray(_zip())
    _start, end = _spans(bytes(data))["data/a.bin"]  # stored: its bytes are the file's
    data[end - 10] ^= 0xFF
    download = Download(tmp_path, bytes(data))
    download.all()
    with pytest.raises(ArchiveError, match="CRC"):
        Extraction(download, staging).result()


def test_a_hostile_zip_is_refused_from_its_directory_alone(tmp_path: Path, staging: Path) -> None:
    data = _zip({"ok.txt": b"fine", "../escaped.txt": b"escaped"})
    download = Download(tmp_path, data)
    extraction = Extraction(download, staging, kind="zip")
    download.blocked_on()
    download.arrive(_directory_start(data), len(data))  # nothing of the entries arrived
    with pytest.raises(ArchiveError, match=r"\.\.") as caught:
        extraction.result()
    assert "Nothing was extracted" in caught.value.message
    assert list(staging.rglob("*")) == []
    assert not (tmp_path / "escaped.txt").exists()


def test_zip_sizes_are_checked_against_free_space_before_writing(
    tmp_path: Path, staging: Path
) -> None:
    data = _zip()
    download = Download(tmp_path, data)
    extraction = Extraction(download, staging, free_space=lambda _path: 1000, kind="zip")
    download.blocked_on()
    download.arrive(_directory_start(data), len(data))
    with pytest.raises(DiskSpaceError, match="needed"):
        extraction.result()
    assert [p for p in staging.rglob("*") if p.is_file()] == []


def test_selected_zip_entries_need_only_their_own_bytes(tmp_path: Path, staging: Path) -> None:
    data = _zip()
    start, end = _spans(data)["data/b.csv"]
    download = Download(tmp_path, data)
    extraction = Extraction(
        download, staging, select=lambda name: name.endswith(".csv"), kind="zip"
    )
    download.arrive(_directory_start(data), len(data))
    download.arrive(start, end)  # the other entries never arrive
    assert extraction.result() == ["data/b.csv"]
    assert extraction.files() == {"data/b.csv": ENTRIES["data/b.csv"]}


def test_a_zip64_directory_is_read(
    tmp_path: Path, staging: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        patch.setattr(zipfile, "ZIP_FILECOUNT_LIMIT", 2)  # makes zipfile write ZIP64 records
        data = _zip()
    assert b"PK\x06\x06" in data[-200:]  # the ZIP64 end of central directory record
    download = Download(tmp_path, data)
    extraction = Extraction(download, staging, kind="zip")
    download.arrive(_directory_start(data), len(data))
    download.arrive(0, _directory_start(data))
    assert extraction.result() == list(ENTRIES)
    assert extraction.files() == ENTRIES


def test_a_zip_symlink_is_written_last_and_a_chain_out_of_the_folder_refused(
    tmp_path: Path, staging: Path
) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("file.txt", b"data")
        for name, target in [("inside", "file.txt"), ("up", "d/../.."), ("d/x", "y")]:
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o120777 << 16) | 0
            archive.writestr(info, target)
    download = Download(tmp_path, buffer.getvalue())
    download.all()
    with pytest.raises(ArchiveError, match="outside the folder"):
        Extraction(download, staging).result()
    assert not any(p.is_symlink() for p in staging.rglob("*"))

    good = io.BytesIO()
    with zipfile.ZipFile(good, "w") as archive:
        archive.writestr("file.txt", b"data")
        info = zipfile.ZipInfo("link")
        info.external_attr = 0o120777 << 16
        archive.writestr(info, "file.txt")
    download = Download(tmp_path, good.getvalue())
    download.all()
    clean = tmp_path / "clean"
    assert Extraction(download, clean).result() == ["file.txt", "link"]
    assert os.readlink(clean / "link") == "file.txt"


def test_inflating_a_large_entry_keeps_memory_bounded(tmp_path: Path, staging: Path) -> None:
    big = b"0123456789abcdef" * (4 << 20)  # 64 MiB that deflate squeezes to a few hundred KiB
    data = _zip({"big.txt": big}, stored=())
    assert len(data) < len(big) // 100
    download = Download(tmp_path, data)
    download.all()
    del big
    tracemalloc.start()
    try:
        Extraction(download, staging).result()
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (staging / "big.txt").stat().st_size == 64 << 20
    assert peak < 16 << 20, f"peak {peak} bytes"


# --------------------------------------------------------------------------- tar


def _tar(
    entries: dict[str, bytes], mode: str = "w:gz", links: dict[str, str] | None = None
) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:  # type: ignore[call-overload]
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1_700_000_000
            archive.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            archive.addfile(info)
    return buffer.getvalue()


def test_tar_gz_entries_are_extracted_as_the_stream_arrives(tmp_path: Path, staging: Path) -> None:
    data = _tar(ENTRIES, links={"data/link.csv": "b.csv"})
    download = Download(tmp_path, data)
    extraction = Extraction(download, staging)
    half = len(data) // 2
    for written in range(0, half, 4096):  # the stream arrives a bit at a time
        assert download.blocked_on()[0] >= written  # the reader follows it
        download.arrive(written, min(written + 4096, half))
    assert "readme.txt" in extraction.wait_done("readme.txt")  # out before the rest arrived
    assert extraction.thread.is_alive() and not (staging / "data" / "deep").exists()
    download.arrive(half, len(data))
    assert extraction.result() == [*ENTRIES, "data/link.csv"]
    assert extraction.files() == ENTRIES
    assert os.readlink(staging / "data" / "link.csv") == "b.csv"


@pytest.mark.parametrize("mode", ["w", "w:bz2", "w:xz"])
def test_plain_bz2_and_xz_tars_stream_too(tmp_path: Path, staging: Path, mode: str) -> None:
    download = Download(tmp_path, _tar(ENTRIES, mode))
    download.all()
    extraction = Extraction(download, staging)
    assert extraction.result() == list(ENTRIES)
    assert extraction.files() == ENTRIES


def test_concatenated_gzip_members_are_one_stream(tmp_path: Path, staging: Path) -> None:
    plain = _tar(ENTRIES, "w")
    half = len(plain) // 2
    download = Download(tmp_path, zlib_gzip(plain[:half]) + zlib_gzip(plain[half:]))
    download.all()
    assert Extraction(download, staging).result() == list(ENTRIES)


def zlib_gzip(data: bytes) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


def test_a_tar_gz_whose_crc_does_not_match_is_refused(tmp_path: Path, staging: Path) -> None:
    data = bytearray(_tar(ENTRIES))
    data[-8] ^= 0xFF  # gzip's CRC-32 of the whole stream
    download = Download(tmp_path, bytes(data))
    download.all()
    with pytest.raises(ArchiveError, match="Corrupt archive"):
        Extraction(download, staging).result()


def test_a_truncated_tar_gz_is_refused(tmp_path: Path, staging: Path) -> None:
    data = _tar(ENTRIES)[:-2000]
    download = Download(tmp_path, data)
    download.all()
    with pytest.raises(ArchiveError, match="Corrupt archive"):
        Extraction(download, staging).result()


def test_a_tar_entry_climbing_out_is_refused(tmp_path: Path, staging: Path) -> None:
    download = Download(tmp_path, _tar({"ok.txt": b"1", "../../evil.txt": b"2"}))
    download.all()
    with pytest.raises(ArchiveError, match=r"\.\."):
        Extraction(download, staging).result()
    assert not (tmp_path / "evil.txt").exists()


def test_a_tar_symlink_chain_out_of_the_folder_is_refused_and_no_link_written(
    tmp_path: Path, staging: Path
) -> None:
    depth = "/".join(f"d{i}" for i in range(6))
    links = {
        f"{depth}/l": "../" * 6,  # resolves to the root: inside on its own
        "creds": f"{depth}/l/" + "../" * 6 + "etc/passwd",  # through the first: outside
    }
    download = Download(tmp_path, _tar({"a.txt": b"a"}, links=links))
    download.all()
    with pytest.raises(ArchiveError, match="outside the folder"):
        Extraction(download, staging).result()
    assert not any(p.is_symlink() for p in staging.rglob("*"))


def test_a_tar_file_under_a_symlink_is_refused(tmp_path: Path, staging: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        link = tarfile.TarInfo("out")
        link.type = tarfile.SYMTYPE
        link.linkname = "sub"
        archive.addfile(link)
        info = tarfile.TarInfo("out/x.txt")
        info.size = 1
        archive.addfile(info, io.BytesIO(b"x"))
    download = Download(tmp_path, buffer.getvalue())
    download.all()
    with pytest.raises(ArchiveError, match="under a symbolic link"):
        Extraction(download, staging).result()
    assert not any(p.is_symlink() for p in staging.rglob("*"))


def test_a_tar_entry_twice_is_refused_with_the_rule_it_broke(tmp_path: Path, staging: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for payload in (b"first", b"second"):
            info = tarfile.TarInfo("same.txt")
            info.size = len(payload)
            archive.addfile(info, io.BytesIO(payload))
    download = Download(tmp_path, buffer.getvalue())
    download.all()
    with pytest.raises(ArchiveError, match="appears twice"):
        Extraction(download, staging).result()


def test_selected_tar_entries_only(tmp_path: Path, staging: Path) -> None:
    download = Download(tmp_path, _tar(ENTRIES))
    download.all()
    extraction = Extraction(download, staging, select=lambda name: name.startswith("data/"))
    assert extraction.result() == ["data/a.bin", "data/b.csv", "data/deep/c.bin"]
    assert set(extraction.files()) == {"data/a.bin", "data/b.csv", "data/deep/c.bin"}


def test_a_tar_bigger_than_free_space_stops_before_writing_the_entry(
    tmp_path: Path, staging: Path
) -> None:
    download = Download(tmp_path, _tar(ENTRIES))
    download.all()
    with pytest.raises(DiskSpaceError):
        Extraction(download, staging, free_space=lambda _path: 100_000).result()
    assert not (staging / "data" / "b.csv").exists()


def test_not_an_archive_is_refused(tmp_path: Path, staging: Path) -> None:
    download = Download(tmp_path, b"just some text, " * 100)
    download.all()
    with pytest.raises(ArchiveError, match="not a zip or tar archive"):
        Extraction(download, staging).result()
