"""Google Drive credentials for PyDrive2, without any browser loop.

Sources, first match wins:

1. ``GOOGLE_APPLICATION_CREDENTIALS`` naming a service-account key (any host);
2. on Colab, Colab's own user auth (``google.colab.auth.authenticate_user()`` and
   application-default credentials, refreshed and adapted for PyDrive2);
3. ``GOOGLE_APPLICATION_CREDENTIALS`` naming saved user credentials (``authorized_user``);
4. mlenv's saved user credentials, ``<config dir>/drive-credentials.json`` (mode 0600).

PyDrive2 falls back to ``LocalWebserverAuth`` (a browser and a localhost server that hang a
notebook) when a token looks expired and its ``auth_method`` is not ``"service"``; every
credential here is marked ``"service"`` and the interactive flows are replaced by a
:class:`CredentialsError`. The Drive service is built against ``MLENV_DRIVE_API``.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .. import config
from ..errors import CredentialsError, TransferError

DRIVE_SCOPE = "https://www.googleapis.com/auth/drive.readonly"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
SAVED_CREDENTIALS_NAME = "drive-credentials.json"
USER_AGENT = "mlenv-magics"

_SETUP_HELP = (
    "On Colab, run the cell in the notebook so Colab can ask for Drive access. Elsewhere, set "
    "GOOGLE_APPLICATION_CREDENTIALS to a service-account key file (and share the Drive files "
    "with its client_email), or save authorized-user credentials (JSON with client_id, "
    "client_secret and refresh_token) to {saved} with mode 0600."
)


def setup_help(env: Mapping[str, str]) -> str:
    return _SETUP_HELP.format(saved=saved_credentials_path(env))


def saved_credentials_path(env: Mapping[str, str]) -> Path:
    return config.config_dir(env) / SAVED_CREDENTIALS_NAME


class _BearerHeaders(Mapping[str, str]):
    """``Authorization`` (and the resource-key header) read at request time, so a transfer
    that outlives the access token sends a refreshed one. Its repr hides the token."""

    def __init__(self, client: DriveClient, extra: Mapping[str, str]) -> None:
        self._client = client
        self._extra = dict(extra)

    def __getitem__(self, key: str) -> str:
        if key == "Authorization":
            return f"Bearer {self._client.access_token()}"
        return self._extra[key]

    def __iter__(self) -> Iterator[str]:
        return iter([*self._extra, "Authorization"])

    def __len__(self) -> int:
        return len(self._extra) + 1

    def __repr__(self) -> str:
        return repr({**self._extra, "Authorization": "Bearer <hidden>"})


@dataclass
class DriveClient:
    """An authorized PyDrive2 ``GoogleDrive`` plus what media downloads need."""

    drive: Any  # pydrive2.drive.GoogleDrive
    auth: Any  # the GoogleAuth behind it
    source: str  # the credential source, by name
    api_base: str
    env: Mapping[str, str] = field(default_factory=dict, repr=False)

    def access_token(self) -> str:
        """A valid access token, refreshed first when it expired."""
        import httplib2
        from google.auth.exceptions import TransportError as GoogleAuthTransportError

        credentials = self.auth.credentials
        try:
            info = credentials.get_access_token(self.auth._build_http())
        except CredentialsError:
            raise
        except (OSError, httplib2.HttpLib2Error, GoogleAuthTransportError) as error:
            raise TransferError(
                f"Google's token endpoint could not be reached ({type(error).__name__}).",
                fix="Check the network connection, then rerun." + network_hint(self.env),
            ) from None
        except Exception as error:
            raise rejected(self.source, error) from None
        return str(info.access_token)

    def media_headers(
        self, resource_key: str | None = None, file_id: str = ""
    ) -> Mapping[str, str]:
        extra = {"X-Goog-Drive-Resource-Keys": f"{file_id}/{resource_key}"} if resource_key else {}
        return _BearerHeaders(self, extra)

    def __repr__(self) -> str:
        return f"DriveClient(source={self.source!r}, api_base={self.api_base!r})"


def rejected(source: str, error: BaseException) -> CredentialsError:
    """Google refused the credentials; name the source and the OAuth error code only."""
    reason = _oauth_error_code(error)
    detail = f" ({reason})" if reason else ""
    return CredentialsError(
        f"Google rejected the Drive credentials from {source}{detail}.",
        fix="Check that the key or saved login is current and not revoked, or replace it "
        "(GOOGLE_APPLICATION_CREDENTIALS, or the saved drive-credentials.json).",
    )


_PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY")
_CA_VARIABLES = ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "HTTPLIB2_CA_CERTS")


def network_hint(env: Mapping[str, str]) -> str:
    """Advice on the proxy and CA settings the Drive client sees, as text to append to a
    fix (empty or starting with a space). Proxy URLs are shown without user or password."""
    proxies = {
        name: _proxy_address(value)
        for name in _PROXY_VARIABLES
        if (value := env.get(name) or env.get(name.lower()))
    }
    has_pysocks = _pysocks_installed()
    hints: list[str] = []
    if proxies:
        shown = ", ".join(f"{name}={address}" for name, address in proxies.items())
        hints.append(f"Proxy settings: {shown}; check that the proxy is reachable.")
        if not has_pysocks:
            hints.append(
                "Google Drive's HTTP client (httplib2) ignores proxy settings unless PySocks "
                "is installed: pip install PySocks, then restart the kernel."
            )
    else:
        socks_step = "" if has_pysocks else " and pip install PySocks"
        hints.append(f"If this network needs a proxy, set HTTPS_PROXY{socks_step}.")
    certificates = [f"{name}={env[name]}" for name in _CA_VARIABLES if env.get(name)]
    if certificates:
        hints.append(f"CA certificates: {', '.join(certificates)}.")
    return "".join(f" {hint}" for hint in hints)


def _pysocks_installed() -> bool:
    return importlib.util.find_spec("socks") is not None


def _proxy_address(url: str) -> str:
    """``scheme://host:port`` of a proxy URL, never its user or password."""
    try:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        host = parts.hostname or "?"
        host = f"[{host}]" if ":" in host else host
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(unparsable URL)"
    return f"{parts.scheme}://{host}{port}"


