"""Results: the session's output files downloaded through the shared transfer layer, its log,
and the rich outputs of the executed notebook."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import NotFoundError
from .client import KernelsClient
from .notebook import NOTEBOOK_OUTPUT, code_outputs
from .options import KernelRef
from .wait import log_text

PARTIAL_SUFFIX = ".mlenv-partial"


@dataclass
class Fetched:
    files: list[str] = field(default_factory=list)  # relative names now under ``out``
    skipped: list[str] = field(default_factory=list)  # hidden files left on Kaggle
    log: str = ""  # the session log as text
    raw_log: str = ""  # as Kaggle sent it (JSON events)
    notebook: dict[str, Any] | None = None  # the executed notebook, when it came back

    @property
    def outputs(self) -> list[dict[str, Any]]:
        return code_outputs(self.notebook) if self.notebook else []


def is_hidden(name: str) -> bool:
    """Inside a dot-folder (``.cache/huggingface/...``, often gigabytes) or a dot-file."""
    return any(part.startswith(".") for part in PurePosixPath(name).parts)


def default_out(kernel: KernelRef, version: int | None, root: Path | None = None) -> Path:
    base = (root or Path.cwd()) / "kaggle_runs" / kernel.slug
    return base / (f"v{version}" if version else "latest")


def fetch_results(
    client: KernelsClient,
    kernel: KernelRef,
    out: Path,
    *,
    include_hidden: bool = False,
    progress: Any = None,
) -> Fetched:
    """Download every output file of ``kernel``'s session (hidden ones only when asked) into
    ``out``. Partial bytes are kept beside ``out`` so a rerun resumes; expired signed URLs are
    renewed by listing again."""
    from ..transfer import RemoteFile, fetch_files

    listed, raw_log = client.outputs(kernel)
    result = Fetched(log=log_text(raw_log), raw_log=raw_log)
    wanted: list[tuple[str, str]] = []
    for name, url in listed:
        if is_hidden(name) and not include_hidden:
            result.skipped.append(name)
        else:
            wanted.append((name, url))
    if any(name == NOTEBOOK_OUTPUT for name, _ in listed) and not any(
        name == NOTEBOOK_OUTPUT for name, _ in wanted
    ):
        wanted.append(next(item for item in listed if item[0] == NOTEBOOK_OUTPUT))

    def renewer(name: str) -> Any:
        def resolve(_session: Any) -> str:
            if not pending[name]:
                pending[name] = True
                return first_urls[name]
            fresh = dict(client.outputs(kernel)[0])
            if name not in fresh:
                raise NotFoundError(
                    f"{name} is no longer among the outputs of {kernel.ref}.",
                    fix=f"Look at {kernel.url}",
                )
            return fresh[name]

        return resolve

    first_urls = dict(wanted)
    pending = dict.fromkeys(first_urls, False)
    remotes = [RemoteFile(relpath=name, resolve=renewer(name)) for name, _ in wanted]
    out.mkdir(parents=True, exist_ok=True)
    partial = out.parent / f".{out.name}{PARTIAL_SUFFIX}"
    if remotes:
        fetch_files(client.session, remotes, out, partial_dir=partial, progress=progress)
    shutil.rmtree(partial, ignore_errors=True)
    result.files = [name for name, _ in wanted]
    notebook_path = out / NOTEBOOK_OUTPUT
    if notebook_path.is_file():
        try:
            result.notebook = json.loads(notebook_path.read_text(encoding="utf-8"))
        except ValueError:
            result.notebook = None
    if result.log:
        (out / f"{kernel.slug}.log").write_text(result.log, encoding="utf-8")
    return result
