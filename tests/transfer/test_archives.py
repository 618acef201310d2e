"""Archive detection and safe extraction: hostile entries are refused before anything is written."""

from __future__ import annotations

import io
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from mlenv_magics.archives import archive_kind, extract
from mlenv_magics.errors import ArchiveError, DiskSpaceError


def _zip(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return path


def _tar(path: Path, mode: str, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, mode) as archive:  # type: ignore[call-overload]  # mode varies
        for info, data in members:
            if data is not None:
                info.size = len(data)
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _file(name: str) -> tarfile.TarInfo:
    return tarfile.TarInfo(name)


def _link(name: str, target: str, kind: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


def _everything(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize("mode", ["w", "w:gz", "w:bz2", "w:xz"])
def test_tar_variants_are_detected_by_content_and_extracted(tmp_path: Path, mode: str) -> None:
    archive = _tar(
        tmp_path / "download.bin", mode, [(_file("d/a.csv"), b"a,b\n"), (_file("top.txt"), b"hi")]
    )
    assert archive_kind(archive) == "tar"
    written = extract(archive, tmp_path / "out")
    assert sorted(written) == ["d/a.csv", "top.txt"]
    assert (tmp_path / "out" / "d" / "a.csv").read_bytes() == b"a,b\n"


def test_zip_is_detected_by_content_and_extracted(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "train.csv", {"x/y.txt": b"y", "z.txt": b"z" * 1000})
    assert archive_kind(archive) == "zip"
    assert sorted(extract(archive, tmp_path / "out")) == ["x/y.txt", "z.txt"]
    assert (tmp_path / "out" / "z.txt").read_bytes() == b"z" * 1000


def test_plain_files_are_not_archives(tmp_path: Path) -> None:
    (tmp_path / "a.zip").write_bytes(b"a,b\n1,2\n" * 100)
    (tmp_path / "empty").write_bytes(b"")
    assert archive_kind(tmp_path / "a.zip") is None
    assert archive_kind(tmp_path / "empty") is None


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("../evil.txt", "'..'"),
        ("ok/../../evil.txt", "'..'"),
        ("/tmp/evil.txt", "absolute"),
        ("..\\evil.txt", "'..'"),
    ],
)
def test_zip_entries_escaping_the_target_are_refused(tmp_path: Path, name: str, why: str) -> None:
    archive = _zip(tmp_path / "a.zip", {"fine.txt": b"1", name: b"evil"})
    target = tmp_path / "deep" / "out"
    with pytest.raises(ArchiveError, match=why) as caught:
        extract(archive, target)
    assert repr(name) in str(caught.value)
    assert _everything(target) == []  # validated before anything was written
    assert sorted(p.name for p in tmp_path.rglob("evil*")) == []


def test_tar_symlink_to_etc_is_refused(tmp_path: Path) -> None:
    archive = _tar(
        tmp_path / "a.tar",
        "w",
        [
            (_file("fine.txt"), b"1"),
            (_link("etc", "/etc", tarfile.SYMTYPE), None),
        ],
    )
    with pytest.raises(ArchiveError, match="links outside"):
        extract(archive, tmp_path / "out")
    assert _everything(tmp_path / "out") == []


def test_tar_relative_symlink_climbing_out_is_refused(tmp_path: Path) -> None:
    archive = _tar(tmp_path / "a.tar", "w", [(_link("d/up", "../../x", tarfile.SYMTYPE), None)])
    with pytest.raises(ArchiveError, match="d/up"):
        extract(archive, tmp_path / "out")


def test_entry_written_through_a_symlink_is_refused(tmp_path: Path) -> None:
    archive = _tar(
        tmp_path / "a.tar",
        "w",
        [
            (_link("d", ".", tarfile.SYMTYPE), None),
            (_file("d/x.txt"), b"x"),
        ],
    )
    with pytest.raises(ArchiveError, match="under a symbolic link"):
        extract(archive, tmp_path / "out")


def test_tar_hardlink_outside_is_refused(tmp_path: Path) -> None:
    archive = _tar(
        tmp_path / "a.tar", "w", [(_link("passwd", "/etc/passwd", tarfile.LNKTYPE), None)]
    )
    with pytest.raises(ArchiveError, match="hard link"):
        extract(archive, tmp_path / "out")
    archive = _tar(tmp_path / "b.tar", "w", [(_link("x", "../outside", tarfile.LNKTYPE), None)])
    with pytest.raises(ArchiveError, match="hard link"):
        extract(archive, tmp_path / "out")
    assert _everything(tmp_path / "out") == []


def test_links_inside_the_target_are_kept(tmp_path: Path) -> None:
    archive = _tar(
        tmp_path / "a.tar",
        "w",
        [
            (_file("data/a.txt"), b"A"),
            (_link("latest", "data/a.txt", tarfile.SYMTYPE), None),
            (_link("copy.txt", "data/a.txt", tarfile.LNKTYPE), None),
        ],
    )
    out = tmp_path / "out"
    assert sorted(extract(archive, out)) == ["copy.txt", "data/a.txt", "latest"]
    assert os.readlink(out / "latest") == "data/a.txt"
    assert (out / "copy.txt").read_bytes() == b"A"


def test_device_files_are_refused(tmp_path: Path) -> None:
    device = tarfile.TarInfo("dev")
    device.type = tarfile.CHRTYPE
    archive = _tar(tmp_path / "a.tar", "w", [(device, None)])
    with pytest.raises(ArchiveError, match="special file"):
        extract(archive, tmp_path / "out")


def test_corrupt_zip_names_the_fix(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "a.zip", {"a.txt": os.urandom(5000)})
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2])  # the central directory is gone
    with pytest.raises(ArchiveError, match="--force"):
        extract(archive, tmp_path / "out")


