"""Time-series stage: dB conversion, integer codes, multi-temporal speckle filter, common mask.

Semantics follow ``OST_SPEC.md`` §3 (OST ``ost/generic/ard_to_ts.py``,
``ost/helpers/raster.py``, SNAP ``MultiTemporalSpeckleFilterOp``;
https://github.com/ESA-PhiLab/OpenSarToolkit).  Cubes are ``xarray.DataArray`` with a time
dimension (``"t"`` by default) and two spatial dimensions, NaN marking a missing value; every
function is lazy on dask-backed input and keeps its chunks.

Decisions taken where OST behaviour is accidental (``OST_SPEC.md`` §3.7, §11):

* :func:`to_db` clips linear values below ``floor`` (1e-13, i.e. -130 dB) to ``floor``: zero
  and negative power (left by thermal-noise subtraction) both map to -130 dB; OST mapped
  negatives to 1e-7 (-70 dB), which made them brighter than zeros.  NaN stays NaN.
* Integer codes: ``q = round((clip(v, low, high) - low) (D - 1) / (high - low)) + 1`` in
  ``1..D`` (``D`` = 255 or 65535) with 0 reserved for no-data, and the exact inverse
  ``v = low + (q - 1) (high - low) / (D - 1)`` for both dtypes (OST decoded uint16 with 65535
  instead of 65534 in the step, an error up to 5.3e-4 dB); values within ``[low, high]`` come
  back within half a step (0.069 dB for uint8, 2.7e-4 dB for uint16).  The codes carry CF
  ``scale_factor``/``add_offset``/``_FillValue`` attributes describing that inverse.
* Float data mark no-data with NaN only, so 0 dB stays a valid value (OST wrote NaN as 0).
* Quegan filter: a missing value stays missing and is left out of the temporal ratio mean;
  the spatial mean of a date uses the valid pixels of its window only (SNAP: no-data 0).
* :func:`common_valid_mask` is the per-pixel form of the common extent (§3.2): valid at every
  date.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

import dask.array
import numpy as np
import scipy.ndimage  # type: ignore[import-untyped]
import xarray as xr

from s1stac.errors import ParameterError

LOGGER = logging.getLogger(__name__)

DB_FLOOR = 1e-13
"""Smallest linear value converted to dB (-130 dB); OST's clip value."""

IntegerDtype = Literal["uint8", "uint16"]
SpatialFilter = Literal["boxcar", "refined_lee"]

_CODE_MAX = {"uint8": 255, "uint16": 65535}
_DEFAULT_WINDOW = 7


def to_db(da: xr.DataArray, *, floor: float = DB_FLOOR) -> xr.DataArray:
    """Linear power to decibels, ``10 log10(max(x, floor))``; NaN stays NaN.

    Zero and negative values become ``10 log10(floor)`` (-130 dB by default).
    """
    if not (np.isfinite(floor) and floor > 0):
        raise ParameterError(f"floor={floor!r} must be a positive number (default 1e-13).")
    out: xr.DataArray = 10 * xr.apply_ufunc(np.log10, da.clip(min=floor), dask="allowed")
    return out.assign_attrs({**da.attrs, "units": "dB"})


def from_db(da: xr.DataArray) -> xr.DataArray:
    """Decibels to linear power, ``10 ** (x / 10)``; NaN stays NaN, -inf gives 0."""
    attrs = {**da.attrs, "units": "m2 m-2" if da.attrs.get("units") == "dB" else "1"}
    out: xr.DataArray = 10 ** (da / 10)
    return out.assign_attrs(attrs)


def _step(dtype: str, low: float, high: float) -> float:
    if dtype not in _CODE_MAX:
        raise ParameterError(f"dtype={dtype!r} is not one of {list(_CODE_MAX)}.")
    if not (np.isfinite(low) and np.isfinite(high) and high > low):
        raise ParameterError(f"low={low!r}, high={high!r}: need finite values with low < high.")
    return (high - low) / (_CODE_MAX[dtype] - 1)