def _oauth_error_code(error: BaseException) -> str:
    text = str(error)
    for code in ("invalid_grant", "invalid_client", "unauthorized_client", "access_denied"):
        if code in text:
            return code
    return type(error).__name__


class _GoogleAuthCredentialsAdapter:
    """A google-auth credential seen through the oauth2client interface PyDrive2 uses."""

    def __init__(self, credentials: Any) -> None:
        self._credentials = credentials
        self.refresh_token = None

    @property
    def access_token_expired(self) -> bool:
        return not self._credentials.valid

    @property
    def access_token(self) -> str | None:
        token = self._credentials.token
        return str(token) if token else None

    def refresh(self, http: Any = None) -> None:
        from google.auth.transport.requests import Request

        self._credentials.refresh(Request())

    def authorize(self, http: Any) -> Any:
        import google_auth_httplib2

        return google_auth_httplib2.AuthorizedHttp(self._credentials, http=http)

    def get_access_token(self, http: Any = None) -> Any:
        if not self._credentials.valid:
            self.refresh(http)
        return _TokenInfo(self._credentials.token)

    def set_store(self, store: Any) -> None:
        pass

    def __repr__(self) -> str:
        return f"{type(self).__name__}({type(self._credentials).__name__})"


@dataclass(frozen=True)
class _TokenInfo:
    access_token: str

    def __repr__(self) -> str:
        return "_TokenInfo(<hidden>)"


