"""The Kaggle fake of the models benchmark, in its own process (no GIL shared with a client).

``python bench/models_fake_server.py --model-dir DIR --small-dir DIR --output-dir DIR`` serves

- the model variations ``bench/weights/pyTorch/base`` and ``.../small``, version 1: every file
  of the model folder (of the small folder), from disk; their tar.gz are built before the
  first request;
- the notebook ``bench/train-run``: its latest version finished with every file of the output
  folder as its outputs (their archive also built up front).

It prints one JSON line (API URL and token), then answers lines on stdin: ``real`` makes
every API answer and every blob response wait ``--latency`` seconds and caps each blob
connection at ``--rate`` bytes per second (as a real service across a network), ``quit``
stops it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mlenv_magics.testing.kaggle_fake import KaggleFake

MODEL = "bench/weights/pyTorch/base"
SMALL_MODEL = "bench/weights/pyTorch/small"
NOTEBOOK = "bench/train-run"


def files_of(folder: Path) -> dict[str, Path]:
    return {p.relative_to(folder).as_posix(): p for p in sorted(folder.rglob("*")) if p.is_file()}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--small-dir", type=Path, required=True)
    parser.add_argument("--output-dir", type=Path, required=True)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--rate", type=float, default=50e6)
    args = parser.parse_args()
    with KaggleFake() as fake:
        blobs = []
        for ref, folder in ((MODEL, args.model_dir), (SMALL_MODEL, args.small_dir)):
            fake.models.add_model(ref, files_of(folder))
            blobs += fake.models.prepare(ref)
        outputs = {name: path.read_bytes() for name, path in files_of(args.output_dir).items()}
        fake.models.add_notebook(NOTEBOOK, outputs)
        del outputs
        blobs += fake.models.prepare_outputs(NOTEBOOK)
        print(json.dumps({"api": fake.url, "token": fake.token}), flush=True)
        for line in sys.stdin:
            if line.strip() == "real":
                fake.slow("*", args.latency)
                for name in blobs:
                    fake.blobs.faults(name, rate=args.rate, stall=args.latency, stall_times=10**9)
            elif line.strip() == "quit":
                break
            print(json.dumps({"ok": True}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