def scale_to_int(
    da_db: xr.DataArray, dtype: IntegerDtype, *, low: float = -30.0, high: float = 5.0
) -> xr.DataArray:
    """Encode values (dB) as integer codes ``1..D``, 0 for NaN (``OST_SPEC.md`` §3.7).

    Values are clipped to ``[low, high]``; ``q = round((v - low) / step) + 1`` with
    ``step = (high - low) / (D - 1)``, ``D`` = 255 (uint8) or 65535 (uint16), rounding half to
    even as OST.  Decode with :func:`rescale_to_float` (same ``dtype``, ``low``, ``high``).
    """
    step = _step(dtype, low, high)
    v = da_db.astype(np.float64).clip(min=low, max=high)
    codes = (((v - low) / step).round() + 1).fillna(0).astype(dtype)
    return codes.assign_attrs(
        {
            **{k: val for k, val in da_db.attrs.items() if k != "units"},
            "units": da_db.attrs.get("units", "dB"),
            "scale_factor": step,
            "add_offset": low - step,
            "_FillValue": 0,
        }
    )


def rescale_to_float(
    codes: xr.DataArray, dtype: IntegerDtype, *, low: float = -30.0, high: float = 5.0
) -> xr.DataArray:
    """Decode integer codes of :func:`scale_to_int`: ``low + (q - 1) step``, 0 -> NaN; float32."""
    step = _step(dtype, low, high)
    if not np.issubdtype(codes.dtype, np.integer):
        raise ParameterError(f"codes have dtype {codes.dtype}; expected integer {dtype} codes.")
    if np.issubdtype(codes.dtype, np.unsignedinteger) and codes.dtype != np.dtype(dtype):
        raise ParameterError(
            f"codes are {codes.dtype} but dtype={dtype!r}; pass dtype={str(codes.dtype)!r}."
        )
    values = (low + (codes.astype(np.float64) - 1) * step).where(codes != 0)
    attrs = {
        k: v
        for k, v in codes.attrs.items()
        if k not in ("scale_factor", "add_offset", "_FillValue")
    }
    return values.astype(np.float32).assign_attrs({**attrs, "units": attrs.get("units", "dB")})


def common_valid_mask(cube: xr.DataArray, *, dim: str = "t") -> xr.DataArray:
    """Pixels valid (not NaN) at every date: the per-pixel form of ``OST_SPEC.md`` §3.2."""
    if dim not in cube.dims:
        raise ParameterError(f"dimension {dim!r} not in the cube's dimensions {cube.dims}.")
    mask = cube.notnull().all(dim)
    mask.name = "common_valid_mask"
    return mask.assign_attrs(long_name="valid at every date", units="1")


def _boxcar_block(block: np.ndarray[Any, Any], size: int) -> np.ndarray[Any, Any]:
    """NaN-aware mean over ``size x size`` windows of every ``block[t]`` (normalised convolution).

    Outside the block counts as missing, so the windows are clipped at the image edges.
    """
    valid = np.isfinite(block)
    kernel = (1, size, size)
    total = scipy.ndimage.uniform_filter(
        np.where(valid, block, 0.0).astype(np.float64), kernel, mode="constant", cval=0.0
    )
    weight = scipy.ndimage.uniform_filter(valid.astype(np.float64), kernel, mode="constant")
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(weight > 0.5 / size**2, total / weight, np.nan)
    return mean.astype(block.dtype)


def _boxcar(cube: xr.DataArray, size: int) -> xr.DataArray:
    data = cube.data
    if isinstance(data, dask.array.Array):
        half = size // 2
        filtered = data.map_overlap(  # type: ignore[no-untyped-call]
            _boxcar_block,
            depth={0: 0, 1: half, 2: half},
            boundary="none",
            trim=True,
            dtype=data.dtype,
            meta=np.empty((0, 0, 0), dtype=data.dtype),
            size=size,
        )
    else:
        filtered = _boxcar_block(np.asarray(data), size)
    return cube.copy(data=filtered)


def _refined_lee(cube: xr.DataArray, dim: str) -> xr.DataArray:
    try:
        from s1stac.speckle import speckle_filter
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ParameterError("refined_lee spatial filter not available (s1stac.speckle).") from exc
    ydim, xdim = (d for d in cube.dims if d != dim)
    planes = [
        speckle_filter(
            cube.isel({dim: k}).rename({ydim: "line", xdim: "pixel"}), "refined_lee"
        ).rename({"line": ydim, "pixel": xdim})
        for k in range(cube.sizes[dim])
    ]
    return xr.concat(planes, dim=dim).transpose(*cube.dims)


