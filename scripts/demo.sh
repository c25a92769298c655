#!/usr/bin/env bash
# Sets up s1stac and runs the whole chain on simulated Sentinel-1 scenes, ending in a STAC catalog.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$HERE/scripts/setup-system.sh" --no-browser
source "$HERE/scripts/_setup.sh" ""  # no extras (and not this script's arguments)
cd "$HERE"
s1stac demo "$@"
