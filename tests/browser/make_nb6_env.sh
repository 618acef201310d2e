#!/usr/bin/env bash
# Creates the classic Notebook 6.5 environment (the stack Colab's frontend is built on):
# notebook 6.5.7 + ipywidgets 7.7.1 + Colab's kernel pins, with this project installed editable.
# Usage: tests/browser/make_nb6_env.sh [VENV_DIR]   (default: .venv-nb6 at the repo root)
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv_dir="${1:-$repo_root/.venv-nb6}"
python_bin="${PYTHON:-}"
if [ -z "$python_bin" ]; then
  for candidate in python3.12 python3.11 python3.13 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c \
        'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      python_bin="$candidate"
      break
    fi
  done
fi
if [ -z "$python_bin" ]; then
  echo "make_nb6_env: no Python 3.11+ found (set PYTHON)" >&2
  exit 1
fi

ready_check='
import sys, pathlib, notebook, ipywidgets, mlenv_magics
assert notebook.__version__ == "6.5.7" and ipywidgets.__version__ == "7.7.1"
assert pathlib.Path(mlenv_magics.__file__).resolve().is_relative_to(pathlib.Path(sys.argv[1]))
'
if [ -x "$venv_dir/bin/python" ] && "$venv_dir/bin/python" -c "$ready_check" "$repo_root" 2>/dev/null; then
  echo "nb6 environment ready: $venv_dir"
  exit 0
fi

"$python_bin" -m venv "$venv_dir"
"$venv_dir/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
"$venv_dir/bin/python" -m pip install -q --disable-pip-version-check \
  "notebook==6.5.7" \
  "ipywidgets==7.7.1" \
  "ipykernel==6.17.1" \
  "ipython==7.34.0" \
  "tqdm==4.67.3" \
  "kaggle==2.0.2" \
  "pydrive2==1.21.1" \
  "nvidia-ml-py==13.610.43" \
  -e "$repo_root"
"$venv_dir/bin/python" - <<'PY'
import IPython, ipykernel, ipywidgets, notebook
print(f"nb6 environment: notebook {notebook.__version__}, ipywidgets {ipywidgets.__version__}, "
      f"IPython {IPython.__version__}, ipykernel {ipykernel.__version__}")
PY
