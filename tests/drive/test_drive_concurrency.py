"""Two processes asking for the same Drive folder download it once and share the result."""

from __future__ import annotations

import os
import subprocess
import sys

from mlenv_magics.testing.drive_fake import DriveFake

SCRIPT = """
import sys
from mlenv_magics.data import AddDataOptions, acquire

result = acquire("drive:" + sys.argv[1], AddDataOptions())
print(result.origin, result.path)
"""


def test_two_processes_download_once(drive_fake: DriveFake) -> None:
    top = drive_fake.add_folder("shared")
    drive_fake.add_file("a.bin", os.urandom(50_000), parent=top)
    drive_fake.add_file("b.bin", os.urandom(70_000), parent=top)
    drive_fake.media_delay = 1.0  # keep the first download busy while the second arrives

    workers = [
        subprocess.Popen(
            [sys.executable, "-c", SCRIPT, top],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ),
        )
        for _ in range(2)
    ]
    outputs = []
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
        outputs.append(out.split())

    origins = sorted(origin for origin, _path in outputs)
    paths = {path for _origin, path in outputs}
    assert origins == ["cache", "downloaded"]
    assert len(paths) == 1
    assert drive_fake.count("media") == 2  # each file once
