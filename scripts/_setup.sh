#!/usr/bin/env bash
# Creates (or reuses) the project's virtual environment in .venv and installs s1stac into it.
# Usage: source scripts/_setup.sh [extra]   (extra: "test" to add the test dependencies)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "s1stac needs Python >= 3.11; set PYTHON=/path/to/python3.11" >&2
    exit 1
fi
if [ ! -x "$HERE/.venv/bin/python" ]; then
    "$PY" -m venv "$HERE/.venv"
    "$HERE/.venv/bin/python" -m pip install --quiet --upgrade pip
fi
extra="${1:-}"
spec="$HERE"
[ -n "$extra" ] && spec="$HERE[$extra]"
"$HERE/.venv/bin/python" -m pip install --quiet -e "$spec"
export PATH="$HERE/.venv/bin:$PATH"
