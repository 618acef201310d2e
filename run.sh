#!/usr/bin/env bash
# Developer entry point.
#   ./run.sh quickstart     run notebooks/quickstart.ipynb headless against the offline Kaggle fake
#   ./run.sh test [ARGS]    run the test suite (ARGS go to pytest)
#   ./run.sh lint           ruff and mypy
#   ./run.sh bench          the benchmarks in bench/
# The virtual environment is created on first use: MLENV_VENV (default .venv) with the
# package stack MLENV_PROFILE (latest | colab; default latest, see ci/requirements-*.txt).
set -euo pipefail
cd "$(dirname "$0")"
VENV=${MLENV_VENV:-.venv}
PROFILE=${MLENV_PROFILE:-latest}
export PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONUNBUFFERED=1

pick_python() {
  local candidates=()
  [ -n "${MLENV_PYTHON:-}" ] && candidates+=("$MLENV_PYTHON")
  if [ "$PROFILE" = colab ]; then wanted="3.13 3.12 3.11"; else wanted="3.12 3.13 3.11"; fi
  for v in $wanted; do
    candidates+=("python$v")
    for p in "$HOME"/.pyenv/versions/"$v"*/bin/python3 /usr/local/bin/python"$v" /usr/bin/python"$v"; do
      candidates+=("$p")
    done
  done
  candidates+=(python3)
  for c in "${candidates[@]}"; do
    if "$c" -c 'import sys, venv; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; then
      echo "$c"; return 0
    fi
  done
  echo "no Python 3.11+ found (set MLENV_PYTHON)" >&2; return 1
}

pip_quiet() {  # pip's output is shown only when it fails
  local log; log=$(mktemp)
  if ! "$VENV/bin/python" -m pip "$@" >"$log" 2>&1; then
    grep -v "is ignored" "$log" >&2; rm -f "$log"; return 1
  fi
  rm -f "$log"
}

ensure_venv() {
  local stamp="$VENV/.mlenv-stamp" want
  want="$PROFILE $(cat ci/requirements-"$PROFILE".txt pyproject.toml | cksum)"
  if [ -x "$VENV/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    local py; py=$(pick_python)
    echo "creating $VENV ($PROFILE stack) with $("$py" --version)" >&2
    "$py" -m venv "$VENV"
  fi
  echo "installing the $PROFILE stack into $VENV" >&2
  pip_quiet install -q -U pip
  pip_quiet install -q -r ci/requirements-"$PROFILE".txt
  pip_quiet install -q --no-deps -e .
  echo "$want" > "$stamp"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
  quickstart)
    ensure_venv
    exec "$VENV/bin/python" -m mlenv_magics.testing.notebook_runner notebooks/quickstart.ipynb "$@"
    ;;
  test)
    ensure_venv
    exec "$VENV/bin/python" -m pytest "$@"
    ;;
  lint)
    ensure_venv
    "$VENV/bin/ruff" check mlenv_magics tests bench
    "$VENV/bin/ruff" format --check mlenv_magics tests bench
    exec "$VENV/bin/mypy"
    ;;
  bench)
    ensure_venv
    "$VENV/bin/python" bench/load_bench.py "$@"
    ;;
  *)
    sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
