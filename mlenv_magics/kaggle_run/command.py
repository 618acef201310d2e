"""The parsed arguments of ``%%on_kaggle --remote`` / ``mlenv kaggle run`` as run options,
shared by the magic and the command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .model import KaggleRun, QuotaReport
from .options import RunOptions, accelerator, kernel_ref, parse_duration
from .reporter import RunReporter, SilentReporter
from .run import kaggle_output, kaggle_quota, kaggle_status, run_on_kaggle
from .sources import attached_sources
from .view import TextView, make_view


def options_from_args(args: argparse.Namespace) -> RunOptions:
    """Raises RemoteOptionError (the caller's usage error) for a bad value."""
    accelerator(args.accelerator)
    attached_sources(args.data or ())
    if args.kernel:
        kernel_ref(args.kernel)
    return RunOptions(
        accelerator=args.accelerator,
        data=tuple(args.data or ()),
        out=Path(args.out) if args.out else None,
        timeout=parse_duration(args.timeout),
        kernel=args.kernel,
        internet=bool(args.internet),
        detach=bool(args.detach),
        quiet=bool(args.quiet),
        include_hidden=bool(getattr(args, "include_hidden", False)),
    )


def run_cell(code: str, options: RunOptions, notebook: str | None, cell: str | None) -> KaggleRun:
    """``%%on_kaggle --remote``: the cell's code on Kaggle, shown with this frontend's view."""
    return run_on_kaggle(
        code, options, reporter=make_view(options.quiet), notebook_name=notebook, cell_key=cell
    )


def query(args: argparse.Namespace, reporter: RunReporter | None = None) -> KaggleRun | QuotaReport:
    """``status``, ``output`` or ``quota`` of ``%mlenv_kaggle`` and ``mlenv kaggle``."""
    if args.action == "status":
        return kaggle_status(args.ref)
    if args.action == "output":
        return kaggle_output(
            args.ref,
            args.out,
            include_hidden=bool(getattr(args, "include_hidden", False)),
            reporter=reporter if reporter is not None else make_view(False),
        )
    return kaggle_quota()


def cli_view(as_json: bool) -> RunReporter:
    """Progress for ``mlenv kaggle``: on stderr when stdout carries JSON."""
    return TextView(stream=sys.stderr if as_json else sys.stdout)


def run_file(args: argparse.Namespace) -> KaggleRun:
    """``mlenv kaggle run FILE``."""
    options = options_from_args(args)
    reporter = SilentReporter() if options.quiet else cli_view(bool(getattr(args, "json", False)))
    return run_on_kaggle(Path(args.file), options, reporter=reporter)
