"""Internals of :mod:`s1stac.mosaic`: grid placement, overlap statistics, gains, blending.

Reference: ``OST_SPEC.md`` §5.2 (Orfeo Toolbox ``Mosaic``, https://github.com/remicres/otb-mosaic);
the decisions are documented in :mod:`s1stac.mosaic`.
"""

from __future__ import annotations

import logging
import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import dask.array as da
import numpy as np
import odc.geo.xr  # noqa: F401 - registers the .odc accessor
import rasterio.features
import scipy.ndimage  # type: ignore[import-untyped]
import scipy.sparse.csgraph  # type: ignore[import-untyped]
import xarray as xr
from affine import Affine
from odc.geo.geobox import GeoBox
from odc.geo.geom import Geometry
from shapely.geometry.base import BaseGeometry

from s1stac.aoi import AoiLike, read_aoi
from s1stac.errors import AoiError, ParameterError
from s1stac.grid import EARTH_RADIUS_M

LOGGER = logging.getLogger("s1stac.mosaic")

SPATIAL_DIMS = ("y", "x")
MAX_MASK_SIDE = 2048
"""Largest side of the shrunk valid mask on which distances are measured."""
EPSILON_WEIGHT = 1e-3
"""Weight added to every valid pixel, so that pixels at a valid-data edge still count."""

CHUNK = 1024
"""Spatial chunk size of the output when no input is dask-backed."""
_ALIGN_TOL = 1e-3
_RES_RTOL = 1e-6

FeatherUnit = Literal["pixel", "metre"]


@dataclass(frozen=True)
class Placement:
    """Position of an image on the output grid and its distance map."""

    label: str
    row: int
    col: int
    shape: tuple[int, int]
    shrink: int = 1
    distance: np.ndarray[Any, Any] | None = None

    def weight(self, rows: tuple[int, int], cols: tuple[int, int], cap: float) -> Any:
        """Feathering weight ``ε + min(d, cap)`` on output pixels ``rows x cols``."""
        if self.distance is None:
            return np.full((rows[1] - rows[0], cols[1] - cols[0]), 1.0 + EPSILON_WEIGHT)
        s = self.shrink

        def axis(start: int, stop: int, offset: int, n: int) -> tuple[Any, Any, Any]:
            # NOTE: + 0.5 = - 0.5 (cell centres) + 1 (the invalid ring of distance_map)
            u = np.clip((np.arange(start, stop) - offset + 0.5) / s + 0.5, 0.0, n - 1)
            i0 = np.minimum(np.floor(u).astype(np.intp), max(n - 2, 0))
            return i0, np.minimum(i0 + 1, n - 1), u - i0

        r0, r1, fr = axis(*rows, self.row, self.distance.shape[0])
        c0, c1, fc = axis(*cols, self.col, self.distance.shape[1])
        top, left = r0[0], c0[0]
        part = self.distance[top : r1[-1] + 1, left : c1[-1] + 1]
        fr, fc = fr.astype(np.float32)[:, None], fc.astype(np.float32)
        tmp = part[r0 - top] * (1 - fr) + part[r1 - top] * fr
        d = tmp[:, c0 - left] * (1 - fc) + tmp[:, c1 - left] * fc
        d = np.minimum(np.maximum(s * (d - 0.5) + 0.5, 0.0), cap)
        return np.float32(EPSILON_WEIGHT) + d


@dataclass(frozen=True)
class Setup:
    arrays: list[Any]
    places: list[Placement]
    names: list[Any]
    geobox: GeoBox
    extra_dims: tuple[str, ...]
    extra_coords: dict[str, Any]
    chunks: tuple[Any, ...]
    dtype: np.dtype[Any]
    aoi: BaseGeometry | None
    attrs: dict[str, Any]


def _label(i: int, image: xr.DataArray) -> str:
    return f"images[{i}] ({image.name!r})" if image.name is not None else f"images[{i}]"


