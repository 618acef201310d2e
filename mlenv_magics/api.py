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
    from .gpu import GpuReport
    from .kaggle_run import KaggleRun
    from .progress import ProgressSink
    from .transfer import TransferPolicy


def gpu_report(*, env: Mapping[str, str] | None = None, shell: Any = None) -> GpuReport:
    """Probe GPUs, TPUs and frameworks (NVML, else ``nvidia-smi``; nothing is imported).

    ``env`` replaces ``os.environ``; ``shell`` is the IPython shell (default: the running one).
    """
    from .gpu import gpu_report as probe

    return probe(env=env, shell=shell)


def acquire_data(
    source: str,
    *,
    files: Sequence[str] | str = (),
    to: str | os.PathLike[str] | None = None,
    force: bool = False,
    offline: bool = False,
    keep_archive: bool = False,
    progress: ProgressSink | None = None,
    notice: Callable[[str], None] | None = None,
    env: Mapping[str, str] | None = None,
    shell: Any = None,
    mount_timeout: float = 60.0,
    policy: TransferPolicy | None = None,
) -> DataResult:
    """Make ``source`` (a Kaggle dataset, competition, model or notebook output, or a Google
    Drive file or folder) available locally; return where it is, with its version, origin,
    file count and size.

    ``files`` keeps only these names, globs or folders; ``to`` places the data in that folder;
    ``force`` fetches again; ``offline`` uses mounts and the cache only; ``keep_archive``
    keeps a downloaded archive in the data folder beside what it held.
    """
    from .data import AddDataOptions, acquire

    options = AddDataOptions(
        files=(files,) if isinstance(files, str) else tuple(files),
        to=Path(to) if to is not None else None,
        force=force,
        offline=offline,
        keep_archive=keep_archive,
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
    keep_archive: bool = False,
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
        keep_archive=keep_archive,
        progress=None if quiet else progress,
        notice=None if quiet else notice,
        env=env,
        shell=shell,
        mount_timeout=mount_timeout,
        policy=policy,
    )
    return result.path


def run_on_kaggle(
    code_or_path: str | os.PathLike[str],
    *,
    accelerator: str = "none",
    data: Sequence[str] | str = (),
    out: str | os.PathLike[str] | None = None,
    timeout: str | float = "12h",
    kernel: str | None = None,
    internet: bool = True,
    detach: bool = False,
    quiet: bool = False,
    include_hidden: bool = False,
) -> KaggleRun:
    """Run cell code, or a ``.py``/``.ipynb`` file, as a private notebook on Kaggle's machines;
    wait for it (status and log shown as it runs), download its output files into ``out``
    and return a :class:`~mlenv_magics.kaggle_run.KaggleRun`. The options are those of
    ``%%on_kaggle --remote``."""
    from .kaggle_run import RunOptions
    from .kaggle_run import run_on_kaggle as run
    from .kaggle_run.options import accelerator as machine
    from .kaggle_run.options import parse_duration
    from .kaggle_run.view import make_view

    machine(accelerator)
    options = RunOptions(
        accelerator=accelerator,
        data=(data,) if isinstance(data, str) else tuple(data),
        out=Path(out) if out is not None else None,
        timeout=parse_duration(timeout),
        kernel=kernel,
        internet=internet,
        detach=detach,
        quiet=quiet,
        include_hidden=include_hidden,
    )
    return run(code_or_path, options, reporter=make_view(quiet))


__all__ = ["acquire_data", "add_data", "detect_runtime", "gpu_report", "run_on_kaggle"]
