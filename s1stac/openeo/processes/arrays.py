"""Array processes of openEO: the statistics used as reducers, quantiles, array_element.

``data`` is either a JSON array (a Python list) or, inside a ``reduce_dimension`` /
``apply_dimension`` callback, a data cube whose dimension :data:`ARRAY_DIM` is the array; the
statistic is then computed for every pixel at once along that dimension, lazily.
Standard deviation and variance are sample statistics (``n - 1``), quantiles use type 7
(numpy ``"linear"``), as the specifications require.

References
----------
openEO processes 2.0, https://processes.openeo.org/#mean (sd, variance, quantiles ...)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from ..context import ARRAY_DIM
from ..errors import ProcessParameterInvalid
from .math import is_valid

__all__ = [
    "array_element",
    "count",
    "first",
    "last",
    "max_",
    "mean",
    "median",
    "min_",
    "quantiles",
    "sd",
    "sum_",
    "variance",
]


def _vector(data: Any) -> np.ndarray[Any, Any]:
    """Convert a JSON array of numbers/null to float64 (null -> NaN)."""
    try:
        return np.array([np.nan if v is None else v for v in data], dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ProcessParameterInvalid(
            f"expected an array of numbers or null, got {data!r}", parameter="data"
        ) from error


def _array_cube(data: Any) -> xr.DataArray | None:
    """Return the cube of a callback array, ``None`` for a JSON array."""
    if isinstance(data, xr.DataArray):
        if ARRAY_DIM not in data.dims:
            raise ProcessParameterInvalid(
                "expected an array, got a data cube: array processes reduce the data of a "
                "reduce_dimension or apply_dimension callback (or a JSON array)",
                parameter="data",
            )
        return data.chunk({ARRAY_DIM: -1}) if data.chunks is not None else data
    if not isinstance(data, list | tuple):
        raise ProcessParameterInvalid(
            f"expected an array, got {type(data).__name__}", parameter="data"
        )
    return None


def _valid_count(a: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    return np.asarray(np.count_nonzero(~np.isnan(a), axis=-1))


def _fill_empty(a: np.ndarray[Any, Any]) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Replace all-NaN series by zeros (so numpy does not warn); return the mask of them."""
    empty = _valid_count(a) == 0
    return np.where(empty[..., None], 0, a), empty


