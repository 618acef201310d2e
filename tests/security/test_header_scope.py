"""Source headers reach only the exact origin (scheme, host, port) they were meant for: the
Drive bearer token never follows a redirect to another port or from https to http, Kaggle's
notebook tokens never follow one to another host."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from servers import Answers, serving

from mlenv_magics import add_data
from mlenv_magics.errors import MlenvError
from mlenv_magics.testing.drive_fake import DriveFake
from mlenv_magics.testing.kaggle_fake import KaggleFake
from mlenv_magics.transfer import RemoteFile, TransferPolicy, fetch_files, make_session

SECRET_HEADERS = ("authorization", "x-kaggle-authorization", "x-kaggle-proxy-data")


def test_drive_token_does_not_follow_a_redirect_to_another_port(drive_fake: DriveFake) -> None:
    content = os.urandom(50_000)
    file_id = drive_fake.add_file("weights.bin", content)
    elsewhere = Answers(body=content)
    with serving(elsewhere) as (port, _):
        drive_fake.redirect_media(file_id, f"http://127.0.0.1:{port}/media/{file_id}")
        path = add_data(f"drive:{file_id}", quiet=True)
    assert (path / "weights.bin").read_bytes() == content  # the redirect was followed
    [headers] = elsewhere.headers_at("/media/")
    assert "authorization" not in headers


def test_headers_do_not_follow_a_redirect_from_https_to_http(tmp_path: Path) -> None:
    answers = Answers(body=b"payload")
    with serving(answers, tls_dir=tmp_path / "tls") as (port, cert):
        answers.redirects["/start"] = f"http://127.0.0.1:{port}/plain"  # same host and port
        remote = RemoteFile(
            "f.bin",
            url=f"https://127.0.0.1:{port}/start",
            headers={
                "Authorization": "Bearer drive-token-value",
            },
        )
        with make_session({"REQUESTS_CA_BUNDLE": str(cert)}) as session:
            [fetched] = fetch_files(
                session,
                [remote],
                tmp_path / "dest",
                partial_dir=tmp_path / "partial",
                policy=TransferPolicy(max_attempts=2),
            )
    assert fetched.path.read_bytes() == b"payload"
    assert [(s.scheme, s.path) for s in answers.seen] == [("https", "/start"), ("http", "/plain")]
    assert answers.headers_at("/start")[0]["authorization"] == "Bearer drive-token-value"
    assert "authorization" not in answers.headers_at("/plain")[0]


@pytest.mark.parametrize("method", ["attach", "secret"])
def test_kaggle_notebook_tokens_do_not_follow_a_redirect_to_another_host(
    kaggle_fake: KaggleFake, monkeypatch: pytest.MonkeyPatch, method: str
) -> None:
    for name, value in kaggle_fake.kaggle_notebook_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("KAGGLE_API_TOKEN")
    if method == "secret":  # no attaching: the download needs credentials, from user secrets
        monkeypatch.delenv("KAGGLE_DATA_PROXY_TOKEN")
    kaggle_fake.add_dataset("alice/tiny", {"a.csv": b"1"})
    kaggle_fake.add_competition("titanic", {"train.csv": b"x"})
    elsewhere = Answers(body=b'{"wasSuccessful": false, "errors": ["Not found"]}')
    elsewhere.content_type = "application/json"
    with serving(elsewhere) as (port, _):
        # the fake listens on 127.0.0.1: "localhost" is another host, as a hijacker's would be
        kaggle_fake.redirect(method, f"http://localhost:{port}/hijacked")
        source = "alice/tiny" if method == "attach" else "competition:titanic"
        with pytest.raises(MlenvError):
            add_data(source, quiet=True, mount_timeout=0.5)
    assert kaggle_fake.calls_to(method), "the endpoint was asked first"
    [headers] = elsewhere.headers_at("/hijacked")
    assert not [name for name in SECRET_HEADERS if name in headers]
