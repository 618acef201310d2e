#!/usr/bin/env bash
# On a machine with an NVIDIA GPU: capture what NVML and nvidia-smi say, save it as fixtures,
# check `mlenv gpu --json` (NVML, and the nvidia-smi fallback) against `nvidia-smi -q -x`
# field by field, time one report from NVML against one from nvidia-smi, and measure what the
# live view (`%mlenv_gpu --live`) costs per refresh with each backend.
#
#   bench/gpu_device_check.sh [OUT_DIR]     (default: $OUT, else tests/fixtures/nvidia-smi/captured)
#
# Needs only this checkout and a Python with the package's dependencies (PYTHON, else
# .venv/bin/python, else python3 with this checkout on PYTHONPATH); no network. Without a GPU
# it says so and exits 0. Exit 1 when a report disagrees with nvidia-smi.
set -uo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"

out_dir="${1:-${OUT:-tests/fixtures/nvidia-smi/captured}}"
python="${PYTHON:-}"
if [[ -z "$python" ]]; then
  if [[ -x .venv/bin/python ]]; then python=.venv/bin/python; else python=python3; fi
fi
export PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}"

if ! command -v nvidia-smi >/dev/null 2>&1; then
  echo "no nvidia-smi on PATH: this machine has no NVIDIA GPU driver; nothing to check."
  exit 0
fi
if ! nvidia-smi -L >/dev/null 2>&1; then
  echo "nvidia-smi cannot talk to an NVIDIA driver here (no GPU attached?); nothing to check."
  nvidia-smi -L 2>&1 | head -3 || true
  exit 0
fi
if ! "$python" -c "import mlenv_magics" >/dev/null 2>&1; then
  echo "mlenv_magics is not importable with $python (set PYTHON to a Python with its dependencies)."
  exit 2
fi

mkdir -p "$out_dir"
name="$(nvidia-smi --query-gpu=name --format=csv,noheader | head -n1)"
driver="$(nvidia-smi --query-gpu=driver_version --format=csv,noheader | head -n1)"
slug="$(printf '%s' "$name" | tr '[:upper:]' '[:lower:]' | tr -cs 'a-z0-9' '-' | sed 's/-$//')"
stem="$out_dir/${slug}-${driver}"
status=0

# 1. Captures: nvidia-smi in every form the fallback and the fake understand, and NVML's own
#    answers (the values a replay recording for tests/gpu/nvml_replay.py needs).
nvidia-smi -q -x >"$stem.xml"
nvidia-smi -q >"$stem.q.txt" 2>&1 || true
nvidia-smi >"$stem.table.txt" 2>&1 || true
nvidia-smi --query-gpu=index,uuid,name,pci.bus_id,driver_version,memory.total,memory.used,utilization.gpu,temperature.gpu,power.draw,power.limit,compute_cap,mig.mode.current \
  --format=csv >"$stem.csv" 2>&1 || true
"$python" - "$stem.nvml.json" <<'PY' || echo "note: NVML capture failed (is nvidia-ml-py installed?)"
import json, sys
import pynvml as nv

def call(fn, *args):
    try:
        value = fn(*args)
    except nv.NVMLError as exc:
        return {"error": str(exc), "code": getattr(exc, "value", None)}
    if isinstance(value, bytes):
        value = value.decode()
    return value

nv.nvmlInit()
devices = []
for index in range(nv.nvmlDeviceGetCount()):
    h = nv.nvmlDeviceGetHandleByIndex(index)
    memory = call(nv.nvmlDeviceGetMemoryInfo, h)
    rates = call(nv.nvmlDeviceGetUtilizationRates, h)
    procs = call(nv.nvmlDeviceGetComputeRunningProcesses, h)
    devices.append({
        "name": call(nv.nvmlDeviceGetName, h),
        "uuid": call(nv.nvmlDeviceGetUUID, h),
        "cc": call(nv.nvmlDeviceGetCudaComputeCapability, h),
        "memory_mib": None if isinstance(memory, dict) else [memory.total >> 20, memory.used >> 20],
        "util": rates if isinstance(rates, dict) else rates.gpu,
        "temp": call(nv.nvmlDeviceGetTemperature, h, nv.NVML_TEMPERATURE_GPU),
        "power_mw": call(nv.nvmlDeviceGetPowerUsage, h),
        "limit_mw": call(nv.nvmlDeviceGetEnforcedPowerLimit, h),
        "mig_mode": call(nv.nvmlDeviceGetMigMode, h),
        "procs": procs if isinstance(procs, dict) else [[p.pid, p.usedGpuMemory] for p in procs],
    })
record = {"driver": call(nv.nvmlSystemGetDriverVersion), "cuda": call(nv.nvmlSystemGetCudaDriverVersion), "devices": devices}
json.dump(record, open(sys.argv[1], "w"), indent=2, default=str)
PY