class _Statistic:
    """Block function of a statistic along the last axis, NaN-aware, without warnings.

    numpy warns on empty or all-NaN series ("Mean of empty slice"); the statistics are computed
    here so that such series give NaN silently, in the worker that computes the block.
    """

    def __init__(self, name: str, skipna: bool) -> None:
        self.name = name
        self.skipna = skipna

    def __call__(self, a: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        with np.errstate(all="ignore"):
            result = self._compute(a)
        return np.asarray(result, dtype=a.dtype if a.dtype.kind == "f" else np.float64)

    def _compute(self, a: np.ndarray[Any, Any]) -> Any:
        n = _valid_count(a) if self.skipna else np.full(a.shape[:-1], a.shape[-1])
        if self.name in ("min", "max"):
            if not self.skipna:
                return np.min(a, axis=-1) if self.name == "min" else np.max(a, axis=-1)
            reduce = np.fmin if self.name == "min" else np.fmax
            return reduce.reduce(a, axis=-1) if a.shape[-1] else np.full(a.shape[:-1], np.nan)
        if self.name == "median":
            if not self.skipna:
                return np.median(a, axis=-1)
            filled, empty = _fill_empty(a)
            return np.where(empty, np.nan, np.nanmedian(filled, axis=-1))
        total = np.nansum(a, axis=-1) if self.skipna else np.sum(a, axis=-1)
        if self.name == "sum":
            return np.where(n > 0, total, np.nan)
        mean = total / n
        if self.name == "mean":
            return mean
        deviations = (a - mean[..., None]) ** 2
        squares = np.sum(
            np.where(np.isnan(a), 0.0, deviations) if self.skipna else deviations, axis=-1
        )
        variance = np.where(n > 1, squares / (n - 1), np.nan)
        return np.sqrt(variance) if self.name == "sd" else variance


class _Quantiles:
    """Block function of quantiles (type 7) along the last axis, without warnings.

    Written out rather than ``np.nanquantile`` so that a probability falling exactly on an
    element returns that element (numpy interpolates ``inf + 0 * (inf - inf)`` to NaN).
    """

    def __init__(self, probabilities: list[float], skipna: bool) -> None:
        self.probabilities = probabilities
        self.skipna = skipna

    def __call__(self, a: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        with np.errstate(all="ignore"):
            return self._compute(a)

    def _compute(self, a: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        values = a if a.dtype.kind == "f" else a.astype(np.float64)
        ordered = np.sort(values, axis=-1)  # NaN last
        n = _valid_count(values)
        top = np.maximum(n - 1, 0)
        results = []
        for q in self.probabilities:
            h = q * top
            lo = np.floor(h).astype(np.int64)
            hi = np.minimum(lo + 1, top)
            frac = (h - lo).astype(values.dtype)
            a_lo = np.take_along_axis(ordered, lo[..., None], axis=-1)[..., 0]
            a_hi = np.take_along_axis(ordered, hi[..., None], axis=-1)[..., 0]
            diff = a_hi - a_lo
            # numpy's lerp: from the nearer end, so that inf - inf never enters
            lerp = np.where(frac < 0.5, a_lo + diff * frac, a_hi - diff * (1 - frac))
            results.append(np.where((frac == 0) | (a_lo == a_hi), a_lo, lerp))
        result = np.stack(results, axis=-1)
        missing = n == 0 if self.skipna else n < values.shape[-1]
        return np.where(missing[..., None], np.nan, result).astype(values.dtype)


def _json_values(data: Any, ignore_nodata: bool) -> np.ndarray[Any, Any] | None:
    """Values of a JSON array: ``None`` if it has nulls not to ignore, nulls dropped otherwise.

    In JSON arrays ``null`` is no-data but NaN is a value (it propagates), as in the openEO
    specifications; in data cubes NaN is the no-data marker.
    """
    if any(v is None for v in data):
        if not ignore_nodata:
            return None
        data = [v for v in data if v is not None]
    return _vector(data)


def _statistic(data: Any, name: str, ignore_nodata: bool) -> Any:
    cube = _array_cube(data)
    if cube is None:
        values = _json_values(data, ignore_nodata)
        if values is None or values.size < (2 if name in ("sd", "variance") else 1):
            return None
        return float(_Statistic(name, skipna=False)(values))
    dtype = cube.dtype if cube.dtype.kind == "f" else np.float64
    return xr.apply_ufunc(
        _Statistic(name, ignore_nodata),
        cube,
        input_core_dims=[[ARRAY_DIM]],
        dask="parallelized",
        output_dtypes=[dtype],
    )


def mean(data: Any, ignore_nodata: bool = True) -> Any:
    """Arithmetic mean."""
    return _statistic(data, "mean", ignore_nodata)


def median(data: Any, ignore_nodata: bool = True) -> Any:
    """Median."""
    return _statistic(data, "median", ignore_nodata)


def min_(data: Any, ignore_nodata: bool = True) -> Any:
    """Minimum."""
    return _statistic(data, "min", ignore_nodata)


def max_(data: Any, ignore_nodata: bool = True) -> Any:
    """Maximum."""
    return _statistic(data, "max", ignore_nodata)


def sum_(data: Any, ignore_nodata: bool = True) -> Any:
    """Sum (``null`` for an empty array)."""
    return _statistic(data, "sum", ignore_nodata)


def sd(data: Any, ignore_nodata: bool = True) -> Any:
    """Sample standard deviation (``n - 1``)."""
    return _statistic(data, "sd", ignore_nodata)


def variance(data: Any, ignore_nodata: bool = True) -> Any:
    """Sample variance (``n - 1``)."""
    return _statistic(data, "variance", ignore_nodata)


def count(data: Any, condition: Any = None, context: Any = None) -> Any:
    """Count the valid elements, all elements or those passing a condition.

    ``condition`` null counts the valid (non-null) elements, ``true`` all of them, a callback
    (parameters ``x`` and ``context``) those for which it returns true.
    """
    cube = _array_cube(data)
    if condition is True:
        return (
            len(data)
            if cube is None
            else xr.full_like(
                cube.isel({ARRAY_DIM: 0}, drop=True), cube.sizes[ARRAY_DIM], dtype=np.int64
            )
        )
    if condition is None:
        if cube is None:
            return sum(1 for v in data if is_valid(v))
        return xr.apply_ufunc(np.isfinite, cube, dask="parallelized").sum(ARRAY_DIM)
    if not callable(condition):
        raise ProcessParameterInvalid(
            "expected null, true or a process graph", parameter="condition"
        )
    if cube is None:
        return sum(1 for v in data if condition(x=v, context=context) is True)
    passed = condition(x=cube, context=context)
    if not isinstance(passed, xr.DataArray):
        raise ProcessParameterInvalid(
            "the condition must return a boolean per element", parameter="condition"
        )
    return passed.fillna(False).astype(bool).sum(ARRAY_DIM)


def _probabilities(probabilities: Any, q: Any) -> list[float]:
    if probabilities is not None and q is not None:
        raise ProcessParameterInvalid(
            "give either probabilities or q, not both (QuantilesParameterConflict)",
            parameter="q",
        )
    intervals = q if probabilities is None else probabilities
    if intervals is None:
        raise ProcessParameterInvalid(
            "give probabilities (e.g. [0.05, 0.95]) or q (QuantilesParameterMissing)",
            parameter="probabilities",
        )
    if isinstance(intervals, int) and not isinstance(intervals, bool):
        return [i / intervals for i in range(1, intervals)]
    values = [float(p) for p in intervals]
    if values != sorted(values):
        raise ProcessParameterInvalid(
            f"probabilities {values} must be ascending (AscendingProbabilitiesRequired)",
            parameter="probabilities",
        )
    return values


def quantiles(
    data: Any,
    probabilities: Sequence[float] | int | None = None,
    q: int | None = None,
    ignore_nodata: bool = True,
) -> Any:
    """Quantiles (type 7) at ``probabilities``, or the ``q``-quantiles; an array."""
    probs = _probabilities(probabilities, q)
    function = _Quantiles(probs, ignore_nodata)
    cube = _array_cube(data)
    if cube is None:
        values = _json_values(data, ignore_nodata)
        if values is None or values.size == 0:
            return [None] * len(probs)
        return [float(v) for v in _Quantiles(probs, skipna=False)(values)]
    dtype = cube.dtype if cube.dtype.kind == "f" else np.float64
    return xr.apply_ufunc(
        function,
        cube,
        input_core_dims=[[ARRAY_DIM]],
        output_core_dims=[[ARRAY_DIM]],
        exclude_dims={ARRAY_DIM},
        dask="parallelized",
        output_dtypes=[dtype],
        dask_gufunc_kwargs={"output_sizes": {ARRAY_DIM: len(probs)}},
    ).transpose(*cube.dims)


def array_element(
    data: Any,
    index: int | None = None,
    label: Any = None,
    return_nodata: bool = False,
) -> Any:
    """Return the element at position ``index`` or with dimension label ``label``."""
    if (index is None) == (label is None):
        raise ProcessParameterInvalid(
            "give exactly one of index and label (ArrayElementParameterMissing/Conflict)",
            parameter="index" if index is None else "label",
        )
    cube = _array_cube(data)
    if cube is None:
        if label is not None:
            raise ProcessParameterInvalid(
                "a JSON array has no labels (ArrayNotLabeled); use index", parameter="label"
            )
        if 0 <= index < len(data):  # type: ignore[operator]
            return data[index]
        if return_nodata:
            return None
        raise ProcessParameterInvalid(
            f"index {index} is outside the array of {len(data)} elements "
            "(ArrayElementNotAvailable)",
            parameter="index",
        )
    size = cube.sizes[ARRAY_DIM]
    if label is not None:
        labels = cube[ARRAY_DIM].values.tolist() if ARRAY_DIM in cube.coords else []
        if label not in labels:
            if return_nodata:
                return xr.full_like(cube.isel({ARRAY_DIM: 0}, drop=True), np.nan)
            raise ProcessParameterInvalid(
                f"label {label!r} is not among the labels {labels} (ArrayElementNotAvailable)",
                parameter="label",
            )
        index = labels.index(label)
    if not 0 <= index < size:  # type: ignore[operator]
        if return_nodata:
            return xr.full_like(cube.isel({ARRAY_DIM: 0}, drop=True), np.nan)
        raise ProcessParameterInvalid(
            f"index {index} is outside the array of {size} elements (ArrayElementNotAvailable)",
            parameter="index",
        )
    return cube.isel({ARRAY_DIM: index}, drop=True)


def _first_valid(cube: xr.DataArray, *, reverse: bool) -> xr.DataArray:
    ordered = cube.isel({ARRAY_DIM: slice(None, None, -1)}) if reverse else cube
    position = ordered.notnull().argmax(ARRAY_DIM)
    return ordered.isel({ARRAY_DIM: position}, drop=True)


def first(data: Any, ignore_nodata: bool = True) -> Any:
    """First (valid, if ``ignore_nodata``) element."""
    cube = _array_cube(data)
    if cube is None:
        values = [v for v in data if v is not None] if ignore_nodata else list(data)
        return values[0] if values else None
    if not ignore_nodata:
        return cube.isel({ARRAY_DIM: 0}, drop=True)
    return _first_valid(cube, reverse=False)


def last(data: Any, ignore_nodata: bool = True) -> Any:
    """Last (valid, if ``ignore_nodata``) element."""
    cube = _array_cube(data)
    if cube is None:
        values = [v for v in data if v is not None] if ignore_nodata else list(data)
        return values[-1] if values else None
    if not ignore_nodata:
        return cube.isel({ARRAY_DIM: -1}, drop=True)
    return _first_valid(cube, reverse=True)