def _geobox_of(image: xr.DataArray, label: str) -> GeoBox:
    if not set(SPATIAL_DIMS) <= set(image.dims):
        raise ParameterError(
            f"{label} has dims {image.dims}; a mosaic needs spatial dims ('y', 'x') with the "
            "coordinates of an aligned grid (odc-geo xr_coords)."
        )
    gbox = image.odc.geobox
    if not isinstance(gbox, GeoBox) or gbox.crs is None:
        raise ParameterError(
            f"{label} has no affine grid with a CRS; give it 'y'/'x' coordinates and a "
            "'spatial_ref' coordinate (odc.geo.xr.xr_coords(geobox))."
        )
    return gbox


def _offset(ref: GeoBox, gbox: GeoBox, label: str, ref_label: str) -> tuple[int, int]:
    """Whole-pixel offset (row, col) of ``gbox``'s origin on the grid of ``ref``."""
    a, b, c, d, e, f = tuple(ref.affine)[:6]
    a2, b2, c2, d2, e2, f2 = tuple(gbox.affine)[:6]
    if gbox.crs != ref.crs:
        raise ParameterError(
            f"{label} is in {gbox.crs} but {ref_label} in {ref.crs}: put every image on one "
            "aligned grid (s1stac.grid.aligned_grid) before the mosaic."
        )
    if (
        b
        or d
        or b2
        or d2
        or not (math.isclose(a, a2, rel_tol=_RES_RTOL) and math.isclose(e, e2, rel_tol=_RES_RTOL))
    ):
        raise ParameterError(
            f"{label} has pixel size ({a2:.10g}, {e2:.10g}) but {ref_label} ({a:.10g}, {e:.10g})"
            " (or a rotated grid): resample onto one aligned grid before the mosaic."
        )
    col, row = (c2 - c) / a, (f2 - f) / e
    if abs(col - round(col)) > _ALIGN_TOL or abs(row - round(row)) > _ALIGN_TOL:
        raise ParameterError(
            f"{label} is not aligned with {ref_label}: its origin is ({row:.4f}, {col:.4f}) "
            "pixels away, not a whole number; produce both on s1stac.grid.aligned_grid."
        )
    return round(row), round(col)


def _union(ref: GeoBox, places: Sequence[Placement]) -> GeoBox:
    r0 = min(p.row for p in places)
    c0 = min(p.col for p in places)
    r1 = max(p.row + p.shape[0] for p in places)
    c1 = max(p.col + p.shape[1] for p in places)
    a, _, c, _, e, f = tuple(ref.affine)[:6]
    return GeoBox((r1 - r0, c1 - c0), Affine(a, 0.0, c + c0 * a, 0.0, e, f + r0 * e), ref.crs)


def _aoi_in(aoi: AoiLike, gbox: GeoBox) -> BaseGeometry:
    shape = read_aoi(aoi, parameter="aoi")
    crs = gbox.crs
    if crs is None:
        raise ParameterError("geobox has no CRS; give the output grid a CRS.")
    step = 0.01 if crs.geographic else 1000.0
    geom: BaseGeometry = Geometry(shape, "EPSG:4326").to_crs(crs, resolution=step).geom
    return geom


def _crop_to(gbox: GeoBox, geom: BaseGeometry) -> GeoBox:
    a, _, c, _, e, f = tuple(gbox.affine)[:6]
    minx, miny, maxx, maxy = geom.bounds
    c0 = max(math.floor((minx - c) / a), 0)
    c1 = min(math.ceil((maxx - c) / a), gbox.shape[1])
    r0 = max(math.floor((maxy - f) / e), 0)
    r1 = min(math.ceil((miny - f) / e), gbox.shape[0])
    if c1 <= c0 or r1 <= r0:
        raise AoiError(f"the aoi (bounds {geom.bounds}) does not overlap the images' grid.")
    return gbox[r0:r1, c0:c1]


