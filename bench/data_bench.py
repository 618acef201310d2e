"""Data-transfer benchmark: ``mlenv add-data`` against curl, the kaggle CLI and kagglehub.

Everything runs against one Kaggle fake (API + signed-URL blob host) in a separate process
(``bench/fake_server.py``), so the server never shares a GIL with the client under test.
Each client run is a fresh process; its wall time and peak RSS (GNU time's ``%M``) are
recorded. Measures:

1. one big file (default 1 GiB of random bytes) fetched, written and verified, by
   ours (``mlenv add-data bench/big --file big.bin --force -q``, clean cache),
   curl (``curl -s URL | tee FILE | md5sum`` on the signed blob URL), the kaggle CLI
   (``kaggle datasets download -f big.bin``) and kagglehub (``dataset_download(path=...)``),
   both routed to the fake by ``bench/kaggle_routed.py``;
2. the same with the blob host capping each connection at 50 MB/s;
3. peak RSS of ours;
4. a cache hit: ``mlenv_magics.add_data()`` in-process on a cached pinned version, with the
   fake's request counters checked to stay at zero;
5. resume: a connection cut mid-file (resumed in the same call), and a run interrupted with
   Ctrl-C at 50% then rerun; re-sent share = bytes the blob host sent / file size - 1;
6. 200 small files with 20 ms added to every API answer and every blob response: ours
   (``--file 'f*.bin'``) against kaggle's per-file download (one call per file) and its
   whole-dataset archive.

Run: ``python bench/data_bench.py [--size-mib 1024] [--quick] [--big-hashes md5]``; prints a
Markdown table, writes ``bench/out/data.json`` and exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MIB = 1 << 20
BENCH = Path(__file__).resolve().parent
OUT_JSON = BENCH / "out" / "data.json"
PYTHON = sys.executable
CURL = shutil.which("curl")
GNU_TIME = "/usr/bin/time" if Path("/usr/bin/time").is_file() else None
BIG_REF = "bench/big"
BIG_NAME = "big.bin"
MANY_REF = "bench/many"
MANY_GLOB = "f*.bin"
CAP_BYTES_PER_S = 50e6
LATENCY_S = 0.020
IN_CALL_CUT = 0.55  # 0.50 is exactly where ours' third parallel range starts: no bytes in flight
RUN_TIMEOUT_S = 300.0
CHILD_ENV_KEEP = ("PATH", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")


# --------------------------------------------------------------------------- processes


@dataclass
class Run:
    seconds: float
    returncode: int
    max_rss_mb: float | None
    stdout: str
    stderr: str

    def check(self, what: str) -> Run:
        if self.returncode != 0:
            raise RuntimeError(f"{what} failed (exit {self.returncode}):\n{self.stderr[-3000:]}")
        return self


def run_measured(argv: Sequence[str], env: dict[str, str], timeout: float = RUN_TIMEOUT_S) -> Run:
    """Run ``argv``; wall seconds, exit code and peak RSS (MB) of it and its waited children.

    Peak RSS comes from GNU time (``%M``): ``ru_maxrss`` of a child forked straight from this
    process would include this process's own peak, as Linux carries it across ``exec``.
    """
    with tempfile.TemporaryDirectory(prefix="run-") as scratch:
        rss_file = Path(scratch) / "rss"
        prefix = [GNU_TIME, "-f", "%M", "-o", str(rss_file)] if GNU_TIME else []
        with open(Path(scratch) / "out", "wb+") as out, open(Path(scratch) / "err", "wb+") as err:
            started = time.perf_counter()
            proc = subprocess.Popen(
                [*prefix, *argv], env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL
            )
            try:
                returncode = proc.wait(timeout=timeout)
            except BaseException:
                proc.kill()
                proc.wait()
                raise
            seconds = time.perf_counter() - started
            stdout, stderr = tail(out), tail(err)
        rss_kib = rss_file.read_text().split()[-1] if GNU_TIME and rss_file.exists() else ""
    return Run(
        seconds=seconds,
        returncode=returncode,
        max_rss_mb=int(rss_kib) * 1024 / 1e6 if rss_kib.isdigit() else None,
        stdout=stdout,
        stderr=stderr,
    )


def tail(handle: Any, limit: int = 64 << 10) -> str:
    """The last ``limit`` bytes of an output file (a client may print a lot)."""
    handle.seek(0, os.SEEK_END)
    handle.seek(max(handle.tell() - limit, 0))
    return str(handle.read().decode(errors="replace"))


class FakeServer:
    """``bench/fake_server.py`` in a child process, driven over its stdin/stdout."""

    def __init__(self, big: Path, many: Path, port: int, log: Path) -> None:
        self._log = open(log, "wb")  # noqa: SIM115 (closed in stop())
        self.proc = subprocess.Popen(
            [
                PYTHON,
                str(BENCH / "fake_server.py"),
                "--big",
                str(big),
                "--many",
                str(many),
                "--port",
                str(port),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            env=clean_env(),
        )
        self._lock = threading.Lock()
        first = self._read_line()
        self.info: dict[str, Any] = json.loads(first)

    def _read_line(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(timeout=10)
            raise RuntimeError(f"the fake server exited ({self.proc.returncode}); see its log")
        return line

    def command(self, op: str, **fields: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        with self._lock:
            self.proc.stdin.write(json.dumps({"op": op, **fields}) + "\n")
            self.proc.stdin.flush()
            reply: dict[str, Any] = json.loads(self._read_line())
        if "error" in reply:
            raise RuntimeError(f"fake server: {reply['error']}")
        return reply

    def stats(self, blobs: Sequence[str]) -> dict[str, int]:
        return {k: int(v) for k, v in self.command("stats", blobs=list(blobs)).items()}

    def stop(self) -> None:
        try:
            if self.proc.poll() is None:
                self.command_nowait("quit")
                self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        finally:
            self._log.close()

    def command_nowait(self, op: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"op": op}) + "\n")
        self.proc.stdin.close()


def clean_env(**extra: str) -> dict[str, str]:
    """A child environment without the caller's credentials, proxies or Kaggle settings."""
    env = {name: os.environ[name] for name in CHILD_ENV_KEEP if name in os.environ}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra)
    return env


