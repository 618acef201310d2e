#!/usr/bin/env bash
# What the browser tests (tests/browser, marker "browser") need outside Python packages:
#   - Debian's Chromium (no browser download at run time: Playwright drives this one);
#   - the classic Notebook 6.5 + ipywidgets 7.7.1 environment (.venv-nb6), unless
#     MLENV_SKIP_NB6=1.
# Idempotent and quiet; prints what it found. Needs root (or sudo) for apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "browser-setup: need root to run: $*" >&2; return 1
  fi
}

if ! command -v chromium >/dev/null 2>&1; then
  echo "browser-setup: installing Debian's chromium" >&2
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq
  as_root apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
# Debian's wrapper script prints a harmless shell warning on some machines; keep stdout clean.
echo "browser-setup: $(chromium --version 2>/dev/null | head -n 1)"

if [ "${MLENV_SKIP_NB6:-0}" != 1 ]; then
  bash tests/browser/make_nb6_env.sh "${MLENV_NB6_VENV:-.venv-nb6}" 2>&1 | { grep -v "is ignored" || true; }
fi
