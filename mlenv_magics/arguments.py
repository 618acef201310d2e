"""Every command's arguments, defined once for the magics and the command line.

Each ``define_*`` function fills an :mod:`argparse` parser. ``magics.py`` builds its parsers
with :func:`magic_parser` (errors raise IPython's ``UsageError``, a line is split with
:func:`split_line`); ``cli.py`` builds its own from the same functions. IPython is never
imported here: the error type is passed in.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Callable
from typing import Any, NoReturn

Define = Callable[[argparse.ArgumentParser], None]

GPU_REQUIREMENTS = ("gpu", "tpu", "accelerator")
ACCELERATORS = ("none", "gpu", "t4x2", "l4", "a100", "h100", "tpu")
KAGGLE_QUERIES = ("status", "output", "quota")
DEFAULT_LIVE_SECONDS = 2.0
DEFAULT_REMOTE_TIMEOUT = "12h"


def define_info(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def define_gpu(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--require",
        choices=GPU_REQUIREMENTS,
        help="fail (and stop Run all) when this is missing",
    )
    parser.add_argument(
        "--min-memory", metavar="SIZE", help="fail unless a device has SIZE, e.g. 15GiB"
    )
    parser.add_argument(
        "--watch", type=float, metavar="SECONDS", help="refresh in place every SECONDS"
    )
    parser.add_argument("--count", type=int, metavar="N", help="with --watch: stop after N")
    parser.add_argument(
        "--live",
        type=float,
        nargs="?",
        const=DEFAULT_LIVE_SECONDS,
        metavar="SECONDS",
        help=f"keep refreshing in the background (default every {DEFAULT_LIVE_SECONDS:g} s)",
    )
    parser.add_argument("--stop", action="store_true", help="stop the live view")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def define_add_data(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "source", help="owner/slug, competition:NAME, model:..., notebook:..., drive:ID or a URL"
    )
    parser.add_argument(
        "--file",
        action="append",
        default=[],
        metavar="NAME_OR_GLOB",
        help="only these files (repeatable)",
    )
    parser.add_argument("--to", metavar="DIR", help="place the data in DIR instead of the cache")
    parser.add_argument("--force", action="store_true", help="fetch again even if cached")
    parser.add_argument("--offline", action="store_true", help="use mounts or the cache only")
    parser.add_argument(
        "--keep-archive",
        action="store_true",
        help="keep the downloaded zip or tar.gz in the data folder (default: removed once"
        " extracted)",
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bars, no summary line"
    )


def define_cache(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["list", "du", "prune"])
    parser.add_argument("--all", action="store_true", help="prune: remove every entry")
    parser.add_argument(
        "--older-than", metavar="DAYS", type=float, help="prune: entries unused for DAYS"
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def define_on_host(parser: argparse.ArgumentParser) -> None:
    """``%%on_kaggle``, ``%%on_colab``, ``%%on_local`` without ``--remote``."""
    parser.add_argument(
        "-q", "--quiet", action="store_true", help='no "skipped" line on other hosts'
    )


def define_remote_options(parser: argparse.ArgumentParser) -> None:
    """A run on Kaggle's machines: ``%%on_kaggle --remote``, ``mlenv kaggle run``.

    ``--accelerator`` and ``--timeout`` stay text here: ``kaggle_run.options`` reads them,
    and says why a retired machine (``p100``) is refused.
    """
    parser.add_argument(
        "--accelerator",
        default="none",
        metavar="{" + ",".join(ACCELERATORS) + "}",
        help="the machine to run on (gpu: Kaggle's default GPU, T4 x2)",
    )
    parser.add_argument(
        "--data",
        action="append",
        default=[],
        metavar="SOURCE",
        help="a Kaggle dataset, competition, model or notebook to attach (repeatable)",
    )
    parser.add_argument(
        "--out", metavar="DIR", help="where the output files land (default kaggle_runs/SLUG/vN)"
    )
    parser.add_argument(
        "--timeout",
        default=DEFAULT_REMOTE_TIMEOUT,
        metavar="DURATION",
        help=f"how long to wait, e.g. 30m or 2h (default {DEFAULT_REMOTE_TIMEOUT})",
    )
    parser.add_argument(
        "--kernel", metavar="OWNER/SLUG", help="the Kaggle notebook to push (default: derived)"
    )
    parser.add_argument(
        "--internet",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="internet access on the remote machine (default: on)",
    )
    parser.add_argument("--detach", action="store_true", help="push and return at once")
    parser.add_argument("-q", "--quiet", action="store_true", help="no status, no remote log")
    parser.add_argument(
        "--include-hidden",
        action="store_true",
        help="also fetch outputs in hidden folders such as .cache/ (skipped by default)",
    )


def define_remote_cell(parser: argparse.ArgumentParser) -> None:
    """``%%on_kaggle --remote [options]``."""
    parser.add_argument(
        "--remote", action="store_true", required=True, help="run the cell on Kaggle's machines"
    )
    define_remote_options(parser)


def define_kaggle_run(parser: argparse.ArgumentParser) -> None:
    """``mlenv kaggle run FILE [options]``."""
    parser.add_argument("file", metavar="FILE", help="a .py script or an .ipynb notebook")
    define_remote_options(parser)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def define_kaggle_status(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ref", nargs="?", metavar="OWNER/SLUG", help="default: the last run")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def define_kaggle_output(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ref", nargs="?", metavar="OWNER/SLUG", help="default: the last run")
    parser.add_argument(
        "--out", metavar="DIR", help="where the files land (default kaggle_runs/SLUG/vN)"
    )
    parser.add_argument(
        "--include-hidden", action="store_true", help="also fetch files in hidden folders"
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def define_kaggle_quota(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


KAGGLE_QUERY_DEFINITIONS: dict[str, tuple[Define, str]] = {
    "status": (define_kaggle_status, "a remote run's status"),
    "output": (define_kaggle_output, "download a remote run's output files"),
    "quota": (define_kaggle_quota, "the account's accelerator quota"),
}


def add_kaggle_queries(subparsers: Any) -> None:
    """Add ``status``, ``output`` and ``quota`` to a ``add_subparsers()`` result."""
    for name, (define, help_text) in KAGGLE_QUERY_DEFINITIONS.items():
        define(subparsers.add_parser(name, help=help_text, description=help_text))


def define_kaggle_queries(parser: argparse.ArgumentParser) -> None:
    """``%mlenv_kaggle status|output|quota [OWNER/SLUG]``."""
    subparsers = parser.add_subparsers(dest="action", metavar="|".join(KAGGLE_QUERIES))
    subparsers.required = True
    add_kaggle_queries(subparsers)


def define_kaggle_command(parser: argparse.ArgumentParser) -> None:
    """``mlenv kaggle run FILE|status|output|quota``."""
    subparsers = parser.add_subparsers(dest="action", metavar="run|" + "|".join(KAGGLE_QUERIES))
    subparsers.required = True
    run_help = "run a .py or .ipynb file on Kaggle's machines"
    define_kaggle_run(subparsers.add_parser("run", help=run_help, description=run_help))
    add_kaggle_queries(subparsers)


class Parser(argparse.ArgumentParser):
    """An argument parser that raises ``usage_error(message)`` instead of exiting."""

    def __init__(self, *args: Any, usage_error: Callable[[str], Exception], **kwargs: Any):
        self.usage_error = usage_error
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise self.usage_error(f"{self.prog}: {message}")

    def add_subparsers(self, **kwargs: Any) -> Any:
        kwargs.setdefault("parser_class", _subparser_class(type(self), self.usage_error))
        return super().add_subparsers(**kwargs)


def _subparser_class(base: type[Parser], usage_error: Callable[[str], Exception]) -> type[Parser]:
    class SubParser(base):  # type: ignore[valid-type,misc]
        def __init__(self, *args: Any, **kwargs: Any):
            kwargs.setdefault("usage_error", usage_error)
            super().__init__(*args, **kwargs)

    return SubParser


def build_parser(
    prog: str,
    define: Define,
    usage_error: Callable[[str], Exception],
    *,
    description: str | None = None,
    add_help: bool = True,
) -> Parser:
    parser = Parser(prog=prog, description=description, usage_error=usage_error, add_help=add_help)
    define(parser)
    return parser


def split_line(line: str, usage_error: Callable[[str], Exception]) -> list[str]:
    """Split a magic's line into words as a POSIX shell would split a command line.

    Quotes are removed (``--file '*.csv'`` and ``--file=\"a b.csv\"`` reach the parser as
    the shell would pass them to ``mlenv``); a trailing ``;`` (IPython's "no output") is
    dropped. On Windows a backslash is kept as it is, since paths use it.
    """
    text = line.strip()
    if text.endswith(";"):
        text = text[:-1].rstrip()
    lexer = shlex.shlex(text, posix=True, punctuation_chars=False)
    lexer.whitespace_split = True
    lexer.commenters = ""
    if sys.platform.startswith("win"):
        lexer.escape = ""
    try:
        return list(lexer)
    except ValueError as exc:  # "No closing quotation", "No escaped character"
        raise usage_error(f"{exc.args[0].lower()} in {line.strip()!r}") from None


def parse_line(
    prog: str,
    define: Define,
    line: str,
    usage_error: Callable[[str], Exception],
) -> argparse.Namespace:
    """Parse a magic's line; every problem raises ``usage_error(message)``."""
    parser = build_parser(prog, define, usage_error, add_help=False)
    return parser.parse_args(split_line(line, lambda message: usage_error(f"{prog}: {message}")))


def usage(prog: str, define: Define) -> str:
    """The help text of one command, for a magic's docstring (``%mlenv_gpu?``)."""
    return build_parser(prog, define, ValueError, add_help=False).format_help()
