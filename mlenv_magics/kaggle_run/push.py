"""Push: the notebook becomes a private Kaggle notebook version that runs once."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import MlenvError
from . import protocol
from .client import KernelsClient
from .errors import KernelBusyError, PushRejectedError, QuotaExhaustedError
from .model import QuotaReport, public_status
from .options import KernelRef, RunOptions, kernel_ref
from .reporter import RunReporter
from .sources import attached_sources


@dataclass(frozen=True)
class Pushed:
    kernel: KernelRef  # owner/slug, with the pushed version
    url: str
    baseline: protocol.StatusAnswer | None  # the previous session's status, read before


def quota_report(client: KernelsClient) -> QuotaReport:
    refresh, gpu, tpu = client.quota()
    return QuotaReport(refresh, gpu, tpu)


def check_quota(client: KernelsClient, kind: str, reporter: RunReporter) -> None:
    report = quota_report(client)
    reporter.notice(report.line(kind))
    numbers = report.gpu if kind == "gpu" else report.tpu
    if numbers is not None and numbers.remaining_s == 0 and not numbers.pay_to_scale:
        raise QuotaExhaustedError(
            f"No Kaggle {kind.upper()} time is left this week.",
            fix=f"It resets {report.refresh or 'weekly'}; until then run with --accelerator none.",
        )


def push(
    client: KernelsClient,
    notebook_text: str,
    slug: str,
    title: str,
    options: RunOptions,
    reporter: RunReporter,
) -> Pushed:
    machine = options.machine
    sources = attached_sources(options.data)
    for note in sources.notes:
        reporter.notice(note)
    target = kernel_ref(options.kernel) if options.kernel else KernelRef(client.username(), slug)
    if options.kernel:
        title = target.slug.replace("-", " ")
    baseline = client.status(target)
    if baseline is not None and baseline.active:
        raise KernelBusyError(
            f"{target.ref} is still {public_status(baseline.state)} on Kaggle; pushing again"
            " would start a second session that nobody could watch.",
            fix=f"Wait for it (%mlenv_kaggle status {target.ref}, then %mlenv_kaggle output"
            f" {target.ref}), or run under another name with --kernel OWNER/NEW-SLUG.",
        )
    if machine.kind in ("gpu", "tpu"):
        check_quota(client, machine.kind, reporter)
    spec = protocol.SaveKernelSpec(
        ref=target.ref,
        title=title,
        text=notebook_text,
        machine_shape=machine.shape,
        internet=options.internet,
        session_timeout_seconds=options.session_seconds(),
        datasets=tuple(sources.datasets),
        competitions=tuple(sources.competitions),
        kernels=tuple(sources.notebooks),
        models=tuple(sources.models),
    )
    answer = client.save_kernel(spec)
    if answer.error:
        raise PushRejectedError(
            f"Kaggle rejected the push of {target.ref}: {answer.error}",
            fix=_fix_for(answer.error, target),
        )
    for kind, names in answer.invalid.items():
        if names:
            reporter.notice(
                f"Kaggle did not attach these {kind} (not found, or not visible to this account):"
                f" {', '.join(names)}; the run goes on without them."
            )
    pushed_ref = _ref_from_answer(answer, target)
    url = answer.url or pushed_ref.url
    if answer.version is None:
        raise MlenvError(
            f"Kaggle accepted the push of {pushed_ref.ref} without saying which version it is.",
            fix=f"Look at {url}; fetch the results with %mlenv_kaggle output {pushed_ref.ref}.",
        )
    return Pushed(KernelRef(pushed_ref.owner, pushed_ref.slug, answer.version), url, baseline)


def _ref_from_answer(answer: protocol.PushAnswer, asked: KernelRef) -> KernelRef:
    for text in (answer.ref, answer.url):
        if not text:
            continue
        path = text.split("kaggle.com", 1)[-1].strip("/")
        path = path[len("code/") :] if path.startswith("code/") else path
        parts = path.split("/")
        if len(parts) >= 2 and parts[0] and parts[1]:
            return KernelRef(parts[0], parts[1])
    return asked


def _fix_for(error: str, target: KernelRef) -> str:
    lowered = error.lower()
    if "session count" in lowered or "toomanyassignments" in lowered:
        return (
            "Kaggle limits how many sessions run at once: wait for one to end (or stop it at"
            " https://www.kaggle.com/code), then run this again."
        )
    if "quota" in lowered:
        return "Check the weekly quota with %mlenv_kaggle quota; run with --accelerator none."
    if "not found" in lowered or "permission" in lowered:
        return (
            f"--kernel {target.ref} must be a notebook of the account whose credentials mlenv"
            " uses; leave --kernel out to use one named after this notebook."
        )
    return f"Check the options; the notebook on Kaggle is {target.url}"