# 2. Our reports: NVML, the nvidia-smi fallback, and the text view.
"$python" -m mlenv_magics gpu --json >"$stem.mlenv-nvml.json"
MLENV_GPU_BACKEND=nvidia-smi "$python" -m mlenv_magics gpu --json >"$stem.mlenv-smi.json"
"$python" -m mlenv_magics gpu >"$stem.mlenv.txt"

# 3. Field by field against nvidia-smi -q -x (values that move while the GPU works, such as
#    memory used, utilization, power and temperature, get a tolerance); 4. one report timed.
"$python" - "$stem" <<'PY' || status=1
import json, statistics, subprocess, sys, time, xml.etree.ElementTree as ET
from mlenv_magics.gpu.smi_xml import parse_smi_xml

stem = sys.argv[1]
expected = parse_smi_xml(open(stem + ".xml").read())
root = ET.parse(stem + ".xml").getroot()
problems, notes = [], []
TOLERANCE = {"memory_total_mib": 1, "memory_used_mib": 512, "utilization_pct": 100,
             "temperature_c": 5, "power_w": 50, "power_limit_w": 1}

def compare(label, report, backend):
    if report["backend"] != backend:
        problems.append(f"{label}: backend is {report['backend']!r}, notes: {report['notes']}")
        return
    for key in ("driver_version", "cuda_version"):
        if report[key] != getattr(expected, key):
            problems.append(f"{label}: {key} {report[key]!r} != {getattr(expected, key)!r}")
    mine = report["devices"]
    if [(d["uuid"], d["label"]) for d in mine] != [(d.uuid, d.label) for d in expected.devices]:
        problems.append(f"{label}: devices or order differ: {[d['label'] for d in mine]}")
        return
    for seen, want in zip(mine, expected.devices):
        where = f"{label} GPU {seen['label']}"
        if seen["name"] != want.name and seen["mig"] is None:
            problems.append(f"{where}: name {seen['name']!r} != {want.name!r}")
        if seen["mig_enabled"] != want.mig_enabled:
            problems.append(f"{where}: MIG {seen['mig_enabled']} != {want.mig_enabled}")
        for key, tolerance in TOLERANCE.items():
            a, b = seen.get(key), getattr(want, key)
            if (a is None) != (b is None):
                problems.append(f"{where}: {key} {a!r} but nvidia-smi says {b!r}")
            elif a is not None and abs(a - b) > tolerance:
                problems.append(f"{where}: {key} {a} vs nvidia-smi {b} (tolerance {tolerance})")
        if seen.get("compute_capability") is None:
            notes.append(f"{where}: compute capability unknown")

compare("NVML", json.load(open(stem + ".mlenv-nvml.json")), "nvml")
compare("nvidia-smi fallback", json.load(open(stem + ".mlenv-smi.json")), "nvidia-smi")

from mlenv_magics.gpu import gpu_report
import os
timings = {}
for backend in ("nvml", "nvidia-smi"):
    os.environ["MLENV_GPU_BACKEND"] = backend
    if gpu_report().backend != backend:  # also NVML's init and the imports, not timed
        timings[backend] = None
        continue
    samples = []
    for _ in range(7):
        start = time.perf_counter()
        gpu_report()
        samples.append(time.perf_counter() - start)
    timings[backend] = statistics.median(samples) * 1000
samples = []
for _ in range(7):
    start = time.perf_counter()
    subprocess.run(["nvidia-smi", "-q", "-x"], capture_output=True, check=True)
    samples.append(time.perf_counter() - start)
timings["nvidia-smi -q -x alone"] = statistics.median(samples) * 1000
json.dump(timings, open(stem + ".timings.json", "w"), indent=2)
for key, value in timings.items():
    print(f"one report, {key}: " + ("unavailable" if value is None else f"{value:.1f} ms (median of 7)"))
if timings["nvml"] and timings["nvidia-smi"]:
    print(f"nvidia-smi / NVML: {timings['nvidia-smi'] / timings['nvml']:.0f}x")
for note in notes:
    print("note:", note)
if problems:
    print("MISMATCH:\n  " + "\n  ".join(problems))
    sys.exit(1)
print(f"OK: {len(expected.devices)} device(s) agree between NVML, the nvidia-smi fallback and nvidia-smi -q -x")
PY

# 5. The live view's cost per refresh on this GPU, with each backend.
if "$python" -c "import ipykernel, jupyter_client" >/dev/null 2>&1; then
  "$python" bench/gpu_live_bench.py --real --seconds 20 --interval 1 --json >"$stem.live.json" \
    2>"$stem.live.err" || echo "note: the live-view benchmark missed a target or failed (see $stem.live.*)"
  cat "$stem.live.json" 2>/dev/null
else
  echo "note: ipykernel/jupyter_client missing: the live-view benchmark was not run"
fi

echo "saved under $out_dir: $(cd "$out_dir" && ls | tr '\n' ' ')"
exit "$status"
