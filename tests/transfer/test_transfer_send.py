"""``send`` and ``make_session``: timeouts, bounded retries, Retry-After, proxies."""

from __future__ import annotations

import socket

import pytest
from loopback import SleepRecorder, reply, serve

from mlenv_magics.errors import TransferError
from mlenv_magics.testing.blobhost import BlobHost
from mlenv_magics.transfer import TransferPolicy, make_session, send


def test_429_waits_for_retry_after_then_succeeds(
    blobhost: BlobHost, session, policy: TransferPolicy, sleeps: SleepRecorder
) -> None:
    url = blobhost.add("f", b"hello")
    blobhost.faults("f", status=429, status_times=2, retry_after="7")
    response = send(session, "GET", url, policy=policy)
    assert response.status_code == 200 and response.content == b"hello"
    assert sleeps.delays == [7.0, 7.0]


def test_5xx_retries_are_bounded_and_back_off_exponentially(
    blobhost: BlobHost, session, policy: TransferPolicy, sleeps: SleepRecorder
) -> None:
    url = blobhost.add("f", b"hello")
    blobhost.faults("f", status=503, status_times=100)
    response = send(session, "GET", url, policy=policy)
    assert response.status_code == 503  # the caller maps the final answer
    assert blobhost.stats("f").requests == policy.max_attempts
    assert sleeps.delays == [0.375, 0.75, 1.5, 3.0, 6.0]  # jitter fixed at 0.5


def test_retrying_stops_when_the_time_budget_is_spent(
    blobhost: BlobHost, session, sleeps: SleepRecorder
) -> None:
    url = blobhost.add("f", b"hello")
    blobhost.faults("f", status=500, status_times=100)
    policy = TransferPolicy(
        max_attempts=100,
        max_elapsed=10.0,
        sleep=sleeps.sleep,
        clock=sleeps.clock,
        jitter=lambda: 1.0,
    )
    assert send(session, "GET", url, policy=policy).status_code == 500
    assert sum(sleeps.delays) <= 10.0
    assert blobhost.stats("f").requests == len(sleeps.delays) + 1 < 10


def test_retry_after_beyond_the_cap_gives_up_at_once(
    blobhost: BlobHost, session, sleeps: SleepRecorder
) -> None:
    url = blobhost.add("f", b"hello")
    blobhost.faults("f", status=429, status_times=5, retry_after="3600")
    policy = TransferPolicy(retry_after_max=60, sleep=sleeps.sleep, clock=sleeps.clock)
    assert send(session, "GET", url, policy=policy).status_code == 429
    assert sleeps.delays == []


def test_unreachable_host_raises_transfer_error_without_the_query(
    session, policy: TransferPolicy, sleeps: SleepRecorder
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/bucket/f?X-Goog-Signature=secretsig"
    with pytest.raises(TransferError) as caught:
        send(session, "GET", url, policy=policy)
    assert "secretsig" not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__context__ is None  # no request
    assert "rerun" in str(caught.value)
    assert len(sleeps.delays) == policy.max_attempts - 1


def test_stalled_server_hits_the_read_timeout_a_bounded_number_of_times(
    blobhost: BlobHost, session, sleeps: SleepRecorder
) -> None:
    url = blobhost.add("f", b"hello")
    blobhost.faults("f", stall=30, stall_times=10)
    policy = TransferPolicy(
        read_timeout=0.2, max_attempts=3, sleep=sleeps.sleep, clock=sleeps.clock
    )
    with pytest.raises(TransferError, match="read timeout"):
        send(session, "GET", url, policy=policy)
    assert blobhost.stats("f").requests == 3


def test_session_uses_proxy_from_env_and_honours_no_proxy(blobhost: BlobHost) -> None:
    url = blobhost.add("f", b"direct")
    with serve(reply(b"via proxy")) as (proxy, seen):
        with make_session({"HTTP_PROXY": proxy}) as proxied:
            assert proxied.get(url, timeout=5).content == b"via proxy"
        assert seen and seen[0][0].startswith("http://localhost:")  # absolute-form request
        with make_session({"http_proxy": proxy, "NO_PROXY": "example.org,localhost"}) as direct:
            assert direct.get(url, timeout=5).content == b"direct"
        assert len(seen) == 1


def test_session_takes_the_ca_bundle_from_env(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bundle = tmp_path / "ca.pem"
    with make_session({"SSL_CERT_FILE": str(bundle)}) as made:
        assert made.verify == str(bundle)
    with make_session({"REQUESTS_CA_BUNDLE": "a.pem", "SSL_CERT_FILE": "b.pem"}) as made:
        assert made.verify == "a.pem"
    with make_session({}) as made:
        assert made.verify is True and made.trust_env is False


def test_remote_file_repr_hides_signatures_and_headers() -> None:
    from mlenv_magics.transfer import RemoteFile

    remote = RemoteFile(
        "a.csv",
        url="https://storage.example/b/a.csv?X-Goog-Signature=abcdef",
        headers={"Authorization": "Bearer tok"},
    )
    text = repr(remote)
    assert "abcdef" not in text and "tok" not in text
    assert "https://storage.example/b/a.csv" in text