@functools.cache
def _headless_auth_class() -> type:
    from googleapiclient.discovery import build
    from pydrive2.auth import GoogleAuth

    class HeadlessGoogleAuth(GoogleAuth):  # type: ignore[misc]
        """GoogleAuth that never opens a browser and builds its service against
        ``api_base`` with this package's HTTP settings."""

        def __init__(self, settings: dict[str, Any], api_base: str, http_options: dict) -> None:
            self._api_base = api_base
            self._http_options = http_options
            super().__init__(settings=settings, http_timeout=http_options.get("timeout"))

        def _build_http(self) -> Any:
            import httplib2

            http = httplib2.Http(**self._http_options)
            http.redirect_codes = http.redirect_codes - {308}
            return http

        def LocalWebserverAuth(self, *args: Any, **kwargs: Any) -> None:
            raise CredentialsError(
                "Google Drive credentials expired and cannot be refreshed without a browser.",
                fix=_SETUP_HELP.format(saved="the saved-credentials file"),
            )

        CommandLineAuth = LocalWebserverAuth

        def ServiceAuth(self, *args: Any, **kwargs: Any) -> None:
            # PyDrive2 calls this when a "service" token expired. Its own version rebuilds a
            # service account through oauth2client's pyOpenSSL signer, which recent pyOpenSSL
            # releases broke; the credentials set by connect() only need a refresh.
            if self.credentials is None:
                raise CredentialsError(
                    "No Google Drive credentials are loaded.",
                    fix=_SETUP_HELP.format(saved="the saved-credentials file"),
                )
            self.auth_method = "service"
            if self.access_token_expired:
                self.Refresh()

        def Authorize(self) -> None:
            http: Any = self.http  # type: ignore[has-type]
            if http is None:
                http = self._build_http()
            self.http = http = self.credentials.authorize(http)
            self.service = build(
                "drive",
                "v2",
                http=http,
                cache_discovery=False,
                static_discovery=True,
                client_options={"api_endpoint": self._api_base},
            )

    return HeadlessGoogleAuth


def _http_options(env: Mapping[str, str], timeout: float) -> dict[str, Any]:
    options: dict[str, Any] = {"timeout": timeout}
    bundle = env.get("REQUESTS_CA_BUNDLE") or env.get("SSL_CERT_FILE")
    if bundle:
        options["ca_certs"] = bundle
    return options


def _settings() -> dict[str, Any]:
    # Always explicit, so that a settings.yaml in the working directory is never read. The
    # client config is never used: every credential is built here, never by a PyDrive2 flow.
    return {
        "client_config_backend": "settings",
        "client_config": {"client_id": "unused", "client_secret": "unused"},
        "oauth_scope": [DRIVE_SCOPE],
    }


def _read_key_file(path: Path, what: str) -> dict[str, Any]:
    try:
        info = json.loads(path.read_text())
    except FileNotFoundError:
        raise CredentialsError(
            f"{what} {path} does not exist.",
            fix="Point it at an existing key file, or unset it.",
        ) from None
    except (OSError, ValueError):
        raise CredentialsError(
            f"{what} {path} is not a readable JSON key file.",
            fix="Download the key again (JSON format), or unset it.",
        ) from None
    if not isinstance(info, dict):
        raise CredentialsError(f"{what} {path} is not a JSON key file.", fix="Replace it.")
    return info


def connect(
    env: Mapping[str, str],
    *,
    on_colab: bool,
    timeout: float = 60.0,
) -> DriveClient:
    """An authorized Drive client, or :class:`CredentialsError` naming the fix."""
    api_base = config.drive_api_base(env)
    http_options = _http_options(env, timeout)
    adc_path = env.get("GOOGLE_APPLICATION_CREDENTIALS")
    adc_info = (
        _read_key_file(Path(adc_path), "GOOGLE_APPLICATION_CREDENTIALS") if adc_path else None
    )
    if adc_path and adc_info and adc_info.get("type") == "service_account":
        return _service_account(Path(adc_path), adc_info, env, api_base, http_options)
    if on_colab:
        return _colab(env, api_base, http_options)
    if adc_path and adc_info and adc_info.get("type") == "authorized_user":
        source = "GOOGLE_APPLICATION_CREDENTIALS"
        return _authorized_user(adc_info, source, env, api_base, http_options)
    if adc_path and adc_info is not None:
        raise CredentialsError(
            f"GOOGLE_APPLICATION_CREDENTIALS {adc_path} is neither a service-account key nor "
            "saved user credentials.",
            fix=setup_help(env),
        )
    saved = saved_credentials_path(env)
    if saved.is_file():
        mode = stat.S_IMODE(saved.stat().st_mode)
        if mode & 0o077:
            raise CredentialsError(
                f"{saved} is readable by other users (mode {mode:o}).",
                fix=f"Run: chmod 600 {saved}",
            )
        info = _read_key_file(saved, "The saved Drive login")
        return _authorized_user(info, "mlenv saved Drive login", env, api_base, http_options)
    raise CredentialsError("No Google Drive credentials were found.", fix=setup_help(env))


