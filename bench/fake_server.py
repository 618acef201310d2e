"""The Kaggle fake of the data benchmark, in its own process (no GIL shared with the client).

``python bench/fake_server.py --big FILE --many DIR [--port 7777]`` registers two datasets:

- ``bench/big``: one file ``big.bin`` served from disk (never read into memory);
- ``bench/many``: every file of ``DIR`` (small files, kept in memory); its zip is the first
  of ``many_blobs``.

It prints one JSON line (API URL, port, credentials, blob names and URLs), then answers JSON
commands, one per line on stdin, with one JSON line on stdout:

- ``{"op": "faults", "blobs": [...], ...Faults fields}`` set faults of blobs (rate, drop_at...);
- ``{"op": "stats", "blobs": [...]}`` requests and bytes the blob host sent for them;
- ``{"op": "reset", "blobs": [...]}`` forget those counters and the API call log;
- ``{"op": "calls"}`` number of API calls seen so far;
- ``{"op": "latency", "seconds": S}`` delay every API answer by S seconds;
- ``{"op": "quit"}``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from mlenv_magics.testing.kaggle_fake import KaggleFake, disk_file_hashes

BIG_REF = "bench/big"
BIG_NAME = "big.bin"
MANY_REF = "bench/many"
VERSION = 1


def blob_name(ref: str, file_name: str) -> str:
    return f"datasets/{ref}/{VERSION}/{file_name}"


def register_file_backed(fake: KaggleFake, ref: str, file_name: str, path: Path) -> str:
    """Serve ``path`` as ``ref``'s only file, from disk (the fake never reads it into memory);
    returns the blob name."""
    fake.add_dataset(ref, files={file_name: path})
    return fake.dataset_file_blob(ref, file_name, VERSION)


def register_in_memory(fake: KaggleFake, ref: str, folder: Path) -> list[str]:
    """Serve every file of ``folder`` as ``ref``; the blobs (each file and the whole-dataset
    zip) are registered up front so faults (latency) can be set before the first request."""
    files = {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}
    dataset = fake.add_dataset(ref, files=files)
    archive = blob_name(ref, f"{dataset.slug}.zip")
    url = fake.blobs.add(archive, dataset.archives[VERSION], content_type="application/zip")
    fake._blob_urls[("d", dataset.ref, str(VERSION))] = url
    names = [archive]
    for file_name, data in files.items():
        name = blob_name(ref, file_name)
        url = fake.blobs.add(name, data, hashes=("md5",))
        fake._blob_urls[("f", f"datasets/{ref}/{VERSION}", file_name)] = url
        names.append(name)
    return names


def start_fake(port: int) -> tuple[KaggleFake, bool]:
    """A started fake on ``port``, else on a free port; also whether ``port`` was had."""
    try:
        return KaggleFake(port=port).start(), True
    except OSError:
        return KaggleFake().start(), False


def answer(fake: KaggleFake, command: dict[str, Any]) -> dict[str, Any]:
    op = command.pop("op")
    blobs = command.pop("blobs", [])
    if op == "faults":
        for name in blobs:
            fake.blobs.faults(name, **command)
        return {"ok": True}
    if op == "stats":
        requests = bytes_sent = 0
        for name in blobs:
            stats = fake.blobs.stats(name)
            requests += stats.requests
            bytes_sent += stats.bytes_sent
        return {"requests": requests, "bytes_sent": bytes_sent}
    if op == "reset":
        for name in blobs:
            fake.blobs.reset_stats(name)
        with fake._lock:
            fake.calls.clear()
        return {"ok": True}
    if op == "calls":
        with fake._lock:
            return {"calls": len(fake.calls)}
    if op == "latency":
        fake.slow("*", float(command["seconds"]))
        return {"ok": True}
    raise ValueError(f"unknown op {op!r}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big", type=Path, required=True, help="the big file to serve")
    parser.add_argument("--many", type=Path, required=True, help="a folder of small files")
    parser.add_argument("--port", type=int, default=7777, help="API port (7777: kagglehub TEST)")
    args = parser.parse_args()
    fake, on_port = start_fake(args.port)
    try:
        big = register_file_backed(fake, BIG_REF, BIG_NAME, args.big)
        many = register_in_memory(fake, MANY_REF, args.many)
        info = {
            "api_url": fake.url,
            "port": fake.port,
            "on_requested_port": on_port,
            "token": fake.token,
            "username": fake.username,
            "key": fake.key,
            "big_blob": big,
            "big_url": fake.blobs.url_for(big),
            "big_hashes": disk_file_hashes(),
            "many_blobs": many,
        }
        print(json.dumps(info), flush=True)
        for line in sys.stdin:
            command = json.loads(line)
            if command.get("op") == "quit":
                break
            try:
                reply = answer(fake, command)
            except Exception as error:  # reported to the harness, which stops the run
                reply = {"error": repr(error)}
            print(json.dumps(reply), flush=True)
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
