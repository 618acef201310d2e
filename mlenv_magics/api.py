"""The public Python API; the magics and the CLI are thin layers over it.

Nothing here prints or picks a progress bar: callers pass ``progress`` (a
:class:`~mlenv_magics.progress.ProgressSink`) and ``notice`` (called with one line before a
wait) to follow what happens.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .runtime import current_shell, detect_runtime

if TYPE_CHECKING:
    from .data import DataResult
    from .progress import ProgressSink
    from .transfer import TransferPolicy


def gpu_report(**options: Any) -> Any:
    """Probe GPUs and TPUs; see :class:`mlenv_magics.gpu.GpuReport`."""
    from .gpu import gpu_report as probe

    return probe(**options)


def acquire_data(
    source: str,
    *,
    files: Sequence[str] | str = (),
    to: str | os.PathLike[str] | None = None,
    force: bool = False,
    offline: bool = False,
    progress: ProgressSink | None = None,
    notice: Callable[[str], None] | None = None,
    env: Mapping[str, str] | None = None,
    shell: Any = None,
    mount_timeout: float = 60.0,
    policy: TransferPolicy | None = None,
) -> DataResult:
    """Make ``source`` (a Kaggle dataset or competition, or a Google Drive file or folder)
    available locally; return where it is, with its version, origin, file count and size.

    ``files`` keeps only these names, globs or folders; ``to`` places the data in that folder;
    ``force`` fetches again; ``offline`` uses mounts and the cache only.
    """
    from .data import AddDataOptions, acquire

    options = AddDataOptions(
        files=(files,) if isinstance(files, str) else tuple(files),
        to=Path(to) if to is not None else None,
        force=force,
        offline=offline,
        progress=progress,
        env=dict(os.environ if env is None else env),
        shell=shell if shell is not None else current_shell(),
        notice=notice,
        mount_timeout=mount_timeout,
        policy=policy,
    )
    return acquire(source, options)


def add_data(
    source: str,
    *,
    files: Sequence[str] | str = (),
    to: str | os.PathLike[str] | None = None,
    force: bool = False,
    offline: bool = False,
    quiet: bool = False,
    progress: ProgressSink | None = None,
    notice: Callable[[str], None] | None = None,
    env: Mapping[str, str] | None = None,
    shell: Any = None,
    mount_timeout: float = 60.0,
    policy: TransferPolicy | None = None,
) -> Path:
    """:func:`acquire_data`, returning only the directory. ``quiet`` drops the ``progress``
    and ``notice`` callbacks."""
    result = acquire_data(
        source,
        files=files,
        to=to,
        force=force,
        offline=offline,
        progress=None if quiet else progress,
        notice=None if quiet else notice,
        env=env,
        shell=shell,
        mount_timeout=mount_timeout,
        policy=policy,
    )
    return result.path


__all__ = ["acquire_data", "add_data", "detect_runtime", "gpu_report"]
