"""Timescan: per-pixel temporal statistics of a backscatter time series.

Semantics follow ``OST_SPEC.md`` §4 (OST ``ost/generic/timescan.py::mt_metrics`` and
``remove_outliers``, https://github.com/ESA-PhiLab/OpenSarToolkit), in this order per pixel:
dB input -> linear power (``to_power``) -> outlier removal -> metrics -> back to dB for
``avg``, ``max``, ``min``, ``median`` and the percentiles only (``std`` and ``cov`` stay in the
linear domain, as in OST).  Integer rescaling is not part of this function: decode codes with
:func:`s1stac.timeseries.rescale_to_float` first, encode metrics with
:func:`s1stac.timeseries.scale_to_int` afterwards.

Decisions taken where OST behaviour is accidental (``OST_SPEC.md`` §4.6, §11):

* NaN is a missing date of a pixel and is ignored by every metric; no value is ever written
  over the input (OST's ``nan_percentile`` overwrote NaNs with the block maximum).
  A pixel without valid dates gives NaN metrics and ``count`` 0.
* Outlier removal (§4.3) is applied per pixel when that pixel has at least 5 valid dates (the
  per-pixel form of OST's ``T >= 5``); its 5th/95th percentiles are taken over the valid
  values (OST's ``np.percentile`` was not NaN-aware and silently skipped pixels with a gap).
  ``count`` is the number of valid dates of the input, before outlier removal.
* Percentiles use numpy's ``"linear"`` method on the values kept, in the linear domain.
* Harmonics (§4.4): the design is ``[t - t0, cos 2πt, sin 2πt, 1]`` with ``t`` in decimal
  years (so the phase is referred to 1 January 00:00 UTC) and ``t0`` the mean decimal year of
  all the stack's dates: ``model_mean`` is the fitted level at the centre of the series
  (OST: extrapolated to 1970).  The fit uses the dB (or input-domain) values kept after
  outlier removal and needs at least 5 of them; otherwise, or if the dates do not constrain
  the four terms, the harmonic metrics are NaN (OST crashed).  ``residuals`` is
  ``sqrt(SSR / n)``; ``trend`` is per year.

All metrics come from one numba kernel that reads each pixel's series once.  The series of a
tile of pixels are sorted together by a Batcher odd-even merge sorting network (the same
comparators for every pixel, so the work is vectorised across pixels; NaN sorts last as
+inf); outlier bounds, minimum, maximum, median and percentiles are read from that sorted
array.  A numpy-backed cube is processed by the multi-threaded kernel (numba ``prange`` over
groups of pixels); a dask-backed one chunk by chunk (``map_blocks`` on the stored time-first
chunks, the time dimension in one chunk) by the single-threaded kernel, the dask scheduler
running chunks in parallel.  Every pixel is computed alone, so a chunked cube gives exactly
the result of the in-memory cube.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

import dask.array
import numpy as np
import xarray as xr

from s1stac import _timescan_kernel as kernel
from s1stac.errors import ParameterError

LOGGER = logging.getLogger(__name__)

BASIC_METRICS = ("avg", "max", "min", "std", "cov", "median", "count")
HARMONIC_METRICS = ("amplitude", "phase", "residuals", "trend", "model_mean")
MIN_OUTLIER_DATES = kernel.MIN_OUTLIER_DATES
MIN_HARMONIC_DATES = kernel.MIN_HARMONIC_DATES

_ROW = {name: i for i, name in enumerate(kernel.STAT_NAMES)}
_PERCENTILE = re.compile(r"^p(\d+(?:\.\d+)?)$")


def _metric_labels(metrics: Sequence[str], percentiles: Sequence[float]) -> list[str]:
    """Expand ``"percentiles"`` and ``"harmonics"``; validate; drop repeats."""
    if isinstance(metrics, str):
        metrics = (metrics,)
    labels: list[str] = []
    for name in metrics:
        if name == "percentiles":
            labels.extend(f"p{float(q):g}" for q in percentiles)
        elif name == "harmonics":
            labels.extend(HARMONIC_METRICS)
        elif name in _ROW or _PERCENTILE.match(str(name)):
            labels.append(name)
        else:
            raise ParameterError(
                f"metric {name!r} is unknown; choose from {list(BASIC_METRICS + HARMONIC_METRICS)},"
                " 'pNN' (NN-th percentile, e.g. 'p95'), 'percentiles' or 'harmonics'."
            )
    labels = list(dict.fromkeys(labels))
    if not labels:
        raise ParameterError("metrics is empty; ask for at least one metric, e.g. ('avg',).")
    for label in labels:
        match = _PERCENTILE.match(label)
        if match and not 0.0 <= float(match.group(1)) <= 100.0:
            raise ParameterError(f"percentile metric {label!r} is outside 0..100.")
    return labels


def metric_range(label: str, unit: str, dtype: str = "uint16") -> tuple[float, float]:
    """Range ``(low, high)`` that OST scales a metric into for integer output (§4.2).

    Metrics in dB (avg, max, min, median, percentiles, model_mean) span -30..5 dB; std in
    linear power 1e-5..0.2; cov 1e-5..1; amplitude and trend -5..5; phase -pi..pi; residuals
    -10..10 (OST's table); std of dB values (no power conversion) 1e-5..10 dB.  ``count`` is
    kept exact: codes ``count + 1`` of :func:`s1stac.timeseries.scale_to_int` for ``dtype``.

    Raises
    ------
    ParameterError
        For a level metric that is not in dB: OST's ranges are those of dB backscatter.
    """
    if label == "count":
        return 0.0, 254.0 if dtype == "uint8" else 65534.0
    fixed = {
        "cov": (1e-5, 1.0),
        "amplitude": (-5.0, 5.0),
        "trend": (-5.0, 5.0),
        "phase": (-np.pi, np.pi),
        "residuals": (-10.0, 10.0),
    }
    if label in fixed:
        return fixed[label]
    if label == "std":
        return (1e-5, 10.0) if unit == "dB" else (1e-5, 0.2)
    if unit != "dB":
        raise ParameterError(
            f"metric {label!r} is in {unit!r}: integer output scales dB values (-30..5 dB); "
            "convert the time series to dB or keep dtype='float32'."
        )
    return -30.0, 5.0


def _units(label: str, to_power: bool, unit: str) -> str:
    if label in ("count", "cov"):
        return "1"
    if label == "phase":
        return "rad"
    if to_power:
        unit = "1" if label == "std" else "dB"
    return f"{unit} a-1" if label == "trend" else unit


def _decimal_years(times: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Decimal calendar years (UTC) of datetime64 values."""
    ts = times.astype("datetime64[ns]")
    years = ts.astype("datetime64[Y]")
    start = years.astype("datetime64[ns]")
    length = (years + 1).astype("datetime64[ns]") - start
    decimal: np.ndarray[Any, Any] = years.astype(np.int64) + 1970.0 + (ts - start) / length
    return decimal


def _harmonic_design(coord: xr.DataArray, dim: str) -> np.ndarray[Any, Any]:
    values = np.asarray(coord.values)
    if not np.issubdtype(values.dtype, np.datetime64) or np.isnat(values).any():
        raise ParameterError(
            f"harmonics need acquisition times: coordinate {dim!r} has dtype {values.dtype} "
            "(or NaT); give the cube a datetime64 coordinate along that dimension."
        )
    years = _decimal_years(values)
    phase = 2.0 * np.pi * (years - np.floor(years))
    design = np.stack([years - years.mean(), np.cos(phase), np.sin(phase), np.ones_like(years)])
    return np.ascontiguousarray(design.T)


def _apply(data: Any, *, n_metrics: int, **kwargs: Any) -> Any:
    """Kernel on ``data`` of shape ``(..., T)`` (apply_ufunc order); returns ``(..., metric)``."""
    if isinstance(data, dask.array.Array):
        # back to the stored time-first order (a view) so that blocks reach the kernel uncopied
        stack = dask.array.moveaxis(data, -1, 0)
        out = stack.map_blocks(
            kernel.run,
            chunks=((n_metrics,), *stack.chunks[1:]),
            dtype=data.dtype,
            meta=np.empty((0,) * data.ndim, dtype=data.dtype),
            parallel=False,
            **kwargs,
        )
        return dask.array.moveaxis(out, 0, -1)
    return np.moveaxis(kernel.run(np.moveaxis(data, -1, 0), parallel=True, **kwargs), 0, -1)


def timescan(
    cube: xr.DataArray,
    metrics: Sequence[str] = ("avg", "max", "min", "std", "cov"),
    *,
    to_power: bool = True,
    remove_outliers: bool = True,
    percentiles: Sequence[float] = (5, 95),
    outlier_sigma: float = 2.0,
    dim: str = "t",
) -> xr.DataArray:
    """Temporal statistics of every pixel of a time series, as OST ``mt_metrics``.

    Parameters
    ----------
    cube
        Time series, float, NaN for missing dates; dims ``(dim, ...)`` e.g. ``("t", "y", "x")``;
        numpy or dask backed.  In dB when ``to_power`` (OST backscatter time series).
    metrics
        Names among ``avg, max, min, std, cov, median, count, amplitude, phase, residuals,
        trend, model_mean``, ``pNN`` (NN-th percentile), ``"percentiles"`` (one ``pNN`` per
        value of ``percentiles``) and ``"harmonics"`` (the five harmonic metrics).
    to_power
        Convert dB to linear power before the statistics and ``avg``, ``max``, ``min``,
        ``median`` and percentiles back to dB; ``std`` and ``cov`` stay linear (OST).
    remove_outliers
        Drop, per pixel with at least 5 valid dates, the values outside ``mean ± outlier_sigma
        * std`` where mean and std are those of the values within the 5th-95th percentiles
        (``OST_SPEC.md`` §4.3), before every metric.
    percentiles
        Percentiles (0-100) that ``"percentiles"`` stands for.
    outlier_sigma
        Half width of the outlier interval in standard deviations (OST 2; legacy OST 3).
    dim
        Name of the time dimension.

    Returns
    -------
    xarray.DataArray
        Named ``"timescan"``, dims ``("metric", <other dims of cube>)``, metric labels as
        coordinate ``metric`` and their units as coordinate ``metric_units``; float32 for a
        float32 cube, float64 otherwise; spatial chunks of the cube kept.
    """
    if dim not in cube.dims:
        raise ParameterError(f"dimension {dim!r} not in the cube's dimensions {cube.dims}.")
    if cube.sizes[dim] == 0:
        raise ParameterError(f"the cube has no element along {dim!r}.")
    if not np.issubdtype(cube.dtype, np.floating):
        raise ParameterError(
            f"cube dtype {cube.dtype} is not floating point; decode integer codes with "
            "s1stac.timeseries.rescale_to_float first."
        )
    if not (np.isfinite(outlier_sigma) and outlier_sigma > 0):
        raise ParameterError(f"outlier_sigma={outlier_sigma!r} must be a positive number.")
    labels = _metric_labels(metrics, percentiles)
    q_labels = [label for label in labels if _PERCENTILE.match(label)]
    rows = np.array(
        [_ROW[label] if label in _ROW else len(_ROW) + q_labels.index(label) for label in labels],
        dtype=np.int64,
    )
    quantiles = np.array([float(label[1:]) / 100.0 for label in q_labels], dtype=np.float64)
    harmonics = any(label in HARMONIC_METRICS for label in labels)
    n_t = cube.sizes[dim]
    design = _harmonic_design(cube[dim], dim) if harmonics else np.zeros((n_t, 4))
    LOGGER.debug("timescan %s over %d dates of %s", labels, n_t, cube.name)
    dtype = np.float32 if cube.dtype == np.float32 else np.float64
    data = cube.astype(dtype, copy=False)
    if data.chunks is not None and len(data.chunksizes[dim]) > 1:
        data = data.chunk({dim: -1})
    result: xr.DataArray = xr.apply_ufunc(
        _apply,
        data,
        input_core_dims=[[dim]],
        output_core_dims=[["metric"]],
        dask="allowed",
        kwargs={
            "n_metrics": len(labels),
            "rows": rows,
            "quantiles": quantiles,
            "design": design,
            "to_power": bool(to_power),
            "outliers": bool(remove_outliers),
            "k_sigma": float(outlier_sigma),
            "harmonics": harmonics,
        },
    )
    unit = str(cube.attrs.get("units", "1"))
    units = [_units(label, to_power, unit) for label in labels]
    result = result.transpose("metric", *(d for d in cube.dims if d != dim))
    result = result.assign_coords(metric=labels, metric_units=("metric", units))
    result.name = "timescan"
    result.attrs = {
        "long_name": f"timescan metrics of {cube.name or 'the time series'}",
        "units": units[0] if len(set(units)) == 1 else "see coordinate metric_units",
    }
    return result
