"""Request bodies and answers of Kaggle's kernels service, built and read with kagglesdk's own
types (imported when first used; ``%load_ext`` never imports kagglesdk)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

SERVICE = "kernels.KernelsApiService"
ACTIVE = frozenset({"queued", "running", "new_script", "cancel_requested"})
TERMINAL = frozenset({"complete", "error", "cancel_acknowledged"})


def _types() -> Any:
    from kagglesdk.kernels.types import kernels_api_service

    return kernels_api_service


@dataclass(frozen=True)
class SaveKernelSpec:
    ref: str  # owner/slug
    title: str
    text: str  # the notebook JSON
    machine_shape: str | None
    internet: bool
    session_timeout_seconds: int
    datasets: tuple[str, ...] = ()
    competitions: tuple[str, ...] = ()
    kernels: tuple[str, ...] = ()
    models: tuple[str, ...] = ()


def save_kernel_body(spec: SaveKernelSpec) -> dict[str, Any]:
    request = _types().ApiSaveKernelRequest()
    request.slug = spec.ref
    request.new_title = spec.title
    request.text = spec.text
    request.language = "python"
    request.kernel_type = "notebook"
    request.is_private = True
    request.enable_gpu = False  # the machine shape decides; enableGpu alone meant a P100
    request.enable_tpu = False
    request.enable_internet = spec.internet
    request.dataset_data_sources = list(spec.datasets)
    request.competition_data_sources = list(spec.competitions)
    request.kernel_data_sources = list(spec.kernels)
    request.model_data_sources = list(spec.models)
    request.session_timeout_seconds = spec.session_timeout_seconds
    if spec.machine_shape:
        request.machine_shape = spec.machine_shape
    body: dict[str, Any] = request.to_dict()
    return body


@dataclass(frozen=True)
class PushAnswer:
    ref: str | None
    url: str | None
    version: int | None
    error: str
    invalid: dict[str, list[str]]


def push_answer(payload: dict[str, Any]) -> PushAnswer:
    response = _types().ApiSaveKernelResponse.from_dict(payload)
    invalid = {
        "datasets": list(response.invalid_dataset_sources or []),
        "competitions": list(response.invalid_competition_sources or []),
        "notebooks": list(response.invalid_kernel_sources or []),
        "models": list(response.invalid_model_sources or []),
        "tags": list(response.invalid_tags or []),
    }
    return PushAnswer(
        ref=response.ref or None,
        url=response.url or None,
        version=response.version_number or None,
        error=response.error or "",
        invalid=invalid,
    )


def _by_kernel(request: Any, owner: str, slug: str, version_label: str | None) -> Any:
    request.user_name = owner
    request.kernel_slug = slug
    if version_label:
        request.version_label = version_label
    return request


def status_body(owner: str, slug: str, version_label: str | None = None) -> dict[str, Any]:
    request = _by_kernel(_types().ApiGetKernelSessionStatusRequest(), owner, slug, version_label)
    body: dict[str, Any] = request.to_dict()
    return body


@dataclass(frozen=True)
class StatusAnswer:
    state: str  # queued, running, complete, error, cancel_requested, cancel_acknowledged, ...
    failure: str

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL


def status_answer(payload: dict[str, Any]) -> StatusAnswer:
    try:
        response = _types().ApiGetKernelSessionStatusResponse.from_dict(payload)
    except (KeyError, ValueError, TypeError):
        # A status name this kagglesdk does not know: keep waiting, bounded by --timeout.
        return StatusAnswer(str(payload.get("status") or "unknown").lower(), "")
    # ``{}`` parses as QUEUED: proto3 leaves out the zero value, and a just-pushed kernel says so.
    return StatusAnswer(response.status.name.lower(), response.failure_message or "")


def output_body(
    owner: str, slug: str, page_token: str, version_label: str | None = None, page_size: int = 200
) -> dict[str, Any]:
    request = _by_kernel(_types().ApiListKernelSessionOutputRequest(), owner, slug, version_label)
    request.page_size = page_size
    request.page_token = page_token
    body: dict[str, Any] = request.to_dict()
    body.setdefault("pageToken", page_token)
    return body


@dataclass(frozen=True)
class OutputPage:
    files: list[tuple[str, str]]  # (fileName, signed url)
    log: str
    next_token: str


def output_page(payload: dict[str, Any]) -> OutputPage:
    response = _types().ApiListKernelSessionOutputResponse.from_dict(payload)
    files = [(f.file_name, f.url) for f in response.files or [] if f.file_name and f.url]
    return OutputPage(files, response.log or "", response.next_page_token or "")


def get_kernel_body(owner: str, slug: str, version_label: str | None = None) -> dict[str, Any]:
    request = _by_kernel(_types().ApiGetKernelRequest(), owner, slug, version_label)
    body: dict[str, Any] = request.to_dict()
    return body


@dataclass(frozen=True)
class KernelInfo:
    ref: str
    title: str
    current_version: int | None
    machine_shape: str | None
    source: str


def kernel_info(payload: dict[str, Any]) -> KernelInfo:
    response = _types().ApiGetKernelResponse.from_dict(payload)
    metadata, blob = response.metadata, response.blob
    return KernelInfo(
        ref=(metadata.ref if metadata else "") or "",
        title=(metadata.title if metadata else "") or "",
        current_version=(metadata.current_version_number if metadata else None) or None,
        machine_shape=(metadata.machine_shape if metadata else None) or None,
        source=(blob.source if blob else "") or "",
    )


def quota_body() -> dict[str, Any]:
    body: dict[str, Any] = _types().ApiGetAcceleratorQuotaStatisticsRequest().to_dict()
    return body


@dataclass(frozen=True)
class QuotaNumbers:
    used_s: float | None
    reserved_s: float | None
    total_s: float | None
    pay_to_scale: bool

    @property
    def remaining_s(self) -> float | None:
        if self.total_s is None:
            return None
        return max(self.total_s - (self.used_s or 0.0) - (self.reserved_s or 0.0), 0.0)


def _seconds(value: timedelta | None) -> float | None:
    return value.total_seconds() if value is not None else None


def quota_answer(
    payload: dict[str, Any],
) -> tuple[str | None, QuotaNumbers | None, QuotaNumbers | None]:
    response = _types().ApiGetAcceleratorQuotaStatisticsResponse.from_dict(payload)

    def numbers(quota: Any) -> QuotaNumbers | None:
        if quota is None:
            return None
        return QuotaNumbers(
            _seconds(quota.time_used),
            _seconds(quota.time_reserved),
            _seconds(quota.total_time_allowed),
            bool(quota.is_pay_to_scale_enabled),
        )

    refresh = response.quota_refresh_time
    refresh_text = refresh.strftime("%Y-%m-%d %H:%M UTC") if refresh else None
    return refresh_text, numbers(response.gpu_quota), numbers(response.tpu_quota)


def introspect_body(token: str) -> dict[str, Any]:
    from kagglesdk.security.types.oauth_service import IntrospectTokenRequest

    request = IntrospectTokenRequest()
    request.token = token
    body: dict[str, Any] = request.to_dict()
    return body


def introspected_user(payload: dict[str, Any]) -> str | None:
    from kagglesdk.security.types.oauth_service import IntrospectTokenResponse

    response = IntrospectTokenResponse.from_dict(payload)
    return response.username if response.active and response.username else None


def log_events(text: str) -> list[dict[str, Any]]:
    """The session log: a JSON array of ``{stream_name, time, data}``; plain text otherwise."""
    if not text:
        return []
    try:
        payload = json.loads(text)
    except ValueError:
        return [{"stream_name": "stdout", "data": text}]
    events = payload if isinstance(payload, list) else [payload]
    return [e for e in events if isinstance(e, dict)]