def test_truncated_tar_gz_is_corrupt(tmp_path: Path) -> None:
    archive = _tar(tmp_path / "a.tgz", "w:gz", [(_file("a.bin"), os.urandom(100_000))])
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2])
    with pytest.raises(ArchiveError, match="Corrupt archive"):
        extract(archive, tmp_path / "out")


def test_zip_member_with_bad_crc_is_corrupt(tmp_path: Path) -> None:
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as handle:
        handle.writestr("a.txt", b"hello world" * 100)
    data = bytearray(archive.read_bytes())
    at = data.index(b"hello world")
    data[at] = ord("J")
    archive.write_bytes(bytes(data))
    with pytest.raises(ArchiveError, match="--force"):
        extract(archive, tmp_path / "out")


def test_free_space_is_checked_against_uncompressed_size(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "a.zip", {"big.txt": b"0" * 200_000})
    target = tmp_path / "out"
    with pytest.raises(DiskSpaceError) as caught:
        extract(archive, target, free_space=lambda _path: 100_000)
    assert str(target) in str(caught.value) and "200000" in str(caught.value)
    assert _everything(target) == []


@pytest.mark.parametrize("compression", [zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_zip_with_damaged_compressed_data_is_corrupt(tmp_path: Path, compression: int) -> None:
    archive = tmp_path / "a.zip"
    payload = os.urandom(20_000) + b"tail" * 5000
    with zipfile.ZipFile(archive, "w", compression) as handle:
        handle.writestr("a.bin", payload)
    data = bytearray(archive.read_bytes())
    for offset in range(100, 4000, 7):
        data[offset] ^= 0xFF
    archive.write_bytes(bytes(data))
    with pytest.raises(ArchiveError, match="--force"):
        extract(archive, tmp_path / "out")


@pytest.mark.parametrize("mode", ["w:gz", "w:bz2", "w:xz"])
def test_compressed_tar_with_damaged_data_is_corrupt(tmp_path: Path, mode: str) -> None:
    archive = _tar(tmp_path / "a.tar", mode, [(_file("a.bin"), os.urandom(50_000))])
    data = bytearray(archive.read_bytes())
    for offset in range(40, len(data) - 40, 5):
        data[offset] ^= 0xFF
    archive.write_bytes(bytes(data))
    with pytest.raises(ArchiveError):
        extract(archive, tmp_path / "out")


def _symlink_zip(path: Path, entries: list[tuple[str, bytes, bool]]) -> Path:
    """A zip whose entries are (name, data, is_symlink); a symlink's data is its target."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data, is_link in entries:
            info = zipfile.ZipInfo(name, date_time=(2025, 1, 1, 0, 0, 0))
            info.external_attr = ((0o120777 if is_link else 0o100644) << 16) | 0
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return path


def test_a_link_through_another_link_that_climbs_out_is_refused(tmp_path: Path) -> None:
    deep = "/".join(f"d{i}" for i in range(40))
    archive = _tar(
        tmp_path / "a.tar",
        "w",
        [
            (_link(f"{deep}/l", "../" * 40, tarfile.SYMTYPE), None),  # resolves to the root
            (_link("creds", f"{deep}/l/" + "../" * 40 + "etc/passwd", tarfile.SYMTYPE), None),
        ],
    )
    with pytest.raises(ArchiveError, match="'creds' links outside"):
        extract(archive, tmp_path / "out")
    assert _everything(tmp_path / "out") == []


def test_chains_of_links_that_stay_inside_are_kept(tmp_path: Path) -> None:
    archive = _tar(
        tmp_path / "a.tar",
        "w",
        [
            (_file("v2/data.csv"), b"x,y\n"),
            (_link("latest", "v2", tarfile.SYMTYPE), None),
            (_link("sub/current", "../latest/data.csv", tarfile.SYMTYPE), None),
            (_link("sub/up", "../latest/..", tarfile.SYMTYPE), None),
        ],
    )
    out = tmp_path / "out"
    assert sorted(extract(archive, out)) == ["latest", "sub/current", "sub/up", "v2/data.csv"]
    assert (out / "sub" / "current").read_bytes() == b"x,y\n"
    assert (out / "sub" / "up").resolve() == out.resolve()


def test_link_loops_and_links_into_a_link_chain_out_are_refused(tmp_path: Path) -> None:
    loop = _tar(
        tmp_path / "loop.tar",
        "w",
        [(_link("a", "b", tarfile.SYMTYPE), None), (_link("b", "a/x", tarfile.SYMTYPE), None)],
    )
    with pytest.raises(ArchiveError, match="links outside"):
        extract(loop, tmp_path / "out1")
    via_absolute = _tar(
        tmp_path / "abs.tar",
        "w",
        [
            (_link("root", "/", tarfile.SYMTYPE), None),
            (_link("passwd", "root/etc/passwd", tarfile.SYMTYPE), None),
        ],
    )
    with pytest.raises(ArchiveError, match="links outside"):
        extract(via_absolute, tmp_path / "out2")


def test_links_differing_only_in_case_are_refused(tmp_path: Path) -> None:
    # on a case-insensitive disk "D/x" would be written through the link "d"
    archive = _tar(
        tmp_path / "a.tar",
        "w",
        [(_link("d", "sub", tarfile.SYMTYPE), None), (_file("D/x.txt"), b"x")],
    )
    with pytest.raises(ArchiveError, match="under a symbolic link"):
        extract(archive, tmp_path / "out")


def test_a_huge_zip_symlink_target_is_refused_before_it_is_read(tmp_path: Path) -> None:
    import tracemalloc

    archive = _symlink_zip(tmp_path / "bomb.zip", [("link", b"a" * (64 << 20), True)])
    assert archive.stat().st_size < 1 << 20
    tracemalloc.start()
    try:
        with pytest.raises(ArchiveError, match="longer than 4096 bytes") as caught:
            extract(archive, tmp_path / "out")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20
    assert len(str(caught.value)) < 400


def test_a_zip_symlink_with_a_lying_size_reads_at_most_the_cap(tmp_path: Path) -> None:
    archive = _symlink_zip(tmp_path / "a.zip", [("link", b"t" * 5000, True)])
    data = bytearray(archive.read_bytes())
    # the central directory's uncompressed size (offset 24 of its record) claims 10 bytes
    central = data.rindex(b"PK\x01\x02")
    data[central + 24 : central + 28] = (10).to_bytes(4, "little")
    archive.write_bytes(bytes(data))
    with pytest.raises(ArchiveError) as caught:
        extract(archive, tmp_path / "out")
    assert len(str(caught.value)) < 400


def test_a_huge_tar_extended_header_is_refused_before_it_is_read(tmp_path: Path) -> None:
    archive = tmp_path / "a.tar.gz"
    with tarfile.open(archive, "w:gz", format=tarfile.PAX_FORMAT) as handle:
        info = tarfile.TarInfo("x")
        info.type = tarfile.SYMTYPE
        info.linkname = "a" * (3 << 20)
        handle.addfile(info)
    with pytest.raises(ArchiveError, match="extended header") as caught:
        extract(archive, tmp_path / "out")
    assert len(str(caught.value)) < 400


def test_a_long_tar_link_target_is_refused_with_a_short_message(tmp_path: Path) -> None:
    archive = tmp_path / "a.tar"
    with tarfile.open(archive, "w", format=tarfile.PAX_FORMAT) as handle:
        info = tarfile.TarInfo("x")
        info.type = tarfile.SYMTYPE
        info.linkname = "a/" * 50_000
        handle.addfile(info)
    with pytest.raises(ArchiveError, match="longer than 4096 bytes") as caught:
        extract(archive, tmp_path / "out")
    assert len(str(caught.value)) < 400


@pytest.mark.parametrize(
    "names",
    [["a", "a/b"], ["a/b", "a"], ["x/a", "x/a/b/c"]],
    ids=["file-first", "dir-first", "deep"],
)
def test_a_name_that_is_both_a_file_and_a_folder_is_refused(
    tmp_path: Path, names: list[str]
) -> None:
    archive = _zip(tmp_path / "a.zip", {name: b"1" for name in names})
    with pytest.raises(ArchiveError, match="both a file and a folder"):
        extract(archive, tmp_path / "out")
    assert _everything(tmp_path / "out") == []


def test_an_entry_name_too_long_for_the_disk_is_an_archive_error(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "a.zip", {"ok.txt": b"1", "n" * 300 + ".txt": b"2"})
    with pytest.raises(ArchiveError, match="cannot be created") as caught:
        extract(archive, tmp_path / "out")
    assert caught.value.__cause__ is None and caught.value.__context__ is None
    assert len(str(caught.value)) < 400


@pytest.mark.parametrize("name", ["Results: 2024.csv", "2024: results.csv", "notes/12:30.txt"])
def test_colons_in_names_are_allowed(tmp_path: Path, name: str) -> None:
    archive = _zip(tmp_path / "a.zip", {name: b"r"})
    assert extract(archive, tmp_path / "out") == [name]
    assert (tmp_path / "out" / name).read_bytes() == b"r"


@pytest.mark.parametrize("name", ["C:evil.txt", "c:/evil.txt", "d/C:\\evil.txt"])
def test_drive_letter_prefixes_are_refused(tmp_path: Path, name: str) -> None:
    archive = _zip(tmp_path / "a.zip", {name: b"r"})
    with pytest.raises(ArchiveError, match="absolute path"):
        extract(archive, tmp_path / "out")
