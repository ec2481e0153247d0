#!/usr/bin/env bash
# Set up (once) and run negsim from a fresh clone.
#   ./dev.sh alaska   simulate the shipped Alaska scenario, write results/, draw the figures
#   ./dev.sh test     run the test suite (what CI runs)
#   ./dev.sh setup    only create/refresh the virtual environment in .venv
# Picks a Python >= 3.12 by itself ($PYTHON, then python3, python3.13, python3.12).
set -euo pipefail
cd "$(dirname "$0")"

find_python() {
  local candidate
  for candidate in "${PYTHON:-}" python3 python3.13 python3.12; do
    [ -n "$candidate" ] || continue
    command -v "$candidate" >/dev/null 2>&1 || continue
    if "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then
      echo "$candidate"
      return 0
    fi
  done
  echo "dev.sh: need Python >= 3.12 (Mesa 3.5 requires it); set PYTHON=/path/to/python3.12" >&2
  return 1
}

setup() {
  local stamp=.venv/.negsim-installed want
  want=$(cat pyproject.toml | sha256sum | cut -d' ' -f1)
  if [ -x .venv/bin/python ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
     && .venv/bin/python -c 'import sys; sys.exit(sys.version_info < (3, 12))'; then
    return 0
  fi
  local py
  py=$(find_python)
  echo "dev.sh: setting up .venv with $("$py" --version 2>&1)" >&2
  rm -rf .venv
  "$py" -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".[test,progress,dask]"
  echo "$want" > "$stamp"
}

cmd=${1:-}
shift || true
case "$cmd" in
  setup)
    setup ;;
  alaska)
    setup
    exec .venv/bin/negsim run scenarios/alaska_2025.yaml --runs 4000 --seed 2025 --plot "$@" ;;
  test)
    setup
    exec .venv/bin/python -m pytest -m "not slow" -q "$@" ;;
  *)
    echo "usage: ./dev.sh alaska | test | setup" >&2
    exit 2 ;;
esac
