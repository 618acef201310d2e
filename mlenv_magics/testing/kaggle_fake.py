"""A loopback fake of Kaggle's public API, its in-notebook attach endpoint and Colab's cache.

Standard library only. It speaks the same wire protocol as api.kaggle.com (JSON RPC under
``/v1/{service}/{Method}``, also accepted under ``/api/v1/``), so the official ``kaggle``
client downloads from it too. Downloads answer ``302`` to a signed-looking URL on a
separate blob host (host name ``localhost``; the API listens on ``127.0.0.1``), which is
what makes HTTP clients drop ``Authorization`` on the way, as with the real service.

Usage::

    with KaggleFake(mount_root=tmp / "input") as fake:
        fake.add_dataset("alice/tiny", files={"train.csv": b"a,b\\n1,2\\n"})
        env = fake.env()  # MLENV_KAGGLE_API, credentials, ...

Run ``python -m mlenv_magics.testing.kaggle_fake --seed-demo --print-env`` to serve a
small demo dataset and competition for offline notebooks.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import shutil
import tempfile
import threading
import time
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from .kaggle_wire import (
    CREATION_DATE,
    Call,
    DatasetFileMap,
    FileMap,
    Reply,
    build_zip,
    envelope,
)

RULES_MESSAGE = "You must accept this competition's rules before you'll be able to download files."
ATTACH_PATH = "/kaggle-jwt-handler/AttachDatasourceUsingJwtRequest"
USER_SECRET_PATH = "/requests/GetUserSecretByLabelRequest"


def file_size(content: bytes | Path) -> int:
    return content.stat().st_size if isinstance(content, Path) else len(content)


def disk_file_hashes() -> tuple[str, ...]:
    """What ``x-goog-hash`` announces for a file served from disk: md5 and CRC-32C as object
    storage does, md5 only when CRC-32C would be computed in pure Python (slow for big files)."""
    try:
        import google_crc32c  # noqa: F401
    except ImportError:
        return ("md5",)
    return ("crc32c", "md5")


def hostile_zip(name: str = "../escaped.txt", data: bytes = b"escaped") -> bytes:
    """A zip whose entry would land outside the extraction folder."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("ok.txt", b"fine")
        archive.writestr(zipfile.ZipInfo(name, date_time=(2025, 1, 1, 0, 0, 0)), data)
    return buffer.getvalue()


