"""One long-running ``nvidia-smi -q -x --loop-ms=N`` for a live view without NVML.

Starting ``nvidia-smi`` once per refresh costs a process start each time and, with persistence
mode off (Colab, Kaggle), a GPU initialisation each time too. In loop mode one process keeps
the driver open and prints a document every interval; a reader thread keeps the newest one.
The process ends with :meth:`SmiStream.close`, or by itself once our end of its pipe closes.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Mapping
from typing import IO

from .model import ProbeResult
from .smi_xml import SmiUnavailable, parse_smi_xml

END_TAG = "</nvidia_smi_log>"
FIRST_DOCUMENT_S = 15.0  # nvidia-smi's own start-up, as for one call


class SmiStream:
    def __init__(
        self, executable: str, interval_s: float, env: Mapping[str, str] | None = None
    ) -> None:
        self.executable = executable
        self.interval_s = interval_s
        self.env = dict(env) if env is not None else None
        self._process: subprocess.Popen[str] | None = None
        self._changed = threading.Condition()
        self._latest: str | None = None
        self._received = 0
        self._read = 0
        self._closed = False

    def _start(self) -> subprocess.Popen[str]:
        loop_ms = max(int(self.interval_s * 1000), 100)
        try:
            process = subprocess.Popen(
                [self.executable, "-q", "-x", f"--loop-ms={loop_ms}"],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                stdin=subprocess.DEVNULL,
                text=True,
                env=self.env,
            )
        except OSError as exc:
            raise SmiUnavailable(f"nvidia-smi could not be started: {exc.strerror}") from None
        assert process.stdout is not None
        reader = threading.Thread(
            target=self._read_documents,
            args=(process.stdout,),
            name="mlenv-nvidia-smi-reader",
            daemon=True,
        )
        reader.start()
        return process

    def _read_documents(self, stdout: IO[str]) -> None:
        lines: list[str] = []
        try:
            for line in stdout:
                if END_TAG not in line:
                    lines.append(line)
                    continue
                end = line.index(END_TAG) + len(END_TAG)
                lines.append(line[:end])
                with self._changed:
                    self._latest = "".join(lines)
                    self._received += 1
                    self._changed.notify_all()
                lines = [line[end:]] if line[end:].strip() else []
        except (OSError, ValueError):
            pass  # the pipe went away with the process
        finally:
            stdout.close()
            with self._changed:
                self._changed.notify_all()

    def probe(self) -> ProbeResult:
        """The newest document, waiting (bounded) for one newer than the last one read."""
        with self._changed:
            if self._closed:
                raise SmiUnavailable("the nvidia-smi loop was closed")
            if self._process is None or self._process.poll() is not None:
                self._stop_process()
                self._process = self._start()
                self._received = self._read = 0
                self._latest = None
            wait = FIRST_DOCUMENT_S if self._latest is None else self.interval_s * 1.5 + 1.0
            deadline = time.monotonic() + wait
            process = self._process
            while self._received <= self._read and process.poll() is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(left)
            if self._latest is None:
                code = process.poll()
                if code is not None:
                    raise SmiUnavailable(f"nvidia-smi --loop-ms exited with code {code}")
                raise SmiUnavailable(f"nvidia-smi printed nothing within {wait:g} s")
            text, self._read = self._latest, self._received
        return parse_smi_xml(text)

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._stop_process()
            self._changed.notify_all()

    def _stop_process(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(2)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(2)
