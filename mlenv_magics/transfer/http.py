"""HTTP: sessions that honour the proxy settings, :func:`send` (timeouts and bounded retries,
redirects followed by hand), and messages about network failures that never show a signed
URL's query.

Headers given to :func:`send` go only to the exact origin (scheme, host, port) of the URL they
were given with; a redirect elsewhere is followed without them, and one to anything but
``http``/``https`` is refused. Errors raised here chain nothing: the exceptions of ``requests``
keep the request, its headers and its signed URL.

``requests`` is imported only when a function needs it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import suppress
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from ..errors import ServerError, TransferError
from .policy import (
    DEFAULT_POLICY,
    Cancelled,
    RetryBudget,
    TransferPolicy,
    is_retryable_status,
    pause,
    retry_after_seconds,
)

if TYPE_CHECKING:
    import threading

    import requests

READ_SIZE = 64 << 10  # bytes per socket read at least; small enough to notice Ctrl-C promptly
MAX_READ_SIZE = 256 << 10  # bytes per socket read at most (larger reads measured slower)
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 10
POOL_SIZE = 32  # connections kept per host


def read_size_for(length: int | None) -> int:
    """Bytes per socket read for a body of ``length`` bytes: larger reads cost less CPU per byte
    (about a third less time for 1 GiB on loopback at 256 KiB than at 64 KiB), and a dropped
    connection loses at most one read, kept here under 2% of the body."""
    if length is None:
        return READ_SIZE
    return max(READ_SIZE, min(MAX_READ_SIZE, length // 64))


def make_session(env: Mapping[str, str] | None = None) -> requests.Session:
    """A requests session honouring HTTP(S)_PROXY, NO_PROXY, REQUESTS_CA_BUNDLE, SSL_CERT_FILE.

    The settings come from ``env`` (default: ``os.environ``) when the session is made; the
    session ignores ``.netrc`` so no stray credentials reach any host.
    """
    from requests.adapters import HTTPAdapter

    env = os.environ if env is None else env
    session = _env_session_class()()
    session.trust_env = False
    for prefix in ("http://", "https://"):  # room for parallel files x parallel ranges
        session.mount(prefix, HTTPAdapter(pool_connections=8, pool_maxsize=POOL_SIZE))
    for scheme in ("http", "https"):
        proxy = _env_value(env, f"{scheme}_proxy") or _env_value(env, "all_proxy")
        if proxy:
            session.proxies[scheme] = proxy
    session.no_proxy = _parse_no_proxy(_env_value(env, "no_proxy") or "")  # type: ignore[attr-defined]
    ca_bundle = (
        env.get("REQUESTS_CA_BUNDLE") or env.get("CURL_CA_BUNDLE") or env.get("SSL_CERT_FILE")
    )
    if ca_bundle:
        session.verify = ca_bundle
    from .._version import __version__

    session.headers["User-Agent"] = f"mlenv-magics/{__version__}"
    return session


def _env_value(env: Mapping[str, str], name: str) -> str | None:
    return env.get(name) or env.get(name.upper()) or None


def _parse_no_proxy(value: str) -> tuple[str, ...]:
    return tuple(part.strip().lower() for part in value.split(",") if part.strip())


def _bypasses_proxy(url: str, no_proxy: Sequence[str]) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    for entry in no_proxy:
        if entry == "*":
            return True
        if "/" in entry:
            import ipaddress

            with suppress(ValueError):
                if ipaddress.ip_address(host) in ipaddress.ip_network(entry, strict=False):
                    return True
            continue
        name = entry.split(":")[0].lstrip(".")
        if name and (host == name or host.endswith("." + name)):
            return True
    return False


_SESSION_CLASS: Any = None


def _env_session_class() -> Any:
    global _SESSION_CLASS
    if _SESSION_CLASS is None:
        import requests

        class EnvSession(requests.Session):
            no_proxy: tuple[str, ...] = ()

            def send(self, request: Any, **kwargs: Any) -> Any:
                if kwargs.get("proxies") and _bypasses_proxy(request.url or "", self.no_proxy):
                    kwargs["proxies"] = {}
                return super().send(request, **kwargs)

        _SESSION_CLASS = EnvSession
    return _SESSION_CLASS


def redact_url(url: str) -> str:
    """``scheme://host/path`` without the query (signed URLs carry their signature there)."""
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(a malformed URL)"
    return f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"


def host_of(url: str) -> str:
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of ``url``, with the scheme's default port filled in."""
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        return scheme, (parts.hostname or "").lower(), parts.port or DEFAULT_PORTS.get(scheme)
    except ValueError:
        return "", url, None


def same_origin(url: str, other: str) -> bool:
    return origin_of(url) == origin_of(other)


def redirect_target(url: str, location: str) -> str:
    """Where a redirect from ``url`` leads; TransferError when it is not an HTTP address."""
    target = urljoin(url, location)
    scheme = origin_of(target)[0]
    if scheme in ("http", "https"):
        return target
    shown = f"a {scheme}: address" if scheme else "an address that is not a URL"
    raise TransferError(
        f"{redact_url(url)} redirected to {shown}; only http and https are followed.",
        fix="Report this source to its owner; the download cannot go there.",
    )


