"""As lenient as Kaggle's own SDK: JSON answers labelled text/html are read, and a download
RPC answering 200 with the bytes instead of a 302 is accepted, for every download RPC."""

from __future__ import annotations

from pathlib import Path

import pytest
from kaggle_helpers import FAST

from mlenv_magics import add_data
from mlenv_magics.errors import AccessDeniedError, NotFoundError, ServerError
from mlenv_magics.testing.kaggle_fake import KaggleFake, build_zip

FILES = {"train.csv": b"a,b\n1,2\n" * 100, "sub/notes.txt": b"hello"}


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture(params=["html-label", "inline-bytes", "both"])
def lenient_fake(request: pytest.FixtureRequest, kaggle_fake: KaggleFake) -> KaggleFake:
    if request.param in ("html-label", "both"):
        kaggle_fake.json_content_type = "text/html; charset=utf-8"
    if request.param in ("inline-bytes", "both"):
        kaggle_fake.inline_downloads = True
    return kaggle_fake


def test_dataset_archive_and_single_files(lenient_fake: KaggleFake) -> None:
    lenient_fake.add_dataset("alice/tiny", files=FILES)
    one = add_data("alice/tiny", files=["sub/*"], quiet=True, policy=FAST)
    assert tree(one) == {"sub/notes.txt": b"hello"}
    assert tree(add_data("alice/tiny", quiet=True, policy=FAST)) == FILES


def test_competition_archive_and_one_file(lenient_fake: KaggleFake) -> None:
    lenient_fake.add_competition("titanic", FILES)
    one = add_data("competition:titanic", files=["train.csv"], quiet=True, policy=FAST)
    assert tree(one) == {"train.csv": FILES["train.csv"]}
    assert tree(add_data("competition:titanic", quiet=True, policy=FAST)) == FILES


def test_a_large_single_file_sent_zipped_and_inline_is_unwrapped(
    lenient_fake: KaggleFake,
) -> None:
    lenient_fake.wrap_files_over = 100
    lenient_fake.add_dataset("alice/tiny", files=FILES)
    one = add_data("alice/tiny", files=["train.csv"], quiet=True, policy=FAST)
    assert tree(one) == {"train.csv": FILES["train.csv"]}


def test_error_envelopes_still_count_whatever_the_label(lenient_fake: KaggleFake) -> None:
    with pytest.raises(NotFoundError, match="alice/nope"):
        add_data("alice/nope", quiet=True, policy=FAST)
    lenient_fake.add_competition("closed", FILES, rules_accepted=False)
    with pytest.raises(AccessDeniedError, match="rules"):
        add_data("competition:closed", quiet=True, policy=FAST)


def test_an_error_envelope_sent_as_html_with_http_200(kaggle_fake: KaggleFake) -> None:
    kaggle_fake.json_content_type = "text/html"
    kaggle_fake.add_dataset("alice/tiny", files=FILES)
    kaggle_fake.fail("DownloadDataset", 403, "Permission denied for this one", http_200=True)
    with pytest.raises(AccessDeniedError, match="Permission denied for this one"):
        add_data("alice/tiny/versions/1", quiet=True, policy=FAST)


def test_a_real_html_page_is_not_taken_for_an_answer(kaggle_fake: KaggleFake) -> None:
    kaggle_fake.add_dataset("alice/tiny", files=FILES)
    kaggle_fake.json_content_type = "text/html"
    kaggle_fake.fail("GetDataset", 502, "<html><body>Bad gateway</body></html>", times=99)
    with pytest.raises(ServerError, match="502"):
        add_data("alice/tiny", quiet=True, policy=FAST)


def test_a_json_file_served_inline_is_the_file(kaggle_fake: KaggleFake) -> None:
    """A single .json file answered inline with a JSON label is data, not an envelope."""
    config = b'{"code": 7, "message": "a config file, not an error"}'
    kaggle_fake.add_dataset("alice/tiny", files={"config.json": config, "b.txt": b"b"})
    kaggle_fake.inline_downloads = True  # labelled application/json, by its name
    one = add_data("alice/tiny", files=["config.json"], quiet=True, policy=FAST)
    assert tree(one) == {"config.json": config}


def test_inline_archive_bytes_are_verified_by_size(kaggle_fake: KaggleFake) -> None:
    archive = build_zip(FILES)
    kaggle_fake.add_dataset("alice/tiny", files=FILES, archive=archive)
    kaggle_fake.inline_downloads = True
    path = add_data("alice/tiny", quiet=True, policy=FAST)
    assert tree(path) == FILES
    assert len(kaggle_fake.calls_to("DownloadDataset")) == 1
