"""``mlenv``: the command-line twin of the magics.

Exit codes: 0 success, 1 an :class:`MlenvError` (message on stderr), 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from .errors import MlenvError


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # exit code 2, like argparse, without SystemExit games
        self.print_usage(sys.stderr)
        raise _UsageError(f"{self.prog}: error: {message}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mlenv", description=__doc__.splitlines()[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    info = sub.add_parser("info", help="report the runtime (host, frontend, versions, data roots)")
    info.add_argument("--json", action="store_true")

    gpu = sub.add_parser("gpu", help="GPU/TPU status, and how to enable one here")
    gpu.add_argument("--require", choices=["gpu", "tpu", "accelerator"])
    gpu.add_argument("--min-memory", metavar="SIZE")
    gpu.add_argument("--watch", type=float, metavar="SECONDS")
    gpu.add_argument("--count", type=int, metavar="N")
    gpu.add_argument("--json", action="store_true")

    add = sub.add_parser("add-data", help="make a data source available; prints its path last")
    add.add_argument("source")
    add.add_argument("--file", action="append", default=[], metavar="NAME_OR_GLOB")
    add.add_argument("--to", metavar="DIR")
    add.add_argument("--force", action="store_true")
    add.add_argument("--offline", action="store_true")
    add.add_argument("-q", "--quiet", action="store_true")

    cache = sub.add_parser("cache", help="inspect or clean the download cache")
    cache.add_argument("action", choices=["list", "du", "prune"])
    cache.add_argument("--all", action="store_true", help="prune: remove every entry")
    cache.add_argument("--older-than", metavar="DAYS", type=float, help="prune: by last use")
    cache.add_argument("--json", action="store_true")
    return parser


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=True))


def _info(args: argparse.Namespace) -> int:
    from .report import runtime_report

    report = runtime_report()
    if args.json:
        _print_json(report.to_dict())
    else:
        print(repr(report))
    return 0


def _gpu(args: argparse.Namespace) -> int:
    from . import gpu_command

    options = gpu_command.GpuOptions.from_args(args, error=_UsageError)
    if options.watch is not None:
        gpu_command.watch(options, _TextDisplay(as_json=args.json))
        return 0
    report = gpu_command.run(options)
    if args.json:
        _print_json(report.to_dict())
    else:
        print(repr(report))
    return 0


def _add_data(args: argparse.Namespace) -> int:
    from .api import add_data
    from .errors import BadSourceError

    try:
        path = add_data(
            args.source,
            files=args.file,
            to=args.to,
            force=args.force,
            offline=args.offline,
            quiet=args.quiet,
        )
    except BadSourceError as exc:
        raise _UsageError(f"mlenv add-data: error: {exc}") from None
    print(path)
    return 0


def _cache(args: argparse.Namespace) -> int:
    from .cache_command import run_cache_command

    return run_cache_command(args)


class _TextDisplay:
    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def update(self, obj: Any) -> None:
        if self.as_json:
            print(json.dumps(obj.to_dict(), sort_keys=True), flush=True)
        else:
            print(repr(obj), end="\n\n", flush=True)


COMMANDS = {"info": _info, "gpu": _gpu, "add-data": _add_data, "cache": _cache}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return COMMANDS[args.command](args)
    except _UsageError as exc:
        print(exc, file=sys.stderr)
        return 2
    except MlenvError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
