"""The requests of one file's download: its URL (resolved, refreshed once when a signature
expires), redirects followed by hand so the source's headers stay on its own host, and HTTP
statuses mapped to errors that name only the host and the file. When the source's resolver
answers with the bytes themselves (:class:`BodyHere`), that answer is the first response, and
each later request asks the resolver again (such an answer cannot be resumed by range)."""

from __future__ import annotations

import threading
from typing import Any, NoReturn

from ..errors import (
    AccessDeniedError,
    CredentialsError,
    NotFoundError,
    RateLimitedError,
    ServerError,
)
from .files import BodyHere, RemoteFile
from .http import MAX_REDIRECTS, REDIRECT_STATUSES, host_of, redirect_target, same_origin, send
from .shared import Cancelled, SharedState


class FileRequester:
    def __init__(self, shared: SharedState, remote: RemoteFile, relpath: str) -> None:
        self.shared = shared
        self.remote = remote
        self.relpath = relpath
        self.home_url: str | None = None  # the URL the source handed us (headers go there)
        self.url: str | None = None  # the URL to request next (a redirect target after one)
        self.re_resolved = False
        self.body: Any = None  # a response the resolver handed over, not yet requested
        self.body_answers = False  # the resolver hands bodies, not URLs
        self._lock = threading.Lock()
        self._refresh_lock = threading.Lock()

    def start(self) -> None:
        self._take(self._resolved())

    def _resolved(self) -> str | BodyHere:
        if self.remote.resolve is not None:
            return self.remote.resolve(self.shared.session)
        if self.remote.url is None:
            raise ServerError(f"No download URL for {self.relpath}.", fix="Report this source.")
        return self.remote.url

    def _take(self, resolved: str | BodyHere) -> None:
        with self._lock:
            if isinstance(resolved, BodyHere):
                self.body_answers = True
                self.body = resolved.response
                self.home_url = self.url = str(getattr(resolved.response, "url", "") or "")
            else:
                self.body_answers = False
                self.home_url = self.url = resolved

    def _fresh_url(self) -> str:
        resolved = self._resolved()
        if isinstance(resolved, BodyHere):
            resolved.response.close()
            raise ServerError(
                f"{self.relpath}: the source sent the bytes where a fresh link was needed.",
                fix="Rerun later; report it if it persists.",
            )
        return resolved

    def _next_body(self) -> Any | None:
        """The resolver's response to stream, asking the resolver again once it was used;
        None when the resolver now answers with a URL."""
        with self._lock:
            response, self.body = self.body, None
        if response is not None:
            return response
        self._take(self._resolved())
        with self._lock:
            response, self.body = self.body, None
        return response

    def where(self) -> str:
        return f"{host_of(self.url or '')} ({self.relpath})"

    def _headers(
        self, url: str, start: int, end: int | None, validator: str | None
    ) -> dict[str, str]:
        # sizes, ranges and x-goog-hash describe the stored bytes, not a compressed form
        headers: dict[str, str] = {"Accept-Encoding": "identity"}
        if self.home_url is not None and same_origin(url, self.home_url):
            headers.update(self.remote.headers)  # only to the exact origin they were meant for
        if start > 0 or end is not None:
            headers["Range"] = f"bytes={start}-" if end is None else f"bytes={start}-{end - 1}"
            if validator:
                headers["If-Range"] = validator
        return headers

    def get(
        self,
        start: int,
        end: int | None,
        validator: str | None,
        stop: threading.Event | None = None,
    ) -> Any:
        """GET bytes ``start``..``end`` of the current URL, following redirects by hand so the
        source's headers never reach another origin. When the resolver hands over bodies, the
        next one is returned whatever range was asked for (it answers 200, not 206). Ctrl-C,
        a failing neighbour or ``stop`` ends it, back-off waits included (Cancelled)."""
        stops = (self.shared.cancel,) if stop is None else (self.shared.cancel, stop)
        if self.body_answers:
            if any(event.is_set() for event in stops):
                raise Cancelled
            body = self._next_body()
            if body is not None:
                return body
        start_url = url = self.url or ""
        for _ in range(MAX_REDIRECTS + 1):
            response = send(
                self.shared.session,
                "GET",
                url,
                policy=self.shared.policy,
                stop_on=stops,
                headers=self._headers(url, start, end, validator),
                stream=True,
                allow_redirects=False,
            )
            if any(event.is_set() for event in stops):
                response.close()  # cancelled while it was on its way: nothing gets written
                raise Cancelled
            location = response.headers.get("Location")
            if response.status_code in REDIRECT_STATUSES and location:
                response.close()
                url = redirect_target(url, location)
                continue
            if url != start_url:
                with self._lock:
                    if self.url == start_url:  # later requests go straight to the target
                        self.url = url
            return response
        raise ServerError(f"Too many redirects for {self.relpath}.", fix="Report this source.")

    def refresh_after(self, used_url: str) -> bool:
        """After a 400/403 from ``used_url``: get a fresh signed URL once; False when spent."""
        with self._refresh_lock:
            if self.url != used_url:
                return True  # another range already refreshed it
            can_refresh = self.remote.resolve is not None or self.url != self.home_url
            if not can_refresh or self.re_resolved:
                return False
            self.re_resolved = True
            fresh = self._fresh_url()
            with self._lock:
                self.home_url = self.url = fresh
            return True

    def raise_for_status(self, response: Any, offset: int) -> NoReturn:
        status = response.status_code
        response.close()
        where = self.where()
        resume = " The partial download is kept; a rerun resumes." if offset else ""
        if status == 401:
            raise CredentialsError(
                f"{where} rejected the credentials (401).",
                fix="Log in again (or refresh the token), then rerun.",
            )
        if status in (400, 403):
            raise AccessDeniedError(
                f"{where} refused the download ({status}).",
                fix="Check that you have access (and that the link is still valid), then rerun.",
            )
        if status == 404:
            raise NotFoundError(
                f"{where} has no such file (404).",
                fix="Check the name; the file may have been removed from the source.",
            )
        if status == 429:
            raise RateLimitedError(
                f"{where} kept answering 429 Too Many Requests.{resume}",
                fix="Wait a few minutes, then rerun to resume.",
            )
        if 500 <= status <= 599:
            raise ServerError(
                f"{where} kept failing with HTTP {status}.{resume}",
                fix="Rerun later to resume.",
            )
        raise ServerError(
            f"{where} answered an unexpected HTTP {status}.",
            fix="Rerun later; report it if it persists.",
        )
