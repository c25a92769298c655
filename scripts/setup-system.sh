#!/usr/bin/env bash
# System packages s1stac uses: Debian's proj-data holds the EGM96 geoid grid (egm96_15.gtx) that
# converts DEM heights over the geoid to heights over the WGS84 ellipsoid, offline.
set -euo pipefail
if command -v dpkg >/dev/null 2>&1 && ! dpkg -s proj-data >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends proj-data
fi
