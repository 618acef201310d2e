"""Benchmark: the no-GPU check of ``%mlenv_gpu`` inside a running kernel, against
``import torch; torch.cuda.is_available()`` and ``nvidia-smi``, in one run.

    python bench/gpu_check_bench.py [--torch-python /tmp/bench-torch/bin/python] [--repeat 20]

Targets: the first ``%mlenv_gpu`` in a kernel (probe + text + HTML) under 50 ms, and at least
20x faster than the torch check. A missing torch interpreter or ``nvidia-smi`` is reported as
"not measured", never as a failure. Exit code 1 when a measured target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET_MS = 50.0
TARGET_RATIO = 20.0

KERNEL_CODE = r"""
import json as _json, time as _time
_ip = get_ipython()
_t0 = _time.perf_counter()
_ip.run_line_magic("load_ext", "mlenv_magics")
_t1 = _time.perf_counter()
_report = _ip.run_line_magic("mlenv_gpu", "")
_text, _html = repr(_report), _report._repr_html_()
_t2 = _time.perf_counter()
_warm = []
for _ in range({repeat}):
    _s = _time.perf_counter()
    _r = _ip.run_line_magic("mlenv_gpu", "")
    repr(_r), _r._repr_html_()
    _warm.append(_time.perf_counter() - _s)
print("MLENV-BENCH " + _json.dumps({{
    "load_ext_s": _t1 - _t0, "first_s": _t2 - _t1, "warm_s": sorted(_warm),
    "backend": _report.backend, "devices": len(_report.devices),
}}))
"""

TORCH_CODE = (
    "import json, time\n"
    "t = time.perf_counter()\n"
    "import torch\n"
    "available = torch.cuda.is_available()\n"
    "print('TORCH-BENCH ' + json.dumps({'seconds': time.perf_counter() - t,"
    " 'available': available, 'version': torch.__version__}))\n"
)


def in_kernel(repeat: int) -> dict[str, Any]:
    """Run the measurement inside a real IPython kernel (jupyter_client), else a shell."""
    code = KERNEL_CODE.format(repeat=repeat)
    from mlenv_magics.testing.notebook_runner import own_kernel

    output: list[str] = []
    try:
        with tempfile.TemporaryDirectory() as spec_root, own_kernel(Path(spec_root)) as client:
            client.execute_interactive(
                code,
                timeout=120,
                output_hook=lambda msg: output.append(msg["content"].get("text", "")),
            )
    except (ImportError, RuntimeError) as exc:  # no jupyter_client / the kernel did not start
        return in_shell(code, f"IPython shell (kernel failed: {type(exc).__name__})")
    return _parse("".join(output), "MLENV-BENCH", "ipykernel")


def in_shell(code: str, label: str) -> dict[str, Any]:
    script = (
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "shell = InteractiveShell.instance()\n"
        f"shell.run_cell({code!r})\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False
    )
    return _parse(done.stdout, "MLENV-BENCH", label)


def _parse(text: str, marker: str, label: str) -> dict[str, Any]:
    for line in text.splitlines():
        if line.startswith(marker + " "):
            data: dict[str, Any] = json.loads(line[len(marker) + 1 :])
            data["where"] = label
            return data
    raise SystemExit(f"no {marker} line in the output:\n{text[-2000:]}")


def torch_check(python: str | None, runs: int = 3) -> dict[str, Any] | None:
    if not python or not os.path.exists(python):
        return None
    times, last = [], {}
    for _ in range(runs):
        done = subprocess.run(
            [python, "-c", TORCH_CODE], capture_output=True, text=True, timeout=600, check=False
        )
        if done.returncode != 0:
            return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
        last = _parse(done.stdout, "TORCH-BENCH", python)
        times.append(last["seconds"])
    return {**last, "first_s": times[0], "median_s": statistics.median(times), "runs": times}


def nvidia_smi_check(runs: int = 3) -> dict[str, Any] | None:
    executable = shutil.which("nvidia-smi")
    if executable is None:
        return None
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([executable, "-q", "-x"], capture_output=True, timeout=60, check=False)
        times.append(time.perf_counter() - start)
    return {"path": executable, "median_s": statistics.median(times), "runs": times}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--torch-python", help="python of a venv with torch installed")
    parser.add_argument("--repeat", type=int, default=20, help="warm %%mlenv_gpu calls")
    parser.add_argument("--kernels", type=int, default=3, help="fresh kernels (median is used)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)

    runs = sorted(
        (in_kernel(args.repeat) for _ in range(max(1, args.kernels))),
        key=lambda run: run["first_s"],
    )
    mlenv = runs[len(runs) // 2]
    mlenv["first_s_all_kernels"] = [run["first_s"] for run in runs]
    torch = torch_check(args.torch_python)
    smi = nvidia_smi_check()
    first_ms = mlenv["first_s"] * 1000
    warm_ms = statistics.median(mlenv["warm_s"]) * 1000
    ratio = None
    if torch and "median_s" in torch:
        ratio = torch["median_s"] / mlenv["first_s"]
    results = {"mlenv": mlenv, "torch": torch, "nvidia_smi": smi, "ratio_vs_torch": ratio}
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(f"%mlenv_gpu in {mlenv['where']} (backend {mlenv['backend']}):")
        print(f"  %load_ext mlenv_magics      {mlenv['load_ext_s'] * 1000:8.1f} ms")
        print(f"  first %mlenv_gpu (+render) {first_ms:8.1f} ms   target < {TARGET_MS:.0f} ms")
        spread = ", ".join(f"{s * 1000:.1f}" for s in mlenv["first_s_all_kernels"])
        print(f"    (median of {len(runs)} fresh kernels: {spread} ms)")
        print(f"  warm %mlenv_gpu, median    {warm_ms:8.1f} ms   ({args.repeat} calls)")
        if torch is None:
            print("import torch; torch.cuda.is_available(): not measured (no --torch-python)")
        elif "error" in torch:
            print(f"import torch; torch.cuda.is_available(): not measured ({torch['error']})")
        else:
            print(
                f"import torch {torch['version']}; torch.cuda.is_available() -> "
                f"{torch['available']}: first {torch['first_s'] * 1000:.0f} ms,"
                f" median {torch['median_s'] * 1000:.0f} ms of {len(torch['runs'])}"
            )
        if smi is None:
            print("nvidia-smi -q -x: not measured (no nvidia-smi on PATH)")
        else:
            print(f"nvidia-smi -q -x: median {smi['median_s'] * 1000:.0f} ms")
        if ratio is not None:
            print(f"speed-up vs the torch check: {ratio:.0f}x   target >= {TARGET_RATIO:.0f}x")
    missed = first_ms >= TARGET_MS or (ratio is not None and ratio < TARGET_RATIO)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
