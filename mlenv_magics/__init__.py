"""mlenv_magics: one-line GPU checks, data attachment and host-aware cells for notebooks.

``%load_ext mlenv_magics`` registers the magics. Loading stays cheap: nothing heavy
(ipywidgets, kaggle, requests, pydrive2, torch, ...) is imported until a magic needs it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__
from .errors import MlenvError

if TYPE_CHECKING:  # the real names for type checkers; at run time they load on first use
    from IPython.core.interactiveshell import InteractiveShell

    from .api import add_data, detect_runtime, gpu_report, run_on_kaggle

__all__ = [
    "MlenvError",
    "__version__",
    "add_data",
    "detect_runtime",
    "gpu_report",
    "run_on_kaggle",
]


_LAZY = frozenset({"add_data", "detect_runtime", "gpu_report", "run_on_kaggle"})


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'mlenv_magics' has no attribute {name!r}")


def load_ipython_extension(ipython: InteractiveShell) -> None:
    from .magics import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: InteractiveShell) -> None:
    from .magics import unload_ipython_extension as unload

    unload(ipython)
