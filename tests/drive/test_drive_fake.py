"""The Drive fake itself: the wire protocol the real clients rely on, and its faults."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import requests

from mlenv_magics.testing.drive_fake import DriveFake, QueryError, compile_query


def item(title: str, parents: list[str], mime: str = "text/plain", trashed: bool = False) -> dict:
    return {
        "title": title,
        "mimeType": mime,
        "parents": [{"id": p} for p in parents],
        "labels": {"trashed": trashed},
    }


def test_query_language() -> None:
    folder = "application/vnd.google-apps.folder"
    a = item("Train.csv", ["P1"])
    b = item("notes", ["P1"], mime=folder)
    c = item("old.csv", ["P1"], trashed=True)
    d = item("test.csv", ["P2"])
    query = compile_query("'P1' in parents and trashed = false and not mimeType = '" + folder + "'")
    assert [x["title"] for x in (a, b, c, d) if query(x)] == ["Train.csv"]
    query = compile_query("(title contains 'csv' or title = 'NOTES') and trashed != true")
    assert [x["title"] for x in (a, b, c, d) if query(x)] == ["Train.csv", "notes", "test.csv"]
    assert compile_query("title = 'it\\'s'")(item("it's", []))
    assert compile_query("'root' in parents", root_id="R")(item("x", ["R"]))
    for bad in ("title ~ 'x'", "'a' in owners", "(trashed = false", "trashed = maybe"):
        with pytest.raises(QueryError):
            compile_query(bad)


def plain() -> requests.Session:
    """No proxies from the environment: the fake is on loopback."""
    http = requests.Session()
    http.trust_env = False
    return http


@pytest.fixture
def session(drive_fake: DriveFake) -> requests.Session:
    http = plain()
    http.headers["Authorization"] = f"Bearer {drive_fake.issue_token()}"
    return http


def test_list_pages_and_fields(drive_fake: DriveFake, session: requests.Session) -> None:
    drive_fake.page_size = 2
    top = drive_fake.add_folder("top")
    for name in ("a", "b", "c"):
        drive_fake.add_file(name, name.encode(), parent=top)
    url = drive_fake.base_url + "files"
    params = {"q": f"'{top}' in parents", "fields": "nextPageToken,items(title,fileSize)"}

    first = session.get(url, params=params, timeout=5).json()
    second = session.get(url, params={**params, "pageToken": first["nextPageToken"]}, timeout=5)

    assert first["items"] == [{"title": "a", "fileSize": "1"}, {"title": "b", "fileSize": "1"}]
    assert second.json() == {"items": [{"title": "c", "fileSize": "1"}]}


def test_media_ranges_and_errors(drive_fake: DriveFake, session: requests.Session) -> None:
    file_id = drive_fake.add_file("f.bin", bytes(range(100)))
    url = f"{drive_fake.base_url}files/{file_id}"

    partial = session.get(url, params={"alt": "media"}, headers={"Range": "bytes=90-"}, timeout=5)
    beyond = session.get(url, params={"alt": "media"}, headers={"Range": "bytes=100-"}, timeout=5)
    missing = session.get(drive_fake.base_url + "files/nope", timeout=5)
    anonymous = plain().get(url, timeout=5)

    assert partial.status_code == 206 and partial.content == bytes(range(90, 100))
    assert partial.headers["Content-Range"] == "bytes 90-99/100"
    assert beyond.status_code == 416
    assert missing.status_code == 404
    assert missing.json()["error"]["errors"][0]["reason"] == "notFound"
    assert anonymous.status_code == 401


def test_docs_export_only(drive_fake: DriveFake, session: requests.Session) -> None:
    doc = drive_fake.add_doc("d", exports={"text/plain": b"hello"})
    url = f"{drive_fake.base_url}files/{doc}"

    media = session.get(url, params={"alt": "media"}, timeout=5)
    export = session.get(url + "/export", params={"mimeType": "text/plain"}, timeout=5)

    assert media.status_code == 403
    assert media.json()["error"]["errors"][0]["reason"] == "fileNotDownloadable"
    assert export.content == b"hello"


def test_token_endpoint_checks_the_jwt_signature(drive_fake: DriveFake, tmp_path: Path) -> None:
    import time

    from google.auth import crypt, jwt

    key = json.loads(drive_fake.write_service_account(tmp_path / "sa.json").read_text())
    now = int(time.time())
    claims = {
        "iss": key["client_email"],
        "aud": key["token_uri"],
        "scope": "s",
        "iat": now,
        "exp": now + 3600,
    }
    assertion = jwt.encode(crypt.RSASigner.from_service_account_info(key), claims).decode()
    header, claims, signature = assertion.split(".")
    forged_claims = json.loads(base64.urlsafe_b64decode(claims + "=="))
    forged_claims["scope"] = "https://www.googleapis.com/auth/drive"
    forged = base64.urlsafe_b64encode(json.dumps(forged_claims).encode()).decode().rstrip("=")
    grant = "urn:ietf:params:oauth:grant-type:jwt-bearer"

    good = plain().post(
        drive_fake.token_uri, data={"grant_type": grant, "assertion": assertion}, timeout=5
    )
    bad = plain().post(
        drive_fake.token_uri,
        data={"grant_type": grant, "assertion": f"{header}.{forged}.{signature}"},
        timeout=5,
    )

    assert good.status_code == 200 and good.json()["access_token"] in drive_fake.issued_tokens
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_grant"
