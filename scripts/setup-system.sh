#!/usr/bin/env bash
# System packages s1stac uses: Debian's proj-data holds the EGM96 geoid grid (egm96_15.gtx) that
# converts DEM heights over the geoid to heights over the WGS84 ellipsoid, offline; chromium
# renders the catalog's HTML pages in the browser test (optional: pass --no-browser to skip).
set -euo pipefail
command -v dpkg >/dev/null 2>&1 || exit 0
wanted=(proj-data)
[ "${1:-}" = "--no-browser" ] || wanted+=(chromium)
missing=()
for package in "${wanted[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi
