"""Remote runs against the Kaggle fake, with a queue time and a run time: how long after the
run ends the results are on disk, and how many status calls a run costs, for

- ``mlenv``: ``run_on_kaggle`` (adaptive polling from 5 s, x1.5, capped at 30 s; after the 5 s
  floor a wait ends early when the live log ends), results through the transfer layer;
- ``cli-proposal``: the poller of the kaggle CLI's open ``kernels run`` proposal, as the
  reference describes it (baseline status, then 5 s x1.5 capped at 30 s), then the real
  ``kaggle kernels output`` in a subprocess;
- ``shell-loop``: the usual script, ``kaggle kernels status`` every 10 s, then ``kernels
  output`` (its status calls made here over HTTP, its output fetch by the real CLI).

All waits are real. ``python bench/remote_bench.py [--runs 20,60] [--queue 3]``; prints a
Markdown table and writes ``bench/out/remote_bench.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mlenv_magics.data.kaggle_auth import KaggleCredentials
from mlenv_magics.kaggle_run import RunOptions, run_on_kaggle
from mlenv_magics.kaggle_run.client import KernelsClient
from mlenv_magics.kaggle_run.model import KaggleRun
from mlenv_magics.kaggle_run.options import KernelRef
from mlenv_magics.kaggle_run.reporter import SilentReporter
from mlenv_magics.testing.kaggle_fake import KaggleFake
from mlenv_magics.transfer import make_session

HERE = Path(__file__).resolve().parent
CLI_RUNNER = HERE.parent / "tests" / "kaggle" / "kaggle_cli_runner.py"
OUTPUT_MB = 20


def remote_code(run_seconds: float) -> str:
    return (
        "import time, os\n"
        f"for step in range({int(run_seconds)}):\n"
        "    print(f'step {step}', flush=True)\n"
        "    time.sleep(1)\n"
        f"open('model.bin', 'wb').write(os.urandom({OUTPUT_MB} << 20))\n"
        "for i in range(10):\n"
        "    open(f'metrics-{i}.json', 'w').write('{}')\n"
    )


class Watch(SilentReporter):
    """Notes when the run was first seen complete (streams the log: not quiet)."""

    def __init__(self) -> None:
        self.complete_at: float | None = None

    def status(self, run: KaggleRun) -> None:
        if run.status == "complete" and self.complete_at is None:
            self.complete_at = time.time()


def status_calls(fake: KaggleFake, ref: str) -> int:
    owner, slug = ref.split("/")
    return sum(
        1
        for c in fake.calls_to("GetKernelSessionStatus")
        if (c.body.get("userName"), c.body.get("kernelSlug")) == (owner, slug)
    )


def bench_ours(fake: KaggleFake, client: KernelsClient, run_s: float, work: Path) -> dict[str, Any]:
    watch = Watch()
    code = remote_code(run_s) + "# mlenv\n"
    result = run_on_kaggle(code, RunOptions(out=work / "ours"), reporter=watch, client=client)
    done = time.time()
    ended = fake.kernels.session(result.ref).ended
    assert ended is not None and watch.complete_at is not None
    return {
        "poller": "mlenv",
        "status_calls": status_calls(fake, result.ref),
        "detect_s": watch.complete_at - ended,
        "fetch_s": done - watch.complete_at,
        "end_to_disk_s": done - ended,
        "files": len(result.files),
    }


def kaggle_output(fake: KaggleFake, ref: str, out: Path) -> None:
    home = out.parent / "cli-home"
    home.mkdir(exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "KAGGLE_USERNAME": fake.username,
        "KAGGLE_KEY": fake.key,
    }
    done = subprocess.run(
        [sys.executable, str(CLI_RUNNER), fake.url, "kernels", "output", ref, "-p", str(out), "-q"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])


def bench_other(
    fake: KaggleFake,
    client: KernelsClient,
    run_s: float,
    work: Path,
    name: str,
    schedule: Any,
) -> dict[str, Any]:
    code = remote_code(run_s) + f"# {name}\n"
    pushed = run_on_kaggle(code, RunOptions(detach=True), client=client)  # the same push
    kernel = KernelRef(*pushed.ref.split("/"))
    calls = 0
    interval = None
    while True:
        answer = client.status(kernel)
        calls += 1
        if answer is not None and answer.state == "complete":
            break
        interval = schedule(interval)
        time.sleep(interval)
    seen = time.time()
    kaggle_output(fake, pushed.ref, work / name)
    done = time.time()
    ended = fake.kernels.session(pushed.ref).ended
    assert ended is not None
    return {
        "poller": name,
        "status_calls": calls + 1,  # the proposal reads a baseline before the push, as we do
        "detect_s": seen - ended,
        "fetch_s": done - seen,
        "end_to_disk_s": done - ended,
        "files": len(list((work / name).iterdir())),
    }


def proposal_schedule(previous: float | None) -> float:
    return 5.0 if previous is None else min(previous * 1.5, 30.0)


def shell_schedule(previous: float | None) -> float:
    return 10.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", default="20,60", help="run times in seconds, comma-separated")
    parser.add_argument("--queue", type=float, default=3.0, help="queue time in seconds")
    args = parser.parse_args(argv)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp, KaggleFake() as fake:
        fake.kernels.queue_seconds = args.queue
        fake.kernels.max_run_seconds = 600
        credentials = KaggleCredentials("legacy", "bench", username=fake.username, secret=fake.key)
        client = KernelsClient(make_session({}), credentials, base=fake.url)
        for run_s in (float(x) for x in args.runs.split(",")):
            for name in ("mlenv", "cli-proposal", "shell-loop"):
                work = Path(tmp) / f"{name}-{run_s:g}"
                work.mkdir()
                if name == "mlenv":
                    row = bench_ours(fake, client, run_s, work)
                else:
                    schedule = proposal_schedule if name == "cli-proposal" else shell_schedule
                    row = bench_other(fake, client, run_s, work, name, schedule)
                row.update({"queue_s": args.queue, "run_s": run_s})
                rows.append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
        client.close()
    out = HERE / "out"
    out.mkdir(exist_ok=True)
    (out / "remote_bench.json").write_text(json.dumps(rows, indent=2))
    header = ("queue + run", "poller", "status calls", "end -> seen", "seen -> on disk")
    print("| " + " | ".join(header) + " | end -> on disk |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['queue_s']:g} s + {r['run_s']:g} s | {r['poller']} | {r['status_calls']} |"
            f" {r['detect_s']:.2f} s | {r['fetch_s']:.2f} s | {r['end_to_disk_s']:.2f} s |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
