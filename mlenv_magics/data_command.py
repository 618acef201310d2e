"""``%mlenv_add_data`` and ``mlenv add-data`` around :func:`mlenv_magics.api.acquire_data`:
progress bars (notebook bars in Jupyter, text in terminals), notices, the summary line, and the
login form when a source needs one and widgets can be shown."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .errors import CredentialsError, LoginRequired

if TYPE_CHECKING:
    from .data import DataResult


def run(
    source: str,
    *,
    files: Sequence[str] = (),
    to: str | os.PathLike[str] | None = None,
    force: bool = False,
    offline: bool = False,
    keep_archive: bool = False,
    quiet: bool = False,
    shell: Any = None,
) -> DataResult:
    """Fetch ``source``, showing progress and the summary line unless ``quiet``."""
    from .api import acquire_data

    progress = None
    if not quiet:
        from .progress import tqdm_progress

        progress = tqdm_progress(source)
    try:
        result = acquire_data(
            source,
            files=files,
            to=to,
            force=force,
            offline=offline,
            keep_archive=keep_archive,
            progress=progress,
            notice=None if quiet else _print_notice,
            shell=shell,
        )
    except LoginRequired as needed:
        if _show_login_form(needed, shell):
            raise CredentialsError(needed.message, fix=needed.form_fix) from None
        raise
    finally:
        if progress is not None:
            progress.close()
    if not quiet:
        print(result.summary_line(), flush=True)
    return result


def _show_login_form(needed: LoginRequired, shell: Any) -> bool:
    """Display the form ``needed`` names when this frontend shows widgets."""
    from .runtime import current_shell, detect_runtime

    runtime = detect_runtime(
        needed.login_env, shell=shell if shell is not None else current_shell()
    )
    if needed.form != "kaggle" or not runtime.widgets_useful:
        return False
    from .kaggle_login_form import show_login_form

    return show_login_form(needed.login_env)


def _print_notice(text: str) -> None:
    print(text, flush=True)
