"""Kaggle notebook runs in the loopback Kaggle fake: push, status, output, log, pull, quota.

Every :class:`~mlenv_magics.testing.kaggle_fake.KaggleFake` has one of these as ``fake.kernels``.
It answers ``kernels.KernelsApiService`` ``SaveKernel``, ``GetKernelSessionStatus``,
``ListKernelSessionOutput``, ``GetKernel``, ``GetAcceleratorQuotaStatistics`` and the log
stream ``GET /v1/kernels/logs/stream/{owner}/{slug}``, with the bodies kaggle 2.x sends and
reads, so the real ``kaggle kernels push|status|output`` work against it.

A pushed notebook really runs: after the queue time, a subprocess executes its code cells in
one IPython namespace, in a fresh working directory (``/kaggle/working``), bounded by the
session timeout. Its stdout and stderr become the session log (streamed while it runs); the
files it wrote and the executed notebook (``__notebook__.ipynb``) become the outputs, served
through the fake's signed-URL blob host.

Knobs (attributes, set before the push they should affect):

- ``queue_seconds``: how long a session stays QUEUED before it starts;
- ``stale_status_calls``: after a push, this many status calls still answer the previous
  session's final status (Kaggle's status lags the push);
- ``not_found_calls`` / ``empty_status_calls``: after a push, this many status calls answer
  404 / ``{}`` (a session not visible yet);
- ``reject_push(message)``: the next push is answered HTTP 200 with ``error``;
- ``max_gpu_sessions``: more concurrent GPU sessions are rejected as Kaggle does;
- ``expire_output_urls``: each output URL handed out has expired when first fetched (the
  client must list again for a fresh one);
- ``max_run_seconds``: an upper bound on any session's run time.

A failing cell ends the session with ERROR; its traceback is in the log and in the executed
notebook. ``wait_for_change`` lets a test wait for the next observable change instead of
sleeping.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

SERVICE = "kernels.KernelsApiService"
WAIT_PATH = "/_fake/kernels/wait-for-change"  # test kit only: no such endpoint on Kaggle
STREAM_PREFIXES = ("/v1/kernels/logs/stream/", "/api/v1/kernels/logs/stream/")
NOTEBOOK_OUTPUT = "__notebook__.ipynb"
ACTIVE = frozenset({"QUEUED", "RUNNING", "NEW_SCRIPT", "CANCEL_REQUESTED"})
GPU_SHAPES = frozenset({"NvidiaTeslaT4", "NvidiaTeslaA100", "NvidiaL4", "NvidiaL4X1", "NvidiaH100"})
STREAM_POLL_S = 0.05  # how often the log stream looks for new lines (server side)


@dataclass
class FakeSession:
    """One version of a kernel and the batch session that runs it."""

    version: int
    request: dict[str, Any]
    run_dir: Path
    status: str = "QUEUED"
    failure_message: str = ""
    process: subprocess.Popen[bytes] | None = None
    outputs: dict[str, Path] = field(default_factory=dict)  # fileName -> file on disk
    started: float | None = None
    ended: float | None = None

    @property
    def working(self) -> Path:
        return self.run_dir / "working"

    @property
    def log_path(self) -> Path:
        return self.run_dir / "log.jsonl"

    @property
    def machine_shape(self) -> str:
        return str(self.request.get("machineShape") or "")

    def log_events(self) -> list[dict[str, Any]]:
        try:
            lines = self.log_path.read_text(encoding="utf-8").splitlines()
        except OSError:
            return []
        events = []
        for line in lines:
            try:
                events.append(json.loads(line))
            except ValueError:
                break  # a line still being written
        return events


@dataclass
class FakeKernel:
    owner: str
    slug: str
    title: str
    kernel_id: int
    sessions: list[FakeSession] = field(default_factory=list)

    @property
    def ref(self) -> str:
        return f"{self.owner}/{self.slug}"

    @property
    def latest(self) -> FakeSession | None:
        return self.sessions[-1] if self.sessions else None


class KernelsFake:
    def __init__(self, fake: Any) -> None:
        self.fake = fake
        self.kernels: dict[str, FakeKernel] = {}
        self.queue_seconds = 0.0
        self.stale_status_calls = 0
        self.not_found_calls = 0
        self.empty_status_calls = 0
        self.max_gpu_sessions = 2
        self.expire_output_urls = False
        self.max_run_seconds = 120.0
        self.gpu_quota = {"timeUsed": "3600s", "timeReserved": "0s", "totalTimeAllowed": "108000s"}
        self.tpu_quota = {"timeUsed": "0s", "timeReserved": "0s", "totalTimeAllowed": "72000s"}
        self.quota_refresh_time = "2026-12-05T00:00:00Z"
        self.python = sys.executable
        self._rejections: list[str] = []
        self._after_push: list[str] = []  # one-shot status answers queued by the last push
        self._expired: set[str] = set()
        self._root_dir: Path | None = None
        self._cond = threading.Condition()
        self.generation = 0  # bumped on every change a status call could observe
        self.answered_generation = 0  # the generation the last status call saw
        self._stopping = False
        self._next_id = 1000
        fake.rpc_extensions.update(
            {
                (SERVICE, "SaveKernel"): lambda handler, body: self._save_kernel(handler, body),
                (SERVICE, "GetKernelSessionStatus"): lambda h, b: self._status(h, b),
                (SERVICE, "ListKernelSessionOutput"): lambda h, b: self._list_output(h, b),
                (SERVICE, "GetKernel"): lambda h, b: self._get_kernel(h, b),
                (SERVICE, "GetAcceleratorQuotaStatistics"): lambda h, b: self._quota(h, b),
            }
        )
        fake.get_extensions.append(self._log_stream)
        fake.get_extensions.append(self._wait_endpoint)

    # ----------------------------------------------------------------- test controls
    def reject_push(self, message: str = "Maximum batch GPU session count of 2 reached.") -> None:
        """The next push is answered HTTP 200 with ``error: message``."""
        self._rejections.append(message)

    def kernel(self, ref: str) -> FakeKernel:
        return self.kernels[ref.lower()]

    def session(self, ref: str, version: int | None = None) -> FakeSession:
        kernel = self.kernel(ref)
        if version is None:
            latest = kernel.latest
            assert latest is not None
            return latest
        return next(s for s in kernel.sessions if s.version == version)

    def add_finished(
        self,
        ref: str,
        files: Mapping[str, bytes],
        *,
        status: str = "COMPLETE",
        log: list[dict[str, Any]] | None = None,
    ) -> FakeSession:
        """Seed a kernel whose latest session already ended with ``files`` as its outputs."""
        owner, slug = ref.split("/")
        kernel = self._kernel_for(owner, slug, slug.replace("-", " "))
        session = self._new_session(kernel, {"slug": ref, "kernelType": "notebook", "text": "{}"})
        session.working.mkdir(parents=True)
        for name, data in files.items():
            path = session.working / PurePosixPath(name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        with session.log_path.open("w", encoding="utf-8") as handle:
            for event in log or []:
                handle.write(json.dumps(event) + "\n")
        self._finish(session, status, "")
        return session

    def wait_for_change(self, timeout: float = 60.0) -> bool:
        """Block until something changed that the last status call did not see (a push, a
        start, an end, a one-shot answer used up). False when ``timeout`` passed first."""
        with self._cond:
            return self._cond.wait_for(
                lambda: self.generation > self.answered_generation or self._stopping, timeout
            )

    def wait_until(self, ref: str, statuses: set[str], timeout: float = 60.0) -> bool:
        def reached() -> bool:
            kernel = self.kernels.get(ref.lower())
            return bool(kernel and kernel.latest and kernel.latest.status in statuses)

        with self._cond:
            return self._cond.wait_for(reached, timeout)

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        for kernel in list(self.kernels.values()):
            for session in kernel.sessions:
                if session.process is not None and session.process.poll() is None:
                    session.process.kill()
                    session.process.wait(timeout=10)
        if self._root_dir is not None:
            shutil.rmtree(self._root_dir, ignore_errors=True)

    # ----------------------------------------------------------------- internals
    @property
    def _root(self) -> Path:
        if self._root_dir is None:
            self._root_dir = Path(tempfile.mkdtemp(prefix="kaggle-kernels-fake-"))
        return self._root_dir

    def _bump(self) -> None:
        with self._cond:
            self.generation += 1
            self._cond.notify_all()

    def _kernel_for(self, owner: str, slug: str, title: str) -> FakeKernel:
        key = f"{owner}/{slug}".lower()
        kernel = self.kernels.get(key)
        if kernel is None:
            self._next_id += 1
            kernel = FakeKernel(owner, slug, title, self._next_id)
            self.kernels[key] = kernel
        return kernel

    def _new_session(self, kernel: FakeKernel, request: dict[str, Any]) -> FakeSession:
        version = len(kernel.sessions) + 1
        run_dir = self._root / kernel.owner / kernel.slug / f"v{version}"
        run_dir.mkdir(parents=True)
        session = FakeSession(version, dict(request), run_dir)
        kernel.sessions.append(session)
        return session

    def _authenticated(self, handler: Any) -> None:
        from .kaggle_wire import envelope

        kind = handler._auth_kind()
        if kind == "none":
            raise envelope(401, "You must be authenticated to use kernels.")
        if kind == "invalid":
            raise envelope(401, "Unauthenticated: the API token or key is invalid or expired.")

    def _lookup(self, body: Mapping[str, Any]) -> tuple[FakeKernel, FakeSession]:
        from .kaggle_wire import envelope

        ref = f"{body.get('userName', '')}/{body.get('kernelSlug', '')}"
        kernel = self.kernels.get(ref.lower())
        if kernel is None or kernel.latest is None:
            raise envelope(404, f"Kernel not found: {ref}")
        label = str(body.get("versionLabel") or "")
        if not label:
            return kernel, kernel.latest
        if not (label.startswith("v") and label[1:].isdigit()):
            raise envelope(404, f"Kernel version not found: {ref} {label}")
        for session in kernel.sessions:
            if session.version == int(label[1:]):
                return kernel, session
        raise envelope(404, f"Kernel version not found: {ref} {label}")

    # ----------------------------------------------------------------- SaveKernel
    def _save_kernel(self, handler: Any, body: dict[str, Any]) -> None:
        from .kaggle_wire import Reply, envelope

        self._authenticated(handler)
        ref = str(body.get("slug") or "")
        owner, _, slug = ref.partition("/")
        if self._rejections:
            raise Reply(200, {"error": self._rejections.pop(0)})
        if owner.lower() != self.fake.username.lower():
            raise Reply(200, {"error": "Kernel not found"})
        if len(slug) < 5 or "/" in slug:
            raise envelope(400, f"Invalid kernel slug: {ref}")
        if body.get("kernelType") not in ("notebook", "script"):
            raise envelope(400, "kernelType must be notebook or script")
        try:
            notebook = json.loads(str(body.get("text") or ""))
        except ValueError:
            notebook = None
        if body.get("kernelType") == "notebook" and not isinstance(notebook, dict):
            raise envelope(400, "The notebook text is not valid JSON.")
        shape = str(body.get("machineShape") or "")
        if shape in GPU_SHAPES:
            active_gpu = sum(
                1
                for k in self.kernels.values()
                for s in k.sessions
                if s.status in ACTIVE and s.machine_shape in GPU_SHAPES
            )
            if active_gpu >= self.max_gpu_sessions:
                limit = self.max_gpu_sessions
                raise Reply(200, {"error": f"Maximum batch GPU session count of {limit} reached."})
        title = str(body.get("newTitle") or slug.replace("-", " "))
        kernel = self._kernel_for(owner, slug, title)
        invalid = self._invalid_sources(body)
        session = self._new_session(kernel, body)
        session.working.mkdir()
        if isinstance(notebook, dict):
            (session.run_dir / "pushed.ipynb").write_text(json.dumps(notebook), encoding="utf-8")
        else:  # a script runs as one cell
            cells = [{"cell_type": "code", "source": str(body.get("text") or ""), "outputs": []}]
            (session.run_dir / "pushed.ipynb").write_text(
                json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}),
                encoding="utf-8",
            )
        self._mount_sources(session, body)
        self._after_push = (
            ["stale"] * self.stale_status_calls
            + ["404"] * self.not_found_calls
            + ["empty"] * self.empty_status_calls
        )
        self._bump()
        timer = threading.Timer(self.queue_seconds, self._start, args=(session,))
        timer.daemon = True
        timer.start()
        reply: dict[str, Any] = {
            "ref": f"/code/{kernel.ref}",
            "url": f"https://www.kaggle.com/code/{kernel.ref}",
            "versionNumber": session.version,
            "kernelId": kernel.kernel_id,
        }
        reply.update({k: v for k, v in invalid.items() if v})
        raise Reply(200, reply)

    def _invalid_sources(self, body: Mapping[str, Any]) -> dict[str, list[str]]:
        datasets = [
            s for s in body.get("datasetDataSources") or [] if s.lower() not in self.fake.datasets
        ]
        competitions = [
            s
            for s in body.get("competitionDataSources") or []
            if s.lower().removeprefix("competitions/") not in self.fake.competitions
        ]
        kernels = [s for s in body.get("kernelDataSources") or [] if s.lower() not in self.kernels]
        return {
            "invalidDatasetSources": datasets,
            "invalidCompetitionSources": competitions,
            "invalidKernelSources": kernels,
        }

    def _mount_sources(self, session: FakeSession, body: Mapping[str, Any]) -> None:
        """Attached datasets and competitions appear under the session's input root."""
        root = session.run_dir / "input"
        root.mkdir()
        for ref in body.get("datasetDataSources") or []:
            dataset = self.fake.datasets.get(str(ref).lower())
            if dataset is not None:
                self._copy_files(root / dataset.slug, dataset.versions[dataset.current_version])
        for ref in body.get("competitionDataSources") or []:
            slug = str(ref).lower().removeprefix("competitions/")
            competition = self.fake.competitions.get(slug)
            if competition is not None:
                self._copy_files(root / competition.slug, competition.files)

    @staticmethod
    def _copy_files(target: Path, files: Mapping[str, Any]) -> None:
        for name, content in files.items():
            path = target / PurePosixPath(name)
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, Path):
                shutil.copyfile(content, path)
            else:
                path.write_bytes(content)

    # ----------------------------------------------------------------- running
    def _run_env(self, session: FakeSession) -> dict[str, str]:
        home = session.run_dir / "home"
        home.mkdir(exist_ok=True)
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(home),
            "PYTHONUNBUFFERED": "1",
            "PYTHONIOENCODING": "utf-8",
            "KAGGLE_KERNEL_RUN_TYPE": "Batch",
            "KAGGLE_CACHE_MOUNT_FOLDER": str(session.run_dir / "input"),
            "MLENV_CACHE_DIR": str(session.run_dir / "mlenv-cache"),
            "MLENV_KAGGLE_API": self.fake.url,
            "NO_PROXY": "127.0.0.1,localhost,::1",
        }
        if "PYTHONPATH" in os.environ:
            env["PYTHONPATH"] = os.environ["PYTHONPATH"]
        if session.request.get("enableInternet") is False:
            env["MLENV_FAKE_NO_INTERNET"] = "1"
        return env

    def _start(self, session: FakeSession) -> None:
        if self._stopping or session.status != "QUEUED":
            return
        command = [
            self.python,
            "-m",
            "mlenv_magics.testing.kaggle_kernel_exec",
            str(session.run_dir / "pushed.ipynb"),
            str(session.run_dir / NOTEBOOK_OUTPUT),
            str(session.log_path),
        ]
        session.log_path.touch()
        session.process = subprocess.Popen(
            command,
            cwd=session.working,
            env=self._run_env(session),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=(session.run_dir / "runner.err").open("wb"),
        )
        session.started = time.time()
        session.status = "RUNNING"
        self._bump()
        watcher = threading.Thread(target=self._watch, args=(session,), daemon=True)
        watcher.start()

    def _watch(self, session: FakeSession) -> None:
        assert session.process is not None
        limit = float(session.request.get("sessionTimeoutSeconds") or self.max_run_seconds)
        try:
            code = session.process.wait(timeout=min(limit, self.max_run_seconds))
        except subprocess.TimeoutExpired:
            session.process.kill()
            session.process.wait(timeout=10)
            self._finish(session, "ERROR", "The session exceeded its maximum run time.")
            return
        if self._stopping:
            return
        if code == 0:
            self._finish(session, "COMPLETE", "")
        else:
            self._finish(session, "ERROR", "" if code == 1 else f"The kernel exited with {code}.")

    def _finish(self, session: FakeSession, status: str, message: str) -> None:
        outputs = {
            path.relative_to(session.working).as_posix(): path
            for path in sorted(session.working.rglob("*"))
            if path.is_file()
        }
        executed = session.run_dir / NOTEBOOK_OUTPUT
        if executed.is_file():
            outputs[NOTEBOOK_OUTPUT] = executed
        session.outputs = outputs
        session.ended = time.time()
        session.failure_message = message
        session.status = status
        self._bump()

    # ----------------------------------------------------------------- status
    def _status(self, handler: Any, body: dict[str, Any]) -> None:
        from .kaggle_wire import Reply, envelope

        self._authenticated(handler)
        kernel, session = self._lookup(body)
        with self._cond:
            one_shot = self._after_push.pop(0) if self._after_push else None
            # a one-shot answer used up is itself a change the next call can see
            self.answered_generation = self.generation if one_shot is None else -1
        if one_shot is not None:
            self._bump()
        if one_shot == "404":
            raise envelope(404, f"Kernel session not found: {kernel.ref}")
        if one_shot == "empty":
            raise Reply(200, {})
        if one_shot == "stale" and len(kernel.sessions) >= 2:
            session = kernel.sessions[-2]
        answer: dict[str, Any] = {"status": session.status}
        if session.failure_message:
            answer["failureMessage"] = session.failure_message
        raise Reply(200, answer)

    # ----------------------------------------------------------------- outputs
    def _list_output(self, handler: Any, body: dict[str, Any]) -> None:
        from .kaggle_wire import Reply

        self._authenticated(handler)
        kernel, session = self._lookup(body)
        if session.status in ACTIVE:
            raise Reply(200, {"files": [], "log": "", "nextPageToken": ""})
        names = sorted(session.outputs)
        chunk, next_token = handler._page(body, names)
        files = [
            {"fileName": name, "url": self._output_url(kernel, session, name)} for name in chunk
        ]
        log = json.dumps(session.log_events())
        raise Reply(200, {"files": files, "log": log, "nextPageToken": next_token})

    def _output_url(self, kernel: FakeKernel, session: FakeSession, name: str) -> str:
        blob = f"kernels/{kernel.ref}/v{session.version}/output/{name}"
        self.fake._blob_url(
            ("k", kernel.ref, str(session.version), name), blob, session.outputs[name]
        )
        url = str(self.fake.blobs.url_for(blob))  # signed now
        if self.expire_output_urls and blob not in self._expired:
            self._expired.add(blob)
            self.fake.blobs.expire(blob)  # the URL just made is stale when it is fetched
        return url

    def output_blob(self, ref: str, version: int, name: str) -> str:
        """The blob host's name of one output file (for faults and stats)."""
        kernel = self.kernel(ref)
        return f"kernels/{kernel.ref}/v{version}/output/{name}"

    # ----------------------------------------------------------------- pull
    def _get_kernel(self, handler: Any, body: dict[str, Any]) -> None:
        from .kaggle_wire import Reply

        self._authenticated(handler)
        kernel, session = self._lookup(body)
        request = session.request
        metadata = {
            "id": kernel.kernel_id,
            "ref": kernel.ref,
            "title": kernel.title,
            "author": kernel.owner,
            "slug": kernel.slug,
            "language": request.get("language") or "python",
            "kernelType": request.get("kernelType") or "notebook",
            "isPrivate": request.get("isPrivate", True),
            "enableGpu": bool(request.get("enableGpu")),
            "enableTpu": bool(request.get("enableTpu")),
            "enableInternet": request.get("enableInternet", True),
            "datasetDataSources": list(request.get("datasetDataSources") or []),
            "competitionDataSources": list(request.get("competitionDataSources") or []),
            "kernelDataSources": list(request.get("kernelDataSources") or []),
            "modelDataSources": list(request.get("modelDataSources") or []),
            "currentVersionNumber": len(kernel.sessions),
            "machineShape": session.machine_shape,
        }
        blob = {
            "source": str(request.get("text") or ""),
            "language": metadata["language"],
            "kernelType": metadata["kernelType"],
            "slug": kernel.slug,
        }
        raise Reply(200, {"metadata": metadata, "blob": blob})

    # ----------------------------------------------------------------- quota
    def _quota(self, handler: Any, body: dict[str, Any]) -> None:
        from .kaggle_wire import Reply

        self._authenticated(handler)
        raise Reply(
            200,
            {
                "quotaRefreshTime": self.quota_refresh_time,
                "gpuQuota": dict(self.gpu_quota),
                "tpuQuota": dict(self.tpu_quota),
            },
        )

    def _wait_endpoint(self, handler: Any, path: str) -> bool:
        """``GET /_fake/kernels/wait-for-change?timeout=S``: :meth:`wait_for_change` over HTTP,
        so a client in another process can wait on the fake's events instead of sleeping."""
        if path != WAIT_PATH:
            return False
        from .kaggle_wire import Reply

        query = parse_qs(urlsplit(handler.path).query)
        timeout = min(float((query.get("timeout") or ["60"])[0]), 120.0)
        changed = self.wait_for_change(timeout)
        with suppress(OSError):  # the waiting process may be gone (interrupted, shut down)
            handler._answer(Reply(200, {"changed": changed}))
        return True

    # ----------------------------------------------------------------- log stream
    def _log_stream(self, handler: Any, path: str) -> bool:
        prefix = next((p for p in STREAM_PREFIXES if path.startswith(p)), None)
        if prefix is None:
            return False
        parts = [unquote(p) for p in path[len(prefix) :].split("/") if p]
        query = parse_qs(urlsplit(handler.path).query)
        body = {
            "userName": parts[0] if parts else "",
            "kernelSlug": parts[1] if len(parts) > 1 else "",
        }
        if query.get("versionLabel"):
            body["versionLabel"] = query["versionLabel"][0]
        from .kaggle_wire import Call, Reply

        with self.fake._lock:
            self.fake.calls.append(
                Call("LogStream", body, handler._auth_kind(), handler.headers.get("User-Agent"))
            )
        try:
            self._authenticated(handler)
            _, session = self._lookup(body)
        except Reply as reply:
            handler._answer(reply)
            return True
        if session.status not in ACTIVE:
            payload = json.dumps(session.log_events()).encode()
            with suppress(OSError):
                handler.send_response(200)
                handler.send_header("Content-Type", "application/json")
                handler.send_header("Content-Length", str(len(payload)))
                handler.end_headers()
                handler.wfile.write(payload)
            return True
        handler.close_connection = True
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.send_header("Cache-Control", "no-cache")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()

        def chunk(data: bytes) -> None:
            handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            handler.wfile.flush()

        sent = 0
        try:
            while not self._stopping:
                events = session.log_events()
                if events[sent:]:
                    chunk(
                        b"".join(
                            b"data: " + json.dumps(e).encode() + b"\n\n" for e in events[sent:]
                        )
                    )
                sent = len(events)
                if session.status not in ACTIVE:
                    if len(session.log_events()) == sent:
                        break
                    continue
                time.sleep(STREAM_POLL_S)
            chunk(b"data: END_OF_LOG\n\n")
            handler.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass  # the client went away (Ctrl-C, or the stream was closed)
        return True
