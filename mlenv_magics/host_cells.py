"""``%%on_kaggle``, ``%%on_colab``, ``%%on_local``: cells that run only on one host.

On its host such a cell must run exactly as a normal cell: top-level ``await``, the
shell's AST transformers, the display hook, ``In``/``Out``. So the body is not executed
by the cell magic: :class:`HostCellTransformer`, an IPython input transformer (a
function over the cell's lines), rewrites the cell into its body before IPython compiles
it. Elsewhere the cell is left alone, and the cell magic prints the "skipped" line.

Only the plain form (no flags, or ``-q``/``--quiet``) is rewritten; anything else on the
first line (``--remote``, unknown flags, ``{var}``) reaches the real cell magic, which
parses it and raises ``UsageError`` where it must.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .runtime import Runtime

HOST_OF_MAGIC = {"on_kaggle": "kaggle", "on_colab": "colab", "on_local": "local"}

_PLAIN_FIRST_LINE = re.compile(r"%%(on_kaggle|on_colab|on_local)(?:[ \t]+(?:-q|--quiet))?[ \t]*")


def skip_message(magic: str, runtime: Runtime) -> str:
    from .runtime import HOSTS

    wanted = HOST_OF_MAGIC[magic]
    return (
        f"skipped: %%{magic} runs this cell only on {HOSTS[wanted]}; this is {runtime.host_label}."
    )


def runs_here(magic: str, runtime: Runtime) -> bool:
    return runtime.host == HOST_OF_MAGIC[magic]


def plain_host_magic(first_line: str) -> str | None:
    """``on_colab`` for ``%%on_colab`` or ``%%on_colab -q``; ``None`` for anything else."""
    match = _PLAIN_FIRST_LINE.fullmatch(first_line.rstrip("\r\n"))
    return match.group(1) if match else None


def rewrite_host_cell(lines: list[str], detect: Callable[[], Runtime]) -> list[str]:
    """The body of a plain ``%%on_<host>`` cell when this is that host, else ``lines``."""
    magic = plain_host_magic(lines[0]) if lines else None
    if magic is None:
        return lines
    try:
        runtime = detect()
    except Exception:  # e.g. a bad MLENV_RUNTIME: the cell magic reports it as the cell's error
        return lines
    return lines[1:] if runs_here(magic, runtime) else lines


class HostCellTransformer:
    """The input transformer registered in ``shell.input_transformers_cleanup`` on load."""

    # IPython skips such transformers when it only checks whether input is complete: a
    # terminal then still waits for the body after "%%on_local", as for any cell magic.
    has_side_effects = True
    mlenv_host_cells = True

    def __init__(self, shell: Any) -> None:
        self.shell = shell

    def __call__(self, lines: list[str]) -> list[str]:
        from .runtime import detect_runtime

        return rewrite_host_cell(lines, lambda: detect_runtime(shell=self.shell))


def install(shell: Any) -> None:
    uninstall(shell)
    shell.input_transformers_cleanup.append(HostCellTransformer(shell))


def uninstall(shell: Any) -> None:
    transformers = shell.input_transformers_cleanup
    transformers[:] = [t for t in transformers if not getattr(t, "mlenv_host_cells", False)]
