"""True terrain-flattened backscatter (gamma0) of each land-cover class, per date and polarisation.

Values are typical C-band gamma0 levels: calm water about -22 dB (VV), forest -7.5 dB VV /
-12.5 dB VH with a weak seasonal swing, urban +2 dB VV, and three crop calendars (winter cereal,
maize, spring crop) whose gamma0 rises at emergence and falls at harvest (double-logistic in
day of year).  Water varies with wind from date to date (seeded).

Reference: Small, D. (2011), "Flattening Gamma: Radiometric Terrain Correction for SAR
Imagery", IEEE TGRS 49(8), doi:10.1109/TGRS.2011.2120616 (gamma0 definition);
Veloso et al. (2017), "Understanding the temporal behavior of crops using Sentinel-1 and
Sentinel-2-like data", RSE 199, doi:10.1016/j.rse.2017.07.015 (crop cycles).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from s1stac.simulate.terrain import GammaClass
from s1stac.types import FloatArray

_CROPS = {
    # class: (start of season, end of season, VV base/amplitude, VH base/amplitude), days / dB
    GammaClass.CROP_WINTER: (75.0, 185.0, (-12.0, 4.0), (-20.0, 6.0)),
    GammaClass.CROP_SUMMER: (150.0, 265.0, (-13.0, 6.0), (-22.0, 9.0)),
    GammaClass.CROP_SPRING: (110.0, 220.0, (-12.5, 5.0), (-21.0, 7.5)),
}
_STATIC = {
    GammaClass.WATER: (-22.0, -29.0),
    GammaClass.FOREST: (-7.5, -12.5),
    GammaClass.URBAN: (2.0, -6.0),
}


def _logistic(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _cross_polarised(polarisation: str) -> bool:
    return polarisation.upper() in ("VH", "HV")


def gamma0_db(gamma_class: GammaClass, date: np.datetime64, polarisation: str, seed: int) -> float:
    """Return the true gamma0 (dB) of one class on one date (UTC day) and polarisation."""
    day = np.datetime64(date, "D")
    doy = float(
        (day - day.astype("datetime64[Y]").astype("datetime64[D]")) / np.timedelta64(1, "D")
    )
    cross = _cross_polarised(polarisation)
    co_offset = 1.0 if polarisation.upper() == "HH" else 0.0
    if gamma_class in _CROPS:
        sos, eos, vv, vh = _CROPS[gamma_class]
        base, amplitude = vh if cross else vv
        growth = _logistic((doy - sos) / 12.0) - _logistic((doy - eos) / 8.0)
        return base + amplitude * growth + (0.0 if cross else co_offset)
    value = _STATIC[gamma_class][1 if cross else 0] + (0.0 if cross else co_offset)
    if gamma_class == GammaClass.FOREST:
        value += 0.3 * math.sin(2.0 * math.pi * (doy - 100.0) / 365.25)
    if gamma_class == GammaClass.WATER:
        day_number = int(day.astype(np.int64))
        wind = np.random.default_rng([seed, day_number, 11]).uniform(-1.0, 1.0)
        value += wind
    return value


def class_table(
    dates: Sequence[np.datetime64], polarisations: Sequence[str], seed: int
) -> FloatArray:
    """Linear gamma0 of every class, shape ``(dates, polarisations, classes)``."""
    table = np.empty((len(dates), len(polarisations), len(GammaClass)))
    for d, date in enumerate(dates):
        for p, pol in enumerate(polarisations):
            for c in GammaClass:
                table[d, p, c] = 10.0 ** (gamma0_db(c, date, pol, seed) / 10.0)
    return table