def _quegan_combine(i: np.ndarray[Any, Any], f: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """``J_t = F_t * mean_k(I_k / F_k)`` over the dates where both are valid and F != 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ok = np.isfinite(i) & np.isfinite(f) & (f != 0)
        ratio = np.where(ok, i.astype(np.float64) / f, 0.0).sum(axis=-1)
        count = ok.sum(axis=-1)
        s = np.where(count > 0, ratio / np.maximum(count, 1), np.nan)
        j = f * s[..., None]
    return np.where(np.isnan(i), np.nan, j).astype(i.dtype)


def multitemporal_speckle_filter(
    cube: xr.DataArray,
    spatial: SpatialFilter = "boxcar",
    *,
    window: int | None = None,
    dim: str = "t",
) -> xr.DataArray:
    """Quegan multi-temporal speckle filter as SNAP ``Multi-Temporal-Speckle-Filter``.

    ``J_t = F_t * (1/N) Σ_k I_k / F_k`` with ``F_t`` the spatially filtered date ``t`` and the
    sum over the ``N`` dates where ``I_k`` is valid and ``F_k`` is neither NaN nor 0
    (``OST_SPEC.md`` §3.5; S. Quegan et al., IEEE TGRS 38(5), 2000).  For a homogeneous area
    with ``L`` looks, a ``w x w`` boxcar and ``T`` dates the output has about
    ``L w² T / (w² + T)`` looks.

    Parameters
    ----------
    cube
        Linear intensities, dims ``(dim, y, x)`` (any names for the spatial dims), NaN for
        missing values; numpy or dask backed.
    spatial
        ``"boxcar"``: NaN-aware mean over ``window x window`` pixels (normalised convolution,
        windows clipped at the image edges).  ``"refined_lee"``: SNAP Refined Lee of
        :func:`s1stac.speckle.speckle_filter` (fixed 7x7 window).
    window
        Odd boxcar size, default 7 (SNAP's boxcar default is 3, which leaves at most 9 looks
        however many dates); must be None or 7 for ``"refined_lee"``.
    dim
        Name of the time dimension.

    Returns
    -------
    xarray.DataArray
        Filtered intensities, same dims, coords, name, attrs, dtype and spatial chunks (the time
        dimension in one chunk); a missing input value stays missing.
    """
    if dim not in cube.dims or cube.ndim != 3:
        raise ParameterError(
            f"cube has dimensions {cube.dims}; expected ({dim!r}, <y>, <x>) linear intensities."
        )
    if cube.attrs.get("units") == "dB":
        raise ParameterError("the cube is in dB; filter linear intensities (use from_db first).")
    if not np.issubdtype(cube.dtype, np.floating):
        raise ParameterError(f"cube dtype {cube.dtype} is not floating point.")
    dims = cube.dims
    data = cube.transpose(dim, *(d for d in dims if d != dim))
    if spatial == "boxcar":
        size = _DEFAULT_WINDOW if window is None else window
        if not isinstance(size, int | np.integer) or size < 1 or size % 2 == 0:
            raise ParameterError(f"window={window!r} must be an odd positive integer.")
        filtered = _boxcar(data, int(size))
    elif spatial == "refined_lee":
        if window not in (None, 7):
            raise ParameterError(f"window={window!r}: Refined Lee has a fixed 7x7 window.")
        filtered = _refined_lee(data, dim)
    else:
        raise ParameterError(f"spatial={spatial!r} is unknown; choose 'boxcar' or 'refined_lee'.")
    if data.chunks is not None:
        data = data.chunk({dim: -1})
        filtered = filtered.chunk(data.chunksizes)
    out = xr.apply_ufunc(
        _quegan_combine,
        data,
        filtered,
        input_core_dims=[[dim], [dim]],
        output_core_dims=[[dim]],
        dask="parallelized",
        output_dtypes=[data.dtype],
    )
    result: xr.DataArray = out.transpose(*dims)
    result.name = cube.name
    return result.assign_attrs(cube.attrs)
