"""The IPython glue: parse the line, call the public API, return the result.

Only this module (and ``cli.py``) knows about IPython. Each magic is a few lines over a
function that works without IPython; the arguments come from ``arguments.py``, shared
with the command line.

``{var}`` and ``$var`` in a magic's line are expanded the way IPython expands its own
line magics (``{{``, ``}}`` and ``$$`` stay literal); a cell body is never expanded.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class

from . import arguments

MagicMethod = TypeVar("MagicMethod", bound=Callable[..., Any])


def _parse(prog: str, define: arguments.Define, line: str) -> argparse.Namespace:
    return arguments.parse_line(prog, define, line, UsageError)


def _usage(prog: str, define: arguments.Define) -> Callable[[MagicMethod], MagicMethod]:
    """Add the usage to what ``%magic?`` shows. IPython asks ``getdoc()`` before
    ``__doc__``, so the help is formatted when asked for, not at ``%load_ext``."""

    def decorate(method: MagicMethod) -> MagicMethod:
        earlier = getattr(method, "getdoc", None)

        def getdoc() -> str:
            doc = earlier() if earlier is not None else method.__doc__
            return f"{doc}\n\n{arguments.usage(prog, define)}"

        method.getdoc = getdoc  # type: ignore[attr-defined]
        return method

    return decorate


def _json_or(result: Any, as_json: bool) -> Any:
    if not as_json:
        return result
    from .displays import print_json

    print_json(result.to_dict())
    return None


@magics_class
class MlenvMagics(Magics):
    @_usage("%mlenv", arguments.define_info)
    @line_magic
    def mlenv(self, line: str) -> Any:
        """Report the runtime: host, frontend, versions, data roots, credential sources."""
        args = _parse("%mlenv", arguments.define_info, line)
        from .report import runtime_report

        return _json_or(runtime_report(shell=self.shell), args.json)

    @_usage("%mlenv_gpu", arguments.define_gpu)
    @line_magic
    def mlenv_gpu(self, line: str) -> Any:
        """GPU and TPU status; when there is none, the exact steps to enable one here."""
        args = _parse("%mlenv_gpu", arguments.define_gpu, line)
        from . import displays, gpu_command

        options = gpu_command.GpuOptions.from_args(args, error=UsageError)
        if options.stop:
            print(gpu_command.stop_live())
            return None
        if options.live is not None:
            events = getattr(self.shell, "events", None)
            return gpu_command.start_live(options, error=UsageError, events=events)
        if options.watch is not None:
            view = displays.JsonLines() if args.json else displays.NotebookDisplay()
            gpu_command.watch(options, view)
            return None
        return _json_or(gpu_command.run(options), args.json)

    @_usage("%mlenv_add_data", arguments.define_add_data)
    @line_magic
    def mlenv_add_data(self, line: str) -> Any:
        """Make a data source available locally and return its directory."""
        args = _parse("%mlenv_add_data", arguments.define_add_data, line)
        from . import data_command
        from .errors import BadSourceError

        try:
            return data_command.run(
                args.source,
                files=args.file,
                to=args.to,
                force=args.force,
                offline=args.offline,
                keep_archive=args.keep_archive,
                quiet=args.quiet,
                shell=self.shell,
            ).path
        except BadSourceError as exc:
            raise UsageError(str(exc)) from None

    def _run_on(self, magic: str, line: str, cell: str) -> None:
        # Reached when the cell is skipped here, or when called directly (not as a cell's
        # first line); in a cell on its host the body already ran as the cell itself.
        args = _parse(f"%%{magic}", arguments.define_on_host, line)
        from . import host_cells
        from .runtime import detect_runtime

        runtime = detect_runtime(shell=self.shell)
        if host_cells.runs_here(magic, runtime):
            shell: Any = self.shell
            shell.run_cell(cell, store_history=False).raise_error()
        elif not args.quiet:
            print(host_cells.skip_message(magic, runtime))

    @_usage("%%on_kaggle", arguments.define_on_host)
    @_usage("%%on_kaggle --remote", arguments.define_remote_cell)
    @cell_magic
    def on_kaggle(self, line: str, cell: str) -> Any:
        """Run the cell only on Kaggle; elsewhere print one "skipped" line. With ``--remote``,
        run it on Kaggle's machines from any host and bring the results back."""
        if "--remote" in arguments.split_line(line, UsageError):
            args = _parse("%%on_kaggle", arguments.define_remote_cell, line)
            from .kaggle_run import command

            with _remote_usage():
                options = command.options_from_args(args)
            return command.run_cell(cell, options, *_notebook_and_cell(self.shell))
        self._run_on("on_kaggle", line, cell)
        return None

    @_usage("%mlenv_kaggle", arguments.define_kaggle_queries)
    @line_magic
    def mlenv_kaggle(self, line: str) -> Any:
        """A remote run's status, its output files, or the account's accelerator quota."""
        args = _parse("%mlenv_kaggle", arguments.define_kaggle_queries, line)
        from .kaggle_run import command

        with _remote_usage():
            return _json_or(command.query(args), args.json)

    @_usage("%%on_colab", arguments.define_on_host)
    @cell_magic
    def on_colab(self, line: str, cell: str) -> None:
        """Run the cell only on Google Colab; elsewhere print one "skipped" line."""
        self._run_on("on_colab", line, cell)

    @_usage("%%on_local", arguments.define_on_host)
    @cell_magic
    def on_local(self, line: str, cell: str) -> None:
        """Run the cell only off the hosted services; elsewhere print one "skipped" line."""
        self._run_on("on_local", line, cell)


@contextmanager
def _remote_usage() -> Iterator[None]:
    """A bad remote-run option or data source is a usage error, shown in one line."""
    from .errors import BadSourceError
    from .kaggle_run import RemoteOptionError

    try:
        yield
    except (RemoteOptionError, BadSourceError) as exc:
        raise UsageError(str(exc)) from None


def _notebook_and_cell(shell: Any) -> tuple[str | None, str | None]:
    """The notebook's file name and the frontend's id of the running cell, when they are
    known: together they name the cell's notebook on Kaggle, the same on every run."""
    import os

    namespace = getattr(shell, "user_ns", {}) or {}
    name = (
        namespace.get("__vsc_ipynb_file__")
        or os.environ.get("JPY_SESSION_NAME")
        or namespace.get("__session__")
    )
    parent = getattr(shell, "parent_header", None) or {}
    cell_id = (parent.get("metadata") or {}).get("cellId") if isinstance(parent, dict) else None
    return (str(name) if name else None), (str(cell_id) if cell_id else None)


def load_ipython_extension(ipython: Any) -> None:
    from . import host_cells

    ipython.register_magics(MlenvMagics)
    host_cells.install(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from . import host_cells
    from .gpu.live import stop_current

    host_cells.uninstall(ipython)
    stop_current()  # no live GPU view outlives the extension
    magics = ipython.magics_manager.magics
    for kind, names in MlenvMagics.magics.items():
        for name in names:
            magics[kind].pop(name, None)
    ipython.magics_manager.registry.pop("MlenvMagics", None)
