"""Kaggle models and notebook outputs in the loopback Kaggle fake.

Every :class:`~mlenv_magics.testing.kaggle_fake.KaggleFake` has one of these as
``fake.models``. It answers ``models.ModelApiService`` ``GetModelInstance``,
``ListModelInstanceVersionFiles`` (paged), ``DownloadModelInstanceVersion`` (one file with
``path``, else the version as a tar.gz) and ``kernels.KernelsApiService``
``DownloadKernelOutput`` (one output file with ``filePath``, else all of them as an archive)
and ``ListKernelFiles``, with the bodies kagglesdk sends and reads, so the real kagglehub
(``model_download``, ``notebook_output_download``) and ``kaggle models instances versions
download`` work against it. Notebook outputs are those of the notebooks in ``fake.kernels``
(seed one with :meth:`add_notebook`, or push and run one).

Inside a simulated Kaggle notebook, the attach endpoint takes ``modelRef`` and ``kernelRef``
(see :meth:`attach`); on a simulated Colab runtime, ``/kagglehub/models/is_supported`` and
``/kagglehub/models/mount`` serve the models in ``colab_cached``.

Knobs (attributes): ``page_size_cap`` (files per page of a model's file list),
``mount_layout`` (``"namespaced"``: ``models/owner/model/framework/variation/N`` and
``notebooks/owner/slug``; ``"legacy"``: ``model/framework/variation/N`` and ``slug``),
``notebook_archive`` (``"tar.gz"`` or ``"zip"``). A gated model (``gated=True``) answers
downloads and attaches as Kaggle does until :meth:`accept_licence`.
"""

from __future__ import annotations

import gzip
import io
import mimetypes
import re
import shutil
import tarfile
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote, unquote, urlsplit
from urllib.request import ProxyHandler, build_opener

MODELS = "models.ModelApiService"
KERNELS = "kernels.KernelsApiService"
GATED_MESSAGE = "User has not consented to terms of use for this model."
SEND_BLOCK = 1 << 20

FileMap = Mapping[str, bytes | Path]


def framework_key(value: str) -> str:
    """``MODEL_FRAMEWORK_PY_TORCH``, ``pyTorch``, ``py_torch`` -> ``pytorch``."""
    text = str(value)
    if text.upper().startswith("MODEL_FRAMEWORK_"):
        text = text[len("MODEL_FRAMEWORK_") :]
    return text.replace("_", "").replace("-", "").lower()


def framework_enum_name(spelling: str) -> str:
    """``pyTorch`` -> ``MODEL_FRAMEWORK_PY_TORCH``, ``tensorFlow2`` -> ``..._TENSOR_FLOW_2``."""
    snake = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", spelling)
    snake = re.sub(r"([A-Za-z])(\d)", r"\1_\2", snake)
    return "MODEL_FRAMEWORK_" + snake.upper()


def build_tar_gz(files: FileMap, out: Path | None = None) -> bytes | Path:
    """A deterministic tar.gz of ``files`` (in memory, or written to ``out`` for big ones)."""
    target: Any = io.BytesIO() if out is None else open(out, "wb")  # noqa: SIM115
    try:
        with (
            gzip.GzipFile(fileobj=target, mode="wb", mtime=0, compresslevel=1) as zipped,
            tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as archive,
        ):
            for name in sorted(files):
                content = files[name]
                info = tarfile.TarInfo(name)
                info.mtime = 1735689600
                info.mode = 0o644
                if isinstance(content, Path):
                    info.size = content.stat().st_size
                    with open(content, "rb") as handle:
                        archive.addfile(info, handle)
                else:
                    info.size = len(content)
                    archive.addfile(info, io.BytesIO(content))
    finally:
        if out is not None:
            target.close()
    return target.getvalue() if out is None else out


def _size(content: bytes | Path) -> int:
    return content.stat().st_size if isinstance(content, Path) else len(content)


