"""Free disk space: measured, and checked before bytes are written (downloads, extraction)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from .errors import DiskSpaceError


def disk_free_bytes(path: Path) -> int:
    """Free bytes on the filesystem holding ``path`` (or its nearest existing parent)."""
    probe = Path(path).absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free


def check_free_space(folder: Path, needed: int, free_space: Callable[[Path], int]) -> None:
    """DiskSpaceError naming ``folder`` when fewer than ``needed`` bytes are free there."""
    if needed <= 0:
        return
    free = free_space(folder)
    if needed > free:
        from .render import human_bytes

        raise DiskSpaceError(
            f"Not enough free disk space in {folder}: {human_bytes(needed)} needed "
            f"({needed} bytes), {human_bytes(free)} free ({free} bytes).",
            fix="Free some space, or set MLENV_CACHE_DIR (or --to) to a bigger disk, then rerun.",
        )
