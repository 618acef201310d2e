"""``%load_ext mlenv_magics`` must not import anything heavy (checked in a fresh process)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = [
    "ipywidgets",
    "kaggle",
    "kagglesdk",
    "kagglehub",
    "pydrive2",
    "googleapiclient",
    "requests",
    "torch",
    "tensorflow",
    "jax",
    "pynvml",
    "tqdm",
    "filelock",
]

PROBE = """
import json, sys
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
before = set(sys.modules)
shell.run_line_magic("load_ext", "mlenv_magics")
new = sorted(set(sys.modules) - before)
print(json.dumps({"new": new, "magics": sorted(shell.magics_manager.magics["line"])}))
"""


def test_load_ext_imports_nothing_heavy() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=True
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    top_level = {name.split(".")[0] for name in result["new"]}
    assert "mlenv_magics" in top_level and "mlenv_gpu" in result["magics"]
    assert sorted(top_level & set(HEAVY)) == []


def test_importing_the_package_does_not_import_ipython() -> None:
    code = "import sys, mlenv_magics; print('IPython' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "False"