@dataclass
class FakeModel:
    owner: str
    model: str
    framework: str  # as Kaggle's clients spell it, e.g. "pyTorch"
    variation: str
    versions: dict[int, dict[str, bytes | Path]]
    gated: bool = False
    private: bool = False
    archives: dict[int, bytes | Path] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        return f"{self.owner}/{self.model}/{self.framework}/{self.variation}"

    @property
    def key(self) -> tuple[str, ...]:
        return _model_key(self.owner, self.model, self.framework, self.variation)

    @property
    def current_version(self) -> int:
        return max(self.versions)

    @property
    def web_url(self) -> str:
        return f"https://www.kaggle.com/models/{self.ref}"


def _model_key(owner: str, model: str, framework: str, variation: str) -> tuple[str, ...]:
    return (owner.lower(), model.lower(), framework_key(framework), variation.lower())


class ModelsFake:
    def __init__(self, fake: Any) -> None:
        self.fake = fake
        self.models: dict[tuple[str, ...], FakeModel] = {}
        self.colab_cached: set[str] = set()  # model refs Colab's cache has
        self.page_size_cap = 50
        self.mount_layout = "namespaced"
        self.notebook_archive = "tar.gz"
        self._lock = threading.Lock()
        self._root_dir: Path | None = None
        self._output_archives: dict[tuple[str, int, str], bytes | Path] = {}
        fake.rpc_extensions.update(
            {
                (MODELS, "GetModelInstance"): lambda h, b: self._get_instance(h, b),
                (MODELS, "ListModelInstanceVersionFiles"): lambda h, b: self._list_files(h, b),
                (MODELS, "DownloadModelInstanceVersion"): lambda h, b: self._download(h, b),
                (KERNELS, "DownloadKernelOutput"): lambda h, b: self._download_output(h, b),
                (KERNELS, "ListKernelFiles"): lambda h, b: self._list_output_files(h, b),
            }
        )

    # ----------------------------------------------------------------- content
    def add_model(
        self,
        ref: str,
        files: FileMap | None = None,
        *,
        versions: Mapping[int, FileMap] | None = None,
        gated: bool = False,
        private: bool = False,
        archive: bytes | None = None,
    ) -> FakeModel:
        """Register ``owner/model/framework/variation``; ``files`` is version 1, ``versions``
        maps N -> files. A file given as a Path is served from disk (and its version's
        archive is built on disk when first asked for). ``archive`` replaces the newest
        version's tar.gz (corrupt or hostile bytes)."""
        owner, model, framework, variation = ref.split("/")
        by_version = {int(n): dict(v) for n, v in (versions or {}).items()}
        if files is not None:
            by_version.setdefault(1, dict(files))
        if not by_version:
            raise ValueError("a model needs files or versions")
        entry = FakeModel(owner, model, framework, variation, by_version, gated, private)
        if archive is not None:
            entry.archives[entry.current_version] = archive
        with self._lock:
            self.models[entry.key] = entry
        return entry

    def accept_licence(self, ref: str) -> None:
        """The account has accepted the gated model's licence on its kaggle.com page."""
        self.model(ref).gated = False

    def model(self, ref: str) -> FakeModel:
        return self.models[_model_key(*ref.split("/"))]

    def add_notebook(self, ref: str, files: Mapping[str, bytes]) -> Any:
        """A notebook whose latest version has finished with ``files`` as its outputs (each
        call adds a version)."""
        return self.fake.kernels.add_finished(ref, files)

    def model_file_blob(self, ref: str, name: str, version: int = 1) -> str:
        """The blob host's name of one file of a model version (for faults and stats)."""
        return f"models/{self.model(ref).ref}/{version}/{name}"

    def model_archive_blob(self, ref: str, version: int = 1) -> str:
        return f"models/{self.model(ref).ref}/{version}/model.tar.gz"

    def prepare(self, ref: str, version: int = 1) -> list[str]:
        """Register a model version's blobs now (each file, and its tar.gz, built now rather
        than on the first request); returns their names, for faults and stats."""
        entry = self.model(ref)
        base = f"models/{entry.ref}/{version}"
        names = []
        for name, content in entry.versions[version].items():
            self.fake._blob_url(("m", base, name), f"{base}/{name}", content)
            names.append(self.model_file_blob(ref, name, version))
        archive = self._model_archive(entry, version)
        self.fake._blob_url(("m", base), f"{base}/model.tar.gz", archive)
        return [*names, self.model_archive_blob(ref, version)]

    def stop(self) -> None:
        if self._root_dir is not None:
            shutil.rmtree(self._root_dir, ignore_errors=True)

    # ----------------------------------------------------------------- models
    def _find(self, handler: Any, body: Mapping[str, Any]) -> FakeModel:
        from .kaggle_wire import envelope

        key = _model_key(
            str(body.get("ownerSlug", "")),
            str(body.get("modelSlug", "")),
            str(body.get("framework", "")),
            str(body.get("instanceSlug", "")),
        )
        entry = self.models.get(key)
        authenticated = handler._require_valid_or_anonymous()
        if entry is None or (entry.private and not authenticated):
            raise envelope(404, f"Model instance not found: {'/'.join(key)}")
        return entry

    def _version(self, entry: FakeModel, body: Mapping[str, Any]) -> int:
        from .kaggle_wire import envelope

        version = int(body.get("versionNumber") or 0) or entry.current_version
        if version not in entry.versions:
            raise envelope(404, f"Model instance version {version} not found: {entry.ref}")
        return version

    def _get_instance(self, handler: Any, body: dict[str, Any]) -> None:
        from .kaggle_wire import Reply

        entry = self._find(handler, body)
        files = entry.versions[entry.current_version]
        raise Reply(
            200,
            {
                "id": abs(hash(entry.ref)) % 100000,
                "slug": entry.variation,
                "framework": framework_enum_name(entry.framework),
                "fineTunable": False,
                "overview": "",
                "usage": "",
                "versionId": entry.current_version + 1000,
                "versionNumber": entry.current_version,
                "url": entry.web_url,
                "licenseName": "Apache 2.0",
                "totalUncompressedBytes": sum(_size(v) for v in files.values()),
            },
        )

    def _list_files(self, handler: Any, body: dict[str, Any]) -> None:
        from .kaggle_wire import CREATION_DATE, Reply

        entry = self._find(handler, body)
        files = entry.versions[self._version(entry, body)]
        size = max(1, min(int(body.get("pageSize") or 20), self.page_size_cap))
        start = int(body.get("pageToken") or 0)
        names = sorted(files)[start : start + size]
        token = str(start + size) if start + size < len(files) else ""
        listed = [
            {"name": n, "size": _size(files[n]), "creationDate": CREATION_DATE} for n in names
        ]
        raise Reply(200, {"files": listed, "nextPageToken": token})

    def _download(self, handler: Any, body: dict[str, Any]) -> None:
        from .kaggle_wire import Reply, envelope

        entry = self._find(handler, body)
        version = self._version(entry, body)
        if entry.gated:
            raise envelope(403, GATED_MESSAGE)
        files = entry.versions[version]
        path = str(body.get("path") or "")
        base = f"models/{entry.ref}/{version}"
        if path:
            if path not in files:
                raise envelope(404, f"File not found: {path} in {entry.ref}/{version}")
            url = self.fake._blob_url(("m", base, path), f"{base}/{path}", files[path])
        else:
            data = self._model_archive(entry, version)
            url = self.fake._blob_url(("m", base), f"{base}/model.tar.gz", data)
        raise Reply(302, None, {"Location": url})

    def _model_archive(self, entry: FakeModel, version: int) -> bytes | Path:
        with self._lock:
            data = entry.archives.get(version)
            if data is None:
                data = entry.archives[version] = self._archive(entry.versions[version], "tar.gz")
            return data

    def _archive(self, files: FileMap, kind: str) -> bytes | Path:
        if kind == "zip":
            from .kaggle_wire import build_zip

            return build_zip(files)
        if not any(isinstance(content, Path) for content in files.values()):
            return build_tar_gz(files)
        if self._root_dir is None:
            self._root_dir = Path(tempfile.mkdtemp(prefix="kaggle-models-fake-"))
        out = Path(tempfile.mkstemp(suffix=".tar.gz", dir=self._root_dir)[1])
        return build_tar_gz(files, out)

    # ----------------------------------------------------------------- notebook outputs
    def _session(self, handler: Any, owner: str, slug: str, version: int | None) -> Any:
        from .kaggle_kernels_fake import ACTIVE
        from .kaggle_wire import envelope

        kernels = self.fake.kernels
        kernels._authenticated(handler)
        kernel = kernels.kernels.get(f"{owner}/{slug}".lower())
        if kernel is None or kernel.latest is None:
            raise envelope(404, f"Kernel not found: {owner}/{slug}")
        session = kernel.latest
        if version:
            session = next((s for s in kernel.sessions if s.version == version), None)
            if session is None:
                raise envelope(404, f"Kernel version not found: {owner}/{slug} {version}")
        if session.status in ACTIVE:
            raise envelope(404, f"Kernel version {session.version} has no output yet")
        return kernel, session

    def _download_output(self, handler: Any, body: dict[str, Any]) -> None:
        from .kaggle_wire import Reply, envelope

        owner, slug = str(body.get("ownerSlug", "")), str(body.get("kernelSlug", ""))
        kernel, session = self._session(handler, owner, slug, int(body.get("versionNumber") or 0))
        base = f"kernels/{kernel.ref}/v{session.version}/download"
        name = str(body.get("filePath") or "")
        if name:
            if name not in session.outputs:
                raise envelope(404, f"File not found: {name} in {kernel.ref}")
            url = self._output_file_url(base, name, session.outputs[name])
        else:
            url = self._output_archive_url(kernel, session)
        raise Reply(302, None, {"Location": url})

    def _output_file_url(self, base: str, name: str, content: bytes | Path) -> str:
        """One output file's blob; zipped as ``<name>.zip`` from ``fake.wrap_files_over``
        bytes on, as Kaggle may send single files."""
        from .kaggle_wire import build_zip

        wrap = self.fake.wrap_files_over
        if wrap is not None and _size(content) >= wrap:
            leaf = PurePosixPath(name).name
            zipped = build_zip({leaf: content})
            return str(self.fake._blob_url(("ko", base, name, "zip"), f"{base}/{leaf}.zip", zipped))
        return str(self.fake._blob_url(("ko", base, name), f"{base}/{name}", content))

    def _output_archive_url(self, kernel: Any, session: Any) -> str:
        kind = self.notebook_archive
        with self._lock:
            key = (kernel.ref, session.version, kind)
            data = self._output_archives.get(key)
            if data is None:
                data = self._output_archives[key] = self._archive(session.outputs, kind)
        base = f"kernels/{kernel.ref}/v{session.version}/download"
        return str(self.fake._blob_url(("ko", base, kind), f"{base}/output.{kind}", data))

    def prepare_outputs(self, ref: str) -> list[str]:
        """Register the blobs of a notebook's latest outputs now (each file, as
        ``DownloadKernelOutput`` and ``ListKernelSessionOutput`` hand them out, and their
        archive); returns their names, for faults and stats."""
        kernels = self.fake.kernels
        kernel = kernels.kernel(ref)
        session = kernel.latest
        base = f"kernels/{kernel.ref}/v{session.version}/download"
        names = []
        for name, content in session.outputs.items():
            self._output_file_url(base, name, content)
            kernels._output_url(kernel, session, name)
            names += [f"{base}/{name}", kernels.output_blob(ref, session.version, name)]
        self._output_archive_url(kernel, session)
        return [*names, f"{base}/output.{self.notebook_archive}"]

    def _list_output_files(self, handler: Any, body: dict[str, Any]) -> None:
        from .kaggle_wire import CREATION_DATE, Reply

        kernels = self.fake.kernels
        kernels._authenticated(handler)
        _, session = kernels._lookup(body)  # versionLabel "v<N>", as Kaggle wants it
        chunk, token = handler._page(body, sorted(session.outputs))
        files = [
            {"name": n, "size": _size(session.outputs[n]), "creationDate": CREATION_DATE}
            for n in chunk
        ]
        raise Reply(200, {"files": files, "nextPageToken": token})

    # ----------------------------------------------------------------- notebook hosts
    def attach(self, handler: Any, body: Mapping[str, Any]) -> dict[str, Any]:
        """The attach endpoint's ``modelRef`` / ``kernelRef``: the source appears under the
        mount root; returns the ``result`` to answer (or raises the failure answer)."""
        from .kaggle_wire import Reply

        fake = self.fake
        if "modelRef" in body:
            ref = body["modelRef"] or {}
            key = _model_key(
                str(ref.get("OwnerSlug", "")),
                str(ref.get("ModelSlug", "")),
                str(ref.get("Framework", "")),
                str(ref.get("InstanceSlug", "")),
            )
            entry = self.models.get(key)
            wanted = int(ref.get("VersionNumber") or 0)
            if entry is None or (wanted and wanted not in entry.versions):
                raise Reply(200, {"wasSuccessful": False, "errors": [f"Not found: {key}"]})
            if entry.gated:
                raise Reply(200, {"wasSuccessful": False, "errors": [GATED_MESSAGE]})
            version = wanted or entry.current_version
            parts = [entry.model, entry.framework.lower(), entry.variation, str(version)]
            if self.mount_layout == "namespaced":
                parts = ["models", entry.owner, *parts]
            self._materialize(fake.mount_root, "/".join(parts), entry.versions[version])
            return {"mountSlug": "/".join(parts), "versionNumber": version}
        ref = body.get("kernelRef") or {}
        owner, slug = str(ref.get("OwnerSlug", "")), str(ref.get("KernelSlug", ""))
        kernel = fake.kernels.kernels.get(f"{owner}/{slug}".lower())
        wanted = int(ref.get("VersionNumber") or 0)
        sessions = [s for s in kernel.sessions if s.version == wanted] if kernel else []
        session = sessions[0] if wanted and sessions else (kernel.latest if kernel else None)
        if session is None or (wanted and not sessions):
            raise Reply(200, {"wasSuccessful": False, "errors": [f"Not found: {owner}/{slug}"]})
        mount = f"notebooks/{kernel.owner}/{kernel.slug}"
        if self.mount_layout != "namespaced":
            mount = kernel.slug
        self._materialize(fake.mount_root, mount, session.outputs)
        return {"mountSlug": mount, "versionNumber": session.version}

    def colab(self, handler: Any, action: str, body: Mapping[str, Any]) -> None:
        """Colab's ``/kagglehub/models/{is_supported,mount}``."""
        from .kaggle_wire import Reply

        fake = self.fake
        if handler._auth_kind() == "invalid":
            raise Reply(401, {"error": "Unauthorized"})
        key = _model_key(
            str(body.get("owner", "")),
            str(body.get("model", "")),
            str(body.get("framework", "")),
            str(body.get("variation", "")),
        )
        entry = self.models.get(key)
        version = int(body.get("version") or 0)
        cached = entry is not None and entry.ref.lower() in {r.lower() for r in self.colab_cached}
        if entry is None or not cached or (version and version not in entry.versions):
            raise Reply(404, {"error": "Not cached"})
        if action == "is_supported":
            raise Reply(200, {})
        if action != "mount" or fake.colab_mount_root is None:
            raise Reply(400, {"error": f"Unsupported: {action}"})
        version = version or entry.current_version
        slug = f"{entry.model}/{entry.framework.lower()}/{entry.variation}/{version}"
        self._materialize(fake.colab_mount_root, slug, entry.versions[version])
        raise Reply(200, {"slug": fake.answer_mount_slug or slug})

    def _materialize(self, root: Path, slug: str, files: FileMap) -> None:
        path = PurePosixPath(slug)
        self.fake._materialize(root / path.parent, path.name, files)


def send_inline(handler: Any, location: str) -> None:
    """Answer a download RPC with the bytes themselves (HTTP 200) instead of the redirect:
    the blob is read from the blob host and streamed through, labelled by its name
    (``config.json`` as ``application/json``)."""
    opener = build_opener(ProxyHandler({}))
    guessed = mimetypes.guess_type(urlsplit(location).path)[0]
    with opener.open(location, timeout=30) as blob:
        handler.send_response(200)
        handler.send_header("Content-Type", guessed or blob.headers.get("Content-Type") or "")
        name = PurePosixPath(unquote(urlsplit(location).path)).name
        handler.send_header("Content-Disposition", f"attachment; filename*=UTF-8''{quote(name)}")
        length = blob.headers.get("Content-Length")
        if length is not None:
            handler.send_header("Content-Length", length)
        else:
            handler.close_connection = True
        handler.end_headers()
        while block := blob.read(SEND_BLOCK):
            handler.wfile.write(block)
