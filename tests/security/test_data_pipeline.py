"""The data pipeline's share of the review: a file is handed over byte for byte unless Kaggle
wrapped it, links in mounted data are never followed into ``--to``, and a finished download
survives an extraction that failed for another reason than the archive."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from mlenv_magics import add_data
from mlenv_magics.errors import DiskSpaceError
from mlenv_magics.testing.kaggle_fake import KaggleFake
from mlenv_magics.transfer import TransferPolicy


def _zip_bytes(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _room_only_for_downloads(path: Path) -> int:
    """Free space as a nearly full disk reports it, except where downloads are kept."""
    return 1 << 40 if ".partial" in str(path) else 10


@pytest.mark.parametrize("name", ["model.pt", "arrays.npz", "sheet.xlsx"])
def test_a_zip_format_file_is_handed_over_byte_for_byte(kaggle_fake: KaggleFake, name: str) -> None:
    # a zip holding one member of the same name: what a wrapped file looks like from inside
    content = _zip_bytes({name: b"\x80\x04weights" * 1000})
    kaggle_fake.add_dataset("alice/model", {name: content, "other.txt": b"o"})
    policy = TransferPolicy(free_space=_room_only_for_downloads)  # no room to unpack it
    path = add_data("alice/model", files=[name], quiet=True, policy=policy)
    assert (path / name).read_bytes() == content
    assert sorted(p.name for p in path.iterdir()) == [name]


def test_a_file_kaggle_wrapped_in_a_zip_is_unwrapped(kaggle_fake: KaggleFake) -> None:
    content = _zip_bytes({"data.pkl": b"\x80\x04weights"})
    kaggle_fake.add_dataset("alice/model", {"model.pt": content, "train.csv": b"a,b\n" * 100})
    kaggle_fake.wrap_files_over = 0  # every single file comes zipped, as Kaggle does for some
    path = add_data("alice/model", files=["model.pt", "train.csv"], quiet=True)
    assert (path / "model.pt").read_bytes() == content
    assert (path / "train.csv").read_bytes() == b"a,b\n" * 100


def test_links_in_mounted_data_are_not_followed_into_to(
    kaggle_fake: KaggleFake, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name, value in kaggle_fake.kaggle_notebook_env().items():
        monkeypatch.setenv(name, value)
    secret = tmp_path / "home" / ".kaggle" / "kaggle.json"
    secret.parent.mkdir(parents=True, exist_ok=True)
    secret.write_text('{"key": "very-secret-key"}')
    assert kaggle_fake.mount_root is not None
    mounted = kaggle_fake.mount_root / "tiny"
    mounted.mkdir(parents=True)
    (mounted / "train.csv").write_text("a,b\n")
    (mounted / "creds.json").symlink_to(secret)
    (mounted / "everything").symlink_to(secret.parent, target_is_directory=True)
    target = tmp_path / "work"
    add_data("alice/tiny", to=target, quiet=True)
    assert (target / "train.csv").read_text() == "a,b\n"
    copied = [p for p in target.rglob("*") if p.is_file() and not p.is_symlink()]
    assert not any(b"very-secret-key" in p.read_bytes() for p in copied)


def test_a_finished_download_survives_a_failed_extraction(
    kaggle_fake: KaggleFake, tmp_path: Path
) -> None:
    files = {f"part{i}.bin": bytes([i]) * 200_000 for i in range(3)}
    kaggle_fake.add_dataset("alice/big", files)

    policy = TransferPolicy(free_space=_room_only_for_downloads)
    with pytest.raises(DiskSpaceError):
        add_data("alice/big", quiet=True, policy=policy)
    blob = next(name for name in kaggle_fake.blobs._blobs if name.endswith("big.zip"))
    sent = kaggle_fake.blobs.stats(blob).bytes_sent
    path = add_data("alice/big", quiet=True)
    assert {p.name: p.read_bytes() for p in path.iterdir()} == files
    assert kaggle_fake.blobs.stats(blob).bytes_sent == sent  # nothing fetched again
