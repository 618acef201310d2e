"""Models and notebook outputs: ``mlenv add-data`` against kagglehub and the kaggle CLI.

One Kaggle fake in its own process (``bench/models_fake_server.py``) serves a model variation
of 30 random files (200 MiB in all; files and its tar.gz from disk) and a notebook whose
latest version has 10 output files (64 MiB). Every client run is a fresh process with an
empty cache, clients round-robin so drift hits all alike; wall time and peak RSS (GNU time's
``%M``) are recorded, the output of the first round is checked byte for byte (md5).

- ours: ``mlenv add-data model:bench/weights/pytorch/base/1 -q`` (the variation file by file,
  in parallel: see ``archive_is_cheaper``) and ``notebook:bench/train-run`` (the archive);
- kagglehub: ``model_download`` (more than 25 files: the tar.gz, extracted) and
  ``notebook_output_download`` (the archive), routed by ``bench/models_routed.py``;
- the kaggle CLI: ``models instances versions download ... --untar`` and ``kernels output``;
- ours again on a quarter of the model (``.../small``), to show memory does not grow with
  the size.

Both on bare loopback and "as across a network": every API answer and blob response 20 ms
late, each blob connection capped at 50 MB/s (``models_fake_server.py``'s ``real``).

Run: ``python bench/models_bench.py [--runs 7] [--quick]``; prints a Markdown table, writes
``bench/out/models.json`` and exits 1 when a target (faster than both, flat memory) is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from data_bench import (
    BENCH,
    MIB,
    PYTHON,
    Run,
    clean_env,
    md5_of,
    median,
    peak,
    run_measured,
    write_random_file,
)

OUT_JSON = BENCH / "out" / "models.json"
MODEL = "bench/weights/pyTorch/base/1"
SMALL_MODEL = "bench/weights/pyTorch/small/1"
NOTEBOOK = "bench/train-run"
ROUTED = str(BENCH / "models_routed.py")


class Server:
    def __init__(self, model_dir: Path, small_dir: Path, output_dir: Path, log: Path) -> None:
        self._log = open(log, "wb")  # noqa: SIM115 (closed in stop())
        script = str(BENCH / "models_fake_server.py")
        argv = [PYTHON, script, "--model-dir", str(model_dir), "--output-dir", str(output_dir)]
        argv += ["--small-dir", str(small_dir)]
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, text=True
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the fake server did not start; see {log}")
        info = json.loads(line)
        self.api: str = info["api"]
        self.token: str = info["token"]

    def real(self) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("real\n")
        self.proc.stdin.flush()
        self.proc.stdout.readline()

    def stop(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
        self.proc.wait(timeout=30)
        self._log.close()


def md5_tree(root: Path, skip: Callable[[Path], bool] = lambda p: False) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): md5_of(p)
        for p in root.rglob("*")
        if p.is_file() and not skip(p.relative_to(root))
    }


def not_data(relpath: Path) -> bool:
    """What a client writes beside the data: kagglehub's markers, the kaggle CLI's downloaded
    tar.gz and the notebook's log."""
    return relpath.parts[0] == ".complete" or relpath.suffix in (".gz", ".log")


class Clients:
    def __init__(self, work: Path, server: Server) -> None:
        self.work = work
        self.server = server
        self.counter = 0

    def fresh(self, label: str) -> Path:
        self.counter += 1
        path = self.work / "runs" / f"{self.counter:03d}-{label}"
        (path / "home").mkdir(parents=True)
        return path

    def ours(self, source: str) -> tuple[Run, Path]:
        run_dir = self.fresh("ours")
        env = clean_env(
            HOME=str(run_dir / "home"),
            MLENV_CACHE_DIR=str(run_dir / "cache"),
            MLENV_KAGGLE_API=self.server.api,
            KAGGLE_API_TOKEN=self.server.token,
        )
        argv = [PYTHON, "-m", "mlenv_magics", "add-data", source, "-q"]
        run = run_measured(argv, env).check(f"mlenv add-data {source}")
        return run, Path(run.stdout.strip().splitlines()[-1])

    def kagglehub(self, mode: str, handle: str) -> tuple[Run, Path]:
        run_dir = self.fresh("kagglehub")
        env = clean_env(
            HOME=str(run_dir / "home"),
            KAGGLEHUB_CACHE=str(run_dir / "hub"),
            KAGGLE_API_TOKEN=self.server.token,
        )
        run = run_measured([PYTHON, ROUTED, self.server.api, mode, handle], env)
        run.check(f"kagglehub {mode}")
        return run, Path(run.stdout.strip().splitlines()[-1])

    def cli(self, *args: str) -> tuple[Run, Path]:
        run_dir = self.fresh("kaggle")
        out = run_dir / "out"
        env = clean_env(HOME=str(run_dir / "home"), KAGGLE_API_TOKEN=self.server.token)
        run = run_measured([PYTHON, ROUTED, self.server.api, "cli", *args, "-p", str(out)], env)
        run.check(f"kaggle {' '.join(args)}")
        return run, out


