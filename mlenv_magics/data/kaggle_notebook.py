"""Services that exist only inside a notebook host: Kaggle's input mounts and in-notebook
attach endpoint, Kaggle user secrets, and the Kaggle cache of managed Colab runtimes.

Every wait here is bounded in time and reported through ``notice`` before it starts.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import (
    AccessDeniedError,
    CredentialsError,
    NotFoundError,
    ServerError,
    TransferError,
)
from ..pathnames import checked_mount_name
from .sources import KaggleCompetition, KaggleDataset, KaggleModel, KaggleNotebook

if TYPE_CHECKING:
    import requests

    from .kaggle_auth import KaggleCredentials

ATTACH_PATH = "/kaggle-jwt-handler/AttachDatasourceUsingJwtRequest"
USER_SECRET_PATH = "/requests/GetUserSecretByLabelRequest"
KAGGLE_WEB_DEFAULT = "https://www.kaggle.com"
TRUE_WORDS = {"true", "1", "t", "yes"}

Notice = Callable[[str], None]


def _policy(read_timeout: float) -> Any:
    from ..transfer import TransferPolicy

    return TransferPolicy(
        connect_timeout=5.0, read_timeout=read_timeout, max_attempts=3, max_elapsed=60.0
    )


def _send(session: requests.Session, url: str, *, read_timeout: float, **kwargs: Any) -> Any:
    from ..transfer import send

    return send(session, "POST", url, policy=_policy(read_timeout), **kwargs)


# ------------------------------------------------------------------- Kaggle mounts
def mounted_path(source: KaggleDataset | KaggleCompetition, input_root: Path) -> Path | None:
    """Where Kaggle shows data attached in the editor, if it is there."""
    if isinstance(source, KaggleDataset):
        candidates = [
            input_root / source.slug,
            input_root / "datasets" / source.owner / source.slug,
        ]
    else:
        candidates = [input_root / source.slug, input_root / "competitions" / source.slug]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    return None


# ------------------------------------------------------------------- Kaggle attach
def can_attach(env: Mapping[str, str]) -> bool:
    return (
        bool(env.get("KAGGLE_KERNEL_RUN_TYPE"))
        and bool(env.get("KAGGLE_DATA_PROXY_URL"))
        and bool(env.get("KAGGLE_USER_SECRETS_TOKEN"))
        and bool(env.get("KAGGLE_DATA_PROXY_TOKEN"))
        and (env.get("DISABLE_KAGGLE_CACHE") or "").lower() not in TRUE_WORDS
    )


@dataclass(frozen=True)
class Attached:
    mount_slug: str
    version: int | None


Attachable = KaggleDataset | KaggleCompetition | KaggleModel | KaggleNotebook


def attach(
    session: requests.Session,
    env: Mapping[str, str],
    source: Attachable,
) -> Attached:
    """Ask Kaggle to attach ``source`` to this notebook (it then appears under the input root)."""
    url = env["KAGGLE_DATA_PROXY_URL"].rstrip("/") + ATTACH_PATH
    headers = {
        "Content-Type": "application/json",
        "X-Kaggle-Authorization": f"Bearer {env['KAGGLE_USER_SECRETS_TOKEN']}",
        "X-KAGGLE-PROXY-DATA": env["KAGGLE_DATA_PROXY_TOKEN"],
    }
    body: dict[str, Any]
    if isinstance(source, KaggleDataset):
        ref: dict[str, str] = {"OwnerSlug": source.owner, "DatasetSlug": source.slug}
        if source.version is not None:
            ref["VersionNumber"] = str(source.version)
        body = {"datasetRef": ref}
    elif isinstance(source, KaggleModel | KaggleNotebook):
        body = _attach_ref(source)
    else:
        body = {"competitionRef": {"CompetitionSlug": source.slug}}
    response = _send(session, url, read_timeout=30.0, json=body, headers=headers)
    payload = _json(response)
    if response.status_code in (401, 403):
        raise CredentialsError(
            f"Kaggle's notebook data proxy refused to attach {source.ref}"
            f" (HTTP {response.status_code}).",
            fix="Restart the notebook session so Kaggle issues fresh notebook tokens, or add the"
            " data from the editor's Input panel (+ Add Input).",
        )
    if response.status_code >= 400 or not isinstance(payload, dict):
        raise ServerError(
            f"Kaggle could not attach {source.ref} (HTTP {response.status_code}):"
            f" {_short(response.text)}",
            fix="Add it from the editor's Input panel (+ Add Input), or try again.",
        )
    result = payload.get("result") if payload.get("wasSuccessful") else None
    if not isinstance(result, dict) or not result.get("mountSlug"):
        raise _attach_failure(source, payload)
    version = result.get("versionNumber")
    return Attached(
        checked_mount_name(result["mountSlug"], "Kaggle's attach endpoint"),
        version if isinstance(version, int) and version else None,
    )


def _attach_ref(source: KaggleModel | KaggleNotebook) -> dict[str, Any]:
    """The attach body of a model (``Framework`` as Kaggle's clients spell it) or a notebook's
    output; the inner keys are PascalCase and ``VersionNumber`` is a string."""
    ref: dict[str, str]
    if isinstance(source, KaggleModel):
        ref = {
            "OwnerSlug": source.owner,
            "ModelSlug": source.model,
            "Framework": source.framework_name,
            "InstanceSlug": source.variation,
        }
    else:
        ref = {"OwnerSlug": source.owner, "KernelSlug": source.slug}
    if source.version is not None:
        ref["VersionNumber"] = str(source.version)
    return {"modelRef" if isinstance(source, KaggleModel) else "kernelRef": ref}


def _attach_failure(source: Attachable, payload: dict[str, Any]) -> Exception:
    errors = payload.get("errors")
    reason = "; ".join(str(e) for e in errors) if isinstance(errors, list) and errors else ""
    reason = reason or _short(str(payload))
    lowered = reason.lower()
    if isinstance(source, KaggleCompetition) and "rules" in lowered:
        return AccessDeniedError(
            f"Kaggle could not attach competition {source.slug}: {reason}",
            fix=f"Accept the competition's rules at {source.rules_url}, then run this again.",
        )
    if isinstance(source, KaggleModel) and ("consent" in lowered or "terms" in lowered):
        return AccessDeniedError(
            f"Kaggle could not attach model {source.ref}: {reason}",
            fix=f"Accept the model's licence at {source.web_url}, then run this again.",
        )
    if "not found" in lowered:
        return NotFoundError(
            f"Kaggle could not attach {source.ref}: {reason}",
            fix=f"Check the slug: {source.web_url}",
        )
    return ServerError(
        f"Kaggle could not attach {source.ref}: {reason}",
        fix="Add it from the editor's Input panel (+ Add Input), or try again in a minute.",
    )


def wait_for_mount(
    path: Path, *, timeout: float, what: str, notice: Notice | None, poll: float = 0.2
) -> Path:
    """Wait until ``path`` exists, at most ``timeout`` seconds, saying so first."""
    if path.exists():
        return path
    if notice is not None:
        notice(f"Waiting up to {timeout:g} s for {what} to appear at {path} ...")
    deadline = time.monotonic() + timeout
    while not path.exists():
        left = deadline - time.monotonic()
        if left <= 0:
            raise ServerError(
                f"{what} did not appear at {path} within {timeout:g} s.",
                fix="Run the cell again in a minute; if it persists, add the data from the"
                " notebook's Input panel, or use --offline/--to to pick another source.",
            )
        time.sleep(min(poll, left))
    return path


# ------------------------------------------------------------------- Kaggle user secrets
def user_secret_fetcher(
    session: requests.Session, env: Mapping[str, str]
) -> Callable[[str], str | None]:
    """A function reading one Kaggle user secret by label (None when it is not defined)."""
    base = (env.get("KAGGLE_URL_BASE") or KAGGLE_WEB_DEFAULT).rstrip("/")
    headers = {
        "Content-Type": "application/json",
        "X-Kaggle-Authorization": f"Bearer {env.get('KAGGLE_USER_SECRETS_TOKEN', '')}",
    }
    if env.get("KAGGLE_IAP_TOKEN"):
        headers["Authorization"] = f"Bearer {env['KAGGLE_IAP_TOKEN']}"

    def fetch(label: str) -> str | None:
        try:
            response = _send(
                session,
                base + USER_SECRET_PATH,
                read_timeout=15.0,
                json={"Label": label},
                headers=headers,
            )
        except TransferError:
            return None  # unreachable secrets service: the next credential source is tried
        payload = _json(response)
        if response.status_code >= 400 or not isinstance(payload, dict):
            return None
        result = payload.get("result") if payload.get("wasSuccessful") else None
        secret = result.get("secret") if isinstance(result, dict) else None
        return secret.strip() if isinstance(secret, str) and secret.strip() else None

    return fetch


# ------------------------------------------------------------------- Colab's Kaggle cache
def colab_cache_available(env: Mapping[str, str]) -> bool:
    return bool(env.get("TBE_RUNTIME_ADDR")) and (
        (env.get("DISABLE_COLAB_CACHE") or "").lower() not in TRUE_WORDS
    )


def colab_cache_mount(
    session: requests.Session,
    env: Mapping[str, str],
    source: KaggleDataset | KaggleModel,
    credentials: KaggleCredentials | None,
) -> str | None:
    """The mount slug when Colab's cache has ``source``; None when it does not (or fails)."""
    import requests as requests_module

    base = "http://" + env["TBE_RUNTIME_ADDR"].strip().removeprefix("http://").rstrip("/")
    kind = "models" if isinstance(source, KaggleModel) else "datasets"
    body: dict[str, Any]
    if isinstance(source, KaggleModel):
        body = {
            "owner": source.owner,
            "model": source.model,
            "framework": source.framework_name,
            "variation": source.variation,
        }
    else:
        body = {"owner": source.owner, "dataset": source.slug}
    if source.version is not None:
        body["version"] = source.version
    headers = {"Content-Type": "application/json"}
    if credentials is not None:
        headers.update(credentials.auth_header())
    try:
        supported = _send(
            session,
            f"{base}/kagglehub/{kind}/is_supported",
            read_timeout=15.0,
            json=body,
            headers=headers,
        )
        if supported.status_code != 200:
            return None
        mounted = _send(
            session,
            f"{base}/kagglehub/{kind}/mount",
            read_timeout=60.0,
            json=body,
            headers=headers,
        )
    except (requests_module.RequestException, TransferError):
        return None  # the cache is only a shortcut: fall through to the download
    payload = _json(mounted)
    if mounted.status_code != 200 or not isinstance(payload, dict) or not payload.get("slug"):
        return None
    return checked_mount_name(payload["slug"], "Colab's Kaggle cache")


def _json(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _short(text: str) -> str:
    return " ".join((text or "").split())[:300]
