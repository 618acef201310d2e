"""A small client of Kaggle's public JSON RPC API (``POST {base}/v1/{service}/{Method}``).

Request bodies are built and answers read with kagglesdk's own message types (imported inside
the call that needs them), so field names and enum spellings are Kaggle's; sending goes through
the shared transfer layer (timeouts, bounded retries on 429/5xx). As lenient as kagglesdk: an
answer is read as JSON whatever its ``Content-Type`` says, and a download RPC may answer with
the bytes themselves instead of a redirect. Errors keep the server's own message and add the
fix, as ``MlenvError`` subclasses.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import (
    AccessDeniedError,
    BadSourceError,
    CredentialsError,
    MlenvError,
    NotFoundError,
    RateLimitedError,
    ServerError,
)
from .kaggle_auth import LOGIN_WAYS, TOKEN_PAGE, KaggleCredentials

if TYPE_CHECKING:
    import requests
    from kagglesdk.kaggle_object import KaggleObject

    from ..transfer import BodyHere, TransferPolicy

DATASETS = "datasets.DatasetApiService"
COMPETITIONS = "competitions.CompetitionApiService"
MODELS = "models.ModelApiService"
KERNELS = "kernels.KernelsApiService"
MAX_PAGES = 500  # listing calls stop here even if the server keeps sending page tokens
PAGE_SIZE = 200
ERROR_BODY_LIMIT = 1 << 20  # a download answer labelled JSON or HTML is read whole up to this
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

Message = TypeVar("Message", bound="KaggleObject")


@dataclass(frozen=True)
class Target:
    """What a call is about, for error messages."""

    kind: str  # "dataset", "competition", "model" or "notebook"
    ref: str
    web_url: str
    rules_url: str | None = None


@dataclass(frozen=True)
class RemoteEntry:
    name: str
    size: int | None


@dataclass(frozen=True)
class DownloadCall:
    """A download RPC ready to send (body built with kagglesdk's request type)."""

    service: str
    method: str
    body: Mapping[str, Any]


@dataclass(frozen=True)
class DownloadAnswer:
    """Where a download RPC's bytes are: behind ``url`` (the usual redirect), or in
    ``response``, an open streaming response whose body is the file itself."""

    url: str | None = None
    response: Any = None


@dataclass(frozen=True)
class ModelInstance:
    version: int  # the latest version of the variation
    total_bytes: int | None


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

    def _post(
        self,
        service: str,
        method: str,
        body: Mapping[str, Any],
        *,
        redirect: bool,
        stream: bool = False,
    ) -> Any:
        from ..transfer import TransferPolicy, send

        url = f"{self.base}/v1/{service}/{method}"
        headers = self._headers()
        if stream:  # a download answered with the bytes: sizes and hashes describe them as stored
            headers["Accept-Encoding"] = "identity"
        return send(
            self.session,
            "POST",
            url,
            policy=self.policy or TransferPolicy(),
            json=dict(body),
            headers=headers,
            allow_redirects=redirect,
            stream=stream,
        )

    def call(
        self, service: str, method: str, body: Mapping[str, Any], target: Target
    ) -> dict[str, Any]:
        """One RPC with a JSON answer, as a dict (read whatever its Content-Type says)."""
        response = self._post(service, method, body, redirect=True)
        payload = _json_or_none(response.content)
        raise_for_error(response.status_code, payload, response.text, target, self.credentials)
        if not isinstance(payload, dict):
            raise ServerError(
                f"Kaggle answered {method} with something that is not JSON"
                f" (HTTP {response.status_code}).",
                fix="Try again later; if it persists, check MLENV_KAGGLE_API.",
            )
        return payload

    def rpc(
        self,
        service: str,
        method: str,
        request: KaggleObject,
        response_type: type[Message],
        target: Target,
    ) -> Message:
        """One RPC: ``request`` (a kagglesdk message) out, a ``response_type`` message back."""
        payload = self.call(service, method, request.to_dict(), target)
        try:
            return response_type.from_dict(payload)
        except (KeyError, TypeError, ValueError, AttributeError):
            raise ServerError(
                f"Kaggle's answer to {method} for {target.ref} could not be read.",
                fix="Try again later; if it persists, update mlenv-magics and kagglesdk.",
            ) from None

    def download(self, call: DownloadCall, target: Target) -> DownloadAnswer:
        """Send a download RPC: the server answers 302 to a signed blob URL, or 200 with the
        bytes themselves (both accepted, as kagglesdk does)."""
        response = self._post(call.service, call.method, call.body, redirect=False, stream=True)
        status = response.status_code
        location = response.headers.get("Location")
        if status in REDIRECT_STATUSES and location:
            response.close()
            return DownloadAnswer(url=str(location))
        if 200 <= status < 300 and status != 204:
            if not _may_be_an_error_body(response):
                return DownloadAnswer(response=response)
            content = _read_limited(response, ERROR_BODY_LIMIT)
            if content is None:  # too big for an error answer: it is the file
                return DownloadAnswer(response=response)
            payload = _json_or_none(content)
            text = content.decode(errors="replace")
            raise_for_error(status, payload, text, target, self.credentials)
            return DownloadAnswer(response=response)  # a JSON (or HTML) file, already read
        try:  # an error page of any length: its start says enough
            head = next(response.iter_content(ERROR_BODY_LIMIT), b"")
            text = bytes(head).decode(errors="replace")
        finally:
            response.close()
        raise_for_error(status, _json_or_none(text.encode()), text, target, self.credentials)
        raise ServerError(
            f"Kaggle answered {call.method} for {target.ref} without a download link"
            f" (HTTP {status}).",
            fix="Try again later; if it persists, report it with the command you ran.",
        )

    def signed_url(
        self, service: str, method: str, body: Mapping[str, Any], target: Target
    ) -> str | BodyHere:
        """A download RPC's answer, as ``RemoteFile.resolve`` returns it: the signed URL it
        redirects to, or the bytes (:class:`~mlenv_magics.transfer.BodyHere`)."""
        from ..transfer import BodyHere

        answer = self.download(DownloadCall(service, method, body), target)
        if answer.url is not None:
            return answer.url
        disposition = answer.response.headers.get("Content-Disposition") or ""
        return BodyHere(answer.response, attachment_name(disposition))

    def resolver(self, call: DownloadCall, target: Target) -> Callable[[Any], str | BodyHere]:
        """A ``RemoteFile.resolve`` for a download RPC: the signed URL it redirects to, or the
        bytes when it answers with them."""

        def resolve(_session: Any) -> str | BodyHere:
            return self.signed_url(call.service, call.method, call.body, target)

        return resolve

    # ----------------------------------------------------------------- datasets
    def dataset_version(self, owner: str, slug: str, target: Target) -> int:
        from kagglesdk.datasets.types.dataset_api_service import ApiDataset, ApiGetDatasetRequest

        request = ApiGetDatasetRequest()
        request.owner_slug = owner
        request.dataset_slug = slug
        dataset = self.rpc(DATASETS, "GetDataset", request, ApiDataset, target)
        return _latest_version(dataset.current_version_number, target, "owner/slug/versions/N")

    def dataset_files(
        self, owner: str, slug: str, version: int, target: Target
    ) -> list[RemoteEntry]:
        from kagglesdk.datasets.types.dataset_api_service import (
            ApiListDatasetFilesRequest,
            ApiListDatasetFilesResponse,
        )

        def page(token: str) -> tuple[list[RemoteEntry], str | None, str | None]:
            request = ApiListDatasetFilesRequest()
            request.owner_slug = owner
            request.dataset_slug = slug
            request.dataset_version_number = version or None
            request.page_size = PAGE_SIZE
            request.page_token = token
            answer = self.rpc(
                DATASETS, "ListDatasetFiles", request, ApiListDatasetFilesResponse, target
            )
            entries = [RemoteEntry(f.name, _as_int(f.total_bytes)) for f in answer.dataset_files]
            return entries, answer.next_page_token, answer.error_message

        return _all_pages(page, target)

    def dataset_download(
        self, owner: str, slug: str, version: int | None, file_name: str | None = None
    ) -> DownloadCall:
        from kagglesdk.datasets.types.dataset_api_service import ApiDownloadDatasetRequest

        request = ApiDownloadDatasetRequest()
        request.owner_slug = owner
        request.dataset_slug = slug
        request.dataset_version_number = version
        request.file_name = file_name or None
        return DownloadCall(DATASETS, "DownloadDataset", request.to_dict())

    # ----------------------------------------------------------------- competitions
    def competition_files(self, slug: str, target: Target) -> list[RemoteEntry]:
        from kagglesdk.competitions.types.competition_api_service import (
            ApiListDataFilesRequest,
            ApiListDataFilesResponse,
        )

        def page(token: str) -> tuple[list[RemoteEntry], str | None, str | None]:
            request = ApiListDataFilesRequest()
            request.competition_name = slug
            request.page_size = PAGE_SIZE
            request.page_token = token
            answer = self.rpc(
                COMPETITIONS, "ListDataFiles", request, ApiListDataFilesResponse, target
            )
            entries = [RemoteEntry(f.name, _as_int(f.total_bytes)) for f in answer.files]
            return entries, answer.next_page_token, None

        return _all_pages(page, target)

    def competition_download(self, slug: str, file_name: str | None = None) -> DownloadCall:
        from kagglesdk.competitions.types.competition_api_service import (
            ApiDownloadDataFileRequest,
            ApiDownloadDataFilesRequest,
        )

        if file_name:
            one = ApiDownloadDataFileRequest()
            one.competition_name = slug
            one.file_name = file_name
            return DownloadCall(COMPETITIONS, "DownloadDataFile", one.to_dict())
        every = ApiDownloadDataFilesRequest()
        every.competition_name = slug
        return DownloadCall(COMPETITIONS, "DownloadDataFiles", every.to_dict())

    # ----------------------------------------------------------------- models
    def model_instance(
        self, owner: str, model: str, framework: str, variation: str, target: Target
    ) -> ModelInstance:
        """The latest version of a model variation (and its size, when Kaggle says it)."""
        from kagglesdk.models.types.model_api_service import (
            ApiGetModelInstanceRequest,
            ApiModelInstance,
        )

        request = ApiGetModelInstanceRequest()
        request.owner_slug = owner
        request.model_slug = model
        request.framework = model_framework(framework)
        request.instance_slug = variation
        answer = self.rpc(MODELS, "GetModelInstance", request, ApiModelInstance, target)
        version = _latest_version(answer.version_number, target, "model:.../variation/N")
        return ModelInstance(version, _as_int(answer.total_uncompressed_bytes))

    def model_files(
        self,
        owner: str,
        model: str,
        framework: str,
        variation: str,
        version: int,
        target: Target,
    ) -> list[RemoteEntry]:
        """Every file of a model version (all pages, unlike kagglehub's first 25)."""
        from kagglesdk.models.types.model_api_service import (
            ApiListModelInstanceVersionFilesRequest,
            ApiListModelInstanceVersionFilesResponse,
        )

        enum = model_framework(framework)

        def page(token: str) -> tuple[list[RemoteEntry], str | None, str | None]:
            request = ApiListModelInstanceVersionFilesRequest()
            request.owner_slug = owner
            request.model_slug = model
            request.framework = enum
            request.instance_slug = variation
            request.version_number = version
            request.page_size = PAGE_SIZE
            request.page_token = token
            answer = self.rpc(
                MODELS,
                "ListModelInstanceVersionFiles",
                request,
                ApiListModelInstanceVersionFilesResponse,
                target,
            )
            entries = [RemoteEntry(f.name, _as_int(f.size)) for f in answer.files]
            return entries, answer.next_page_token, None

        return _all_pages(page, target)

    def model_download(
        self,
        owner: str,
        model: str,
        framework: str,
        variation: str,
        version: int,
        path: str | None = None,
    ) -> DownloadCall:
        """One file of a model version (``path``), or the whole version as a tar.gz."""
        from kagglesdk.models.types.model_api_service import (
            ApiDownloadModelInstanceVersionRequest,
        )

        request = ApiDownloadModelInstanceVersionRequest()
        request.owner_slug = owner
        request.model_slug = model
        request.framework = model_framework(framework)
        request.instance_slug = variation
        request.version_number = version
        request.path = path or None
        return DownloadCall(MODELS, "DownloadModelInstanceVersion", request.to_dict())

    # ----------------------------------------------------------------- notebooks
    def notebook_version(self, owner: str, slug: str, target: Target) -> int:
        """The latest version of a notebook (the one whose outputs are served)."""
        from kagglesdk.kernels.types.kernels_api_service import (
            ApiGetKernelRequest,
            ApiGetKernelResponse,
        )

        request = ApiGetKernelRequest()
        request.user_name = owner
        request.kernel_slug = slug
        answer = self.rpc(KERNELS, "GetKernel", request, ApiGetKernelResponse, target)
        number = answer.metadata.current_version_number if answer.metadata else None
        return _latest_version(number, target, "notebook:owner/slug/versions/N")

    def notebook_files(
        self, owner: str, slug: str, version: int, target: Target
    ) -> list[RemoteEntry]:
        """The output files of a notebook version."""
        from kagglesdk.kernels.types.kernels_api_service import (
            ApiListKernelFilesRequest,
            ApiListKernelFilesResponse,
        )

        def page(token: str) -> tuple[list[RemoteEntry], str | None, str | None]:
            request = ApiListKernelFilesRequest()
            request.user_name = owner
            request.kernel_slug = slug
            request.version_label = f"v{version}"  # the API wants "v<N>", not the bare number
            request.page_size = PAGE_SIZE
            request.page_token = token
            answer = self.rpc(
                KERNELS, "ListKernelFiles", request, ApiListKernelFilesResponse, target
            )
            entries = [RemoteEntry(f.name, _as_int(f.size)) for f in answer.files]
            return entries, answer.next_page_token, None

        return _all_pages(page, target)

    def notebook_output_download(
        self, owner: str, slug: str, version: int, file_path: str | None = None
    ) -> DownloadCall:
        """One output file of a notebook version (``file_path``), or all of them as an archive."""
        from kagglesdk.kernels.types.kernels_api_service import ApiDownloadKernelOutputRequest

        request = ApiDownloadKernelOutputRequest()
        request.owner_slug = owner
        request.kernel_slug = slug
        request.version_number = version
        request.file_path = file_path or None
        return DownloadCall(KERNELS, "DownloadKernelOutput", request.to_dict())


def model_framework(key: str) -> Any:
    """kagglesdk's ``ModelFramework`` member for a framework key (``pytorch`` ->
    ``MODEL_FRAMEWORK_PY_TORCH``), matched the way sources.framework_key() writes keys."""
    from kagglesdk.models.types.model_enums import ModelFramework

    from .sources import framework_key

    for member in ModelFramework:
        name = member.name.removeprefix("MODEL_FRAMEWORK_")
        if member.value and framework_key(name) == framework_key(key):
            return member
    raise BadSourceError(
        f"The installed kagglesdk does not know the model framework {key!r}.",
        fix="Update kagglesdk (pip install -U kagglesdk), or check the framework's name.",
    )


def attachment_name(disposition: str) -> str | None:
    """The file name in a ``Content-Disposition`` header (``filename*=`` or ``filename=``)."""
    from email.message import Message

    message = Message()
    message["Content-Disposition"] = disposition
    name = message.get_filename()
    return str(PurePosixPath(name.replace("\\", "/")).name) or None if name else None


def _latest_version(number: Any, target: Target, pin: str) -> int:
    version = _as_int(number)
    if version is None or version < 1:
        raise ServerError(
            f"Kaggle did not say which version of {target.ref} is the latest.",
            fix=f"Pin a version: {pin}.",
        )
    return version


def _all_pages(page: Any, target: Target) -> list[RemoteEntry]:
    """Call ``page(token)`` until the server sends no new page token (bounded)."""
    entries: list[RemoteEntry] = []
    seen_tokens: set[str] = set()
    token = ""
    for _ in range(MAX_PAGES):
        chunk, next_token, message = page(token)
        if message:
            raise ServerError(f"Kaggle could not list {target.ref}: {message}", fix="Try again.")
        entries.extend(entry for entry in chunk if entry.name)
        token = str(next_token or "")
        if not token or token in seen_tokens:
            return entries
        seen_tokens.add(token)
    raise ServerError(
        f"Kaggle's file list for {target.ref} did not end after {MAX_PAGES} pages.",
        fix="Select files with --file, or download the whole archive.",
    )


def _may_be_an_error_body(response: Any) -> bool:
    """A 200 answer labelled JSON or HTML may be an error envelope rather than the file."""
    content_type = (response.headers.get("Content-Type") or "").lower()
    return "json" in content_type or "html" in content_type


def _read_limited(response: Any, limit: int) -> bytes | None:
    """The whole body when it announces at most ``limit`` bytes; None (nothing consumed)
    otherwise: error envelopes are small and say how small."""
    length = _as_int(response.headers.get("Content-Length"))
    if length is None or length > limit:
        return None
    return bytes(response.content)


def _as_int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _json_or_none(content: bytes) -> Any:
    """The body as JSON whatever its Content-Type says (as kagglesdk reads it); None if not."""
    try:
        return json.loads(content) if content else None
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
        if target.kind == "model":
            login = "" if credentials else " Log in first (see mlenv's Kaggle credentials)."
            return AccessDeniedError(
                f"Kaggle refused access to model {target.ref} for {who}. {said}",
                fix=f"This model may be gated: open {target.web_url}, accept its licence"
                " (logged in as the account whose credentials mlenv uses), then run this"
                f" again.{login}",
            )
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