# --------------------------------------------------------------------------- data


def write_random_file(path: Path, size: int) -> str:
    """``size`` random bytes written in blocks (never all in memory); returns the md5 hex."""
    md5 = hashlib.md5(usedforsecurity=False)
    block = 8 * MIB
    with open(path, "wb") as handle:
        left = size
        while left > 0:
            chunk = os.urandom(min(block, left))
            md5.update(chunk)
            handle.write(chunk)
            left -= len(chunk)
    return md5.hexdigest()


def md5_of(path: Path) -> str:
    md5 = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        while block := handle.read(8 * MIB):
            md5.update(block)
    return md5.hexdigest()


def find_file(root: Path, name: str) -> Path:
    found = [p for p in root.rglob(name) if p.is_file()]
    if len(found) != 1:
        raise RuntimeError(f"expected one {name} under {root}, found {len(found)}")
    return found[0]


def tree_md5s(root: Path) -> dict[str, str]:
    return {p.name: md5_of(p) for p in root.rglob("f*.bin") if p.is_file()}


# --------------------------------------------------------------------------- the clients


@dataclass
class Bench:
    work: Path
    server: FakeServer
    size: int
    big_md5: str
    many_md5s: dict[str, str]
    counter: int = 0
    notes: list[str] = field(default_factory=list)
    big_hashes: list[str] | None = None  # what x-goog-hash announces; None: the fake's default

    @property
    def api(self) -> str:
        return str(self.server.info["api_url"])

    @property
    def token(self) -> str:
        return str(self.server.info["token"])

    @property
    def big_blob(self) -> str:
        return str(self.server.info["big_blob"])

    def big_faults(self, **fields: Any) -> None:
        """Set the big blob's faults (none: clear them), keeping the announced hashes."""
        if self.big_hashes is not None:
            fields["hashes"] = self.big_hashes
        self.server.command("faults", blobs=[self.big_blob], **fields)

    def fresh_dir(self, label: str) -> Path:
        self.counter += 1
        path = self.work / f"{self.counter:03d}-{label}"
        path.mkdir()
        (path / "home").mkdir()
        return path

    # -- ours

    def ours_env(self, run_dir: Path, cache: Path | None = None) -> dict[str, str]:
        return clean_env(
            HOME=str(run_dir / "home"),
            MLENV_CACHE_DIR=str(cache or run_dir / "cache"),
            MLENV_KAGGLE_API=self.api,
            KAGGLE_API_TOKEN=self.token,
        )

    def ours_big(self, verify: bool, force: bool = True, cache: Path | None = None) -> Run:
        run_dir = self.fresh_dir("ours")
        argv = [PYTHON, "-m", "mlenv_magics", "add-data", BIG_REF, "--file", BIG_NAME, "-q"]
        run = run_measured(argv + (["--force"] if force else []), self.ours_env(run_dir, cache))
        run.check("mlenv add-data")
        if verify:
            self.verify_big(Path(run.stdout.strip().splitlines()[-1]) / BIG_NAME, "ours")
        return run

    # -- alternatives

    def curl_big(self, verify: bool) -> Run:
        if CURL is None:
            raise RuntimeError("curl is not installed")
        run_dir = self.fresh_dir("curl")
        target = run_dir / BIG_NAME
        url = self.signed_big_url()
        script = f"set -o pipefail; {CURL} -s '{url}' | tee '{target}' | md5sum"
        run = run_measured(["bash", "-c", script], clean_env(HOME=str(run_dir / "home")))
        run.check("curl")
        if run.stdout.split()[0] != self.big_md5:
            raise RuntimeError("curl's md5sum does not match the served file")
        if verify and target.stat().st_size != self.size:
            raise RuntimeError("curl wrote a file of the wrong size")
        return run

    def kaggle_cli_big(self, verify: bool) -> Run:
        run_dir = self.fresh_dir("kaggle")
        out = run_dir / "out"
        argv = [PYTHON, str(BENCH / "kaggle_routed.py"), self.api, "cli", "datasets", "download"]
        argv += [BIG_REF, "-f", BIG_NAME, "-p", str(out), "--force"]
        env = clean_env(HOME=str(run_dir / "home"), KAGGLE_API_TOKEN=self.token)
        run = run_measured(argv, env).check("kaggle CLI")
        if verify:
            self.verify_big(find_file(out, BIG_NAME), "the kaggle CLI")
        return run

    def kagglehub_big(self, verify: bool) -> Run:
        run_dir = self.fresh_dir("kagglehub")
        argv = [PYTHON, str(BENCH / "kaggle_routed.py"), self.api, "hub", BIG_REF, BIG_NAME]
        env = clean_env(
            HOME=str(run_dir / "home"),
            KAGGLEHUB_CACHE=str(run_dir / "hub"),
            KAGGLE_API_TOKEN=self.token,
        )
        run = run_measured(argv, env).check("kagglehub")
        if verify:
            self.verify_big(find_file(run_dir / "hub", BIG_NAME), "kagglehub")
        return run

    def signed_big_url(self) -> str:
        """The 302 target of DownloadDataset, asked for the way every client asks."""
        import http.client
        from urllib.parse import urlsplit

        parts = urlsplit(self.api)
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
        body = json.dumps({"ownerSlug": "bench", "datasetSlug": "big", "fileName": BIG_NAME})
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"}
        try:
            connection.request(
                "POST", "/v1/datasets.DatasetApiService/DownloadDataset", body, headers
            )
            response = connection.getresponse()
            response.read()
            location = response.getheader("Location")
        finally:
            connection.close()
        if response.status != 302 or not location:
            raise RuntimeError(f"DownloadDataset answered {response.status} without a redirect")
        return location

    def verify_big(self, path: Path, who: str) -> None:
        if md5_of(path) != self.big_md5:
            raise RuntimeError(f"{who} produced a file whose md5 differs from the served one")

    def cleanup(self, keep: Path | None = None) -> None:
        """Delete finished run folders (a 1 GiB copy each), except ``keep``."""
        for path in self.work.iterdir():
            if path.is_dir() and path.name[:3].isdigit() and path != keep:
                shutil.rmtree(path, ignore_errors=True)


