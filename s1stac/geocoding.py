"""Range-Doppler backward geocoding of radar-geometry images onto a map grid, lazily with dask.

Reference: ``OST_SPEC.md`` §2.3 (SNAP ``Terrain-Correction``: for each output pixel, DEM
height -> ECEF -> zero-Doppler time -> slant range -> ground range (SRGR) -> radar pixel ->
bilinear / bicubic interpolation of the linear values) and §2.4 (output grid); sarsen
``geocoding.py`` (https://github.com/bopen/sarsen/blob/main/sarsen/geocoding.py).

Design (memory stays bounded by a few output chunks and the radar windows they need):

1. **Windows** (eager, cheap, :func:`plan_geocoding`): the radar window each output chunk
   needs is the bounding box of the radar coordinates of the chunk's edges at the chunk's
   lowest and highest DEM height (from a coarse min/max of the native DEM), plus the
   interpolation kernel and a margin.
2. **One task per output chunk** (lazy, :func:`geocode_layers`): it looks up the radar
   coordinates ``(line, pixel)`` of its pixels at their DEM height
   (:func:`s1stac.radar_model.radar_lookup`: exact range-Doppler solution on a coarse
   lattice, interpolated; < 0.003 px added error) and resamples every layer (polarisations,
   mask, angles...) from the window it needs.  The task depends only on the source chunks
   overlapping its windows (:class:`WindowReader`), so dask reads and computes just those.
   Bicubic is Keys' cubic convolution (a = -0.5), falling back to bilinear next to missing
   samples.

In the full-size benchmark (``benchmarks/bench_ard.py``) the multilooked radar images are
the largest arrays held at once (about 0.4 GB per polarisation at 20 m).
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import dask
import dask.array as da
import numba
import numpy as np
import numpy.typing as npt
import xarray as xr
from odc.geo.geobox import GeoBox
from odc.geo.xr import xr_coords

from s1stac.errors import ParameterError
from s1stac.radar_model import RadarModel, pixel_centres_lonlat, radar_lookup
from s1stac.types import FloatArray
from s1stac.windows import WindowReader, assemble_window

__all__ = [
    "GeocodingPlan",
    "Resampling",
    "Layer",
    "WindowReader",
    "assemble_window",
    "geocode",
    "geocode_layers",
    "image_layer",
    "plan_geocoding",
    "radar_window",
    "resample",
]

log = logging.getLogger(__name__)

Resampling = Literal["nearest", "bilinear", "bicubic"]
"""Interpolation of the radar image at the looked-up coordinates."""
_KERNEL_HALF = {"nearest": 1, "bilinear": 1, "bicubic": 2}
_WINDOW_MARGIN = 3  # radar pixels added around each window (lattice and edge-sampling slack)


# -- resampling kernels --------------------------------------------------------------------------


@numba.njit(cache=True, inline="always")
def _cubic(x: float) -> float:  # pragma: no cover - numba
    # Keys (1981) cubic convolution, a = -0.5: exact for quadratics
    x = abs(x)
    if x <= 1.0:
        return (1.5 * x - 2.5) * x * x + 1.0
    if x < 2.0:
        return ((-0.5 * x + 2.5) * x - 4.0) * x + 2.0
    return 0.0


@numba.njit(cache=True, nogil=True)
def _resample_kernel(
    image: Any, line: Any, pixel: Any, origin: Any, limits: Any, method: int, out: Any
) -> None:  # pragma: no cover - numba
    """Interpolate ``image`` (a window at ``origin`` of an image of shape ``limits``).

    method 0 nearest, 1 bilinear, 2 bicubic (falls back to bilinear where a cubic neighbour
    is missing or NaN).  Coordinates within half a pixel outside the image are clamped.
    """
    nr, nc = image.shape
    for k in range(line.shape[0]):
        for m in range(line.shape[1]):
            y, x = line[k, m], pixel[k, m]
            out[k, m] = np.nan
            if not (y >= -0.5 and y <= limits[0] - 0.5 and x >= -0.5 and x <= limits[1] - 0.5):
                continue
            y = min(max(y, 0.0), limits[0] - 1.0) - origin[0]
            x = min(max(x, 0.0), limits[1] - 1.0) - origin[1]
            if method == 0:
                i, j = int(math.floor(y + 0.5)), int(math.floor(x + 0.5))
                if 0 <= i < nr and 0 <= j < nc:
                    out[k, m] = image[i, j]
                continue
            i0, j0 = int(math.floor(y)), int(math.floor(x))
            fy, fx = y - i0, x - j0
            if method == 2 and i0 >= 1 and j0 >= 1 and i0 + 2 < nr and j0 + 2 < nc:
                total = 0.0
                for a in range(4):
                    wy = _cubic(fy - (a - 1))
                    for b in range(4):
                        total += wy * _cubic(fx - (b - 1)) * image[i0 - 1 + a, j0 - 1 + b]
                if not math.isnan(total):
                    out[k, m] = total
                    continue
            if fy == 0.0 and i0 == nr - 1:
                i0, fy = i0 - 1, 1.0
            if fx == 0.0 and j0 == nc - 1:
                j0, fx = j0 - 1, 1.0
            if i0 < 0 or j0 < 0 or i0 + 1 >= nr or j0 + 1 >= nc:
                continue
            top = image[i0, j0] * (1.0 - fx) + image[i0, j0 + 1] * fx
            bottom = image[i0 + 1, j0] * (1.0 - fx) + image[i0 + 1, j0 + 1] * fx
            out[k, m] = top * (1.0 - fy) + bottom * fy


def resample(
    image: npt.ArrayLike,
    line: npt.ArrayLike,
    pixel: npt.ArrayLike,
    *,
    method: Resampling = "bicubic",
    origin: tuple[int, int] = (0, 0),
    shape: tuple[int, int] | None = None,
) -> npt.NDArray[np.float32]:
    """Interpolate a radar image at fractional ``(line, pixel)`` coordinates.

    Parameters
    ----------
    image
        2-D image, or a window of one whose first sample is at ``origin``.
    line, pixel
        Coordinates in the full image (integers are sample centres), same 2-D shape.
    method
        ``"nearest"``, ``"bilinear"`` or ``"bicubic"`` (Keys cubic convolution, a = -0.5;
        bilinear where one of the 16 neighbours is missing or NaN).
    origin, shape
        Position of the window in the image and shape of the whole image (default: the
        window is the image).  Points more than half a pixel outside the image get NaN.
    """
    if method not in _KERNEL_HALF:
        raise ParameterError(f"{method=} unknown: choose one of {list(_KERNEL_HALF)}")
    img = np.asarray(image, dtype=np.float32)
    ln, px = np.broadcast_arrays(np.asarray(line, np.float64), np.asarray(pixel, np.float64))
    ln2, px2 = np.atleast_2d(ln), np.atleast_2d(px)
    out = np.empty(ln2.shape, dtype=np.float32)
    limits = np.array(img.shape if shape is None else shape, dtype=np.float64)
    code = {"nearest": 0, "bilinear": 1, "bicubic": 2}[method]
    if img.size == 0:
        out[:] = np.nan
    else:
        _resample_kernel(img, ln2, px2, np.array(origin, np.float64), limits, code, out)
    return out.reshape(ln.shape)


# -- dask plan -----------------------------------------------------------------------------------

Window = tuple[slice, slice] | None
Windows = tuple[tuple[Window, ...], ...]
"""One window per output chunk (rows of chunks)."""


@dataclass(frozen=True, eq=False)
class GeocodingPlan:
    """Output grid, DEM heights and the radar windows of every output chunk."""

    model: RadarModel
    height: xr.DataArray
    """Dask-backed DEM heights on the output grid; its chunks are the output chunks."""
    windows: Windows
    """Multilooked radar window of each chunk, None if it sees no image."""
    step: int = 16
    """Lattice step of :func:`~s1stac.radar_model.radar_lookup`."""
    reference_height: float | None = None
    """Also look up every pixel at this height (``coords`` rows 2 and 3 of the layers)."""
    reference_windows: Windows | None = None
    """Windows at the reference height, not clipped to the image."""

    @property
    def geobox(self) -> GeoBox:
        """The output grid."""
        geobox = self.height.odc.geobox
        if not isinstance(geobox, GeoBox):  # pragma: no cover - checked by plan_geocoding
            raise ParameterError("the heights of a geocoding plan lost their grid")
        return geobox

    @property
    def chunks(self) -> tuple[tuple[int, ...], ...]:
        """Output chunk sizes along y and x."""
        return tuple(tuple(c) for c in self.height.chunks or ())


@dataclass(frozen=True, eq=False)
class Layer:
    """One output variable: what a chunk task reads and how it turns it into pixels."""

    source: Any
    """Dask array the chunk windows are cut from (radar image, flags, heights)."""
    windows: Windows
    """Window of ``source`` needed by each output chunk (None: all NaN)."""
    block: Any
    """``block(coords, data, window) -> float32 array``; coords: ``(2 or 4, ny, nx)``."""
    name: str
    attrs: dict[str, str]


def _edge_points(geobox: GeoBox, count: int = 9) -> tuple[FloatArray, FloatArray]:
    ny, nx = geobox.shape
    rows = np.unique(np.linspace(0, ny - 1, count).round())
    cols = np.unique(np.linspace(0, nx - 1, count).round())
    lon, lat = pixel_centres_lonlat(geobox, rows, cols)
    edge = np.zeros(lon.shape, dtype=bool)
    edge[[0, -1], :] = True
    edge[:, [0, -1]] = True
    return lon[edge], lat[edge]


def radar_window(
    model: RadarModel,
    geobox: GeoBox,
    low: float,
    high: float,
    *,
    margin: int,
    clip: bool = True,
) -> Window:
    """Radar window seen by ``geobox`` for heights in ``[low, high]`` (None if none).

    With ``clip=False`` the window may extend beyond the image (negative starts included).
    """
    if not (np.isfinite(low) and np.isfinite(high)):
        return None
    lon, lat = _edge_points(geobox)
    heights = np.array([low - 1.0, high + 1.0])[:, None]
    line, pixel = model.to_radar(lon[None, :], lat[None, :], heights)
    ok = np.isfinite(line) & np.isfinite(pixel)
    if not ok.any():
        return None
    n_lines, n_pixels = model.shape if clip else (np.inf, np.inf)
    floor = 0 if clip else -np.inf
    l0 = int(max(np.floor(line[ok].min()) - margin, floor))
    l1 = int(min(np.ceil(line[ok].max()) + margin + 1, n_lines))
    p0 = int(max(np.floor(pixel[ok].min()) - margin, floor))
    p1 = int(min(np.ceil(pixel[ok].max()) + margin + 1, n_pixels))
    if l0 >= l1 or p0 >= p1:
        return None
    return slice(l0, l1), slice(p0, p1)


def plan_geocoding(
    model: RadarModel,
    height: xr.DataArray,
    height_ranges: npt.ArrayLike,
    *,
    step: int = 16,
    reference_height: float | None = None,
) -> GeocodingPlan:
    """Radar windows of the output chunks for geocoding onto the grid of ``height``.

    Parameters
    ----------
    model
        Radar model of the image(s) to geocode.
    height
        Dask-backed DEM heights above the ellipsoid on the output grid (odc-geo coordinates);
        its chunks are the output chunks.
    height_ranges
        ``(chunk rows, chunk cols, 2)``: lowest and highest DEM height over each chunk.
    step
        Lattice step of :func:`~s1stac.radar_model.radar_lookup`.
    reference_height
        Also look up the pixels at this height, and their windows (for the layover/shadow
        flags, which are attached to the ground).
    """
    geobox = height.odc.geobox
    if not isinstance(geobox, GeoBox) or height.chunks is None:
        raise ParameterError("height must be a dask-backed DataArray on an odc-geo GeoBox")
    ranges = np.asarray(height_ranges, dtype=np.float64)
    chunks = height.chunks
    offsets = [np.cumsum((0,) + tuple(c)) for c in chunks]
    margin = _WINDOW_MARGIN + 2
    windows, reference = [], []
    for i in range(len(chunks[0])):
        row, ref_row = [], []
        for j in range(len(chunks[1])):
            part = geobox[offsets[0][i] : offsets[0][i + 1], offsets[1][j] : offsets[1][j + 1]]
            low, high = ranges[i, j]
            row.append(radar_window(model, part, low, high, margin=margin))
            if reference_height is not None:
                ref = radar_window(
                    model, part, reference_height, reference_height, margin=margin, clip=False
                )
                ref_row.append(None if not np.isfinite(low) else ref)
        windows.append(tuple(row))
        reference.append(tuple(ref_row))
    return GeocodingPlan(
        model,
        height,
        tuple(windows),
        step,
        reference_height,
        tuple(reference) if reference_height is not None else None,
    )


def _resample_block(
    coords: Any,
    image: Any,
    window: tuple[slice, slice],
    shape: tuple[int, int],
    method: Resampling,
    nonnegative: bool,
) -> npt.NDArray[np.float32]:
    origin = (window[0].start, window[1].start)
    out = resample(image, coords[0], coords[1], method=method, origin=origin, shape=shape)
    if nonnegative:
        np.maximum(out, 0.0, out=out)  # NaN stays NaN
    return out


def image_layer(
    image: xr.DataArray,
    plan: GeocodingPlan,
    *,
    method: Resampling = "bicubic",
    nonnegative: bool = True,
) -> Layer:
    """Layer geocoding a (multilooked) radar image, dims ``("line", "pixel")``.

    ``method`` is the interpolation (see :func:`resample`); ``nonnegative`` clips negative
    values (bicubic overshoot of backscatter) to 0.
    """
    if method not in _KERNEL_HALF:
        raise ParameterError(f"{method=} unknown: choose one of {list(_KERNEL_HALF)}")
    if set(image.dims) != {"line", "pixel"}:
        raise ParameterError(f"image has dims {image.dims}; expected ('line', 'pixel')")
    radar = image.transpose("line", "pixel")
    if radar.shape != plan.model.shape:
        raise ParameterError(
            f"image shape {radar.shape} differs from the radar model's {plan.model.shape}"
        )
    source = da.asarray(radar.data)  # type: ignore[no-untyped-call]
    block = functools.partial(
        _resample_block, shape=tuple(source.shape), method=method, nonnegative=nonnegative
    )
    name = str(image.name) if image.name is not None else "image"
    return Layer(source, plan.windows, block, name, dict(image.attrs))


def geocode(
    image: xr.DataArray,
    plan: GeocodingPlan,
    *,
    method: Resampling = "bicubic",
    nonnegative: bool = True,
) -> xr.DataArray:
    """Geocode one (multilooked) radar image onto the grid of ``plan``, lazily.

    Float32 on ``plan.geobox`` (dims ``y``, ``x`` with odc-geo coordinates), NaN where the
    output pixel sees no image or has no DEM height.  To geocode several images, use
    :func:`geocode_layers`: their chunks then share one lookup and one task.
    """
    layer = image_layer(image, plan, method=method, nonnegative=nonnegative)
    return geocode_layers(plan, [layer])[layer.name]


def geocode_layers(plan: GeocodingPlan, layers: Sequence[Layer]) -> xr.Dataset:
    """Geocode several layers lazily: one task per output chunk computes all of them.

    The task looks up the radar coordinates of its pixels once, cuts the window each layer
    needs from the chunks of the layer's source and stacks the results; the variables are
    slices of these stacks.  Compute the variables together (one ``dask.compute``), or the
    chunk tasks run once per variable.
    """
    names = [layer.name for layer in layers]
    if len(set(names)) != len(names):
        raise ParameterError(f"layer names {names} are not unique")
    geobox = plan.geobox
    heights = WindowReader(plan.height.data)
    readers = [WindowReader(layer.source) for layer in layers]
    offsets = [np.cumsum((0,) + c) for c in plan.chunks]
    n = len(layers)
    stacks = []
    for i, size_y in enumerate(plan.chunks[0]):
        row = []
        for j, size_x in enumerate(plan.chunks[1]):
            part = geobox[offsets[0][i] : offsets[0][i + 1], offsets[1][j] : offsets[1][j + 1]]
            inputs = []
            for layer, reader in zip(layers, readers, strict=True):
                window = layer.windows[i][j]
                inputs.append(None if window is None else (*reader.parts(window), window))
            if all(x is None for x in inputs):
                row.append(da.full((n, size_y, size_x), np.nan, dtype=np.float32))
                continue
            task = dask.delayed(_chunk_task, pure=True)(
                heights.blocks[i, j],
                inputs,
                [layer.block for layer in layers],
                plan.model,
                part,
                plan.step,
                plan.reference_height,
            )
            row.append(da.from_delayed(task, (n, size_y, size_x), dtype=np.float32))
        stacks.append(row)
    data = da.concatenate([da.concatenate(r, axis=2) for r in stacks], axis=1)
    coords = xr_coords(geobox, dims=("y", "x"))
    return xr.Dataset(
        {
            layer.name: xr.DataArray(data[k], coords=coords, dims=("y", "x"), attrs=layer.attrs)
            for k, layer in enumerate(layers)
        }
    )


def _chunk_task(
    height: Any,
    inputs: list[Any],
    blocks: list[Any],
    model: RadarModel,
    geobox: GeoBox,
    step: int,
    reference_height: float | None,
) -> npt.NDArray[np.float32]:
    coords = radar_lookup(
        model, geobox, height, step=step, reference_height=reference_height
    ).astype(np.float32)
    out = np.full((len(blocks),) + geobox.shape, np.nan, dtype=np.float32)
    for k, (given, block) in enumerate(zip(inputs, blocks, strict=True)):
        if given is not None:
            parts, cuts, window = given
            out[k] = block(coords, assemble_window(parts, cuts), window)
    return out
