"""Do parallel ranges and parallel files help, and what does a cache hit cost?

The loopback blob host caps each connection's rate (like a real object store's per-connection
throughput), so parallelism is measured against that cap rather than against loopback speed.
Run: ``python bench/transfer_bench.py [--size-mib 128] [--rate-mbs 25]``; prints a Markdown
table and writes ``bench/out/transfer.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
import tracemalloc
from pathlib import Path

from mlenv_magics.cache import Cache
from mlenv_magics.testing.blobhost import BlobHost
from mlenv_magics.transfer import RemoteFile, TransferPolicy, fetch_files, make_session


def _random_file(path: Path, size: int) -> Path:
    with open(path, "wb") as out:
        left = size
        while left:
            block = os.urandom(min(1 << 20, left))
            out.write(block)
            left -= len(block)
    return path


def _timed_fetch(files: list[RemoteFile], work: Path, policy: TransferPolicy) -> dict[str, float]:
    shutil.rmtree(work, ignore_errors=True)
    tracemalloc.start()
    began = time.perf_counter()
    with make_session({}) as session:
        fetch_files(session, files, work / "dest", partial_dir=work / "partial", policy=policy)
    elapsed = time.perf_counter() - began
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"seconds": round(elapsed, 3), "peak_python_mib": round(peak / 2**20, 2)}


def _cache_hit_microseconds(root: Path, runs: int = 2000) -> float:
    cache = Cache(root)
    entry = cache.entry("kaggle", "datasets", "alice", "tiny", "3")
    with entry.publish({"source": "bench"}) as staging:
        (staging / "a.csv").write_text("a\n")
    began = time.perf_counter()
    for _ in range(runs):
        hit = Cache(root).entry("kaggle", "datasets", "alice", "tiny", "3")
        assert hit.is_complete()
        hit.touch()
    return (time.perf_counter() - began) / runs * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=128)
    parser.add_argument("--rate-mbs", type=float, default=25.0)
    parser.add_argument("--files", type=int, default=8)
    args = parser.parse_args()
    size = args.size_mib << 20
    rate = args.rate_mbs * 1e6
    results: dict[str, object] = {"size_mib": args.size_mib, "rate_mb_s": args.rate_mbs}
    with tempfile.TemporaryDirectory() as tmp, BlobHost() as host:
        tmp_path = Path(tmp)
        big = _random_file(tmp_path / "big.bin", size)
        url = host.add("big", big, hashes=("md5",))
        host.faults("big", rate=rate)
        remote = [RemoteFile("big.bin", url=url, size=size)]
        base = TransferPolicy(range_threshold=64 << 20)
        results["one file, 1 connection"] = _timed_fetch(
            remote, tmp_path / "w", TransferPolicy(parallel_ranges=1)
        )
        results["one file, 4 ranges"] = _timed_fetch(remote, tmp_path / "w", base)
        small_size = size // args.files
        small = []
        for index in range(args.files):
            name = f"part{index}.bin"
            path = _random_file(tmp_path / name, small_size)
            small.append(
                RemoteFile(name, url=host.add(name, path, hashes=("md5",)), size=small_size)
            )
            host.faults(name, rate=rate)
        results[f"{args.files} files, sequential"] = _timed_fetch(
            small, tmp_path / "w", TransferPolicy(parallel_files=1)
        )
        results[f"{args.files} files, 4 at a time"] = _timed_fetch(small, tmp_path / "w", base)
        results["cache hit (is_complete + touch), us"] = round(
            _cache_hit_microseconds(tmp_path / "cache"), 1
        )
    print("| case | result |\n|---|---|")
    for key, value in results.items():
        print(f"| {key} | {value} |")
    out = Path(__file__).parent / "out" / "transfer.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