# --------------------------------------------------------------------------- measures


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def interleaved(
    runners: dict[str, Callable[[bool], Run]], counts: dict[str, int], bench: Bench
) -> dict[str, list[Run]]:
    """Each runner ``counts[name]`` times, round-robin so drift hits all alike; the output is
    verified on the first round."""
    samples: dict[str, list[Run]] = {name: [] for name in runners}
    for round_number in range(max(counts.values())):
        for name, runner in runners.items():
            if round_number < counts[name]:
                samples[name].append(runner(round_number == 0))
                bench.cleanup()
    return samples


def summarize(runs: Sequence[Run], size: int) -> dict[str, Any]:
    seconds = median([r.seconds for r in runs])
    return {
        "seconds": seconds,
        "mb_per_s": size / 1e6 / seconds,
        "samples_s": [round(r.seconds, 4) for r in runs],
        "max_rss_mb": peak([r.max_rss_mb for r in runs]),
    }


def peak(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return max(known) if known else None


def measure_throughput(
    bench: Bench, runs: int, alternative_runs: int, main: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """``main`` clients ``runs`` times each, the others ``alternative_runs`` times."""
    runners: dict[str, Callable[[bool], Run]] = {
        "ours": bench.ours_big,
        "curl": bench.curl_big,
        "kaggle CLI": bench.kaggle_cli_big,
        "kagglehub": bench.kagglehub_big,
    }
    counts = {name: runs if name in main else alternative_runs for name in runners}
    samples = interleaved(runners, counts, bench)
    return {name: summarize(values, bench.size) for name, values in samples.items()}


def measure_cache_hit(
    bench: Bench, source: str, files: list[str], blobs: Sequence[str], cache: Path, calls: int
) -> dict[str, Any]:
    """``add_data`` in one fresh process, ``calls`` times on a filled cache; no request may
    reach the fake."""
    code = (
        "import json, sys, time\n"
        "import mlenv_magics\n"
        "source, files, count = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])\n"
        "samples = []\n"
        "for _ in range(count):\n"
        "    started = time.perf_counter()\n"
        "    path = mlenv_magics.add_data(source, files=files, quiet=True)\n"
        "    samples.append(time.perf_counter() - started)\n"
        "print(json.dumps({'path': str(path), 'samples': samples}))\n"
    )
    before_calls = bench.server.command("calls")["calls"]
    before_blob = bench.server.stats(blobs)["requests"]
    run_dir = bench.fresh_dir("cachehit")
    argv = [PYTHON, "-c", code, source, json.dumps(files), str(calls)]
    run = run_measured(argv, bench.ours_env(run_dir, cache)).check("cache hit")
    result = json.loads(run.stdout.strip().splitlines()[-1])
    requests = (bench.server.command("calls")["calls"] - before_calls) + (
        bench.server.stats(blobs)["requests"] - before_blob
    )
    samples = [float(s) for s in result["samples"]]
    return {
        "source": source,
        "files": files,
        "first_call_ms": samples[0] * 1000,
        "median_ms": median(samples[1:] or samples) * 1000,
        "calls": calls,
        "requests_seen_by_fake": requests,
    }


def measure_resume_in_call(bench: Bench) -> dict[str, Any]:
    cut = int(bench.size * IN_CALL_CUT)
    bench.server.command("reset", blobs=[bench.big_blob])
    bench.big_faults(drop_at=cut, drop_times=1)
    try:
        run = bench.ours_big(verify=True)
    finally:
        bench.big_faults()
    stats = bench.server.stats([bench.big_blob])
    bench.cleanup()
    return {
        "cut_at_byte": cut,
        "seconds": run.seconds,
        "blob_requests": stats["requests"],
        "bytes_sent": stats["bytes_sent"],
        "resent_fraction": stats["bytes_sent"] / bench.size - 1,
    }


def measure_resume_after_interrupt(bench: Bench) -> dict[str, Any]:
    """Ctrl-C once the blob host has sent half the file, then the same command again."""
    bench.server.command("reset", blobs=[bench.big_blob])
    run_dir = bench.fresh_dir("ours-interrupted")
    env = bench.ours_env(run_dir)
    argv = [PYTHON, "-m", "mlenv_magics", "add-data", BIG_REF, "--file", BIG_NAME, "-q"]
    proc = subprocess.Popen(
        argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + RUN_TIMEOUT_S
    sent_at_interrupt = 0
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            sent_at_interrupt = bench.server.stats([bench.big_blob])["bytes_sent"]
            if sent_at_interrupt >= bench.size // 2:
                proc.send_signal(signal.SIGINT)
                break
            time.sleep(0.005)
        _, first_err = proc.communicate(timeout=60)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    interrupted = proc.returncode != 0
    first = bench.server.stats([bench.big_blob])["bytes_sent"]
    rerun = run_measured(argv, env).check("mlenv add-data after Ctrl-C")
    bench.verify_big(Path(rerun.stdout.strip().splitlines()[-1]) / BIG_NAME, "ours (resumed)")
    total = bench.server.stats([bench.big_blob])["bytes_sent"]
    bench.cleanup()
    if not interrupted:
        bench.notes.append("the interrupted run finished before Ctrl-C landed")
    return {
        "interrupted": interrupted,
        "first_exit_code": proc.returncode,
        "first_stderr_tail": first_err[-300:],
        "sent_when_interrupted": sent_at_interrupt,
        "sent_by_first_run": first,
        "sent_by_rerun": total - first,
        "rerun_seconds": rerun.seconds,
        "resent_fraction": total / bench.size - 1,
    }


def measure_many_files(bench: Bench, runs: int, cli_sample: int) -> dict[str, Any]:
    blobs = [str(name) for name in bench.server.info["many_blobs"]]
    names = sorted(bench.many_md5s)
    bench.server.command("latency", seconds=LATENCY_S)
    bench.server.command("faults", blobs=blobs, stall=LATENCY_S, stall_times=1 << 30)
    results: dict[str, Any] = {"files": len(names), "latency_ms": LATENCY_S * 1000}
    kept_cache: Path | None = None
    try:
        ours_runs, kaggle_runs = [], []
        for round_number in range(runs):
            run_dir = bench.fresh_dir("ours-many")
            argv = [PYTHON, "-m", "mlenv_magics", "add-data", MANY_REF, "--file", MANY_GLOB]
            run = run_measured([*argv, "--force", "-q"], bench.ours_env(run_dir))
            ours_runs.append(run.check("mlenv add-data (200 files)"))
            if round_number == 0 and tree_md5s(Path(run.stdout.strip().splitlines()[-1])) != (
                bench.many_md5s
            ):
                raise RuntimeError("ours fetched the small files wrong")
            kept_cache = run_dir / "cache"
            run_dir = bench.fresh_dir("kaggle-many")
            argv = [PYTHON, str(BENCH / "kaggle_routed.py"), bench.api, "files", MANY_REF]
            env = clean_env(HOME=str(run_dir / "home"), KAGGLE_API_TOKEN=bench.token)
            run = run_measured([*argv, str(run_dir / "out"), *names], env)
            kaggle_runs.append(run.check("kaggle per-file download"))
            if round_number == 0 and tree_md5s(run_dir / "out") != bench.many_md5s:
                raise RuntimeError("kaggle fetched the small files wrong")
        total = sum((bench.work / "many" / name).stat().st_size for name in names)
        results["ours"] = summarize(ours_runs, total)
        results["kaggle per file, one process"] = summarize(kaggle_runs, total)

        run_dir = bench.fresh_dir("kaggle-archive")
        argv = [PYTHON, str(BENCH / "kaggle_routed.py"), bench.api, "cli", "datasets"]
        argv += ["download", MANY_REF, "-p", str(run_dir / "out"), "--unzip", "--force"]
        env = clean_env(HOME=str(run_dir / "home"), KAGGLE_API_TOKEN=bench.token)
        run = run_measured(argv, env).check("kaggle CLI archive")
        if tree_md5s(run_dir / "out") != bench.many_md5s:
            raise RuntimeError("kaggle's archive held other bytes")
        results["kaggle CLI whole archive"] = summarize([run], total)

        if cli_sample:
            sample = names[:cli_sample]
            started = time.perf_counter()
            run_dir = bench.fresh_dir("kaggle-cli-each")
            env = clean_env(HOME=str(run_dir / "home"), KAGGLE_API_TOKEN=bench.token)
            for name in sample:
                argv = [PYTHON, str(BENCH / "kaggle_routed.py"), bench.api, "cli", "datasets"]
                argv += ["download", MANY_REF, "-f", name, "-p", str(run_dir / "out")]
                run_measured(argv, env).check("kaggle CLI, one file")
            measured = time.perf_counter() - started
            results["kaggle CLI per file, one process each"] = {
                "files_measured": len(sample),
                "seconds_measured": measured,
                "seconds": measured * len(names) / len(sample),
                "extrapolated": len(sample) != len(names),
            }
    finally:
        bench.server.command("latency", seconds=0)
        bench.server.command("faults", blobs=blobs)
    bench.cleanup(keep=kept_cache.parent if kept_cache else None)
    results["kept_cache"] = str(kept_cache) if kept_cache else None
    return results


# --------------------------------------------------------------------------- report


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if not numerator or not denominator:
        return None
    return numerator / denominator


def fmt(value: float | None, digits: int = 2, unit: str = "") -> str:
    return "n/a" if value is None else f"{value:.{digits}f}{unit}"


def met(ok: bool | None) -> str:
    return "n/a" if ok is None else ("yes" if ok else "**no**")


def table(results: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The Markdown lines, and the measures whose target was missed."""
    size_mib = results["size_mib"]
    rows: list[list[str]] = []
    plain, capped = results["throughput"], results["capped"]

    def speed(block: dict[str, Any], name: str) -> str:
        entry = block.get(name)
        if entry is None:
            return "not measured"
        return f"{entry['mb_per_s']:.0f} MB/s ({entry['seconds']:.2f} s)"

    def speed_ratio(block: dict[str, Any], other: str) -> float | None:
        entry = block.get(other)
        return ratio(block["ours"]["mb_per_s"], entry["mb_per_s"] if entry else None)

    cells = [speed(plain, n) for n in ("ours", "curl", "kaggle CLI", "kagglehub")]
    for other, target, goal in (("curl", ">= 0.9x", 0.9), ("kaggle CLI", "> 1x", 1.0)):
        value = speed_ratio(plain, other)
        ok = None if value is None else (value >= goal if goal == 0.9 else value > goal)
        rows.append(
            [f"{size_mib} MiB file, vs {other}", *cells, fmt(value, 2, "x"), target, met(ok)]
        )
    value = speed_ratio(plain, "kagglehub")
    rows.append(
        [
            f"{size_mib} MiB file, vs kagglehub",
            *cells,
            fmt(value, 2, "x"),
            "> 1x",
            met(None if value is None else value > 1.0),
        ]
    )
    cells = [speed(capped, n) for n in ("ours", "curl", "kaggle CLI", "kagglehub")]
    value = speed_ratio(capped, "curl")
    rows.append(
        [
            f"{size_mib} MiB file, 50 MB/s per connection, vs curl",
            *cells,
            fmt(value, 2, "x"),
            ">= 2x",
            met(None if value is None else value >= 2.0),
        ]
    )
    rss = results["peak_rss_mb"]
    rss_cells = [
        fmt(plain[n]["max_rss_mb"], 0, " MB") if n in plain else "not measured"
        for n in ("ours", "curl", "kaggle CLI", "kagglehub")
    ]
    rows.append(
        [
            "peak RSS of the process (max over ours' runs)",
            *rss_cells,
            "",
            "< 150 MB",
            met(None if rss is None else rss < 150),
        ]
    )
    for hit in results["cache_hit"]:
        ok = hit["median_ms"] < 20 and hit["requests_seen_by_fake"] == 0
        rows.append(
            [
                f"cache hit, {hit['source']} (median of {hit['calls'] - 1}; first call "
                f"{hit['first_call_ms']:.1f} ms)",
                f"{hit['median_ms']:.2f} ms, {hit['requests_seen_by_fake']} requests",
                "",
                "",
                "",
                "",
                "< 20 ms, 0 requests",
                met(ok),
            ]
        )
    in_call, interrupted = results["resume_in_call"], results["resume_after_interrupt"]
    rows.append(
        [
            f"resume, connection cut at {IN_CALL_CUT:.0%} (same call)",
            f"{in_call['resent_fraction']:.2%} re-sent",
            "",
            "",
            "",
            "",
            "< 5%",
            met(in_call["resent_fraction"] < 0.05),
        ]
    )
    rows.append(
        [
            "resume, Ctrl-C at 50% then rerun",
            f"{interrupted['resent_fraction']:.2%} re-sent",
            "",
            "",
            "",
            "",
            "< 5%",
            met(interrupted["interrupted"] and interrupted["resent_fraction"] < 0.05),
        ]
    )
    many = results["many_files"]
    ours_s = many["ours"]["seconds"]
    per_file = many["kaggle per file, one process"]["seconds"]
    rows.append(
        [
            f"{many['files']} files, {many['latency_ms']:.0f} ms latency, vs kaggle per-file",
            f"{ours_s:.2f} s",
            "",
            f"{per_file:.2f} s (API, one call per file)",
            "",
            fmt(ratio(per_file, ours_s), 1, "x faster"),
            "faster",
            met(ours_s < per_file),
        ]
    )
    each = many.get("kaggle CLI per file, one process each")
    if each:
        label = (
            f"{each['seconds']:.1f} s (CLI per file; {each['files_measured']} measured, scaled)"
            if each["extrapolated"]
            else f"{each['seconds']:.1f} s (CLI per file)"
        )
        rows.append(
            [
                f"{many['files']} files, vs one kaggle CLI process per file",
                f"{ours_s:.2f} s",
                "",
                label,
                "",
                fmt(ratio(each["seconds"], ours_s), 1, "x faster"),
                "faster",
                met(ours_s < each["seconds"]),
            ]
        )
    archive = many["kaggle CLI whole archive"]["seconds"]
    rows.append(
        [
            f"{many['files']} files, vs kaggle's whole-dataset zip",
            f"{ours_s:.2f} s",
            "",
            f"{archive:.2f} s (CLI, archive + unzip)",
            "",
            fmt(ratio(archive, ours_s), 2, "x"),
            "info",
            "",
        ]
    )
    machine = results["machine"]
    header = (
        f"Machine: {machine['cores']} cores, Python {machine['python']}, {machine['platform']}; "
        f"load average {machine['load_before']} before, {machine['load_after']} after; "
        f"loopback fake in its own process."
    )
    lines = [header, ""]
    lines.append("| measure | ours | curl | kaggle CLI | kagglehub | ratio | target | met? |")
    lines.append("|---|---|---|---|---|---|---|---|")
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    missed = [row[0] for row in rows if row[-1] == met(False)]
    return lines, missed


def load_average() -> str:
    try:
        return "/".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def tool_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found: dict[str, str] = {}
    for name in ("mlenv-magics", "kaggle", "kagglehub", "kagglesdk", "requests"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    if CURL:
        first = subprocess.run([CURL, "--version"], capture_output=True, text=True).stdout
        found["curl"] = first.split()[1] if first else "unknown"
    return found


# --------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description="Data-transfer benchmark (see module doc).")
    parser.add_argument("--size-mib", type=int, default=None, help="big file size (1024)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 64 MiB, one run each")
    parser.add_argument("--runs", type=int, default=None, help="runs of ours and curl (3)")
    parser.add_argument("--files", type=int, default=200, help="small files (200)")
    parser.add_argument("--file-kib", type=int, default=4, help="size of each small file")
    parser.add_argument(
        "--cli-sample", type=int, default=None, help="kaggle CLI processes to time (20)"
    )
    parser.add_argument("--port", type=int, default=0, help="fake API port (default: any)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument(
        "--big-hashes",
        choices=["crc32c,md5", "md5", "crc32c"],
        default=None,
        help="what x-goog-hash announces for the big file (default: crc32c,md5)",
    )
    args = parser.parse_args()
    size_mib = args.size_mib or (64 if args.quick else 1024)
    runs = args.runs or (1 if args.quick else 3)
    alternative_runs = 1 if args.quick else 2
    cli_sample = args.cli_sample if args.cli_sample is not None else (5 if args.quick else 20)
    size = size_mib * MIB

    work = Path(tempfile.mkdtemp(prefix="mlenv-data-bench-"))
    load_before = load_average()
    started = time.perf_counter()
    server: FakeServer | None = None
    try:
        big_md5 = write_random_file(work / BIG_NAME, size)
        many = work / "many"
        many.mkdir()
        many_md5s = {}
        for index in range(args.files):
            name = f"f{index:03d}.bin"
            many_md5s[name] = write_random_file(many / name, args.file_kib * 1024)
        server = FakeServer(work / BIG_NAME, many, args.port, work / "server.log")
        bench = Bench(work, server, size, big_md5, many_md5s)
        if args.big_hashes:
            bench.big_hashes = args.big_hashes.split(",")
            bench.big_faults()
        print(f"fake on {bench.api}; {size_mib} MiB file; {args.files} small files", flush=True)

        throughput = measure_throughput(bench, runs, alternative_runs, ("ours", "curl"))
        print("throughput done", flush=True)
        bench.big_faults(rate=CAP_BYTES_PER_S)
        try:
            capped = measure_throughput(bench, runs, 1, ("ours",))
        finally:
            bench.big_faults()
        print("capped done", flush=True)

        keep = bench.fresh_dir("ours-cached")
        cache = keep / "cache"
        filled = bench.ours_big(verify=False, force=False, cache=cache)
        bench.cleanup(keep=keep)
        hits = [
            measure_cache_hit(
                bench, f"{BIG_REF}/versions/1", [BIG_NAME], [bench.big_blob], cache, 200
            )
        ]
        in_call = measure_resume_in_call(bench)
        interrupted = measure_resume_after_interrupt(bench)
        print("resume done", flush=True)
        many_result = measure_many_files(bench, runs, cli_sample)
        many_cache = Path(many_result["kept_cache"])
        hits.append(
            measure_cache_hit(
                bench,
                f"{MANY_REF}/versions/1",
                [MANY_GLOB],
                [str(n) for n in server.info["many_blobs"]],
                many_cache,
                200,
            )
        )
        results: dict[str, Any] = {
            "command": " ".join(["python", "bench/data_bench.py", *sys.argv[1:]]),
            "size_mib": size_mib,
            "runs": runs,
            "machine": {
                "cores": os.cpu_count(),
                "python": platform.python_version(),
                "platform": platform.platform(),
                "load_before": load_before,
                "load_after": load_average(),
            },
            "versions": tool_versions(),
            "throughput": throughput,
            "capped": capped,
            "cap_bytes_per_s": CAP_BYTES_PER_S,
            "big_file_hashes_announced": bench.big_hashes or server.info["big_hashes"],
            "peak_rss_mb": peak(
                [
                    throughput["ours"]["max_rss_mb"],
                    capped["ours"]["max_rss_mb"],
                    filled.max_rss_mb,
                ]
            ),
            "cache_hit": hits,
            "resume_in_call": in_call,
            "resume_after_interrupt": interrupted,
            "many_files": many_result,
            "notes": bench.notes,
            "total_seconds": time.perf_counter() - started,
        }
    finally:
        if server is not None:
            server.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    lines, missed = table(results)
    results["targets_missed"] = missed
    OUT_JSON.parent.mkdir(parents=True, exist_ok=True)
    OUT_JSON.write_text(json.dumps(results, indent=2) + "\n")
    print("\n".join(lines))
    for note in results["notes"]:
        print(f"- {note}")
    print(f"\n{results['total_seconds']:.0f} s in all; raw numbers in {OUT_JSON}")
    if missed:
        print("targets missed: " + "; ".join(missed))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
