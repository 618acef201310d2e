"""The Kaggle fake of the time-to-data benchmark, in its own process.

``python bench/time_to_data_server.py --zip FILE --tar FILE --tree DIR [--rate BYTES_PER_S]``
serves:

- dataset ``bench/ttd``: its whole-dataset archive is ``FILE`` (the zip, from disk), and the
  same bytes are its one file ``data.zip`` (downloaded as a file, never extracted: our raw
  download of the same bytes);
- model ``bench/ttd-model/pyTorch/default`` version 1: the files of ``--tree DIR``, its archive
  the tar.gz ``FILE``.

Every blob is paced at ``--rate`` bytes per second per connection. It prints one JSON line
(API URL, token, blob names and signed URLs), then waits for ``quit`` on stdin.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mlenv_magics.testing.kaggle_fake import KaggleFake, disk_file_hashes

DATASET = "bench/ttd"
MODEL = "bench/ttd-model/pyTorch/default"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zip", type=Path, required=True)
    parser.add_argument("--tar", type=Path, required=True)
    parser.add_argument("--tree", type=Path, required=True, help="the files both archives hold")
    parser.add_argument("--rate", type=float, default=128 * (1 << 20))
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    fake = KaggleFake(port=args.port).start()
    hashes = disk_file_hashes()
    try:
        dataset = fake.add_dataset(DATASET, files={"data.zip": args.zip})
        file_blob = fake.dataset_file_blob(DATASET, "data.zip")
        archive_blob = f"datasets/{DATASET}/1/{dataset.slug}.zip"
        url = fake.blobs.add(archive_blob, args.zip, content_type="application/zip", hashes=hashes)
        fake._blob_urls[("d", dataset.ref, "1")] = url
        dataset.archives[1] = b"registered above"  # never built: the blob above is served

        tree = {
            path.relative_to(args.tree).as_posix(): path
            for path in sorted(args.tree.rglob("*"))
            if path.is_file()
        }  # listed as the model's files (kagglehub fetches more than 25 as the archive)
        model = fake.models.add_model(MODEL, files=tree)
        model.archives[1] = args.tar
        model_blob = fake.models.model_archive_blob(MODEL)
        url = fake.blobs.add(model_blob, args.tar, content_type="application/gzip", hashes=hashes)
        fake._blob_urls[("m", f"models/{model.ref}/1")] = url

        blobs = [file_blob, archive_blob, model_blob]
        for name in blobs:
            fake.blobs.faults(name, rate=args.rate)
        info = {
            "api_url": fake.url,
            "token": fake.token,
            "blobs": {name: fake.blobs.url_for(name) for name in blobs},
            "zip_file_blob": file_blob,
            "zip_archive_blob": archive_blob,
            "tar_blob": model_blob,
            "hashes": list(hashes),
        }
        print(json.dumps(info), flush=True)
        for line in sys.stdin:
            if line.strip() == "quit":
                break
            if line.strip() == "stats":
                stats = {name: fake.blobs.stats(name).bytes_sent for name in blobs}
                print(json.dumps(stats), flush=True)
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
