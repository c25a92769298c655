"""Scene simulator: Sentinel-1 IW GRDH SAFE products over a generated or given DEM.

Geometry and radiometry are physically consistent (circular sun-synchronous orbit, zero
Doppler, ground-range pixels, DEM facets with their illuminated area, speckle, thermal noise,
DN quantisation); the ground truth (DEM, land cover, gamma0 per date, layover/shadow) is
written next to the products.  See :func:`simulate`.
"""

from __future__ import annotations

from s1stac.simulate.api import SIZES, SimulationResult, simulate
from s1stac.simulate.tracks import TrackSpec, parse_tracks

__all__ = ["SIZES", "SimulationResult", "TrackSpec", "parse_tracks", "simulate"]
