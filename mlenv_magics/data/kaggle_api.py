"""A small client of Kaggle's public JSON RPC API (``POST {base}/v1/{service}/{Method}``).

Requests go through the shared transfer layer (timeouts, bounded retries on 429/5xx).
Errors keep the server's own message and add the fix, as ``MlenvError`` subclasses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import (
    AccessDeniedError,
    CredentialsError,
    MlenvError,
    NotFoundError,
    RateLimitedError,
    ServerError,
)
from .kaggle_auth import LOGIN_WAYS, TOKEN_PAGE, KaggleCredentials

if TYPE_CHECKING:
    import requests

    from ..transfer import TransferPolicy

DATASETS = "datasets.DatasetApiService"
COMPETITIONS = "competitions.CompetitionApiService"
MAX_PAGES = 500  # listing calls stop here even if the server keeps sending page tokens


@dataclass(frozen=True)
class Target:
    """What a call is about, for error messages."""

    kind: str  # "dataset" or "competition"
    ref: str
    web_url: str
    rules_url: str | None = None


@dataclass(frozen=True)
class RemoteEntry:
    name: str
    size: int | None


class KaggleApiError(MlenvError):
    """Base for errors raised here (each is also one of the user-facing subclasses)."""


class KaggleApi:
    def __init__(
        self,
        session: requests.Session,
        base: str,
        credentials: KaggleCredentials | None,
        policy: TransferPolicy | None = None,
    ) -> None:
        self.session = session
        self.base = base.rstrip("/")
        self.credentials = credentials
        self.policy = policy

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.credentials is not None:
            headers.update(self.credentials.auth_header())
        return headers

    def _post(self, service: str, method: str, body: Mapping[str, Any], *, redirect: bool) -> Any:
        from ..transfer import TransferPolicy, send

        url = f"{self.base}/v1/{service}/{method}"
        return send(
            self.session,
            "POST",
            url,
            policy=self.policy or TransferPolicy(),
            json=dict(body),
            headers=self._headers(),
            allow_redirects=redirect,
        )

    def call(
        self, service: str, method: str, body: Mapping[str, Any], target: Target
    ) -> dict[str, Any]:
        response = self._post(service, method, body, redirect=True)
        payload = _json_or_none(response)
        raise_for_error(response.status_code, payload, response.text, target, self.credentials)
        if not isinstance(payload, dict):
            raise ServerError(
                f"Kaggle answered {method} with something that is not JSON"
                f" (HTTP {response.status_code}).",
                fix="Try again later; if it persists, check MLENV_KAGGLE_API.",
            )
        return payload

    def signed_url(self, service: str, method: str, body: Mapping[str, Any], target: Target) -> str:
        """A download RPC: the server answers 302 to a signed blob URL; return that URL."""
        response = self._post(service, method, body, redirect=False)
        location = response.headers.get("Location")
        if response.status_code in (301, 302, 303, 307, 308) and location:
            return str(location)
        payload = _json_or_none(response)
        raise_for_error(response.status_code, payload, response.text, target, self.credentials)
        raise ServerError(
            f"Kaggle answered {method} for {target.ref} without a download link"
            f" (HTTP {response.status_code}).",
            fix="Try again later; if it persists, report it with the command you ran.",
        )

    # ----------------------------------------------------------------- datasets
    def dataset_version(self, owner: str, slug: str, target: Target) -> int:
        payload = self.call(
            DATASETS, "GetDataset", {"ownerSlug": owner, "datasetSlug": slug}, target
        )
        version = payload.get("currentVersionNumber")
        if not isinstance(version, int) or version < 1:
            raise ServerError(
                f"Kaggle did not say which version of {target.ref} is the latest.",
                fix="Pin a version: owner/slug/versions/N.",
            )
        return version

    def dataset_files(
        self, owner: str, slug: str, version: int, target: Target
    ) -> list[RemoteEntry]:
        body = {"ownerSlug": owner, "datasetSlug": slug, "datasetVersionNumber": version}
        return self._paged(DATASETS, "ListDatasetFiles", body, "datasetFiles", target)

    def competition_files(self, slug: str, target: Target) -> list[RemoteEntry]:
        body = {"competitionName": slug}
        return self._paged(COMPETITIONS, "ListDataFiles", body, "files", target)

    def _paged(
        self, service: str, method: str, body: Mapping[str, Any], key: str, target: Target
    ) -> list[RemoteEntry]:
        entries: list[RemoteEntry] = []
        seen_tokens: set[str] = set()
        token = ""
        for _ in range(MAX_PAGES):
            payload = self.call(
                service, method, {**body, "pageSize": 200, "pageToken": token}, target
            )
            message = payload.get("errorMessage")
            if message:
                raise ServerError(
                    f"Kaggle could not list {target.ref}: {message}", fix="Try again."
                )
            for item in payload.get(key) or []:
                if isinstance(item, dict) and item.get("name"):
                    size = item.get("totalBytes")
                    entries.append(RemoteEntry(str(item["name"]), _as_int(size)))
            token = str(payload.get("nextPageToken") or "")
            if not token or token in seen_tokens:
                return entries
            seen_tokens.add(token)
        raise ServerError(
            f"Kaggle's file list for {target.ref} did not end after {MAX_PAGES} pages.",
            fix="Select files with --file, or download the whole archive.",
        )


def _as_int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _json_or_none(response: Any) -> Any:
    content_type = response.headers.get("Content-Type", "")
    if "json" not in content_type:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def raise_for_error(
    status: int,
    payload: Any,
    text: str,
    target: Target,
    credentials: KaggleCredentials | None,
) -> None:
    """Map Kaggle's answer to an error the user can act on. Error envelopes
    ``{"code": >=400, "message": ...}`` count even when the HTTP status is 200."""
    code = status
    message = ""
    envelope_code = payload.get("code") if isinstance(payload, dict) else None
    if isinstance(envelope_code, int) and envelope_code >= 400:
        code = envelope_code
        message = str(payload.get("message") or "")
    if code < 400:
        return
    if not message:
        message = _short(text) or f"HTTP {code}"
    raise error_for(code, message, target, credentials)


def error_for(
    code: int, message: str, target: Target, credentials: KaggleCredentials | None
) -> MlenvError:
    said = f"Kaggle said: {message}"
    if code == 401:
        if credentials is None:
            return CredentialsError(
                f"Kaggle needs you to log in for {target.kind} {target.ref}. {said}",
                fix=LOGIN_WAYS,
            )
        return CredentialsError(
            f"Kaggle rejected the credentials from {credentials.source_name}. {said}",
            fix=f"Create a new API token at {TOKEN_PAGE} and replace the old one there.",
        )
    if code == 403:
        if target.kind == "competition" and target.rules_url:
            return AccessDeniedError(
                f"Kaggle refused access to competition {target.ref}. {said}",
                fix=f"Accept the competition's rules at {target.rules_url} (logged in as the"
                " account whose credentials mlenv uses), then run this again.",
            )
        who = f"the account from {credentials.source_name}" if credentials else "anonymous use"
        return AccessDeniedError(
            f"Kaggle refused access to {target.kind} {target.ref} for {who}. {said}",
            fix=f"Open {target.web_url} to request access or accept its terms, or use"
            " credentials of an account that can see it.",
        )
    if code == 404:
        return NotFoundError(
            f"Kaggle has no {target.kind} {target.ref} (or it is private). {said}",
            fix=f"Check the slug: {target.web_url}",
        )
    if code == 429:
        return RateLimitedError(
            f"Kaggle kept rate-limiting requests for {target.ref} after several retries. {said}",
            fix="Wait a few minutes, then run this again.",
        )
    if code >= 500:
        return ServerError(
            f"Kaggle kept failing for {target.ref} (HTTP {code}). {said}",
            fix="Try again later; https://status.kaggle.com shows outages.",
        )
    return ServerError(
        f"Kaggle refused the request for {target.ref} (HTTP {code}). {said}",
        fix="Check the source and options, then run again.",
    )


def _short(text: str) -> str:
    text = " ".join((text or "").split())
    return text[:300]
