"""Kaggle's kernels service over the shared transport (timeouts, bounded retries), with
credentials resolved as for downloads and never shown."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .. import config
from ..errors import CredentialsError, ServerError
from . import protocol
from .options import KernelRef

if TYPE_CHECKING:
    import requests

    from ..data.kaggle_auth import KaggleCredentials
    from ..transfer import TransferPolicy

MAX_OUTPUT_PAGES = 200  # a listing stops here even if the server keeps sending page tokens


def resolve_credentials(env: Mapping[str, str], session: requests.Session) -> KaggleCredentials:
    """The first source the official clients accept, then Colab or Kaggle notebook secrets."""
    from ..data.kaggle_auth import (
        colab_secret_credentials,
        kaggle_secret_credentials,
        local_credentials,
        missing_credentials_error,
    )
    from ..runtime import detect_runtime

    found = local_credentials(env)
    if found is None:
        host = detect_runtime(env).host
        found = colab_secret_credentials(host == "colab")
        if found is None and host == "kaggle":
            from ..data.kaggle_notebook import user_secret_fetcher

            found = kaggle_secret_credentials(env, user_secret_fetcher(session, env))
    if found is None:
        raise missing_credentials_error("running a notebook on Kaggle")
    return found


class KernelsClient:
    def __init__(
        self,
        session: requests.Session,
        credentials: KaggleCredentials,
        *,
        base: str | None = None,
        policy: TransferPolicy | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.session = session
        self.credentials = credentials
        self.base = (base or config.kaggle_api_base(env)).rstrip("/")
        self.policy = policy
        self._username: str | None = credentials.username

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, policy: TransferPolicy | None = None
    ) -> KernelsClient:
        from ..transfer import make_session

        env = dict(os.environ if env is None else env)
        session = make_session(env)
        return cls(session, resolve_credentials(env, session), policy=policy, env=env)

    def close(self) -> None:
        self.session.close()

    # ----------------------------------------------------------------- transport
    def _headers(self) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "Accept": "application/json",
            **self.credentials.auth_header(),
        }

    def _transfer_policy(self) -> TransferPolicy:
        from ..transfer import TransferPolicy

        return self.policy or TransferPolicy()

    def post(self, service: str, method: str, body: Mapping[str, Any], ref: str) -> tuple[int, Any]:
        """POST one RPC; return (HTTP or envelope status, JSON payload). Errors other than 404
        raise the user-facing error for them."""
        from ..data.kaggle_api import Target, raise_for_error
        from ..transfer import send

        response = send(
            self.session,
            "POST",
            f"{self.base}/v1/{service}/{method}",
            policy=self._transfer_policy(),
            json=dict(body),
            headers=self._headers(),
        )
        payload: Any = None
        if "json" in response.headers.get("Content-Type", ""):
            try:
                payload = response.json()
            except ValueError:
                payload = None
        code = response.status_code
        if isinstance(payload, dict) and isinstance(payload.get("code"), int):
            code = max(code, payload["code"])
        if code == 404:
            return 404, payload
        target = Target("notebook", ref, f"https://www.kaggle.com/code/{ref}")
        raise_for_error(response.status_code, payload, response.text, target, self.credentials)
        if not isinstance(payload, dict):
            raise ServerError(
                f"Kaggle answered {method} with something that is not JSON"
                f" (HTTP {response.status_code}); this happens when it throttles requests.",
                fix="Wait a minute and try again; if it persists, check MLENV_KAGGLE_API.",
            )
        return code, payload

    def _must(self, method: str, body: Mapping[str, Any], ref: str) -> dict[str, Any]:
        code, payload = self.post(protocol.SERVICE, method, body, ref)
        if code == 404:
            from ..errors import NotFoundError

            message = payload.get("message") if isinstance(payload, dict) else None
            raise NotFoundError(
                f"Kaggle has no notebook {ref} (or it is private to another account)."
                + (f" Kaggle said: {message}" if message else ""),
                fix=f"Check the name: https://www.kaggle.com/code/{ref}",
            )
        result: dict[str, Any] = payload
        return result

    # ----------------------------------------------------------------- calls
    def username(self) -> str:
        if self._username:
            return self._username
        _, payload = self.post(
            "security.OAuthService",
            "IntrospectToken",
            protocol.introspect_body(self.credentials.secret),
            "your account",
        )
        name = protocol.introspected_user(payload if isinstance(payload, dict) else {})
        if not name:
            raise CredentialsError(
                f"Kaggle did not accept the token from {self.credentials.source_name}.",
                fix="Create a new API token at https://www.kaggle.com/settings/api.",
            )
        self._username = name
        return name

    def save_kernel(self, spec: protocol.SaveKernelSpec) -> protocol.PushAnswer:
        payload = self._must("SaveKernel", protocol.save_kernel_body(spec), spec.ref)
        return protocol.push_answer(payload)

    def status(self, kernel: KernelRef) -> protocol.StatusAnswer | None:
        """The latest session's status; None when Kaggle answers 404 (none visible yet)."""
        body = protocol.status_body(kernel.owner, kernel.slug, kernel.version_label)
        code, payload = self.post(protocol.SERVICE, "GetKernelSessionStatus", body, kernel.ref)
        if code == 404:
            return None
        return protocol.status_answer(payload)

    def outputs(self, kernel: KernelRef) -> tuple[list[tuple[str, str]], str]:
        """Every output file (name, signed URL) of the session, walking all pages, and its log."""
        files: list[tuple[str, str]] = []
        seen: set[str] = set()
        token, log = "", ""
        for _ in range(MAX_OUTPUT_PAGES):
            body = protocol.output_body(kernel.owner, kernel.slug, token, kernel.version_label)
            page = protocol.output_page(self._must("ListKernelSessionOutput", body, kernel.ref))
            files.extend(page.files)
            log = log or page.log
            if not page.next_token or page.next_token in seen:
                return files, log
            seen.add(page.next_token)
            token = page.next_token
        raise ServerError(
            f"Kaggle's output list of {kernel.ref} did not end after {MAX_OUTPUT_PAGES} pages.",
            fix="Download the rest from the notebook's page on kaggle.com.",
        )

    def kernel(self, kernel: KernelRef) -> protocol.KernelInfo:
        body = protocol.get_kernel_body(kernel.owner, kernel.slug, kernel.version_label)
        return protocol.kernel_info(self._must("GetKernel", body, kernel.ref))

    def quota(
        self,
    ) -> tuple[str | None, protocol.QuotaNumbers | None, protocol.QuotaNumbers | None]:
        payload = self._must("GetAcceleratorQuotaStatistics", protocol.quota_body(), "quota")
        return protocol.quota_answer(payload)

    def log_stream(self, kernel: KernelRef, read_timeout: float) -> requests.Response:
        """The live log: server-sent events while the session runs, the saved log after."""
        from ..transfer import send

        params = {"versionLabel": kernel.version_label} if kernel.version_label else None
        headers = {**self.credentials.auth_header(), "Accept": "text/event-stream, */*"}
        policy = self._transfer_policy()
        return send(
            self.session,
            "GET",
            f"{self.base}/v1/kernels/logs/stream/{kernel.owner}/{kernel.slug}",
            policy=policy,
            headers=headers,
            params=params,
            stream=True,
            timeout=(policy.connect_timeout, read_timeout),
        )