def corrupt_zip(files: FileMap | None = None) -> bytes:
    """A zip with its central directory cut off."""
    whole = build_zip(files or {"a.txt": b"a" * 1000})
    return whole[: len(whole) // 2]


@dataclass
class FakeDataset:
    owner: str
    slug: str
    versions: dict[int, dict[str, bytes | Path]]
    private: bool = False
    title: str = ""
    archives: dict[int, bytes] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        return f"{self.owner}/{self.slug}"

    @property
    def current_version(self) -> int:
        return max(self.versions)


@dataclass
class FakeCompetition:
    slug: str
    files: dict[str, bytes]
    rules_accepted: bool = True
    archive: bytes = b""


@dataclass
class Fault:
    status: int
    message: str
    remaining: int
    retry_after: float | None = None
    http_200: bool = False  # send the error envelope with HTTP 200, as kagglesdk tolerates


class KaggleFake:
    """The fake service. Start it with ``with`` (or ``start()``/``stop()``)."""

    def __init__(
        self,
        *,
        mount_root: Path | None = None,
        colab_mount_root: Path | None = None,
        blobs: Any = None,
        username: str = "fake-user",
        key: str = "fake-legacy-key-0123456789",
        token: str = "fake-access-token-0123456789",
        user_secrets_token: str = "fake-user-secrets-token",
        proxy_token: str = "fake-data-proxy-token",
        page_size_cap: int = 20,
        port: int = 0,
    ) -> None:
        self.mount_root = mount_root
        self.colab_mount_root = colab_mount_root
        self.username = username
        self.key = key
        self.token = token
        self.user_secrets_token = user_secrets_token
        self.proxy_token = proxy_token
        self.page_size_cap = page_size_cap
        self._requested_port = port  # 7777 serves kagglehub's KAGGLE_API_ENVIRONMENT=TEST
        self.datasets: dict[str, FakeDataset] = {}
        self.competitions: dict[str, FakeCompetition] = {}
        self.colab_cached: set[str] = set()  # dataset refs Colab's cache "has"
        self.user_secrets: dict[str, str] = {}
        self.attach_delay = 0.0  # seconds before an attached source appears under mount_root
        self.wrap_files_over: int | None = None  # single files at least this big come zipped
        self.answer_mount_slug: str | None = None  # attach and Colab's mount answer this instead
        self.calls: list[Call] = []
        self._faults: dict[str, list[Fault]] = {}
        self._redirects: dict[str, list[str]] = {}
        self._delays: dict[str, float] = {}
        self._blob_urls: dict[tuple[str, ...], str] = {}
        self._lock = threading.Lock()
        self._own_blobs = blobs is None
        self._blobs = blobs
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._timers: list[threading.Timer] = []
        # Endpoints added by other modules: (service, method) -> handler(request_handler, body)
        # raising Reply; GET handlers(request_handler, path) -> True when they answered.
        self.rpc_extensions: dict[tuple[str, str], Any] = {}
        self.get_extensions: list[Any] = []
        from .kaggle_kernels_fake import KernelsFake

        self.kernels = KernelsFake(self)  # notebook runs: push, status, output, log, quota
        from .kaggle_fake_models import ModelsFake

        self.models = ModelsFake(self)  # models, notebook outputs, their attach and Colab cache
        self.json_content_type = "application/json; charset=utf-8"  # e.g. "text/html" instead
        self.inline_downloads = False  # download RPCs answer 200 with the bytes, not 302

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> KaggleFake:
        if self._blobs is None:
            from .blobhost import BlobHost

            self._blobs = BlobHost()
        if self._own_blobs and hasattr(self._blobs, "start"):
            self._blobs.start()
        server = ThreadingHTTPServer(("127.0.0.1", self._requested_port), _handler_for(self))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="kaggle-fake",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self.kernels.stop()
        self.models.stop()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._own_blobs and self._blobs is not None and hasattr(self._blobs, "stop"):
            self._blobs.stop()

    def __enter__(self) -> KaggleFake:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("start the fake first")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def blobs(self) -> Any:
        """The blob host serving downloads (fault injection and request stats live there)."""
        return self._blobs

    # ----------------------------------------------------------------- content
    def add_dataset(
        self,
        ref: str,
        files: DatasetFileMap | None = None,
        *,
        versions: Mapping[int, DatasetFileMap] | None = None,
        private: bool = False,
        archive: bytes | None = None,
        title: str | None = None,
    ) -> FakeDataset:
        """Register ``owner/slug``. ``files`` is version 1; ``versions`` maps N -> files.
        ``archive`` replaces the built zip of the newest version (corrupt or hostile bytes).

        A file given as a :class:`~pathlib.Path` is served from disk: its blob is registered
        now (see :meth:`dataset_file_blob`), and a version holding one gets its zip built only
        when the whole version is first requested."""
        owner, slug = ref.split("/")
        by_version = {int(n): dict(v) for n, v in (versions or {}).items()}
        if files is not None:
            by_version.setdefault(1, dict(files))
        if not by_version:
            raise ValueError("a dataset needs files or versions")
        dataset = FakeDataset(owner, slug, by_version, private, title or slug.replace("-", " "))
        dataset.archives = {
            n: build_zip(v)
            for n, v in by_version.items()
            if not any(isinstance(content, Path) for content in v.values())
        }
        if archive is not None:
            dataset.archives[dataset.current_version] = archive
        with self._lock:
            self.datasets[ref.lower()] = dataset
        for number, version_files in by_version.items():
            for name, content in version_files.items():
                if isinstance(content, Path):
                    base = f"datasets/{owner}/{slug}/{number}"
                    self._blob_url(
                        ("f", base, name), self.dataset_file_blob(ref, name, number), content
                    )
        return dataset

    def dataset_file_blob(self, ref: str, file_name: str, version: int = 1) -> str:
        """The blob host's name for one file of a dataset version (for faults and stats)."""
        return f"datasets/{ref}/{version}/{file_name}"

    def add_competition(
        self,
        slug: str,
        files: FileMap,
        *,
        rules_accepted: bool = True,
        archive: bytes | None = None,
    ) -> FakeCompetition:
        competition = FakeCompetition(slug, dict(files), rules_accepted)
        competition.archive = archive if archive is not None else build_zip(files)
        with self._lock:
            self.competitions[slug.lower()] = competition
        return competition

    def fail(
        self,
        method: str,
        status: int,
        message: str | None = None,
        *,
        times: int = 1,
        retry_after: float | None = None,
        http_200: bool = False,
    ) -> None:
        """The next ``times`` calls of ``method`` ("DownloadDataset", "attach", "*") fail."""
        text = message or {
            401: "Unauthenticated",
            403: "Permission denied",
            404: "Not found",
            429: "Too many requests",
        }.get(status, "Internal error")
        with self._lock:
            self._faults.setdefault(method, []).append(
                Fault(status, text, times, retry_after, http_200)
            )

    def redirect(self, method: str, location: str, *, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` ("attach", "DownloadDataset", "*") answer
        ``307`` to ``location`` (any host, any scheme), as a hijacked or broken proxy would."""
        with self._lock:
            self._redirects.setdefault(method, []).extend([location] * times)

    def slow(self, method: str, seconds: float) -> None:
        """Delay every answer to ``method`` ("*" for all) by ``seconds``."""
        self._delays[method] = seconds

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    # ----------------------------------------------------------------- environments
    def env(self, auth: str | None = "token") -> dict[str, str]:
        """What a client needs: the API base and credentials (``"token"``, ``"legacy"``, None)."""
        env = {"MLENV_KAGGLE_API": self.url, "KAGGLE_URL_BASE": self.url}
        if auth == "token":
            env["KAGGLE_API_TOKEN"] = self.token
        elif auth == "legacy":
            env["KAGGLE_USERNAME"] = self.username
            env["KAGGLE_KEY"] = self.key
        return env

    def kaggle_notebook_env(self, run_type: str = "Interactive") -> dict[str, str]:
        """A simulated Kaggle notebook: run type, data proxy, tokens and the input root."""
        if self.mount_root is None:
            raise RuntimeError("give the fake a mount_root to simulate a Kaggle notebook")
        return {
            "KAGGLE_KERNEL_RUN_TYPE": run_type,
            "KAGGLE_DATA_PROXY_URL": self.url,
            "KAGGLE_USER_SECRETS_TOKEN": self.user_secrets_token,
            "KAGGLE_DATA_PROXY_TOKEN": self.proxy_token,
            "KAGGLE_URL_BASE": self.url,
            "KAGGLE_CACHE_MOUNT_FOLDER": str(self.mount_root),
        }

    def colab_env(self) -> dict[str, str]:
        """A simulated managed Colab runtime with Kaggle's cache."""
        if self.colab_mount_root is None:
            raise RuntimeError("give the fake a colab_mount_root to simulate Colab's cache")
        return {
            "TBE_RUNTIME_ADDR": f"127.0.0.1:{self.port}",
            "COLAB_CACHE_MOUNT_FOLDER": str(self.colab_mount_root),
        }

    # ----------------------------------------------------------------- internals
    def _take_fault(self, method: str) -> Fault | None:
        with self._lock:
            for name in (method, "*"):
                queue = self._faults.get(name) or []
                while queue and queue[0].remaining <= 0:
                    queue.pop(0)
                if queue:
                    queue[0].remaining -= 1
                    return queue[0]
        return None

    def _delay_for(self, method: str) -> float:
        return self._delays.get(method, self._delays.get("*", 0.0))

    def _blob_url(self, key: tuple[str, ...], name: str, data: bytes | Path) -> str:
        with self._lock:
            url = self._blob_urls.get(key)
            if url is None:
                kind = "application/zip" if name.endswith(".zip") else "application/octet-stream"
                hashes = disk_file_hashes() if isinstance(data, Path) else ("crc32c", "md5")
                url = str(self._blobs.add(name, data, content_type=kind, hashes=hashes))
                self._blob_urls[key] = url
            return url

    def _materialize(self, root: Path, slug: str, files: DatasetFileMap) -> None:
        """Create ``root/slug`` with ``files``, atomically (the whole folder appears at once)."""

        def create() -> None:
            root.mkdir(parents=True, exist_ok=True)
            target = root / slug
            if target.exists():
                return
            staging = Path(tempfile.mkdtemp(prefix=".mount-", dir=root))
            for name, data in files.items():
                path = staging / PurePosixPath(name)
                path.parent.mkdir(parents=True, exist_ok=True)
                if isinstance(data, Path):
                    shutil.copyfile(data, path)
                else:
                    path.write_bytes(data)
            try:
                staging.rename(target)
            except OSError:
                shutil.rmtree(staging, ignore_errors=True)

        if self.attach_delay > 0:
            timer = threading.Timer(self.attach_delay, create)
            timer.daemon = True
            self._timers.append(timer)
            timer.start()
        else:
            create()


def _handler_for(fake: KaggleFake) -> type[BaseHTTPRequestHandler]:
    class Handler(_Handler):
        pass

    Handler.fake = fake
    return Handler


class _Handler(BaseHTTPRequestHandler):
    fake: KaggleFake
    protocol_version = "HTTP/1.1"
    server_version = "KaggleFake/1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        for extension in self.fake.get_extensions:
            if extension(self, path):
                return
        self._answer(Reply(404, {"code": 404, "message": "Not found"}))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = None
        path = urlsplit(self.path).path  # absolute-form lines come through HTTP proxies
        try:
            if not isinstance(body, dict):
                raise envelope(400, "The request body is not a JSON object.")
            self._route(path, body)
        except Reply as reply:
            self._answer(reply)

    # ------------------------------------------------------------------ routing
    def _route(self, path: str, body: dict[str, Any]) -> None:
        if path == ATTACH_PATH:
            self._guarded("attach", body, self._attach)
        elif path == USER_SECRET_PATH:
            self._guarded("secret", body, self._user_secret)
        elif path.startswith("/kagglehub/datasets/"):
            action = path.rsplit("/", 1)[-1]
            self._guarded(f"colab:{action}", body, lambda b: self._colab(action, b))
        elif path.startswith("/kagglehub/models/"):
            action = path.rsplit("/", 1)[-1]
            run = lambda b: self.fake.models.colab(self, action, b)  # noqa: E731
            self._guarded(f"colab-models:{action}", body, run)
        else:
            parts = [p for p in path.split("/") if p]
            if parts[:1] == ["api"]:
                parts = parts[1:]
            if len(parts) != 3 or parts[0] != "v1":
                raise envelope(404, f"No such endpoint: {path}")
            service, method = parts[1], parts[2]
            handler = _RPC.get((service, method)) or self.fake.rpc_extensions.get((service, method))
            if handler is None:
                raise envelope(404, f"No such method: {service}/{method}")
            self._guarded(method, body, lambda b: handler(self, b))

    def _guarded(self, method: str, body: dict[str, Any], run: Any) -> None:
        auth = self._auth_kind()
        with self.fake._lock:
            self.fake.calls.append(Call(method, body, auth, self.headers.get("User-Agent")))
        delay = self.fake._delay_for(method)
        if delay:
            time.sleep(delay)
        with self.fake._lock:
            queued = self.fake._redirects.get(method) or self.fake._redirects.get("*")
            location = queued.pop(0) if queued else None
        if location is not None:
            raise Reply(307, None, {"Location": location})
        fault = self.fake._take_fault(method)
        if fault is not None:
            headers = {}
            if fault.retry_after is not None:
                headers["Retry-After"] = f"{fault.retry_after:g}"
            status = 200 if fault.http_200 else fault.status
            raise Reply(status, {"code": fault.status, "message": fault.message}, headers)
        run(body)

    def _answer(self, reply: Reply) -> None:
        if reply.status == 302 and self.fake.inline_downloads and "Location" in reply.headers:
            from .kaggle_fake_models import send_inline

            send_inline(self, reply.headers["Location"])
            return
        payload = b"" if reply.body is None else json.dumps(reply.body).encode()
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.body is not None:
            self.send_header("Content-Type", self.fake.json_content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    # ------------------------------------------------------------------ auth
    def _auth_kind(self) -> str:
        header = self.headers.get("Authorization") or ""
        if not header:
            return "none"
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer":
            return "bearer" if value.strip() == self.fake.token else "invalid"
        if scheme.lower() == "basic":
            try:
                user, _, key = base64.b64decode(value.strip()).decode().partition(":")
            except ValueError:
                return "invalid"
            return "basic" if (user, key) == (self.fake.username, self.fake.key) else "invalid"
        return "invalid"

    def _require_valid_or_anonymous(self) -> bool:
        """True when authenticated; False when anonymous; 401 for bad credentials."""
        kind = self._auth_kind()
        if kind == "invalid":
            raise envelope(401, "Unauthenticated: the API token or key is invalid or expired.")
        return kind != "none"

    def _notebook_headers_ok(self, with_proxy: bool) -> None:
        secret = self.headers.get("X-Kaggle-Authorization") or ""
        if secret != f"Bearer {self.fake.user_secrets_token}":
            raise Reply(401, {"wasSuccessful": False, "errors": ["Unauthorized"]})
        if with_proxy and self.headers.get("X-KAGGLE-PROXY-DATA") != self.fake.proxy_token:
            raise Reply(401, {"wasSuccessful": False, "errors": ["Missing data proxy token"]})

    # ------------------------------------------------------------------ datasets
    def _dataset(self, body: Mapping[str, Any]) -> tuple[FakeDataset, int]:
        ref = f"{body.get('ownerSlug', '')}/{body.get('datasetSlug', '')}"
        dataset = self.fake.datasets.get(ref.lower())
        authenticated = self._require_valid_or_anonymous()
        if dataset is None or (dataset.private and not authenticated):
            raise envelope(404, f"Dataset not found: {ref}")
        version = int(body.get("datasetVersionNumber") or 0) or dataset.current_version
        if version not in dataset.versions:
            raise envelope(404, f"Dataset version {version} not found: {ref}")
        return dataset, version

    def _get_dataset(self, body: dict[str, Any]) -> None:
        dataset, version = self._dataset(body)
        files = dataset.versions[version]
        raise Reply(
            200,
            {
                "id": abs(hash(dataset.ref)) % 100000,
                "ref": dataset.ref,
                "title": dataset.title,
                "subtitle": "",
                "currentVersionNumber": dataset.current_version,
                "totalBytes": sum(file_size(v) for v in files.values()),
                "lastUpdated": CREATION_DATE,
                "url": f"https://www.kaggle.com/datasets/{dataset.ref}",
                "isPrivate": dataset.private,
            },
        )

    def _get_dataset_metadata(self, body: dict[str, Any]) -> None:
        dataset, _ = self._dataset(body)
        raise Reply(
            200,
            {
                "info": {
                    "datasetSlug": dataset.slug,
                    "ownerUser": dataset.owner,
                    "title": dataset.title,
                    "subtitle": "",
                    "description": "",
                    "isPrivate": dataset.private,
                    "keywords": [],
                    "licenses": [{"name": "CC0-1.0"}],
                    "collaborators": [],
                    "data": [],
                },
                "errorMessage": "",
            },
        )

    def _page(self, body: Mapping[str, Any], items: list[Any]) -> tuple[list[Any], str]:
        size = max(1, min(int(body.get("pageSize") or 20), self.fake.page_size_cap))
        start = int(body.get("pageToken") or 0)
        chunk = items[start : start + size]
        next_token = str(start + size) if start + size < len(items) else ""
        return chunk, next_token

    def _list_dataset_files(self, body: dict[str, Any]) -> None:
        dataset, version = self._dataset(body)
        files = dataset.versions[version]
        names = sorted(files)
        chunk, next_token = self._page(body, names)
        entries = [
            {
                "ref": name,
                "datasetRef": dataset.ref,
                "ownerRef": dataset.owner,
                "name": name,
                "creationDate": CREATION_DATE,
                "description": "",
                "fileType": PurePosixPath(name).suffix,
                "url": f"https://www.kaggle.com/datasets/{dataset.ref}?select={name}",
                "totalBytes": file_size(files[name]),
                "columns": [],
            }
            for name in chunk
        ]
        raise Reply(200, {"datasetFiles": entries, "nextPageToken": next_token, "errorMessage": ""})

    def _list_tree_dataset_files(self, body: dict[str, Any]) -> None:
        dataset, version = self._dataset(body)
        prefix = str(body.get("path") or "").strip("/")
        files = dataset.versions[version]
        under = sorted(n for n in files if not prefix or n.startswith(prefix + "/"))
        folders = sorted({str(PurePosixPath(n).parent) for n in under} - {".", prefix, ""})
        if body.get("pageToken"):
            folders = []  # folders come with the first page only
        chunk, next_token = self._page(body, under)
        entries = [{"name": n, "relativeUrl": n, "totalBytes": file_size(files[n])} for n in chunk]
        raise Reply(
            200,
            {
                "files": entries,
                "directories": [{"relativeUrl": folder} for folder in folders],
                "nextPageToken": next_token,
            },
        )

    def _download_dataset(self, body: dict[str, Any]) -> None:
        dataset, version = self._dataset(body)
        file_name = str(body.get("fileName") or "")
        base = f"datasets/{dataset.owner}/{dataset.slug}/{version}"
        if not file_name:
            with self.fake._lock:
                data = dataset.archives.get(version)
                if data is None:  # a version with files on disk is zipped when first asked for
                    data = dataset.archives[version] = build_zip(dataset.versions[version])
            url = self.fake._blob_url(
                ("d", dataset.ref, str(version)), f"{base}/{dataset.slug}.zip", data
            )
            raise Reply(302, None, {"Location": url})
        files = dataset.versions[version]
        if file_name not in files:
            raise envelope(404, f"File not found: {file_name} in {dataset.ref}")
        raise Reply(302, None, {"Location": self._single_file_url(base, file_name, files)})

    def _single_file_url(self, base: str, file_name: str, files: DatasetFileMap) -> str:
        data = files[file_name]
        wrap = self.fake.wrap_files_over
        if wrap is not None and file_size(data) >= wrap:
            leaf = PurePosixPath(file_name).name
            zipped = build_zip({leaf: data})
            return self.fake._blob_url(("f", base, file_name, "zip"), f"{base}/{leaf}.zip", zipped)
        return self.fake._blob_url(("f", base, file_name), f"{base}/{file_name}", data)

    # ------------------------------------------------------------------ competitions
    def _competition(self, body: Mapping[str, Any], download: bool) -> FakeCompetition:
        slug = str(body.get("competitionName") or "")
        competition = self.fake.competitions.get(slug.lower())
        authenticated = self._require_valid_or_anonymous()
        if competition is None:
            raise envelope(404, f"Competition not found: {slug}")
        if not authenticated:
            raise envelope(401, "You must be authenticated to access competition data.")
        if download and not competition.rules_accepted:
            raise envelope(403, RULES_MESSAGE)
        return competition

    def _list_data_files(self, body: dict[str, Any]) -> None:
        competition = self._competition(body, download=False)
        chunk, next_token = self._page(body, sorted(competition.files))
        entries = [
            {
                "ref": name,
                "name": name,
                "description": "",
                "totalBytes": len(competition.files[name]),
                "url": f"https://www.kaggle.com/competitions/{competition.slug}/data?select={name}",
                "creationDate": CREATION_DATE,
            }
            for name in chunk
        ]
        raise Reply(200, {"files": entries, "nextPageToken": next_token})

    def _download_data_files(self, body: dict[str, Any]) -> None:
        competition = self._competition(body, download=True)
        base = f"competitions/{competition.slug}"
        url = self.fake._blob_url(
            ("c", competition.slug), f"{base}/archive.zip", competition.archive
        )
        raise Reply(302, None, {"Location": url})

    def _download_data_file(self, body: dict[str, Any]) -> None:
        competition = self._competition(body, download=True)
        name = str(body.get("fileName") or "")
        if name not in competition.files:
            raise envelope(404, f"File not found: {name} in {competition.slug}")
        base = f"competitions/{competition.slug}/files"
        raise Reply(302, None, {"Location": self._single_file_url(base, name, competition.files)})

    # ------------------------------------------------------------------ account
    def _introspect(self, body: dict[str, Any]) -> None:
        token = str(body.get("token") or "")
        if token != self.fake.token:
            raise Reply(200, {"active": False})
        raise Reply(
            200,
            {
                "active": True,
                "username": self.fake.username,
                "userId": 1,
                "scope": "",
                "clientId": "fake",
                "exp": int(time.time()) + 3600,
            },
        )

    def _hello(self, body: dict[str, Any]) -> None:
        if self._auth_kind() in {"none", "invalid"}:
            raise Reply(200, {"code": 401, "message": "Unauthenticated"})
        raise Reply(200, {"userName": self.fake.username})

    # ------------------------------------------------------------------ notebook hosts
    def _attach(self, body: dict[str, Any]) -> None:
        self._notebook_headers_ok(with_proxy=True)
        fake = self.fake
        if fake.mount_root is None:
            raise Reply(200, {"wasSuccessful": False, "errors": ["No mount root configured"]})
        if "datasetRef" in body:
            ref = body["datasetRef"] or {}
            key = f"{ref.get('OwnerSlug', '')}/{ref.get('DatasetSlug', '')}".lower()
            dataset = fake.datasets.get(key)
            wanted = int(ref.get("VersionNumber") or 0)
            if dataset is None or (wanted and wanted not in dataset.versions):
                raise Reply(200, {"wasSuccessful": False, "errors": [f"Not found: {key}"]})
            version = wanted or dataset.current_version
            fake._materialize(fake.mount_root, dataset.slug, dataset.versions[version])
            result = {"mountSlug": dataset.slug, "versionNumber": version}
        elif "competitionRef" in body:
            slug = str((body["competitionRef"] or {}).get("CompetitionSlug", ""))
            competition = fake.competitions.get(slug.lower())
            if competition is None:
                raise Reply(200, {"wasSuccessful": False, "errors": [f"Not found: {slug}"]})
            if not competition.rules_accepted:
                raise Reply(200, {"wasSuccessful": False, "errors": [RULES_MESSAGE]})
            fake._materialize(fake.mount_root, competition.slug, competition.files)
            result = {"mountSlug": competition.slug, "versionNumber": 0}
        elif "modelRef" in body or "kernelRef" in body:
            result = fake.models.attach(self, body)
        else:
            raise Reply(200, {"wasSuccessful": False, "errors": ["Exactly one ref is required"]})
        if fake.answer_mount_slug is not None:
            result["mountSlug"] = fake.answer_mount_slug
        raise Reply(200, {"wasSuccessful": True, "result": result})

    def _user_secret(self, body: dict[str, Any]) -> None:
        self._notebook_headers_ok(with_proxy=False)
        label = str(body.get("Label") or "")
        if label not in self.fake.user_secrets:
            raise Reply(
                200, {"wasSuccessful": False, "errors": [f"No user secret with label {label}"]}
            )
        raise Reply(
            200, {"wasSuccessful": True, "result": {"secret": self.fake.user_secrets[label]}}
        )

    def _colab(self, action: str, body: dict[str, Any]) -> None:
        fake = self.fake
        if self._auth_kind() == "invalid":
            raise Reply(401, {"error": "Unauthorized"})
        key = f"{body.get('owner', '')}/{body.get('dataset', '')}".lower()
        dataset = fake.datasets.get(key)
        version = int(body.get("version") or 0)
        known = dataset is not None and key in fake.colab_cached
        if dataset is None or not known or (version and version not in dataset.versions):
            raise Reply(404, {"error": "Not cached"})
        if action == "is_supported":
            raise Reply(200, {})
        if action != "mount" or fake.colab_mount_root is None:
            raise Reply(400, {"error": f"Unsupported: {action}"})
        version = version or dataset.current_version
        slug = f"{dataset.slug}" if not body.get("version") else f"{dataset.slug}-v{version}"
        fake._materialize(fake.colab_mount_root, slug, dataset.versions[version])
        raise Reply(200, {"slug": fake.answer_mount_slug or slug})


_RPC: dict[tuple[str, str], Any] = {
    ("datasets.DatasetApiService", "GetDataset"): _Handler._get_dataset,
    ("datasets.DatasetApiService", "GetDatasetMetadata"): _Handler._get_dataset_metadata,
    ("datasets.DatasetApiService", "ListDatasetFiles"): _Handler._list_dataset_files,
    ("datasets.DatasetApiService", "ListTreeDatasetFiles"): _Handler._list_tree_dataset_files,
    ("datasets.DatasetApiService", "DownloadDataset"): _Handler._download_dataset,
    ("competitions.CompetitionApiService", "ListDataFiles"): _Handler._list_data_files,
    ("competitions.CompetitionApiService", "DownloadDataFiles"): _Handler._download_data_files,
    ("competitions.CompetitionApiService", "DownloadDataFile"): _Handler._download_data_file,
    ("security.OAuthService", "IntrospectToken"): _Handler._introspect,
    ("api.v1.DiagnosticsService", "Hello"): _Handler._hello,
}


# ---------------------------------------------------------------------- demo server
DEMO_DATASET = "mlenv/demo-iris"
DEMO_COMPETITION = "demo-titanic"


def seed_demo(fake: KaggleFake) -> None:
    """A small public dataset (two versions) and a competition with accepted rules."""
    rows = "sepal_length,sepal_width,species\n5.1,3.5,setosa\n6.2,2.9,versicolor\n"
    fake.add_dataset(
        DEMO_DATASET,
        versions={
            1: {"iris.csv": rows.encode()},
            2: {"iris.csv": (rows + "7.7,3.0,virginica\n").encode(), "README.md": b"# Iris\n"},
        },
    )
    fake.add_competition(
        DEMO_COMPETITION,
        {"train.csv": b"PassengerId,Survived\n1,0\n2,1\n", "test.csv": b"PassengerId\n3\n"},
    )
    if fake.colab_mount_root is not None:
        fake.colab_cached.add(DEMO_DATASET)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mlenv_magics.testing.kaggle_fake",
        description="Serve a loopback fake of Kaggle's API until interrupted.",
    )
    parser.add_argument("--seed-demo", action="store_true", help="add the demo data")
    parser.add_argument("--print-env", action="store_true", help="print export lines")
    args = parser.parse_args(argv)
    fake = KaggleFake().start()
    if args.seed_demo:
        seed_demo(fake)
    if args.print_env:
        for name, value in sorted(fake.env().items()):
            print(f"export {name}={value}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0
    finally:
        fake.stop()


if __name__ == "__main__":
    raise SystemExit(main())
