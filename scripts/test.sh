#!/usr/bin/env bash
# Install soakkit with its test extra into .venv and run the whole test suite:
# ruff, mypy (strict) and pytest (unit, end-to-end, nbval goldens, headless-browser check).
# The browser check needs Debian's `chromium`; it is installed with apt-get when missing
# (as root, or through sudo). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
"$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "soakkit needs Python 3.11 or newer")'

if ! command -v chromium >/dev/null 2>&1; then
  echo "scripts/test.sh: installing Debian's chromium for the browser check" >&2
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi

[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'

.venv/bin/ruff check soakkit tests bench scripts examples
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