def _client(
    gauth: Any, source: str, env: Mapping[str, str], api_base: str, credentials: Any
) -> DriveClient:
    from pydrive2.drive import GoogleDrive

    gauth.credentials = credentials
    gauth.auth_method = "service"  # an expired token is refreshed, never a browser flow
    gauth.Authorize()
    client = DriveClient(GoogleDrive(gauth), gauth, source, api_base, env=env)
    client.access_token()  # surface rejected credentials now, with a clear message
    return client


def _service_account(
    path: Path,
    info: dict[str, Any],
    env: Mapping[str, str],
    api_base: str,
    http_options: dict[str, Any],
) -> DriveClient:
    """oauth2client service-account credentials (the type PyDrive2 refreshes) whose JWT is
    signed by google-auth's RSA signer (``cryptography``, else the pure-Python ``rsa``).
    oauth2client would pick pyOpenSSL, and new pyOpenSSL releases lack ``crypto.sign``."""
    from google.auth.crypt import RSASigner
    from oauth2client.service_account import ServiceAccountCredentials

    email = str(info.get("client_email") or "?")
    source = f"service account {email} (GOOGLE_APPLICATION_CREDENTIALS)"
    try:
        if not info.get("client_email"):
            raise ValueError("no client_email")
        signer = RSASigner.from_service_account_info(info)
    except Exception:
        raise CredentialsError(
            f"GOOGLE_APPLICATION_CREDENTIALS {path} is not a usable service-account key.",
            fix="Download a new JSON key for the service account, or unset the variable.",
        ) from None
    credentials = ServiceAccountCredentials(
        email,
        signer,
        scopes=[DRIVE_SCOPE],
        private_key_id=info.get("private_key_id"),
        client_id=info.get("client_id"),
        user_agent=USER_AGENT,
        token_uri=info.get("token_uri") or GOOGLE_TOKEN_URI,
    )
    gauth = _headless_auth_class()(_settings(), api_base, http_options)
    return _client(gauth, source, env, api_base, credentials)


def _authorized_user(
    info: dict[str, Any],
    source: str,
    env: Mapping[str, str],
    api_base: str,
    http_options: dict[str, Any],
) -> DriveClient:
    from oauth2client.client import OAuth2Credentials

    missing = [k for k in ("client_id", "client_secret", "refresh_token") if not info.get(k)]
    if missing:
        raise CredentialsError(
            f"The Drive credentials from {source} lack {', '.join(missing)}.",
            fix="Save authorized-user credentials with client_id, client_secret and refresh_token.",
        )
    credentials = OAuth2Credentials(
        access_token=None,
        client_id=info["client_id"],
        client_secret=info["client_secret"],
        refresh_token=info["refresh_token"],
        token_expiry=None,
        token_uri=info.get("token_uri") or GOOGLE_TOKEN_URI,
        user_agent=USER_AGENT,
        scopes=[DRIVE_SCOPE],
    )
    gauth = _headless_auth_class()(_settings(), api_base, http_options)
    return _client(gauth, source, env, api_base, credentials)


def _colab(env: Mapping[str, str], api_base: str, http_options: dict[str, Any]) -> DriveClient:
    source = "Colab user auth"
    try:
        from google.colab import auth as colab_auth  # type: ignore[import-not-found]
    except ImportError:
        raise CredentialsError(
            "This looks like Colab, but google.colab is not importable.",
            fix="Run inside a Colab runtime, or set GOOGLE_APPLICATION_CREDENTIALS to a "
            "service-account key.",
        ) from None
    try:
        colab_auth.authenticate_user()
        import google.auth

        credentials, _project = google.auth.default(scopes=[DRIVE_SCOPE])
        adapter = _GoogleAuthCredentialsAdapter(credentials)
        adapter.refresh()
    except Exception as error:
        raise CredentialsError(
            f"Colab did not provide Drive credentials ({type(error).__name__}).",
            fix="Run the cell again and allow access to Google Drive in Colab's dialog.",
        ) from None
    gauth = _headless_auth_class()(_settings(), api_base, http_options)
    return _client(gauth, source, env, api_base, adapter)


def on_colab_host(env: Mapping[str, str], shell: Any = None) -> bool:
    from ..runtime import detect_runtime

    return detect_runtime(env=env, shell=shell).host == "colab"
