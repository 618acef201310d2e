#!/usr/bin/env bash
# On a machine with an NVIDIA GPU: run `mlenv gpu --json` (NVML and the nvidia-smi fallback),
# compare both with `nvidia-smi -q -x`, and save everything as new fixtures.
#
#   bench/gpu_device_check.sh [OUT_DIR]     (default: $OUT, else tests/fixtures/nvidia-smi/captured)
#
# Without a GPU it says so and exits 0. Exit 1 when the reports disagree with nvidia-smi.
set -euo pipefail
cd "$(dirname "$0")/.."

out_dir="${1:-${OUT:-tests/fixtures/nvidia-smi/captured}}"
python="${PYTHON:-}"
if [[ -z "$python" ]]; then
  if [[ -x .venv/bin/python ]]; then python=.venv/bin/python; else python=python3; fi
fi

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
  echo "mlenv_magics is not importable with $python: pip install -e . first (or set PYTHON)."
  exit 2
fi

mkdir -p "$out_dir"
name="$(nvidia-smi --query-gpu=name --format=csv,noheader | head -n1)"
driver="$(nvidia-smi --query-gpu=driver_version --format=csv,noheader | head -n1)"
slug="$(printf '%s' "$name" | tr '[:upper:]' '[:lower:]' | tr -cs 'a-z0-9' '-' | sed 's/-$//')"
stem="$out_dir/${slug}-${driver}"

nvidia-smi -q -x >"$stem.xml"
nvidia-smi -q >"$stem.q.txt" 2>&1 || true
nvidia-smi --query-gpu=index,uuid,name,pci.bus_id,driver_version,memory.total,memory.used,utilization.gpu,temperature.gpu,power.draw,power.limit,compute_cap,mig.mode.current \
  --format=csv >"$stem.csv" 2>&1 || true
# Timed from process start: interpreter, import and one probe (NVML init included).
start_ns=$(date +%s%N)
"$python" -m mlenv_magics gpu --json >"$stem.mlenv-nvml.json"
end_ns=$(date +%s%N)
MLENV_GPU_BACKEND=nvidia-smi "$python" -m mlenv_magics gpu --json >"$stem.mlenv-smi.json"
"$python" -m mlenv_magics gpu >"$stem.mlenv.txt"
"$python" - "$stem" "$(( (end_ns - start_ns) / 1000000 ))" <<'PY'
import json, sys, xml.etree.ElementTree as ET

stem, elapsed_ms = sys.argv[1], sys.argv[2]
root = ET.parse(stem + ".xml").getroot()
nvml = json.load(open(stem + ".mlenv-nvml.json"))
smi = json.load(open(stem + ".mlenv-smi.json"))
problems = []

def mib(text):
    return int(text.split()[0]) if text and text.split()[0].isdigit() else None

xml_gpus = [
    {"uuid": g.findtext("uuid"), "name": g.findtext("product_name"),
     "total": mib(g.findtext("fb_memory_usage/total"))}
    for g in root.findall("gpu")
]
for label, report, backend in (("NVML", nvml, "nvml"), ("nvidia-smi", smi, "nvidia-smi")):
    if report["backend"] != backend:
        problems.append(f"{label}: backend is {report['backend']!r}, notes: {report['notes']}")
        continue
    if report["driver_version"] != root.findtext("driver_version"):
        problems.append(f"{label}: driver {report['driver_version']} != {root.findtext('driver_version')}")
    if report["cuda_version"] != root.findtext("cuda_version"):
        problems.append(f"{label}: CUDA {report['cuda_version']} != {root.findtext('cuda_version')}")
    gpus = [d for d in report["devices"] if d["mig"] is None]
    if [g["uuid"] for g in gpus] != [g["uuid"] for g in xml_gpus]:
        problems.append(f"{label}: GPU UUIDs/order differ from nvidia-smi")
    for mine, theirs in zip(gpus, xml_gpus):
        if mine["name"] != theirs["name"]:
            problems.append(f"{label}: name {mine['name']!r} != {theirs['name']!r}")
        if theirs["total"] is not None and mine["memory_total_mib"] is not None and abs(
            mine["memory_total_mib"] - theirs["total"]
        ) > 1:
            problems.append(f"{label}: memory {mine['memory_total_mib']} != {theirs['total']} MiB")
        for field in ("utilization_pct", "temperature_c", "power_w", "compute_capability"):
            if mine.get(field) is None:
                print(f"note: {label} GPU {mine['index']}: {field} unknown ({mine['unavailable'].get(field)})")
print(f"mlenv gpu --json (NVML, whole process): {elapsed_ms} ms")
print(f"saved: {stem}.{{xml,q.txt,csv,mlenv-nvml.json,mlenv-smi.json,mlenv.txt}}")
if problems:
    print("MISMATCH:\n  " + "\n  ".join(problems))
    sys.exit(1)
print(f"OK: {len(xml_gpus)} GPU(s) agree between NVML, the nvidia-smi fallback and nvidia-smi -q -x")
PY
