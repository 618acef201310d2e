"""``mlenv``: the command-line twin of the magics.

Exit codes: 0 success, 1 an :class:`MlenvError` (message on stderr), 2 bad usage.
The arguments of each command come from ``arguments.py``, shared with the magics.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from . import arguments
from .errors import MlenvError


class _UsageError(Exception):
    pass


class _Parser(arguments.Parser):
    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("usage_error", _UsageError)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def error(self, message: str) -> NoReturn:  # exit code 2, as argparse gives
        self.print_usage(sys.stderr)
        raise _UsageError(f"{self.prog}: error: {message}")


def _info(args: argparse.Namespace) -> int:
    from .report import runtime_report

    _show(runtime_report(), args.json)
    return 0


def _gpu(args: argparse.Namespace) -> int:
    from . import displays, gpu_command

    options = gpu_command.GpuOptions.from_args(args, error=_UsageError)
    if options.live is not None or options.stop:
        raise _UsageError(f"mlenv gpu: error: {gpu_command.LIVE_NEEDS_WIDGETS}")
    if options.watch is not None:
        gpu_command.watch(options, displays.JsonLines() if args.json else displays.TextLines())
        return 0
    _show(gpu_command.run(options), args.json)
    return 0


def _add_data(args: argparse.Namespace) -> int:
    from . import data_command
    from .errors import BadSourceError

    try:
        result = data_command.run(
            args.source,
            files=args.file,
            to=args.to,
            force=args.force,
            offline=args.offline,
            keep_archive=args.keep_archive,
            quiet=args.quiet,
        )
    except BadSourceError as exc:
        raise _UsageError(f"mlenv add-data: error: {exc}") from None
    print(result.path)
    return 0


def _cache(args: argparse.Namespace) -> int:
    from .cache_command import cache_result

    result = cache_result(args.action, remove_all=args.all, older_than_days=args.older_than)
    _show(result, args.json)
    return 0


def _kaggle(args: argparse.Namespace) -> int:
    from .errors import BadSourceError
    from .kaggle_run import RemoteOptionError, command

    try:
        if args.action == "run":
            result: object = command.run_file(args)
        else:
            result = command.query(args, command.cli_view(args.json))
    except (RemoteOptionError, BadSourceError) as exc:
        raise _UsageError(f"mlenv kaggle {args.action}: error: {exc}") from None
    _show(result, args.json)
    return 0


def _show(result: object, as_json: bool) -> None:
    from .displays import print_json

    if as_json:
        print_json(result.to_dict())  # type: ignore[attr-defined]
    else:
        print(repr(result))


Command = Callable[[argparse.Namespace], int]

COMMANDS: dict[str, tuple[arguments.Define, str, Command]] = {
    "info": (arguments.define_info, "report the runtime (host, frontend, versions)", _info),
    "gpu": (arguments.define_gpu, "GPU/TPU status, and how to enable one here", _gpu),
    "add-data": (
        arguments.define_add_data,
        "make a data source available; prints its path last",
        _add_data,
    ),
    "cache": (arguments.define_cache, "inspect or clean the download cache", _cache),
    "kaggle": (
        arguments.define_kaggle_command,
        "run a file on Kaggle's machines; a run's status, outputs; the quota",
        _kaggle,
    ),
}


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mlenv", description=__doc__.splitlines()[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (define, help_text, _) in COMMANDS.items():
        define(sub.add_parser(name, help=help_text, description=help_text))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return COMMANDS[args.command][2](args)
    except _UsageError as exc:
        print(exc, file=sys.stderr)
        return 2
    except MlenvError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
