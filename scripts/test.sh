#!/usr/bin/env bash
# Sets up s1stac with its test dependencies and runs the test suite.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$HERE/scripts/setup-system.sh"
source "$HERE/scripts/_setup.sh" test
cd "$HERE"
python -m pytest "$@"