def network_error_types() -> tuple[type[BaseException], ...]:
    import requests
    import urllib3.exceptions

    return (
        requests.ConnectionError,
        requests.Timeout,
        requests.exceptions.ChunkedEncodingError,
        urllib3.exceptions.HTTPError,
        ConnectionError,
        TimeoutError,
    )


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it wraps (requests nests urllib3 errors in ``args`` and ``__context__``)."""
    pending: list[object] = [exc]
    seen: set[int] = set()
    while pending:
        item = pending.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        pending.extend([*item.args, item.__cause__, item.__context__])
        pending.append(getattr(item, "reason", None))


def describe_network_error(exc: BaseException) -> str:
    import requests
    import urllib3.exceptions

    causes = list(_causes(exc))
    if any(isinstance(c, requests.exceptions.ConnectTimeout) for c in causes):
        return "connection timed out"
    timeouts = (requests.exceptions.ReadTimeout, urllib3.exceptions.ReadTimeoutError, TimeoutError)
    if any(isinstance(c, timeouts) for c in causes):
        return "no data within the read timeout"
    if any(isinstance(c, requests.exceptions.ProxyError) for c in causes):
        return "the proxy refused the connection"
    if any(isinstance(c, ConnectionRefusedError) for c in causes):
        return "connection refused"
    if any(
        isinstance(c, requests.exceptions.ChunkedEncodingError | urllib3.exceptions.ProtocolError)
        for c in causes
    ):
        return "the connection dropped mid-transfer"
    return "connection failed"


def send(
    session: requests.Session,
    method: str,
    url: str,
    *,
    policy: TransferPolicy = DEFAULT_POLICY,
    stop_on: Sequence[threading.Event] = (),
    **kwargs: Any,
) -> requests.Response:
    """One request with timeouts and bounded retries (429 with Retry-After, 5xx, dropped
    connections, timeouts). Returns the final response, whatever its status, for the caller to
    map; raises TransferError when the network kept failing.

    Redirects are followed by hand (unless ``allow_redirects=False``), as ``requests`` would,
    but ``headers`` reach only the origin of ``url``. A back-off wait ends as soon as one of
    ``stop_on`` is set (Cancelled)."""
    if kwargs.get("timeout") is None:  # never wait forever
        kwargs["timeout"] = (policy.connect_timeout, policy.read_timeout)
    follow = kwargs.pop("allow_redirects", True)
    headers = kwargs.pop("headers", None)
    home = url
    for _ in range(MAX_REDIRECTS + 1):
        scoped = headers if same_origin(url, home) else None
        response = _send_retrying(
            session, method, url, policy, stop_on, headers=scoped, allow_redirects=False, **kwargs
        )
        location = response.headers.get("Location")
        status = response.status_code
        if not follow or status not in REDIRECT_STATUSES or not location:
            return response
        response.close()
        url = redirect_target(url, location)
        kwargs.pop("params", None)  # the Location is the whole address
        if method != "HEAD" and (status in (302, 303) or (status == 301 and method == "POST")):
            method = "GET"  # what browsers and requests do; the body stays behind
            for body in ("data", "json", "files"):
                kwargs.pop(body, None)
    raise ServerError(
        f"{redact_url(home)} redirected more than {MAX_REDIRECTS} times.",
        fix="Report this source to its owner.",
    )


def _send_retrying(
    session: requests.Session,
    method: str,
    url: str,
    policy: TransferPolicy,
    stop_on: Sequence[threading.Event],
    **kwargs: Any,
) -> requests.Response:
    import requests

    budget = RetryBudget(policy)
    network_errors = network_error_types()
    unusable = (
        requests.exceptions.InvalidSchema,
        requests.exceptions.MissingSchema,
        requests.exceptions.InvalidURL,
    )
    while True:
        if any(stop.is_set() for stop in stop_on):
            raise Cancelled
        failure: TransferError | None = None
        delay: float | None = None
        try:
            response = session.request(method, url, **kwargs)
        except requests.exceptions.SSLError:
            failure = TransferError(
                f"TLS verification failed for {host_of(url)}.",
                fix="If a proxy intercepts TLS, point REQUESTS_CA_BUNDLE or SSL_CERT_FILE at "
                "its CA certificate, then rerun.",
            )
        except unusable:
            failure = TransferError(
                f"{method} {redact_url(url)}: not an address that can be fetched over HTTP.",
                fix="Report this source to its owner.",
            )
        except requests.exceptions.InvalidHeader:
            failure = TransferError(
                f"A request header for {host_of(url)} holds a line break or another character"
                " that cannot be sent.",
                fix="Copy the credentials again (a single line, nothing around them).",
            )
        except network_errors as exc:
            delay = budget.next_delay()
            if delay is None:
                failure = TransferError(
                    f"{method} {redact_url(url)} failed after {budget.failures} tries: "
                    f"{describe_network_error(exc)}.",
                    fix="Check the network connection, then rerun (downloads resume).",
                )
        else:
            if not is_retryable_status(response.status_code):
                return response
            delay = budget.next_delay(retry_after_seconds(response))
            if delay is None:
                return response
            response.close()
        if failure is not None:
            raise failure  # outside the handler: nothing of the request is chained to it
        assert delay is not None
        pause(policy, delay, stop_on)
