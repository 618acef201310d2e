"""The blob host speaks enough of a signed-URL object store for the transfer tests."""

from __future__ import annotations

import base64
import email.utils
import hashlib
import http.client
import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from mlenv_magics.testing.blobhost import BlobHost

DATA = bytes(range(256)) * 40


def _get(url: str, headers: dict[str, str] | None = None, method: str = "GET"):  # type: ignore[no-untyped-def]
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    connection.request(method, f"{parts.path}?{parts.query}", headers=headers or {})
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response, body


def test_serves_blob_with_object_store_headers(blobhost: BlobHost) -> None:
    url = blobhost.add("dir/file.csv", DATA, content_type="text/csv")
    assert "X-Goog-Signature=" in url and url.startswith("http://localhost:")
    response, body = _get(url)
    assert response.status == 200 and body == DATA
    assert response.getheader("Content-Length") == str(len(DATA))
    assert response.getheader("Accept-Ranges") == "bytes"
    assert response.getheader("Content-Type") == "text/csv"
    modified = response.getheader("Last-Modified")
    assert modified.endswith(" GMT") and email.utils.parsedate_to_datetime(modified)
    md5 = base64.b64encode(hashlib.md5(DATA).digest()).decode()
    assert f"md5={md5}" in response.getheader("x-goog-hash")
    assert "crc32c=" in response.getheader("x-goog-hash")
    assert response.getheader("ETag").startswith('"')


def test_ranges_if_range_and_416(blobhost: BlobHost) -> None:
    url = blobhost.add("f", DATA)
    response, body = _get(url, {"Range": "bytes=100-"})
    assert response.status == 206 and body == DATA[100:]
    assert response.getheader("Content-Range") == f"bytes 100-{len(DATA) - 1}/{len(DATA)}"
    response, body = _get(url, {"Range": "bytes=10-19"})
    assert response.status == 206 and body == DATA[10:20]
    etag = response.getheader("ETag")
    response, body = _get(url, {"Range": "bytes=10-", "If-Range": etag})
    assert response.status == 206
    response, body = _get(url, {"Range": "bytes=10-", "If-Range": '"stale"'})
    assert response.status == 200 and body == DATA
    response, _ = _get(url, {"Range": f"bytes={len(DATA)}-"})
    assert response.status == 416
    assert response.getheader("Content-Range") == f"bytes */{len(DATA)}"


def test_head_and_unknown_blob(blobhost: BlobHost) -> None:
    url = blobhost.add("f", DATA)
    response, body = _get(url, method="HEAD")
    assert response.status == 200 and body == b""
    assert response.getheader("Content-Length") == str(len(DATA))
    response, _ = _get(url.replace("/f?", "/missing?"))
    assert response.status == 404


def test_expired_signature_and_fresh_url(blobhost: BlobHost) -> None:
    url = blobhost.add("f", DATA)
    blobhost.expire("f")
    response, _ = _get(url)
    assert response.status == 403
    response, body = _get(blobhost.url_for("f"))
    assert response.status == 200 and body == DATA


def test_faults_status_then_recover_and_stats(blobhost: BlobHost) -> None:
    url = blobhost.add("f", DATA)
    blobhost.faults("f", status=429, status_times=2, retry_after="7")
    first, _ = _get(url)
    assert first.status == 429 and first.getheader("Retry-After") == "7"
    _get(url)
    ok, body = _get(url)
    assert ok.status == 200 and body == DATA
    stats = blobhost.stats("f")
    assert stats.statuses == (429, 429, 200)
    assert stats.bytes_sent == len(DATA)


def test_drop_at_offset_closes_the_connection(blobhost: BlobHost) -> None:
    url = blobhost.add("f", DATA)
    blobhost.faults("f", drop_at=1000)
    with pytest.raises(http.client.IncompleteRead):
        _get(url)
    assert blobhost.stats("f").bytes_sent == 1000
    _, body = _get(url)  # drop_times=1: the next request is whole
    assert body == DATA


def test_serves_files_from_disk_and_replacement_changes_validators(
    blobhost: BlobHost, tmp_path: Path
) -> None:
    path = tmp_path / "blob.bin"
    path.write_bytes(os.urandom(5000))
    url = blobhost.add("disk", path, hashes=("md5",))
    first, body = _get(url)
    assert body == path.read_bytes() and "crc32c" not in first.getheader("x-goog-hash")
    blobhost.add("disk", b"new content")
    second, body = _get(url)
    assert body == b"new content"
    assert second.getheader("ETag") != first.getheader("ETag")
    assert second.getheader("Last-Modified") != first.getheader("Last-Modified")


def test_binds_loopback_only_and_stops() -> None:
    host = BlobHost().start()
    address = host._server.server_address[0]  # type: ignore[union-attr]
    assert address in ("127.0.0.1", "::1")
    port = host.port
    host.stop()
    with pytest.raises(OSError):
        http.client.HTTPConnection("127.0.0.1", port, timeout=1).connect()


def test_ipv6_loopback_when_available() -> None:
    import socket

    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        host = BlobHost(host="::1").start()
    except OSError:
        pytest.skip("no IPv6 loopback here")
    try:
        url = host.add("f", DATA)
        assert url.startswith("http://[::1]:")
        parts = urlsplit(url)
        connection = http.client.HTTPConnection("::1", parts.port, timeout=5)
        connection.request("GET", f"{parts.path}?{parts.query}")
        assert connection.getresponse().read() == DATA
        connection.close()
    finally:
        host.stop()