def prepare(images: Sequence[xr.DataArray], geobox: GeoBox | None, aoi: AoiLike | None) -> Setup:
    if isinstance(images, xr.DataArray) or len(images) == 0:
        raise ParameterError("images must be a non-empty sequence of DataArrays.")
    labels = [_label(i, img) for i, img in enumerate(images)]
    first = images[0]
    extra = tuple(d for d in first.dims if d not in SPATIAL_DIMS)
    boxes = []
    for label, img in zip(labels, images, strict=True):
        gbox = _geobox_of(img, label)
        if not np.issubdtype(img.dtype, np.floating):
            raise ParameterError(
                f"{label} has dtype {img.dtype}; decode integer codes to linear power first "
                "(s1stac.timeseries.rescale_to_float, then from_db)."
            )
        if img.attrs.get("units") == "dB":
            raise ParameterError(f"{label} is in dB; mosaic linear power (from_db first).")
        if set(img.dims) != set(first.dims) or any(img.sizes[d] != first.sizes[d] for d in extra):
            raise ParameterError(
                f"{label} has dims {dict(img.sizes)} but images[0] {dict(first.sizes)}; every "
                "image needs the same non-spatial dimensions."
            )
        for d in extra:
            if d in first.indexes and not (
                d in img.indexes and img.indexes[d].equals(first.indexes[d])
            ):
                raise ParameterError(f"{label} has other {d!r} labels than images[0].")
        boxes.append(gbox)
    places = [
        Placement(label, *_offset(boxes[0], b, label, labels[0]), shape=(b.shape[0], b.shape[1]))
        for label, b in zip(labels, boxes, strict=True)
    ]
    geom = None
    if geobox is None:
        geobox = _union(boxes[0], places)
        if aoi is not None:
            geom = _aoi_in(aoi, geobox)
            geobox = _crop_to(geobox, geom)
    elif aoi is not None:
        geom = _aoi_in(aoi, geobox)
    places = [
        Placement(p.label, *_offset(geobox, b, p.label, "geobox"), shape=p.shape)
        for p, b in zip(places, boxes, strict=True)
    ]
    arrays = []
    for img in images:
        data = img.transpose(*extra, *SPATIAL_DIMS).data
        arrays.append(data if isinstance(data, da.Array) else da.from_array(data, chunks=CHUNK))
    lead = next((img for img in images if isinstance(img.data, da.Array)), None)
    if lead is not None:
        spec = dict(zip(lead.dims, lead.data.chunks, strict=True))
        spatial = tuple(max(spec[d]) for d in SPATIAL_DIMS)
        chunks = tuple(spec[d] for d in extra) + spatial
    else:
        chunks = tuple(first.sizes[d] for d in extra) + (CHUNK, CHUNK)
    coords = {k: v for k, v in first.coords.items() if v.dims and set(v.dims) <= set(extra)}
    attrs = {k: first.attrs[k] for k in ("long_name", "units") if k in first.attrs}
    return Setup(
        arrays=arrays,
        places=places,
        names=[img.name for img in images],
        geobox=geobox,
        extra_dims=tuple(str(d) for d in extra),
        extra_coords={str(k): v for k, v in coords.items()},
        chunks=chunks,
        dtype=np.result_type(*(img.dtype for img in images)),
        aoi=geom,
        attrs=attrs,
    )


