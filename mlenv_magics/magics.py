"""The IPython glue: parse the line, call the public API, return the result.

Only this module (and ``cli.py``) knows about IPython. Each magic is a few lines
over a function that works without IPython.
"""

from __future__ import annotations

import ast
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

CONDITIONAL_HOSTS = {"on_kaggle": "kaggle", "on_colab": "colab", "on_local": "local"}


def _unquote(value: str) -> str:
    # IPython's argument splitter keeps the quotes around a quoted word ('*.csv').
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _line(line: str) -> str:
    # A trailing ';' silences output in IPython; it must not reach the parser.
    return line.strip().rstrip(";").strip()


@magics_class
class MlenvMagics(Magics):
    @no_var_expand
    @magic_arguments()
    @argument("--json", action="store_true", help="print the report as JSON")
    @line_magic
    def mlenv(self, line: str) -> Any:
        """Report the runtime: host, frontend, versions, data roots, credential sources."""
        args = parse_argstring(self.mlenv, _line(line))
        from .report import runtime_report

        report = runtime_report(shell=self.shell)
        if args.json:
            _print_json(report.to_dict())
            return None
        return report

    @no_var_expand
    @magic_arguments()
    @argument(
        "--require",
        choices=["gpu", "tpu", "accelerator"],
        help="fail the cell (and stop Run all) when this is missing",
    )
    @argument("--min-memory", metavar="SIZE", help="fail unless a device has SIZE, e.g. 15GiB")
    @argument("--watch", type=float, metavar="SECONDS", help="refresh in place every SECONDS")
    @argument("--count", type=int, metavar="N", help="with --watch: stop after N refreshes")
    @argument("--json", action="store_true", help="print the report as JSON")
    @line_magic
    def mlenv_gpu(self, line: str) -> Any:
        """GPU and TPU status; when there is none, the exact steps to enable one here."""
        args = parse_argstring(self.mlenv_gpu, _line(line))
        from . import gpu_command

        options = gpu_command.GpuOptions.from_args(args, error=UsageError)
        if options.watch is not None:
            gpu_command.watch(options, _NotebookDisplay())
            return None
        report = gpu_command.run(options)
        if args.json:
            _print_json(report.to_dict())
            return None
        return report

    @magic_arguments()
    @argument("source", help="owner/slug, competition:NAME, drive:ID or a pasted URL")
    @argument(
        "--file",
        action="append",
        default=[],
        metavar="NAME_OR_GLOB",
        help="only these files (repeatable)",
    )
    @argument("--to", metavar="DIR", help="place the data in DIR instead of the cache")
    @argument("--force", action="store_true", help="fetch again even if cached")
    @argument("--offline", action="store_true", help="use mounts or the cache only")
    @argument("-q", "--quiet", action="store_true", help="no progress bars, no summary")
    @line_magic
    def mlenv_add_data(self, line: str) -> Any:
        """Make a data source available locally and return its directory."""
        args = parse_argstring(self.mlenv_add_data, _line(line))
        from .api import add_data
        from .errors import BadSourceError

        try:
            return add_data(
                args.source,
                files=[_unquote(name) for name in args.file],
                to=_unquote(args.to) if args.to else None,
                force=args.force,
                offline=args.offline,
                quiet=args.quiet,
            )
        except BadSourceError as exc:
            raise UsageError(str(exc)) from None

    def _run_on(self, magic: str, line: str, cell: str) -> None:
        quiet = _conditional_flags(magic, line)
        from .runtime import detect_runtime

        runtime = detect_runtime(shell=self.shell)
        wanted = CONDITIONAL_HOSTS[magic]
        if runtime.host != wanted:
            if not quiet:
                from .runtime import HOSTS

                print(
                    f"skipped: %%{magic} runs this cell only on {HOSTS[wanted]};"
                    f" this is {runtime.host_label}."
                )
            return
        run_cell_body(self.shell, cell)

    @no_var_expand
    @cell_magic
    def on_kaggle(self, line: str, cell: str) -> None:
        """Run the cell only on Kaggle (``-q``: no "skipped" line elsewhere)."""
        self._run_on("on_kaggle", line, cell)

    @no_var_expand
    @cell_magic
    def on_colab(self, line: str, cell: str) -> None:
        """Run the cell only on Google Colab (``-q``: no "skipped" line elsewhere)."""
        self._run_on("on_colab", line, cell)

    @no_var_expand
    @cell_magic
    def on_local(self, line: str, cell: str) -> None:
        """Run the cell only off the hosted services (``-q``: no "skipped" line elsewhere)."""
        self._run_on("on_local", line, cell)


def _conditional_flags(magic: str, line: str) -> bool:
    words = _line(line).split()
    unknown = [w for w in words if w not in {"-q", "--quiet"}]
    if unknown:
        raise UsageError(f"%%{magic} takes only -q/--quiet, not {' '.join(unknown)!r}")
    return bool(words)


def run_cell_body(shell: Any, cell: str) -> None:
    """Run ``cell`` in the user's namespace like a normal cell.

    IPython syntax (``!cmd``, ``%magic``) is transformed first; the last
    expression is shown through the display hook as a normal cell would. Errors
    and ``KeyboardInterrupt`` propagate untouched, so "Run all" stops.
    """
    source = shell.transform_cell(cell)
    try:
        filename = shell.compile.cache(source)
    except TypeError:  # pragma: no cover - very old IPython signature
        filename = "<cell>"
    tree = ast.parse(source, filename=filename)
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Interactive(body=[tree.body.pop()])
    namespace = shell.user_ns
    exec(compile(tree, filename, "exec"), shell.user_global_ns, namespace)
    if last is not None:
        exec(compile(last, filename, "single"), shell.user_global_ns, namespace)


def _print_json(data: Any) -> None:
    import json

    print(json.dumps(data, indent=2, sort_keys=True))


class _NotebookDisplay:
    """Refreshes one output area in place (works in every frontend, in the foreground)."""

    def __init__(self) -> None:
        self._handle: Any = None

    def update(self, obj: Any) -> None:
        from IPython.display import display

        if self._handle is None:
            self._handle = display(obj, display_id=True)
        else:
            self._handle.update(obj)


def load_ipython_extension(ipython: Any) -> None:
    ipython.register_magics(MlenvMagics)


def unload_ipython_extension(ipython: Any) -> None:
    magics = ipython.magics_manager.magics
    for kind, names in MlenvMagics.magics.items():
        for name in names:
            magics[kind].pop(name, None)
    ipython.magics_manager.registry.pop("MlenvMagics", None)
