"""What building and reading Kaggle RPC bodies with kagglesdk's message types costs, against
hand-written dicts: the one-time import (fresh processes, after ``requests``, which every
download imports anyway) and the per-call work (a request body out, a 200-file page back).

    python bench/models_sdk_cost.py [--runs 15]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

IMPORT_SDK = (
    "import requests, time; t = time.perf_counter();"
    "import kagglesdk.datasets.types.dataset_api_service,"
    " kagglesdk.competitions.types.competition_api_service,"
    " kagglesdk.models.types.model_api_service, kagglesdk.kernels.types.kernels_api_service;"
    "print((time.perf_counter() - t) * 1000)"
)

DATE = "2025-01-01T00:00:00.000Z"
PAGE = json.dumps(
    {
        "datasetFiles": [
            {"name": f"sub/file-{i:04d}.csv", "totalBytes": 1000 + i, "creationDate": DATE}
            for i in range(200)
        ],
        "nextPageToken": "abc",
    }
).encode()


def import_ms(runs: int) -> float:
    samples = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", IMPORT_SDK], capture_output=True, text=True, check=True
        )
        samples.append(float(out.stdout.strip()))
    return statistics.median(samples)


def with_sdk() -> tuple[int, int]:
    from kagglesdk.datasets.types.dataset_api_service import (
        ApiListDatasetFilesRequest,
        ApiListDatasetFilesResponse,
    )
    from kagglesdk.models.types.model_api_service import ApiDownloadModelInstanceVersionRequest
    from kagglesdk.models.types.model_enums import ModelFramework

    request = ApiListDatasetFilesRequest()
    request.owner_slug = "alice"
    request.dataset_slug = "tiny"
    request.page_size = 200
    request.page_token = ""
    body = json.dumps(request.to_dict())
    download = ApiDownloadModelInstanceVersionRequest()
    download.owner_slug = "google"
    download.model_slug = "gemma"
    download.framework = ModelFramework.MODEL_FRAMEWORK_PY_TORCH
    download.instance_slug = "2b"
    download.version_number = 3
    download.path = "config.json"
    body += json.dumps(download.to_dict())
    answer = ApiListDatasetFilesResponse.from_dict(json.loads(PAGE))
    return len(body), sum(f.total_bytes for f in answer.dataset_files)


def by_hand() -> tuple[int, int]:
    body = json.dumps(
        {"ownerSlug": "alice", "datasetSlug": "tiny", "pageSize": 200, "pageToken": ""}
    )
    body += json.dumps(
        {
            "ownerSlug": "google",
            "modelSlug": "gemma",
            "framework": "MODEL_FRAMEWORK_PY_TORCH",
            "instanceSlug": "2b",
            "versionNumber": 3,
            "path": "config.json",
        }
    )
    answer = json.loads(PAGE)
    return len(body), sum(int(f["totalBytes"]) for f in answer["datasetFiles"])


def per_call_us(function: object, rounds: int = 2000) -> float:
    assert callable(function)
    function()
    samples = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(rounds):
            function()
        samples.append((time.perf_counter() - start) / rounds * 1e6)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    assert with_sdk() == by_hand(), "both ways must build the same bodies and read the same sizes"
    print(f"python {sys.version.split()[0]}")
    once = import_ms(args.runs)
    print(f"import of the four kagglesdk type modules, once per process: {once:.1f} ms")
    sdk, hand = per_call_us(with_sdk), per_call_us(by_hand)
    print(
        f"per call (two request bodies + one 200-file page): kagglesdk {sdk:.0f} us,"
        f" hand-written {hand:.0f} us ({sdk - hand:.0f} us more)"
    )


if __name__ == "__main__":
    main()