def shrunk_valid(data: Any, shrink: int) -> Any:
    """Mask valid in every band, then in every pixel of ``shrink x shrink`` cells."""
    valid = da.isfinite(data)
    if data.ndim > 2:
        valid = valid.all(axis=tuple(range(data.ndim - 2)))
    if shrink == 1:
        return valid
    pad = [(0, -n % shrink) for n in valid.shape]
    valid = da.pad(valid, pad, mode="constant", constant_values=False)
    step = max(CHUNK // shrink, 1) * shrink
    return da.coarsen(np.all, valid.rechunk(step), {0: shrink, 1: shrink})


def distance_map(valid: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Distance (cells) to the nearest invalid cell, with a ring of invalid cells around."""
    padded = np.pad(valid, 1, constant_values=False)
    out: np.ndarray[Any, Any] = scipy.ndimage.distance_transform_edt(padded)
    return out.astype(np.float32)


def _pair_windows(places: Sequence[Placement]) -> list[tuple[int, int, Any, Any]]:
    """Overlapping pairs ``(i, j, window_in_i, window_in_j)`` of the image bounding boxes."""
    out = []
    for i, p in enumerate(places):
        for j in range(i + 1, len(places)):
            q = places[j]
            r0, r1 = max(p.row, q.row), min(p.row + p.shape[0], q.row + q.shape[0])
            c0, c1 = max(p.col, q.col), min(p.col + p.shape[1], q.col + q.shape[1])
            if r1 > r0 and c1 > c0:
                wi = (..., slice(r0 - p.row, r1 - p.row), slice(c0 - p.col, c1 - p.col))
                wj = (..., slice(r0 - q.row, r1 - q.row), slice(c0 - q.col, c1 - q.col))
                out.append((i, j, wi, wj))
    return out


def statistics(setup: Setup) -> tuple[list[Any], list[Any]]:
    """Lazy image sums and, per overlapping pair, pixel count and the two sums."""
    totals = [da.nansum(a, axis=(-2, -1), dtype=np.float64) for a in setup.arrays]
    pairs = []
    for i, j, wi, wj in _pair_windows(setup.places):
        a, b = setup.arrays[i][wi], setup.arrays[j][wj]
        common = da.isfinite(a) & da.isfinite(b)
        pairs.append(
            (
                i,
                j,
                common.sum(axis=(-2, -1)),
                da.where(common, a, 0.0).sum(axis=(-2, -1), dtype=np.float64),
                da.where(common, b, 0.0).sum(axis=(-2, -1), dtype=np.float64),
            )
        )
    return totals, pairs


def solve_gains(
    n: int, totals: Any, pairs: Sequence[Any], reference: int | None, labels: Sequence[str]
) -> Any:
    """Gains ``(n, K)`` per band ``k`` (see module docstring)."""
    k_bands = totals.shape[1]
    gains = np.ones((n, k_bands))
    for k in range(k_bands):
        h = np.zeros((n, n))
        for i, j, count, s_i, s_j in pairs:
            if count[k] == 0 or not (s_i[k] > 0 and s_j[k] > 0):
                continue
            a, b = s_i[k] / count[k], s_j[k] / count[k]
            w = count[k] / ((a + b) / 2.0) ** 2
            h[i, i] += w * a * a
            h[j, j] += w * b * b
            h[i, j] -= w * a * b
            h[j, i] -= w * a * b
        linked = scipy.sparse.csgraph.connected_components(h != 0, directed=False)[1]
        for group in np.unique(linked):
            members = np.flatnonzero(linked == group)
            if len(members) < 2:
                continue
            if reference is not None and reference in members:
                c = (members == reference).astype(np.float64)
            else:
                c = np.nan_to_num(totals[members, k]) / max(np.nansum(totals[members, k]), 1e-300)
            sub = h[np.ix_(members, members)]
            m = len(members)
            kkt = np.zeros((m + 1, m + 1))
            kkt[:m, :m] = 2.0 * sub / np.trace(sub)
            kkt[:m, m] = kkt[m, :m] = c
            rhs = np.zeros(m + 1)
            rhs[m] = c.sum()
            g = np.linalg.lstsq(kkt, rhs, rcond=None)[0][:m]
            if np.all(np.isfinite(g)) and np.all(g > 0):
                gains[members, k] = g
            else:
                LOGGER.warning(
                    "harmonisation failed for %s (band %d): gains %s; keeping gains 1",
                    [labels[int(i)] for i in members],
                    k,
                    g,
                )
    return gains


def resolve_reference(reference: int | str | None, names: Sequence[Any]) -> int | None:
    if reference is None:
        return None
    if isinstance(reference, numbers.Integral) and not isinstance(reference, bool):
        if not 0 <= int(reference) < len(names):
            raise ParameterError(
                f"reference={reference} is not an index of the {len(names)} images."
            )
        return int(reference)
    hits = [i for i, name in enumerate(names) if name == reference]
    if len(hits) != 1:
        raise ParameterError(
            f"reference={reference!r} matches {len(hits)} image names {list(names)}; give a "
            "unique name or an index."
        )
    return hits[0]


def gains_array(setup: Setup, totals: Any, pairs: Any, reference: int | None) -> xr.DataArray:
    n = len(setup.arrays)
    shape = totals[0].shape
    flat_totals = np.stack([np.reshape(t, -1) for t in totals])
    flat_pairs = [(i, j, *(np.reshape(v, -1) for v in rest)) for i, j, *rest in pairs]
    labels = [p.label for p in setup.places]
    gains = solve_gains(n, flat_totals, flat_pairs, reference, labels).reshape((n, *shape))
    out = xr.DataArray(
        gains,
        dims=("image", *setup.extra_dims),
        coords={"image": np.arange(n), **setup.extra_coords},
        name="gain",
    )
    return out.assign_attrs(long_name="multiplicative harmonisation gain", units="1")


def feather_cap(distance: float | None, unit: FeatherUnit, gbox: GeoBox) -> float:
    if distance is None:
        return math.inf
    if not (isinstance(distance, int | float) and distance >= 0):
        raise ParameterError(f"feather_distance={distance!r} must be a number >= 0 or None.")
    if unit == "pixel":
        return float(distance)
    if unit != "metre":
        raise ParameterError(f"feather_unit={unit!r} is unknown; choose 'pixel' or 'metre'.")
    size = abs(gbox.resolution.x)
    if gbox.crs is not None and gbox.crs.geographic:
        size *= math.pi / 180.0 * EARTH_RADIUS_M
    return float(distance) / size


def with_distances(setup: Setup, shrink: int | None, masks: Sequence[Any]) -> list[Placement]:
    return [
        Placement(p.label, p.row, p.col, p.shape, shrink or 1, distance_map(m))
        for p, m in zip(setup.places, masks, strict=True)
    ]


def embed(setup: Setup, data: Any, place: Placement) -> Any | None:
    """Place ``data`` on the output grid (NaN around it) in output chunks; None if outside."""
    height, width = setup.geobox.shape
    rs, re_ = max(0, -place.row), min(place.shape[0], height - place.row)
    cs, ce = max(0, -place.col), min(place.shape[1], width - place.col)
    if re_ <= rs or ce <= cs:
        return None
    pad = [(0, 0)] * (data.ndim - 2) + [
        (place.row + rs, height - place.row - re_),
        (place.col + cs, width - place.col - ce),
    ]
    part = data[..., rs:re_, cs:ce]
    return da.pad(part, pad, mode="constant", constant_values=np.nan).rechunk(setup.chunks)


def blend_block(
    *blocks: Any,
    places: Sequence[Placement],
    gains: Any,
    cap: float,
    aoi: BaseGeometry | None,
    affine: Affine,
    out_dtype: Any,
    block_info: Any = None,
) -> Any:
    loc = block_info[None]["array-location"]
    rows, cols = loc[-2], loc[-1]
    bands = tuple(slice(a, b) for a, b in loc[:-2])
    inside_box = [
        k
        for k, p in enumerate(places)
        if rows[0] < p.row + p.shape[0] and p.row < rows[1]
        and cols[0] < p.col + p.shape[1] and p.col < cols[1]
    ]  # fmt: skip
    if len(inside_box) <= 1:  # one image (or none): its weight does not matter
        k = inside_box[0] if inside_box else 0
        out = blocks[k] * gains[k][bands][..., None, None]
        out = out if inside_box else np.full(blocks[0].shape, np.nan)
    else:
        total = np.zeros(blocks[0].shape)
        weight = np.zeros(blocks[0].shape)
        for k in inside_box:
            valid = np.isfinite(blocks[k])
            w = np.where(valid, places[k].weight(rows, cols, cap), 0.0)
            total += w * gains[k][bands][..., None, None] * np.where(valid, blocks[k], 0.0)
            weight += w
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.where(weight > 0, total / weight, np.nan)
    if aoi is not None:
        a, _, c, _, e, f = tuple(affine)[:6]
        inside = rasterio.features.geometry_mask(
            [aoi],
            out_shape=(rows[1] - rows[0], cols[1] - cols[0]),
            transform=Affine(a, 0.0, c + cols[0] * a, 0.0, e, f + rows[0] * e),
            invert=True,
        )
        out = np.where(inside, out, np.nan)
    return out.astype(out_dtype)


def weight_block(block: Any, *, place: Placement, cap: float, block_info: Any = None) -> Any:
    rows, cols = block_info[None]["array-location"]
    return np.where(np.isfinite(block), place.weight(rows, cols, cap), 0.0).astype(np.float32)


def auto_shrink(setup: Setup, shrink: int | None) -> int:
    if shrink is None:
        side = max(max(p.shape) for p in setup.places)
        return max(1, math.ceil(side / MAX_MASK_SIDE))
    if not (isinstance(shrink, int) and shrink >= 1):
        raise ParameterError(f"distance_shrink={shrink!r} must be an integer >= 1 or None.")
    return shrink