def measure(
    clients: Clients,
    runners: dict[str, Callable[[], tuple[Run, Path]]],
    expected: dict[str, str],
    runs: int,
) -> dict[str, dict[str, Any]]:
    samples: dict[str, list[Run]] = {name: [] for name in runners}
    for round_number in range(runs):
        for name, runner in runners.items():
            run, path = runner()
            if round_number == 0:
                got = md5_tree(path, skip=not_data)
                if got != expected:
                    raise RuntimeError(f"{name} did not deliver the same files (under {path})")
            samples[name].append(run)
            shutil.rmtree(clients.work / "runs", ignore_errors=True)
    return {
        name: {
            "seconds": median([r.seconds for r in found]),
            "samples_s": [round(r.seconds, 3) for r in found],
            "max_rss_mb": peak([r.max_rss_mb for r in found]),
        }
        for name, found in samples.items()
    }


def write_files(folder: Path, count: int, total: int) -> dict[str, str]:
    folder.mkdir(parents=True)
    each = total // count
    return {
        f"shard-{i:02d}.safetensors": write_random_file(
            folder / f"shard-{i:02d}.safetensors", each + i
        )
        for i in range(count)
    }


def ratio(slow: float, fast: float) -> str:
    return f"{slow / fast:.2f}x"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="2 runs, a 48 MiB model")
    args = parser.parse_args()
    runs = 2 if args.quick else args.runs
    model_bytes = (48 if args.quick else 200) * MIB
    output_bytes = (16 if args.quick else 64) * MIB
    work = Path(tempfile.mkdtemp(prefix="models-bench-"))
    try:
        model = write_files(work / "model", 30, model_bytes)
        small_names = sorted(model)[:8]
        (work / "small").mkdir()
        for name in small_names:
            os.link(work / "model" / name, work / "small" / name)
        outputs = write_files(work / "outputs", 10, output_bytes)
        server = Server(work / "model", work / "small", work / "outputs", work / "server.log")
        try:
            clients = Clients(work, server)
            model_clients: dict[str, Callable[[], tuple[Run, Path]]] = {
                "ours": lambda: clients.ours("model:bench/weights/pytorch/base/1"),
                "kagglehub": lambda: clients.kagglehub("model", MODEL),
                "kaggle CLI": lambda: clients.cli(
                    "models", "instances", "versions", "download", MODEL, "--untar"
                ),
            }
            notebook_clients: dict[str, Callable[[], tuple[Run, Path]]] = {
                "ours": lambda: clients.ours(f"notebook:{NOTEBOOK}"),
                "kagglehub": lambda: clients.kagglehub("notebook", NOTEBOOK),
                "kaggle CLI": lambda: clients.cli("kernels", "output", NOTEBOOK),
            }
            found: dict[str, Any] = {}
            found["model"] = measure(clients, model_clients, model, runs)
            found["notebook"] = measure(clients, notebook_clients, outputs, runs)
            quarter = {"ours": lambda: clients.ours("model:bench/weights/pytorch/small/1")}
            small = {name: model[name] for name in small_names}
            found["model_quarter_ours"] = measure(clients, quarter, small, runs)["ours"]
            server.real()
            found["model_real"] = measure(clients, model_clients, model, runs)
            found["notebook_real"] = measure(clients, notebook_clients, outputs, runs)
        finally:
            server.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    result = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "runs": runs,
        "model_mib": model_bytes / MIB,
        "output_mib": output_bytes / MIB,
        **found,
    }
    OUT_JSON.parent.mkdir(exist_ok=True)
    OUT_JSON.write_text(json.dumps(result, indent=2))

    print(f"python {result['python']}, {result['cpus']} CPUs, medians of {runs} fresh processes")
    print("| download | ours | kagglehub | kaggle CLI | peak RSS ours / hub / CLI |")
    print("|---|---|---|---|---|")
    missed = []
    model_label = f"model, 30 files, {model_bytes // MIB} MiB"
    output_label = f"notebook output, 10 files, {output_bytes // MIB} MiB"
    real = "20 ms per answer, 50 MB/s per connection"
    for label, runs_of in (
        (f"{model_label}, loopback", found["model"]),
        (f"{output_label}, loopback", found["notebook"]),
        (f"{model_label}, {real}", found["model_real"]),
        (f"{output_label}, {real}", found["notebook_real"]),
    ):
        ours = runs_of["ours"]["seconds"]
        cells = [f"{ours:.2f} s"]
        for other in ("kagglehub", "kaggle CLI"):
            theirs = runs_of[other]["seconds"]
            cells.append(f"{theirs:.2f} s ({ratio(theirs, ours)})")
            if theirs <= ours:
                missed.append(f"{label}: not faster than {other}")
        rss = " / ".join(f"{runs_of[n]['max_rss_mb'] or 0:.0f} MB" for n in runs_of)
        print(f"| {label} | {' | '.join(cells)} | {rss} |")
    quarter = found["model_quarter_ours"]
    full_rss = found["model"]["ours"]["max_rss_mb"] or 0
    quarter_rss = quarter["max_rss_mb"] or 0
    print(
        f"ours on a quarter of the model: peak RSS {quarter_rss:.0f} MB"
        f" (whole model: {full_rss:.0f} MB)"
    )
    if full_rss > quarter_rss * 1.25 + 5:
        missed.append("memory grows with the model's size")
    for line in missed:
        print("MISSED:", line)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
