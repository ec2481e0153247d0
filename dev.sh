#!/usr/bin/env bash
# Set up (once) and run negsim from a fresh clone.
#   ./dev.sh alaska   simulate the shipped Alaska scenario, write results/, draw the figures
#   ./dev.sh test     run the test suite without the slow tests (what CI runs)
#   ./dev.sh slow     run only the tests marked slow
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

# pip and the build backend print dozens of lines that only matter when something goes wrong
# (this machine's index configuration, setuptools notices, one line per wheel), so set-up keeps
# them in a log and shows the whole log, not just pip's last line, when a step fails.
log=
quietly() {
  local status=0
  "$@" >>"$log" 2>&1 || status=$?
  if [ "$status" -ne 0 ]; then
    echo "dev.sh: set-up failed (exit status $status) at: $*" >&2
    echo "----- output of set-up (kept in $log) -----" >&2
    cat "$log" >&2
    echo "----- end of output; set-up failed (exit status $status) at: $*" >&2
    exit "$status"
  fi
}

setup() {
  local stamp=.venv/.negsim-installed want
  want=$(sha256sum < pyproject.toml | cut -d' ' -f1)
  local have_python=
  if [ -x .venv/bin/python ] && .venv/bin/python -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
    have_python=1
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
      return 0
    fi
  fi
  local start=$SECONDS py=
  if [ -z "$have_python" ]; then
    py=$(find_python)
  fi
  log=$(mktemp "${TMPDIR:-/tmp}/negsim-setup.XXXXXX.log")
  if [ -n "$py" ]; then
    echo "dev.sh: installing negsim and its dependencies into .venv with $("$py" --version 2>&1)" \
         "(under a minute; only the first time)" >&2
    rm -rf .venv
    quietly "$py" -m venv .venv
  else
    # Reinstalling into the existing environment takes seconds; rebuilding it takes a minute.
    echo "dev.sh: pyproject.toml changed; updating .venv (up to a minute)" >&2
  fi
  export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PIP_PROGRESS_BAR=off
  quietly .venv/bin/python -m pip install --upgrade pip
  quietly .venv/bin/python -m pip install -e ".[test,progress,dask,calibrate,fast,explore,discover]"
  mv -f "$log" .venv/setup.log
  echo "$want" > "$stamp"
  rm -f .venv/.negsim-kernels  # new libraries: the kernels are compiled again
  echo "dev.sh: .venv ready in $((SECONDS - start)) s (pip's output: .venv/setup.log)" >&2
}

# The compiled engine's kernels are compiled once per version of their sources (numba keeps them on
# disk); until then negsim plays on the numpy engine, which gives the same runs more slowly.
# `background`: compile in a session of its own (a Ctrl-C on the run must not stop it) and go on;
# otherwise wait for it, and for one already compiling in the background (the lock).
build_kernels() {
  local how=${1:-foreground} stamp=.venv/.negsim-kernels want
  # numba compiles again when a source file's time changes (a branch switch), so the times count too.
  want=$( { cat sim/model/kernel/*.py sim/model/status.py; stat -c '%n %.9Y %s' sim/model/kernel/*.py 2>/dev/null; } \
          | sha256sum | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  local build="if .venv/bin/python -m sim.jobs.kernels >.venv/kernels.log 2>&1; then echo $want > $stamp; fi"
  if [ "$how" = background ]; then
    if command -v setsid >/dev/null 2>&1 && command -v flock >/dev/null 2>&1; then
      echo "dev.sh: compiling the compiled engine's kernels in the background (about a minute, once);" \
           "until then negsim uses the numpy engine: the same runs, slower" >&2
      setsid flock -n .venv/.kernels.lock sh -c "$build" </dev/null >/dev/null 2>&1 &
    fi
    return 0
  fi
  local start=$SECONDS
  echo "dev.sh: compiling the compiled engine's kernels (about a minute, once per version)" >&2
  if command -v flock >/dev/null 2>&1; then
    flock .venv/.kernels.lock sh -c "$build"
  else
    sh -c "$build"
  fi
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "dev.sh: kernels ready in $((SECONDS - start)) s" >&2
  else
    echo "dev.sh: could not compile the kernels (see .venv/kernels.log); negsim uses the numpy engine" >&2
  fi
}

run_pytest() {
  # The fixed "ci" hypothesis profile (tests/conftest.py) tries the same examples on every run
  # and every machine, so a result cannot change from one run to the next.
  export HYPOTHESIS_PROFILE=${HYPOTHESIS_PROFILE:-ci}
  # A shell without job control starts background commands (`./dev.sh test &` in a script) with
  # SIGINT ignored, which every child inherits: the jobs that the Ctrl-C tests interrupt would
  # then run to the end and the tests fail. Bash cannot undo that; Python can, before pytest starts.
  exec .venv/bin/python -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execv(sys.executable, [sys.executable, "-m", "pytest", *sys.argv[1:]])' "$@"
}

cmd=${1:-}
shift || true
case "$cmd" in
  setup)
    setup
    build_kernels ;;
  alaska)
    setup
    build_kernels background
    exec .venv/bin/negsim run scenarios/alaska_2025.yaml --runs 4000 --seed 2025 --plot "$@" ;;
  test)
    setup
    build_kernels
    # Two test processes (one per core on these machines): the suite takes about half as long.
    run_pytest -m "not slow" -q -n auto --maxprocesses 2 "$@" ;;
  slow)
    setup
    build_kernels
    run_pytest -m slow -q "$@" ;;
  *)
    echo "usage: ./dev.sh alaska | test | slow | setup" >&2
    exit 2 ;;
esac
