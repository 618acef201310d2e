"""Time to data: a zipped dataset and a tar.gz model, from the first request to files on disk.

``python bench/time_to_data.py`` builds a ~256 MiB zip of ~1500 files (half text, half random
bytes) and a tar.gz of the same files, serves them from a Kaggle fake in its own process with
every connection paced at 128 MiB/s (``bench/time_to_data_server.py``), and times, each a
fresh process with an empty cache, interleaved round by round (medians):

- zip: ours (``mlenv add-data bench/ttd``: extracted while it downloads), ours downloading the
  same bytes as one file (``--file data.zip``, nothing extracted), ``curl`` then ``python -m
  zipfile -e``, kagglehub ``dataset_download``, the kaggle CLI ``datasets download --unzip``;
- tar.gz: ours (``fetch_and_extract``, the function the model source calls), ours downloading
  the same bytes (``fetch_files``), ``curl | tar xz`` (streamed, the fastest a shell does),
  kagglehub ``model_download``, the kaggle CLI ``models instances versions download --untar``.

Every extracted tree is checked against the files' md5s (first round). Prints a Markdown table,
writes ``bench/out/time_to_data.json``; exits 1 when a target is missed. Options: ``--runs N``
(default 3), ``--files N``, ``--size-mib N``, ``--keep``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from data_bench import (  # noqa: E402  (the shared process helpers of the data benchmark)
    CURL,
    PYTHON,
    Run,
    clean_env,
    load_average,
    median,
    run_measured,
)

MIB = 1 << 20
OUT_JSON = BENCH / "out" / "time_to_data.json"
RATE = 128 * MIB
DATASET = "bench/ttd"
MODEL = "bench/ttd-model/pyTorch/default"
WORDS = b"the of and to in is was for that on with as by at from this be are it an".split()


# --------------------------------------------------------------------------- data


def text_block(size: int, rng: random.Random) -> bytes:
    out = bytearray()
    while len(out) < size:
        line = b" ".join(rng.choice(WORDS) for _ in range(12))
        out += line + b" %d\n" % rng.randrange(10**6)
    return bytes(out[:size])


def build_files(folder: Path, count: int, zip_mib: int) -> dict[str, str]:
    """``count`` files, half text (about 3.5x compressible), half random, sized so that their
    zip is about ``zip_mib`` MiB; returns name -> md5."""
    rng = random.Random(14)
    half = count // 2
    # zip bytes = random + text / ~3.5: split so each half has the same uncompressed size
    per_file = int(zip_mib * MIB / (half * (1 + 1 / 3.5)))
    sample = text_block(4 * MIB, rng)
    md5s = {}
    for index in range(count):
        text = index % 2 == 0
        folder_name = f"{'text' if text else 'blob'}/{index // 100:02d}"
        name = f"{folder_name}/f{index:04d}.{'csv' if text else 'bin'}"
        size = max(1024, int(per_file * rng.uniform(0.5, 1.5)))
        if text:
            start = rng.randrange(len(sample) - size) if size < len(sample) else 0
            data = (sample[start : start + size] * (1 + size // len(sample)))[:size]
        else:
            data = rng.randbytes(size)
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        md5s[name] = hashlib.md5(data).hexdigest()
    return md5s


def build_zip(folder: Path, names: list[str], out: Path) -> None:
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for name in names:
            archive.write(folder / name, name)


def build_tar_gz(folder: Path, names: list[str], out: Path) -> None:
    with tarfile.open(out, "w:gz", compresslevel=6) as archive:
        for name in names:
            archive.add(folder / name, name)


def tree_md5s(root: Path) -> dict[str, str]:
    found = {}
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            found[path.relative_to(root).as_posix()] = hashlib.md5(path.read_bytes()).hexdigest()
    return found


def find_tree(root: Path, marker: str) -> Path:
    """The folder under ``root`` that holds ``marker`` (a relative file name)."""
    for path in root.rglob(Path(marker).name):
        if path.as_posix().endswith(marker):
            return Path(str(path)[: -len(marker)])
    raise RuntimeError(f"no {marker} under {root}")


# --------------------------------------------------------------------------- clients


class Server:
    def __init__(self, zip_path: Path, tar_path: Path, tree: Path, log: Path) -> None:
        self._log = open(log, "wb")  # noqa: SIM115 (closed in stop())
        self.proc = subprocess.Popen(
            [
                PYTHON,
                str(BENCH / "time_to_data_server.py"),
                "--zip",
                str(zip_path),
                "--tar",
                str(tar_path),
                "--tree",
                str(tree),
                "--rate",
                str(RATE),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            env=clean_env(),
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the fake server exited; see {log}")
        self.info: dict[str, Any] = json.loads(line)

    def stop(self) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
        self._log.close()


class Clients:
    def __init__(self, server: Server, work: Path) -> None:
        self.info = server.info
        self.work = work

    def _dir(self, name: str) -> Path:
        folder = self.work / "runs" / name
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        return folder

    def _ours_env(self, run: Path) -> dict[str, str]:
        return clean_env(
            HOME=str(run / "home"),
            MLENV_CACHE_DIR=str(run / "cache"),
            MLENV_KAGGLE_API=self.info["api_url"],
            KAGGLE_API_TOKEN=self.info["token"],
        )

    def _routed(self, run: Path, *args: str) -> Run:
        argv = [PYTHON, str(BENCH / "kaggle_routed.py"), self.info["api_url"], *args]
        env = clean_env(HOME=str(run / "home"), KAGGLE_API_TOKEN=self.info["token"])
        return run_measured(argv, env).check(" ".join(args[:3]))

    def _hub(self, run: Path, kind: str, ref: str) -> Run:
        argv = [PYTHON, str(Path(__file__)), "--hub", kind, ref, self.info["api_url"]]
        env = clean_env(HOME=str(run / "home"), KAGGLE_API_TOKEN=self.info["token"])
        return run_measured(argv, env).check(f"kagglehub {kind}")

    # zip
    def zip_ours(self) -> tuple[Run, Path]:
        run = self._dir("zip-ours")
        argv = [PYTHON, "-m", "mlenv_magics", "add-data", DATASET, "-q", "--force"]
        result = run_measured(argv, self._ours_env(run)).check("ours (zip)")
        return result, Path(result.stdout.strip().splitlines()[-1])

    def zip_ours_raw(self) -> tuple[Run, Path]:
        run = self._dir("zip-raw")
        argv = [PYTHON, "-m", "mlenv_magics", "add-data", DATASET, "--file", "data.zip", "-q"]
        result = run_measured(argv, self._ours_env(run)).check("ours (raw)")
        return result, Path(result.stdout.strip().splitlines()[-1])

    def zip_curl(self) -> tuple[Run, Path]:
        run = self._dir("zip-curl")
        url = self.info["blobs"][self.info["zip_archive_blob"]]
        script = f"curl -sf -o {run}/d.zip '{url}' && {PYTHON} -m zipfile -e {run}/d.zip {run}/out"
        return run_measured(["sh", "-c", script], clean_env()).check("curl+unzip"), run / "out"

    def zip_hub(self) -> tuple[Run, Path]:
        run = self._dir("zip-hub")
        result = self._hub(run, "dataset", DATASET)
        return result, Path(result.stdout.strip().splitlines()[-1])

    def zip_cli(self) -> tuple[Run, Path]:
        run = self._dir("zip-cli")
        out = run / "out"
        result = self._routed(
            run, "cli", "datasets", "download", DATASET, "-p", str(out), "--unzip", "--force"
        )
        return result, out

    # tar.gz
    def tar_ours(self) -> tuple[Run, Path]:
        run = self._dir("tar-ours")
        url = self.info["blobs"][self.info["tar_blob"]]
        argv = [PYTHON, str(Path(__file__)), "--client", "extract", url, str(run)]
        return run_measured(argv, clean_env()).check("ours (tar.gz)"), run / "staging"

    def tar_ours_raw(self) -> tuple[Run, Path]:
        run = self._dir("tar-raw")
        url = self.info["blobs"][self.info["tar_blob"]]
        argv = [PYTHON, str(Path(__file__)), "--client", "fetch", url, str(run)]
        return run_measured(argv, clean_env()).check("ours (tar raw)"), run

    def tar_curl(self) -> tuple[Run, Path]:
        run = self._dir("tar-curl")
        url = self.info["blobs"][self.info["tar_blob"]]
        (run / "out").mkdir()
        script = f"curl -sf '{url}' | tar -xz -C {run}/out"
        return run_measured(["sh", "-c", script], clean_env()).check("curl|tar"), run / "out"

    def tar_hub(self) -> tuple[Run, Path]:
        run = self._dir("tar-hub")
        result = self._hub(run, "model", MODEL)
        return result, Path(result.stdout.strip().splitlines()[-1])

    def tar_cli(self) -> tuple[Run, Path]:
        run = self._dir("tar-cli")
        out = run / "out"
        result = self._routed(
            run, "cli", "models", "instances", "versions", "download", f"{MODEL}/1",
            "-p", str(out), "--untar", "--force",
        )  # fmt: skip
        return result, out


# --------------------------------------------------------------------------- in-process clients


def client(mode: str, url: str, folder: str) -> int:
    """``--client extract|fetch URL DIR``: ours on the tar.gz, as the model source calls it."""
    from mlenv_magics.transfer import RemoteFile, fetch_files, make_session

    work = Path(folder)
    with make_session({}) as session:
        remote = RemoteFile("model.tar.gz", url=url)
        if mode == "fetch":
            fetch_files(session, [remote], work / "dest", partial_dir=work / "partial")
            return 0
        from mlenv_magics.extract import fetch_and_extract

        fetch_and_extract(session, remote, work / "staging", partial_dir=work / "partial")
    return 0


def hub_whole(kind: str, ref: str, api_url: str) -> None:
    """kagglehub on the whole dataset or model, routed as ``bench/kaggle_routed.py`` does."""
    import kagglesdk.kaggle_env as kaggle_env

    kaggle_env._env_to_endpoint[kaggle_env.KaggleEnv.PROD] = api_url
    import kagglehub

    if kind == "dataset":
        print(kagglehub.dataset_download(ref, force_download=True))
    else:
        print(kagglehub.model_download(ref, force_download=True))


# --------------------------------------------------------------------------- measuring

Measure = Callable[[], tuple[Run, Path]]


def measure(
    clients: dict[str, Measure], runs: int, expected: dict[str, str], raw: set[str]
) -> dict[str, dict[str, Any]]:
    samples: dict[str, list[Run]] = {name: [] for name in clients}
    for round_number in range(runs):
        for name, call in clients.items():
            result, tree = call()
            if round_number == 0:
                if name in raw:
                    files = [p for p in tree.rglob("*") if p.is_file()]
                    assert len(files) == 1, f"{name}: {files}"
                else:
                    got = tree_md5s(tree)
                    got = {k: v for k, v in got.items() if k in expected}
                    if got != expected:
                        missing = len(set(expected) - set(got))
                        raise RuntimeError(f"{name}: wrong tree ({missing} files missing)")
            samples[name].append(result)
            shutil.rmtree(tree.parent if name in raw else tree, ignore_errors=True)
    return {
        name: {
            "seconds": median([r.seconds for r in values]),
            "samples": [round(r.seconds, 3) for r in values],
            "rss_mb": max((r.max_rss_mb or 0) for r in values) or None,
        }
        for name, values in samples.items()
    }


def versions() -> dict[str, str]:
    from importlib.metadata import version

    found = {name: version(name) for name in ("kaggle", "kagglehub", "kagglesdk", "requests")}
    if CURL:
        found["curl"] = subprocess.run(
            [CURL, "--version"], capture_output=True, text=True
        ).stdout.split()[1]
    return found


def rows(kind: str, result: dict[str, dict[str, Any]], size: int) -> tuple[list[str], bool]:
    ours = result["ours"]["seconds"]
    lines, ok = [], True
    checks = [("raw", "<=", 1.15), ("curl", ">=", 1.5), ("hub", ">=", 1.5), ("cli", ">=", 1.5)]
    names = {
        "raw": "ours, same bytes as one file (no extraction)",
        "curl": "curl then unzip" if kind == "zip" else r"curl \| tar xz",
        "hub": "kagglehub",
        "cli": "kaggle CLI",
    }
    lines.append(
        f"| {kind}: ours, extracted while downloading | {ours:.2f} s |"
        f" {size / MIB / ours:.0f} MiB/s | {result['ours']['rss_mb'] or 0:.0f} MB | | | |"
    )
    for name, sign, target in checks:
        theirs = result[name]["seconds"]
        factor = ours / theirs if name == "raw" else theirs / ours
        good = factor <= target if sign == "<=" else factor >= target
        ok &= good
        shown = f"{factor:.2f}x its time" if name == "raw" else f"{factor:.2f}x faster"
        lines.append(
            f"| {kind}: {names[name]} | {theirs:.2f} s | {size / MIB / theirs:.0f} MiB/s |"
            f" {result[name]['rss_mb'] or 0:.0f} MB | {shown} | {sign} {target}x |"
            f" {'yes' if good else 'NO'} |"
        )
    return lines, ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--files", type=int, default=1500)
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--only", choices=["zip", "tar"], default=None)
    parser.add_argument("--client", nargs=3, metavar=("MODE", "URL", "DIR"))
    parser.add_argument("--hub", nargs=3, metavar=("KIND", "REF", "API"))
    args = parser.parse_args()
    if args.client:
        return client(*args.client)
    if args.hub:
        hub_whole(*args.hub)
        return 0
    if CURL is None:
        raise SystemExit("curl is needed")
    work = Path(tempfile.mkdtemp(prefix="ttd-bench-"))
    try:
        started = time.monotonic()
        load_before = load_average()
        source = work / "files"
        expected = build_files(source, args.files, args.size_mib)
        names = sorted(expected)
        zip_path, tar_path = work / "ttd.zip", work / "model.tar.gz"
        build_zip(source, names, zip_path)
        build_tar_gz(source, names, tar_path)
        sizes = {"zip": zip_path.stat().st_size, "tar": tar_path.stat().st_size}
        server = Server(zip_path, tar_path, source, work / "server.log")
        try:
            clients = Clients(server, work)
            results: dict[str, Any] = {}
            if args.only in (None, "zip"):
                results["zip"] = measure(
                    {
                        "ours": clients.zip_ours,
                        "raw": clients.zip_ours_raw,
                        "curl": clients.zip_curl,
                        "hub": clients.zip_hub,
                        "cli": clients.zip_cli,
                    },
                    args.runs,
                    expected,
                    {"raw"},
                )
            if args.only in (None, "tar"):
                results["tar"] = measure(
                    {
                        "ours": clients.tar_ours,
                        "raw": clients.tar_ours_raw,
                        "curl": clients.tar_curl,
                        "hub": clients.tar_hub,
                        "cli": clients.tar_cli,
                    },
                    args.runs,
                    expected,
                    {"raw"},
                )
        finally:
            server.stop()
        uncompressed = sum(1 for _ in names)
        header = (
            f"{args.files} files ({uncompressed} checked), zip {sizes['zip'] / MIB:.0f} MiB,"
            f" tar.gz {sizes['tar'] / MIB:.0f} MiB; {args.runs} runs each, interleaved,"
            f" medians; each connection paced at {RATE / MIB:.0f} MiB/s; load average"
            f" {load_before} before, {load_average()} after;"
            f" {time.monotonic() - started:.0f} s in all"
        )
        lines = [
            header,
            "",
            "| measure | time to data | rate | peak RSS | ratio | target | met? |",
            "|---|---|---|---|---|---|---|",
        ]
        ok = True
        for kind, result in results.items():
            more, good = rows(kind, result, sizes[kind])
            lines += more
            ok &= good
        print("\n".join(lines))
        OUT_JSON.parent.mkdir(parents=True, exist_ok=True)
        OUT_JSON.write_text(
            json.dumps(
                {
                    "results": results,
                    "sizes": sizes,
                    "files": args.files,
                    "versions": versions(),
                    "python": platform.python_version(),
                    "cpus": os.cpu_count(),
                    "table": lines,
                },
                indent=1,
            )
        )
        return 0 if ok else 1
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
