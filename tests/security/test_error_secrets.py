"""Nothing reachable from a raised error holds a secret: no signed URL, no Authorization
header, in the message or in anything chained to it. Redirects to anything but http(s) end in
a clear TransferError."""

from __future__ import annotations

from pathlib import Path

import pytest
from hostile import reachable_from, texts_reachable_from
from servers import closed_port

from mlenv_magics import add_data
from mlenv_magics.errors import TransferError
from mlenv_magics.testing.kaggle_fake import KaggleFake
from mlenv_magics.transfer import TransferPolicy

FAST = TransferPolicy(max_attempts=2, backoff_base=0.0, sleep=lambda seconds: None)
SIGNATURE = "X-Goog-Signature=very-secret-signature"


def test_an_unreachable_signed_url_leaves_no_signature_in_the_error(
    kaggle_fake: KaggleFake,
) -> None:
    kaggle_fake.add_dataset("alice/tiny", {"a.csv": b"1"})
    signed = f"http://localhost:{closed_port()}/bucket/tiny.zip?{SIGNATURE}"
    kaggle_fake.redirect("DownloadDataset", signed)
    with pytest.raises(TransferError, match="connection refused") as caught:
        add_data("alice/tiny", quiet=True, policy=FAST)
    assert "very-secret-signature" not in texts_reachable_from(caught.value)
    assert reachable_from(caught.value) == [caught.value]


def test_an_unreachable_api_leaves_no_token_in_the_error(
    kaggle_fake: KaggleFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLENV_KAGGLE_API", f"http://127.0.0.1:{closed_port()}")
    with pytest.raises(TransferError) as caught:
        add_data("competition:titanic", quiet=True, policy=FAST)
    assert kaggle_fake.token not in texts_reachable_from(caught.value)
    assert reachable_from(caught.value) == [caught.value]


def test_a_download_that_keeps_dropping_raises_an_error_with_nothing_chained(
    kaggle_fake: KaggleFake, tmp_path: Path
) -> None:
    served = tmp_path / "big.bin"
    served.write_bytes(b"x" * 300_000)
    kaggle_fake.add_dataset("alice/big", {"big.bin": served})
    blob = kaggle_fake.dataset_file_blob("alice/big", "big.bin")
    kaggle_fake.blobs.faults(blob, drop_at=1000, drop_times=100)
    with pytest.raises(TransferError, match="stopped at") as caught:
        add_data("alice/big", files=["big.bin"], quiet=True, policy=FAST)
    assert reachable_from(caught.value) == [caught.value]
    assert "X-Goog-Signature" not in texts_reachable_from(caught.value)


@pytest.mark.parametrize("location", ["ftp://files.example/x.zip", "file:///etc/passwd"])
def test_a_download_link_to_another_scheme_is_a_transfer_error(
    kaggle_fake: KaggleFake, location: str
) -> None:
    kaggle_fake.add_dataset("alice/tiny", {"a.csv": b"1"})
    kaggle_fake.redirect("DownloadDataset", location)
    with pytest.raises(TransferError, match="not an address that can be fetched over HTTP"):
        add_data("alice/tiny", quiet=True, policy=FAST)


def test_a_blob_redirect_to_another_scheme_is_a_transfer_error(
    kaggle_fake: KaggleFake, tmp_path: Path
) -> None:
    served = tmp_path / "a.csv"
    served.write_bytes(b"1\n")
    kaggle_fake.add_dataset("alice/tiny", {"a.csv": served})
    blob = kaggle_fake.dataset_file_blob("alice/tiny", "a.csv")
    kaggle_fake.blobs.faults(blob, redirect_to="gopher://files.example/a.csv")
    with pytest.raises(TransferError, match="redirected to a gopher: address") as caught:
        add_data("alice/tiny", files=["a.csv"], quiet=True, policy=FAST)
    assert "files.example" not in str(caught.value)


def test_an_api_redirect_to_another_scheme_is_a_transfer_error(kaggle_fake: KaggleFake) -> None:
    kaggle_fake.add_dataset("alice/tiny", {"a.csv": b"1"})
    kaggle_fake.redirect("*", "ftp://api.example/v1")
    with pytest.raises(TransferError, match="redirected to a ftp: address"):
        add_data("alice/tiny", quiet=True, policy=FAST)


def test_the_options_repr_shows_no_environment() -> None:
    from mlenv_magics.data.model import AddDataOptions

    options = AddDataOptions(env={"KAGGLE_API_TOKEN": "env-token-value", "KAGGLE_KEY": "k3y"})
    assert "env-token-value" not in repr(options) and "k3y" not in repr(options)
