"""``run_on_kaggle``: push, wait, fetch; and the status, output and quota calls."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from . import notebook as nb
from .client import KernelsClient
from .errors import RemoteRunError, WaitTimeoutError
from .model import KaggleRun, QuotaReport, public_status
from .options import KernelRef, RunOptions, kernel_ref, shape_label
from .push import Pushed, push, quota_report
from .reporter import RunReporter, SilentReporter
from .results import default_out, fetch_results
from .sources import attached_sources
from .wait import LogFollower, Poll, WaitClock, wait_for_end

_last_ref: str | None = None  # the latest run of this process, for status/output without a name


def last_ref() -> str | None:
    return _last_ref


def _remember(ref: str) -> None:
    global _last_ref
    _last_ref = ref


def prepare_notebook(
    code_or_path: str | os.PathLike[str], notebook_name: str | None, cell_key: str | None
) -> tuple[dict[str, Any], str]:
    """The notebook to push and its default slug."""
    if isinstance(code_or_path, os.PathLike) or (
        isinstance(code_or_path, str)
        and "\n" not in code_or_path
        and code_or_path.endswith((".py", ".ipynb"))
    ):
        path = Path(code_or_path)
        notebook = nb.from_file(path)
        return notebook, nb.derive_slug(path.name, str(path.resolve()), "")
    code = str(code_or_path)
    return nb.from_code(code), nb.derive_slug(notebook_name, cell_key, code)


def run_on_kaggle(
    code_or_path: str | os.PathLike[str],
    options: RunOptions | None = None,
    *,
    reporter: RunReporter | None = None,
    client: KernelsClient | None = None,
    notebook_name: str | None = None,
    cell_key: str | None = None,
    timing: WaitClock | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> KaggleRun:
    """Run ``code_or_path`` (cell code, or a ``.py``/``.ipynb`` file) as a private Kaggle
    notebook and bring back its outputs; see SPEC ``%%on_kaggle --remote``."""
    options = options or RunOptions()
    reporter = reporter or SilentReporter()
    machine = options.machine  # bad options fail before anything is sent
    attached_sources(options.data)
    notebook, slug = prepare_notebook(code_or_path, notebook_name, cell_key)
    own_client = client is None
    client = client or KernelsClient.from_env(env)
    try:
        pushed = push(client, nb.push_text(notebook), slug, nb.title_for(slug), options, reporter)
        _remember(pushed.kernel.ref)
        run = KaggleRun(
            ref=pushed.kernel.ref,
            url=pushed.url,
            version=pushed.kernel.version,
            status="queued",
            accelerator=machine.label,
        )
        reporter.status(run)
        if options.detach:
            reporter.notice(
                f"Pushed {run.ref} v{run.version}; it runs on Kaggle at {run.url}."
                f" Fetch the results later: {run.fetch_hint}"
            )
            return run
        follower = _wait(client, pushed, run, options, reporter, timing)
        out = options.out or default_out(pushed.kernel, run.version, cwd)
        return _collect(client, pushed.kernel, run, out, options.include_hidden, reporter, follower)
    finally:
        if own_client:
            client.close()


def _wait(
    client: KernelsClient,
    pushed: Pushed,
    run: KaggleRun,
    options: RunOptions,
    reporter: RunReporter,
    timing: WaitClock | None,
) -> LogFollower:
    lock = threading.Lock()
    logged = threading.Event()

    def on_log(text: str) -> None:
        logged.set()
        with lock:
            started = run.status == "queued"
            if started:
                run.status = "running"  # output is arriving: it runs, whatever the last poll said
        reporter.log(text)
        if started:
            reporter.status(run)

    follower = LogFollower(client, pushed.kernel, on_log)

    def on_poll(poll: Poll) -> None:
        if poll.confirmed and not options.quiet:
            follower.start()  # only now: before, the stream could still be the last run's log
        with lock:
            status = public_status(poll.answer.state)
            if not (status == "queued" and logged.is_set()):
                run.status = status
            run.elapsed = poll.elapsed
            run.failure = poll.answer.failure or None
        reporter.status(run)

    try:
        final = wait_for_end(
            client,
            pushed.kernel,
            pushed.baseline,
            options.timeout,
            on_poll,
            timing,
            wake=follower.ended,
        )
    except (KeyboardInterrupt, WaitTimeoutError) as stop:
        follower.stop()
        if isinstance(stop, KeyboardInterrupt):
            reporter.notice(
                f"Stopped waiting (Ctrl-C). The run goes on at {run.url}; fetch the results"
                f" later with {run.fetch_hint}"
            )
        raise
    except BaseException:
        follower.stop()
        raise
    run.status = public_status(final.answer.state)
    return follower


def _collect(
    client: KernelsClient,
    kernel: KernelRef,
    run: KaggleRun,
    out: Path,
    include_hidden: bool,
    reporter: RunReporter,
    follower: LogFollower | None = None,
) -> KaggleRun:
    fetched = fetch_results(client, kernel, out, include_hidden=include_hidden)
    if follower is not None:
        follower.finish(fetched.raw_log)
    run.out, run.files, run.log, run.skipped = out, fetched.files, fetched.log, fetched.skipped
    run.outputs = fetched.outputs
    if fetched.skipped:
        reporter.notice(
            f"Left {len(fetched.skipped)} hidden files on Kaggle ({fetched.skipped[0]}, ...);"
            " include_hidden=True fetches them."
        )
    reporter.outputs(run.outputs)
    reporter.finished(run)
    if run.status == "error":
        lines = nb.remote_traceback(fetched.notebook, fetched.log)
        run.failure = run.failure or lines or None
        said = lines or run.failure or "(no message)"
        raise RemoteRunError(
            f"The run {run.ref} v{run.version} failed on Kaggle:\n{said}",
            fix=f"See the whole log in {out / (kernel.slug + '.log')} or at {run.url}",
            run=run,
        )
    if run.status == "cancelled":
        raise RemoteRunError(
            f"The run {run.ref} v{run.version} was cancelled on Kaggle.", fix=run.url, run=run
        )
    return run


def kaggle_status(ref: str | None = None, *, client: KernelsClient | None = None) -> KaggleRun:
    kernel = _ref_or_last(ref)
    with _client(client) as api:
        answer = api.status(kernel)
        info = api.kernel(kernel) if answer is not None else None
    state = answer.state if answer is not None else "queued"
    return KaggleRun(
        ref=kernel.ref,
        url=kernel.url,
        version=kernel.version or (info.current_version if info else None),
        status=public_status(state),
        accelerator=shape_label(info.machine_shape) if info else None,
        failure=(answer.failure or None) if answer else None,
    )


def kaggle_output(
    ref: str | None = None,
    out: str | os.PathLike[str] | None = None,
    *,
    include_hidden: bool = False,
    client: KernelsClient | None = None,
    reporter: RunReporter | None = None,
    cwd: Path | None = None,
) -> KaggleRun:
    """Download the outputs of a finished run (the latest, or version N of OWNER/SLUG/N)."""
    kernel = _ref_or_last(ref)
    reporter = reporter or SilentReporter()
    with _client(client) as api:
        run = kaggle_status(
            kernel.ref + (f"/{kernel.version}" if kernel.version else ""), client=api
        )
        if run.status in ("queued", "running"):
            from .errors import KernelBusyError

            raise KernelBusyError(
                f"{kernel.ref} is still {run.status} on Kaggle: its outputs are not there yet.",
                fix=f"Try again later (%mlenv_kaggle status {kernel.ref}); watch it at {run.url}",
            )
        target = Path(out) if out is not None else default_out(kernel, run.version, cwd)
        return _collect(api, replace(kernel), run, target, include_hidden, reporter)


def kaggle_quota(*, client: KernelsClient | None = None) -> QuotaReport:
    with _client(client) as api:
        return quota_report(api)


def _ref_or_last(ref: str | None) -> KernelRef:
    if ref:
        return kernel_ref(ref)
    if _last_ref is None:
        from .errors import RemoteOptionError

        raise RemoteOptionError(
            "No run to look at: name one as OWNER/SLUG (no remote run started in this session)."
        )
    return kernel_ref(_last_ref)


class _client:
    def __init__(self, given: KernelsClient | None) -> None:
        self.given = given
        self.made: KernelsClient | None = None

    def __enter__(self) -> KernelsClient:
        if self.given is not None:
            return self.given
        self.made = KernelsClient.from_env()
        return self.made

    def __exit__(self, *exc: object) -> None:
        if self.made is not None:
            self.made.close()
