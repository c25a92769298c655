"""Sentinel-1 processes of the ``s1stac`` namespace, wrapping the stage functions.

Each function adapts a stage of s1stac (pure, lazy, DataArray in and out) to the data-cube
conventions of the engine: openEO parameter names, cube dimensions (t, bands, y, x), stage
``ParameterError`` turned into ``ProcessParameterInvalid`` by the engine.

References
----------
OST_SPEC.md §4 (timescan), s1stac/openeo/specs/s1stac/*.json (process specifications)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import xarray as xr

from s1stac import timeseries as _timeseries
from s1stac.timescan import timescan as _run_timescan

from ..context import BANDS, T, require_cube, require_dimension

__all__ = [
    "from_db",
    "multitemporal_speckle_filter",
    "rescale_to_float",
    "scale_to_int",
    "timescan",
    "to_db",
]


def _per_band(cube: xr.DataArray, stage: Callable[[xr.DataArray], xr.DataArray]) -> xr.DataArray:
    """Run a stage on every band of a cube separately (stages take one band)."""
    if BANDS not in cube.dims:
        return stage(cube)
    layers = [stage(cube.sel({BANDS: band})) for band in cube[BANDS].values]
    return xr.concat(layers, dim=BANDS).transpose(*cube.dims)


def to_db(data: xr.DataArray, floor: float = _timeseries.DB_FLOOR) -> xr.DataArray:
    """Linear power to dB, ``10 log10(max(x, floor))`` (OST ``convert_to_db``)."""
    return _timeseries.to_db(require_cube(data), floor=floor)


def from_db(data: xr.DataArray) -> xr.DataArray:
    """Decibels to linear power."""
    return _timeseries.from_db(require_cube(data))


def scale_to_int(
    data: xr.DataArray, dtype: str = "uint16", low: float = -30.0, high: float = 5.0
) -> xr.DataArray:
    """Encode dB values as OST integer codes ``1..D``, 0 for no-data."""
    return _timeseries.scale_to_int(require_cube(data), dtype, low=low, high=high)  # type: ignore[arg-type]


def rescale_to_float(
    data: xr.DataArray, dtype: str = "uint16", low: float = -30.0, high: float = 5.0
) -> xr.DataArray:
    """Decode OST integer codes to dB (float32, NaN for code 0).

    Codes loaded from the catalog arrive as float with NaN for no-data (load_collection);
    they are turned back into integer codes first.
    """
    cube = require_cube(data)
    if np.issubdtype(cube.dtype, np.floating):
        cube = cube.fillna(0).astype(dtype)
    return _timeseries.rescale_to_float(cube, dtype, low=low, high=high)  # type: ignore[arg-type]


def multitemporal_speckle_filter(
    data: xr.DataArray,
    spatial: str = "boxcar",
    window: int | None = None,
    dimension: str = T,
) -> xr.DataArray:
    """Quegan multi-temporal speckle filter of linear intensities, band by band."""
    cube = require_cube(data)
    require_dimension(cube, dimension)

    def stage(layer: xr.DataArray) -> xr.DataArray:
        return _timeseries.multitemporal_speckle_filter(
            layer,
            spatial,  # type: ignore[arg-type]
            window=window,
            dim=dimension,
        )

    return _per_band(cube, stage)


def timescan(
    data: xr.DataArray,
    metrics: Sequence[str] = ("avg", "max", "min", "std", "cov"),
    to_power: bool = True,
    remove_outliers: bool = True,
    percentiles: Sequence[float] = (5, 95),
    outlier_sigma: float = 2.0,
    dimension: str = T,
) -> xr.DataArray:
    """Temporal statistics per pixel (OST timescan), one band per input band and metric.

    The ``dimension`` is reduced; band labels become ``<band>_<metric>`` (``vv_avg``), or the
    metric names for a cube without bands.  See :func:`s1stac.timescan.timescan`.
    """
    cube = require_cube(data)
    require_dimension(cube, dimension)
    result = _run_timescan(
        cube,
        list(metrics),
        to_power=to_power,
        remove_outliers=remove_outliers,
        percentiles=list(percentiles),
        outlier_sigma=outlier_sigma,
        dim=dimension,
    )
    result = result.drop_vars("metric_units")
    if BANDS not in cube.dims:
        return result.rename({"metric": BANDS}).rename(cube.name)
    stacked = result.stack({"__band_metric__": (BANDS, "metric")})
    labels = [f"{band}_{metric}" for band, metric in stacked["__band_metric__"].values]
    stacked = stacked.drop_vars(["__band_metric__", BANDS, "metric"])
    stacked = stacked.rename({"__band_metric__": BANDS}).assign_coords({BANDS: labels})
    others = [d for d in stacked.dims if d != BANDS]
    return stacked.transpose(BANDS, *others).rename(cube.name)
