"""Execute a pushed notebook the way a Kaggle batch session does, for the Kaggle fake.

``python -m mlenv_magics.testing.kaggle_kernel_exec NOTEBOOK EXECUTED LOG`` runs every code
cell of NOTEBOOK in one IPython namespace (IPython syntax works), in the current directory,
and stops at the first failing cell. While it runs, each write to stdout or stderr is appended
to LOG as one JSON line ``{"stream_name", "time", "data"}`` (the shape of Kaggle's session
log); the executed notebook, with its outputs, is written to EXECUTED at the end. The exit
status is 0 when every cell ran, 1 when one failed.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path
from typing import Any, TextIO


class _LogStream:
    """A text stream that records every write as a log event and as a cell output."""

    def __init__(self, name: str, log: TextIO, lock: threading.Lock, start: float) -> None:
        self.name = name
        self._log = log
        self._lock = lock
        self._start = start
        self.outputs: list[dict[str, Any]] | None = None
        self.encoding = "utf-8"

    def write(self, text: str) -> int:
        if not text:
            return 0
        event = {"stream_name": self.name, "time": time.time() - self._start, "data": text}
        with self._lock:
            self._log.write(json.dumps(event) + "\n")
            self._log.flush()
            if self.outputs is not None:
                if self.outputs and self.outputs[-1].get("name") == self.name:
                    self.outputs[-1]["text"] += text
                else:
                    self.outputs.append({"output_type": "stream", "name": self.name, "text": text})
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def writable(self) -> bool:
        return True


def _shell(outputs_ref: list[list[dict[str, Any]]]) -> Any:
    from IPython.core.displayhook import DisplayHook
    from IPython.core.displaypub import DisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell

    def current() -> list[dict[str, Any]]:
        return outputs_ref[0]

    class Publisher(DisplayPublisher):
        def publish(self, data: Any, metadata: Any = None, *args: Any, **kwargs: Any) -> None:
            current().append(
                {"output_type": "display_data", "data": dict(data), "metadata": metadata or {}}
            )

        def clear_output(self, wait: bool = False) -> None:
            current().clear()

    class Hook(DisplayHook):
        def write_output_prompt(self) -> None:
            pass

        def write_format_data(self, format_dict: Any, md_dict: Any = None) -> None:
            current().append(
                {
                    "output_type": "execute_result",
                    "data": dict(format_dict),
                    "metadata": md_dict or {},
                    "execution_count": getattr(self.shell, "execution_count", None),
                }
            )

    class Shell(InteractiveShell):
        def _showtraceback(self, etype: Any, evalue: Any, stb: Any) -> None:
            current().append(
                {
                    "output_type": "error",
                    "ename": getattr(etype, "__name__", str(etype)),
                    "evalue": str(evalue),
                    "traceback": list(stb),
                }
            )
            sys.stderr.write(self.InteractiveTB.stb2text(stb) + "\n")

    from traitlets.config import Config

    config = Config()
    config.HistoryManager.enabled = False
    config.HistoryManager.hist_file = ":memory:"
    shell = Shell.instance(config=config)
    shell.colors = "NoColor"
    if not hasattr(shell.InteractiveTB, "set_theme_name"):  # IPython 7 needs it said twice
        shell.InteractiveTB.set_colors("NoColor")
    shell.display_pub = Publisher(shell=shell)
    shell.displayhook = Hook(shell=shell)
    shell.display_trap.hook = shell.displayhook  # the trap installs it while a cell runs
    return shell


def execute(notebook_path: Path, executed_path: Path, log_path: Path) -> int:
    notebook = json.loads(notebook_path.read_text(encoding="utf-8"))
    lock = threading.Lock()
    start = time.time()
    status = 0
    with log_path.open("a", encoding="utf-8") as log:
        out = _LogStream("stdout", log, lock, start)
        err = _LogStream("stderr", log, lock, start)
        sys.stdout, sys.stderr = out, err  # type: ignore[assignment]
        outputs_ref: list[list[dict[str, Any]]] = [[]]
        shell = _shell(outputs_ref)
        count = 0
        for cell in notebook.get("cells", []):
            if cell.get("cell_type") != "code":
                continue
            source = cell.get("source", "")
            source = "".join(source) if isinstance(source, list) else source
            count += 1
            cell["outputs"] = outputs_ref[0] = []
            out.outputs = err.outputs = cell["outputs"]
            cell["execution_count"] = count
            result = shell.run_cell(source, store_history=True)
            out.outputs = err.outputs = None
            if not result.success:
                status = 1
                break
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    temporary = executed_path.with_name(executed_path.name + ".tmp")
    temporary.write_text(json.dumps(notebook, indent=1), encoding="utf-8")
    temporary.replace(executed_path)
    return status


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    return execute(Path(args[0]), Path(args[1]), Path(args[2]))


if __name__ == "__main__":
    raise SystemExit(main())
