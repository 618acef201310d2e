"""What does ``%load_ext mlenv_magics`` add to a fresh IPython, next to importing kagglehub/kaggle?

Each sample is a fresh Python process, so nothing is cached in ``sys.modules``.
Two measurements per variant:
- in-process: the time of the step itself (load_ext, or the import), after the shell exists;
- whole process: wall time of ``python -c`` creating a shell and doing the step, minus the
  same without the step (bare IPython).
Run: ``python bench/load_bench.py [--runs 15]``; prints a Markdown table and writes
``bench/out/load.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHELL = (
    "from IPython.core.interactiveshell import InteractiveShell; s = InteractiveShell.instance()"
)
STEPS = {
    "bare IPython": "pass",
    "%load_ext mlenv_magics": "s.run_line_magic('load_ext', 'mlenv_magics')",
    "import kagglehub": "import kagglehub",
    "import kaggle": "import kaggle",
}
TEMPLATE = """
import time, io, contextlib
{shell}
t0 = time.perf_counter()
try:
    with contextlib.redirect_stdout(io.StringIO()):
        {step}
except SystemExit:  # kaggle 2.0.x exits at import when no credentials are set
    pass
print(time.perf_counter() - t0)
"""


def sample(step: str, env: dict[str, str]) -> tuple[float, float]:
    code = TEMPLATE.format(shell=SHELL, step=step)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return float(done.stdout.strip().splitlines()[-1]), wall


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="mlenv-bench-home-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAGGLE_")}
    env.update(HOME=home, PYTHONDONTWRITEBYTECODE="1")
    for step in STEPS.values():  # warm the OS file cache once
        sample(step, env)
    results: dict[str, dict[str, float]] = {}
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in STEPS}
    for _ in range(args.runs):  # interleaved, so drift hits every variant alike
        for name, step in STEPS.items():
            samples[name].append(sample(step, env))
    bare_wall = statistics.median(w for _, w in samples["bare IPython"])
    for name, values in samples.items():
        results[name] = {
            "step_ms": statistics.median(s for s, _ in values) * 1000,
            "process_ms": statistics.median(w for _, w in values) * 1000,
            "added_process_ms": (statistics.median(w for _, w in values) - bare_wall) * 1000,
        }
    ours = results["%load_ext mlenv_magics"]["step_ms"]
    print(
        f"| step | in-process (median of {args.runs}) | process wall added vs bare IPython"
        " | ratio vs %load_ext |"
    )
    print("|---|---|---|---|")
    for name, r in results.items():
        ratio = r["step_ms"] / ours if ours else float("nan")
        print(
            f"| {name} | {r['step_ms']:.1f} ms | {r['added_process_ms']:+.0f} ms | {ratio:.1f}x |"
        )
    out = Path(__file__).parent / "out"
    out.mkdir(exist_ok=True)
    (out / "load.json").write_text(json.dumps({"runs": args.runs, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
