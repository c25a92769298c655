"""Radiometric steps of the GRD to ARD chain on lazy ``xarray`` DataArrays.

Thermal-noise removal, calibration, GRD border-noise removal, multi-looking and slice
assembly (the dB conversion is :func:`s1stac.timeseries.to_db`), following the Open SAR
Toolkit semantics described in ``OST_SPEC.md`` §2.2-§2.5 and §11 (OST
``ost/s1/grd_wrappers.py``, ESA SNAP ``ThermalNoiseRemoval``, ``Calibration``, ``Multilook``
and ``SliceAssembly`` operators).  The radiometric formulas are
those of the Sentinel-1 product specification, ESA document S1-RS-MDA-52-7441
(https://sentinel.esa.int/documents/247904/1877131/Sentinel-1-Product-Specification).

Every function takes and returns DataArrays with the dimensions ``("line", "pixel")``, keeps
the dask chunks of its input and never computes.  No-data is ``NaN`` throughout (SNAP and OST
use 0 as no-data instead, which makes true zeros of the noise-corrected intensity disappear).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import dask.array
import numpy as np
import numpy.typing as npt
import xarray as xr

from s1stac.errors import ParameterError
from s1stac.types import CalibrationKind

log = logging.getLogger(__name__)

DIMS = ("line", "pixel")
"""Dimension names of a radar-geometry image: azimuth lines, range pixels."""

BACKSCATTER = {
    "sigmaNought": ("sigma0", "sigma nought (ellipsoid)"),
    "betaNought": ("beta0", "beta nought"),
    "gamma": ("gamma0", "gamma nought (ellipsoid)"),
}
"""Output name and long_name of :func:`calibrate` for each calibration LUT kind."""


def _check_image(da: xr.DataArray, what: str) -> None:
    if set(da.dims) != set(DIMS):
        raise ParameterError(
            f"{what} has dimensions {da.dims}; expected exactly {DIMS} (radar geometry). "
            "Rename the dimensions with DataArray.rename()."
        )


def _like(lut: xr.DataArray, image: xr.DataArray, what: str) -> xr.DataArray:
    """Return ``lut`` transposed and chunked like ``image``, checking that they match."""
    _check_image(lut, what)
    lut = lut.transpose(*image.dims)
    if lut.shape != image.shape:
        raise ParameterError(
            f"{what} has shape {dict(lut.sizes)} but the image has {dict(image.sizes)}; "
            "interpolate the LUT on the image grid (Product.calibration_lut_dataarray(..., like=))."
        )
    try:
        xr.align(image, lut, join="exact")
    except ValueError as e:
        raise ParameterError(
            f"{what} coordinates differ from those of the image: {e}. "
            "Interpolate the LUT on the image grid (like=image)."
        ) from e
    if image.chunks is not None:
        lut = lut.chunk(dict(image.chunksizes))
    return lut


def remove_thermal_noise(
    dn: xr.DataArray, noise: xr.DataArray, *, dtype: npt.DTypeLike = np.float32
) -> xr.DataArray:
    """Noise-corrected intensity ``I = max(DN² - N, 0)`` (SNAP ``ThermalNoiseRemoval``).

    Parameters
    ----------
    dn
        Digital numbers of a GRD measurement, dims ``("line", "pixel")``.
    noise
        Thermal noise power ``N`` (range x azimuth noise LUT) on the same grid.
    dtype
        Floating type of the computation and of the result (float32 or float64).

    Returns
    -------
    xarray.DataArray
        ``intensity``; negative differences are clipped to 0, NaN stays NaN.
    """
    _check_image(dn, "dn")
    if not np.issubdtype(np.dtype(dtype), np.floating):
        raise ParameterError(f"dtype={dtype!r} is not a floating type; use float32 or float64.")
    noise = _like(noise, dn, "noise LUT")
    dn_f = dn.astype(dtype)
    intensity = (dn_f * dn_f - noise.astype(dtype)).clip(min=0)  # NaN stays NaN
    return intensity.rename("intensity").assign_attrs(
        long_name="thermal-noise-corrected intensity", units="1"
    )


def calibrate(intensity: xr.DataArray, lut: xr.DataArray, *, kind: CalibrationKind) -> xr.DataArray:
    """Radiometric calibration ``backscatter = I / A²`` (SNAP ``Calibration``).

    Parameters
    ----------
    intensity
        Noise-corrected (or raw ``DN²``) intensity, dims ``("line", "pixel")``.
    lut
        Calibration LUT ``A`` of the requested ``kind`` interpolated on the same grid.
    kind
        ``"sigmaNought"`` (GTC-sigma0), ``"gamma"`` (GTC-gamma0, ellipsoid) or
        ``"betaNought"`` (input of terrain flattening, RTC-gamma0); ``OST_SPEC.md`` §2.3.

    Returns
    -------
    xarray.DataArray
        ``sigma0``, ``gamma0`` or ``beta0`` in linear power, units ``m2 m-2``.
    """
    _check_image(intensity, "intensity")
    if kind not in BACKSCATTER:
        raise ParameterError(
            f"calibration kind={kind!r} is not a backscatter coefficient; "
            f"choose one of {sorted(BACKSCATTER)}."
        )
    lut = _like(lut, intensity, f"{kind} calibration LUT")
    name, long_name = BACKSCATTER[kind]
    out = intensity / (lut * lut).astype(intensity.dtype)
    return out.rename(name).assign_attrs(long_name=long_name, units="m2 m-2")


@dataclass(frozen=True)
class BorderNoiseOptions:
    """Parameters of the GRD border-noise removal (OST ``grd_remove_border``, HEAD values)."""

    threshold: float = 100.0
    """A column whose mean intensity is at most this is noise (``DN² - N`` units)."""
    window: int = 3000
    """Number of columns scanned from each image edge."""
    margin: int = 200
    """Columns removed from the first column above the threshold inwards, that one included."""


def _edge_limits(
    means: dask.array.Array | np.ndarray[Any, Any], options: BorderNoiseOptions
) -> tuple[Any, Any]:
    """First kept and first removed index ``[start, stop)`` along one axis (lazy scalars)."""
    n = means.shape[0]
    w = min(options.window, n)
    above = means > options.threshold  # NaN means (all no-data) count as noise
    left = above[:w]
    start = dask.array.where(
        left.any(), dask.array.minimum(dask.array.argmax(left) + options.margin, w), w
    )
    # NOTE: the right scan sees the left removal, as OST scans after writing the left window.
    index = np.arange(n)
    right = (above & (index >= start))[n - w :][::-1]
    last = n - 1 - dask.array.argmax(right)
    stop = dask.array.where(
        right.any(), dask.array.maximum(last - options.margin + 1, n - w), n - w
    )
    return start, stop


def border_noise_limits(
    intensity: xr.DataArray,
    *,
    azimuth: bool = False,
    options: BorderNoiseOptions | None = None,
) -> xr.Dataset:
    """Find the valid window ``[start, stop)`` of pixels (and lines) without GRD border noise.

    Algorithm of OST ``grd_remove_border`` (``OST_SPEC.md`` §2.5), with its edge cases fixed:
    from each range edge, columns are scanned inwards over ``options.window`` columns; the first
    column whose mean intensity over all lines exceeds ``options.threshold`` is taken as the
    start of the signal and ``options.margin`` columns from it inwards (it included) are removed
    together with every column outside it.  OST writes back one column less on the left (the
    last of the 200 is zeroed in memory only), never tests the innermost column of the right
    window and leaves a right window without any column above the threshold untouched; here
    both edges remove exactly ``margin`` columns and a window without signal is removed whole.

    Parameters
    ----------
    intensity
        Noise-corrected intensity ``DN² - N`` of an (assembled) product, ``("line", "pixel")``.
    azimuth
        Also apply the same scan to the first and last lines (OST treats range edges only).
    options
        Threshold, window and margin; default :class:`BorderNoiseOptions` (OST HEAD values).

    Returns
    -------
    xarray.Dataset
        0-d integer variables ``pixel_start``, ``pixel_stop``, ``line_start``, ``line_stop``
        (lazy: the column means need one pass over the data; compute them first to keep a full
        scene out of memory when the result is then applied with :func:`remove_border_noise`).
    """
    _check_image(intensity, "intensity")
    options = options or BorderNoiseOptions()
    data = dask.array.asarray(intensity.transpose(*DIMS).data)  # type: ignore[no-untyped-call]
    n_lines, n_pixels = data.shape
    col_means = _edge_means(data, options.window)
    p0, p1 = _edge_limits(col_means, options)
    l0: Any = 0
    l1: Any = n_lines
    if azimuth:
        keep = (np.arange(n_pixels) >= p0) & (np.arange(n_pixels) < p1)
        row_means = _nan_mean(dask.array.where(keep[None, :], data, np.nan), axis=1)
        l0, l1 = _edge_limits(row_means, options)
    values = {"pixel_start": p0, "pixel_stop": p1, "line_start": l0, "line_stop": l1}
    fields = {}
    for key, value in values.items():
        fields[key] = ((), dask.array.asarray(value).astype(np.int64))  # type: ignore[no-untyped-call]
    return xr.Dataset(fields)


def _edge_means(data: dask.array.Array, window: int) -> dask.array.Array:
    """Column means of the ``window`` columns at each range edge (NaN between them).

    Only those columns are read: with pixel chunks no wider than the window (see
    :func:`s1stac.ard`), the chunks of the middle of the image are not in the graph.
    """
    n_pixels = data.shape[1]
    if n_pixels <= 2 * window:
        return _nan_mean(data, axis=0)
    middle = dask.array.full((n_pixels - 2 * window,), np.nan, dtype=np.float64)
    return dask.array.concatenate(
        [_nan_mean(data[:, :window], 0), middle, _nan_mean(data[:, n_pixels - window :], 0)]
    )


def _nan_mean(data: dask.array.Array, axis: int) -> dask.array.Array:
    """Mean of the valid values along ``axis``, NaN where none is valid (no warning)."""
    valid = ~dask.array.isnan(data)
    total = dask.array.where(valid, data, 0).astype(np.float64).sum(axis=axis)
    count = valid.sum(axis=axis)
    mean: dask.array.Array = dask.array.where(
        count > 0, total / dask.array.maximum(count, 1), np.nan
    )
    return mean


def remove_border_noise(
    intensity: xr.DataArray,
    *,
    limits: xr.Dataset | None = None,
    azimuth: bool = False,
    fill_value: float = np.nan,
    options: BorderNoiseOptions | None = None,
) -> xr.DataArray:
    """Blank the GRD border noise of a noise-corrected intensity image.

    Parameters
    ----------
    intensity
        Noise-corrected intensity ``DN² - N``, dims ``("line", "pixel")``.
    limits
        Output of :func:`border_noise_limits` (possibly computed); computed lazily if omitted.
    azimuth, options
        Passed to :func:`border_noise_limits` when ``limits`` is omitted.
    fill_value
        Value of the removed pixels: NaN (default) or 0 as OST writes (SNAP no-data).

    Returns
    -------
    xarray.DataArray
        ``intensity`` with the pixels outside ``limits`` set to ``fill_value``.

    Notes
    -----
    With lazy ``limits`` every output chunk waits for the column means of the whole image, so
    dask keeps the input chunks in memory meanwhile; on full scenes compute
    ``border_noise_limits(intensity)`` first and pass the result.
    """
    if limits is None:
        limits = border_noise_limits(intensity, azimuth=azimuth, options=options)
    line = xr.DataArray(np.arange(intensity.sizes["line"]), dims="line")
    pixel = xr.DataArray(np.arange(intensity.sizes["pixel"]), dims="pixel")
    keep = (
        (line >= limits["line_start"])
        & (line < limits["line_stop"])
        & (pixel >= limits["pixel_start"])
        & (pixel < limits["pixel_stop"])
    ).drop_vars(list(limits.coords))
    return intensity.where(keep, fill_value).transpose(*intensity.dims)


def looks_for_resolution(resolution: float) -> int:
    """Multi-look factor of OST for an output resolution in metres (``OST_SPEC.md`` §2.2 #5).

    ``int(resolution / 10)`` if ``resolution >= 20`` else 1 (20 -> 2, 25 -> 2, 50 -> 5).
    """
    if not np.isfinite(resolution) or resolution <= 0:
        raise ParameterError(f"resolution={resolution!r} m must be a positive number of metres.")
    return int(int(resolution) / 10) if resolution >= 20 else 1


def multilook(da: xr.DataArray, factor_line: int, factor_pixel: int) -> xr.DataArray:
    """Block mean of intensities over ``factor_line x factor_pixel`` pixels (SNAP ``Multilook``).

    Incomplete blocks at the end of each dimension are dropped (``boundary="trim"``); a block
    mean is the mean of its valid values, NaN where none is valid.  The ``line``/``pixel``
    coordinates, if any, become the block centres.  Apply it to linear power, never to dB.
    """
    _check_image(da, "image")
    for name, f in (("factor_line", factor_line), ("factor_pixel", factor_pixel)):
        if not isinstance(f, int | np.integer) or isinstance(f, bool) or f < 1:
            raise ParameterError(f"{name}={f!r} must be a positive integer number of looks.")
    factors = {"line": int(factor_line), "pixel": int(factor_pixel)}
    if factors["line"] == factors["pixel"] == 1:
        return da
    if da.chunks is not None:
        # NOTE: chunks made multiples of the factors so that blocks never straddle chunks.
        da = da.chunk({d: -(-max(da.chunksizes[d]) // f) * f for d, f in factors.items()})
    out = da.coarsen(factors, boundary="trim").mean(keep_attrs=True)  # skips NaN
    return out.rename(da.name)


@dataclass(frozen=True)
class AzimuthSlice:
    """One slice of a datatake as input of :func:`slice_assembly`."""

    data: xr.DataArray
    """Image of the slice, dims ``("line", "pixel")``."""
    first_line_time: np.datetime64
    """Zero-Doppler azimuth time of line 0 (annotation ``productFirstLineUtcTime``)."""
    azimuth_time_interval: float
    """Time between lines in seconds (annotation ``azimuthTimeInterval``)."""
    name: str = ""
    """Product name, used in error messages and in :class:`SliceOffset`."""


@dataclass(frozen=True)
class SliceOffset:
    """Where the lines of one slice went in the assembled image."""

    name: str
    """Product name of the slice (or ``"slice <i>"`` when none was given)."""
    first_line: int
    """Line of the assembled image holding the first kept line of the slice."""
    skipped_lines: int
    """Leading lines of the slice dropped because the previous slice already covers them."""
    number_of_lines: int
    """Lines of the slice kept in the assembled image."""
    first_line_time: np.datetime64
    """Azimuth time of the slice's line 0."""


def _seconds(delta: np.timedelta64) -> float:
    return float(delta / np.timedelta64(1, "ns")) * 1e-9


def slice_assembly(
    slices: Sequence[AzimuthSlice | tuple[xr.DataArray, np.datetime64, float]],
    *,
    max_gap_lines: float = 1.5,
) -> tuple[xr.DataArray, tuple[SliceOffset, ...]]:
    """Concatenate consecutive slices of one datatake along azimuth (SNAP ``SliceAssembly``).

    Slices are ordered by first-line time.  Leading lines of a slice whose azimuth time is
    already covered by the previous slice (within half a line) are dropped.  Slices narrower
    than the widest one are padded with NaN on the far-range side: as SNAP, the pixel grids are
    assumed to share pixel 0.  The merged annotation is not built here.

    Parameters
    ----------
    slices
        :class:`AzimuthSlice` records or ``(data, first_line_time, azimuth_time_interval)``.
    max_gap_lines
        Largest accepted time gap between two slices, in lines.

    Returns
    -------
    tuple
        The assembled image (``line`` coordinate 0..n-1 if the inputs had one) and one
        :class:`SliceOffset` per slice in azimuth order.
    """
    items = [s if isinstance(s, AzimuthSlice) else AzimuthSlice(*s) for s in slices]
    if not items:
        raise ParameterError("slice_assembly needs at least one slice; got an empty list.")
    items = [
        s
        if s.name
        else AzimuthSlice(s.data, s.first_line_time, s.azimuth_time_interval, f"slice {i}")
        for i, s in enumerate(items)
    ]
    for s in items:
        _check_image(s.data, f"slice {s.name}")
    items.sort(key=lambda s: s.first_line_time)
    dt = items[0].azimuth_time_interval
    parts: list[xr.DataArray] = []
    offsets: list[SliceOffset] = []
    n_out = 0
    prev: AzimuthSlice | None = None
    for s in items:
        if abs(s.azimuth_time_interval - dt) > 1e-6 * dt:
            raise ParameterError(
                f"{s.name} has an azimuth time interval of {s.azimuth_time_interval} s but "
                f"{items[0].name} has {dt} s: slices of one datatake share their line spacing."
            )
        skip = 0
        if prev is not None:
            prev_last = prev.first_line_time + np.timedelta64(
                round((prev.data.sizes["line"] - 1) * dt * 1e9), "ns"
            )
            gap = _seconds(s.first_line_time - prev_last) / dt
            if gap > max_gap_lines:
                raise ParameterError(
                    f"{prev.name} and {s.name} are not consecutive slices: {gap - 1:.1f} lines "
                    "are missing between them. Assemble only consecutive slices of one datatake."
                )
            skip = max(0, int(np.floor(0.5 - gap)) + 1)
            if skip >= s.data.sizes["line"]:
                raise ParameterError(
                    f"{s.name} lies entirely within {prev.name} (duplicate product?); "
                    "drop one of them before assembly."
                )
        part = s.data.transpose(*DIMS).isel(line=slice(skip, None))
        offsets.append(SliceOffset(s.name, n_out, skip, part.sizes["line"], s.first_line_time))
        n_out += part.sizes["line"]
        parts.append(part.drop_vars("line", errors="ignore"))
        prev = s
    width = max(p.sizes["pixel"] for p in parts)
    pixel = next(p for p in parts if p.sizes["pixel"] == width).coords.get("pixel")
    parts = [p.drop_vars("pixel", errors="ignore") for p in parts]
    parts = [p.pad(pixel=(0, width - p.sizes["pixel"]), constant_values=np.nan) for p in parts]
    if pixel is not None:
        parts = [p.assign_coords(pixel=pixel) for p in parts]
    out = xr.concat(parts, dim="line", coords="minimal", compat="override", join="override")
    if any("line" in s.data.coords for s in items):
        out = out.assign_coords(line=np.arange(n_out))
    log.debug("assembled %d slices into %d lines: %s", len(items), n_out, offsets)
    return out.rename(items[0].data.name).assign_attrs(items[0].data.attrs), tuple(offsets)
