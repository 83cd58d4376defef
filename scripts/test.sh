#!/usr/bin/env bash
# Install soakkit with its test extra into .venv and run the whole test suite:
# ruff, mypy (strict) and pytest (unit, end-to-end, nbval goldens, headless-browser check),
# then the goldens and the determinism tests again with numpy's AVX-512 kernels switched
# off (what a CPU without them computes must give the same goldens).
# Debian packages the tests start for real (chromium for the browser check, prometheus with
# promtool and prometheus-node-exporter for the metrics tests) are installed with apt-get
# when missing (as root, or through sudo). Extra arguments go to pytest.
# pytest-xdist runs the suite in one worker per core (at most PYTEST_WORKERS, default 4),
# each test file in one worker (a notebook's cells stay in order in one kernel): on a
# 2-core machine 11 min 12 s against 19 min 55 s in one process (2026-12-08).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
"$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "soakkit needs Python 3.11 or newer")'

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v prometheus-node-exporter >/dev/null 2>&1 || missing+=(prometheus-node-exporter)
if [ ${#missing[@]} -gt 0 ]; then
  echo "scripts/test.sh: installing Debian packages the tests start: ${missing[*]}" >&2
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'

.venv/bin/ruff check soakkit tests bench scripts examples
.venv/bin/mypy

# the suite runs with an empty HOME: nothing it writes may land in the user's home
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
parallel=(-n auto --maxprocesses "${PYTEST_WORKERS:-4}" --dist loadfile)
HOME="$home" .venv/bin/python -m pytest "${parallel[@]}" "$@"
HOME="$home" NPY_DISABLE_CPU_FEATURES="AVX512_ICL X86_V4" \
  .venv/bin/python -m pytest -q -m determinism "${parallel[@]}" "$@"
left=$(find "$home" -mindepth 1 -maxdepth 3 | head -20)
if [ -n "$left" ]; then
  echo "scripts/test.sh: the tests wrote into HOME (they must use temporary folders):" >&2
  echo "$left" >&2
  exit 1
fi
