"""Data-cube processes of openEO: reduce, apply, filters, labels and dimensions, merge.

All functions are lazy: they return ``xarray.DataArray`` objects backed by the input's dask
graph.  Callbacks are called once on the whole cube (see :mod:`s1stac.openeo.context`).

References
----------
openEO processes 2.0, https://processes.openeo.org (reduce_dimension, apply, filter_bbox ...)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr
from odc.geo.geom import Geometry

from ..context import ARRAY_DIM, BANDS, Callback, T, X, Y, require_cube, require_dimension
from ..errors import (
    DimensionExists,
    LabelMismatch,
    OverlapResolverMissing,
    ProcessParameterInvalid,
)
from ..extents import parse_spatial_extent, parse_temporal_extent, parse_time

__all__ = [
    "add_dimension",
    "apply",
    "apply_dimension",
    "dimension_labels",
    "drop_dimension",
    "filter_bands",
    "filter_bbox",
    "filter_temporal",
    "merge_cubes",
    "reduce_dimension",
    "rename_dimension",
    "rename_labels",
    "spatial_window",
]


def _ordered(cube: xr.DataArray) -> xr.DataArray:
    """Transpose to s1stac's dimension order (t, bands, <others>, y, x)."""
    head = [d for d in (T, BANDS) if d in cube.dims]
    tail = [d for d in (Y, X) if d in cube.dims]
    middle = [d for d in cube.dims if d not in head and d not in tail]
    return cube.transpose(*head, *middle, *tail)


def _drop_array_coords(value: xr.DataArray) -> xr.DataArray:
    names = [n for n, c in value.coords.items() if n == ARRAY_DIM or ARRAY_DIM in c.dims]
    return value.drop_vars(names)


def reduce_dimension(
    data: xr.DataArray, reducer: Callback, dimension: str, context: Any = None
) -> xr.DataArray:
    """Reduce ``dimension`` with the ``reducer`` callback (parameters ``data``, ``context``)."""
    cube = require_cube(data)
    require_dimension(cube, dimension)
    array = cube.rename({dimension: ARRAY_DIM})
    result = reducer(data=array, context=context)
    if isinstance(result, xr.DataArray) and ARRAY_DIM in result.dims:
        raise ProcessParameterInvalid(
            "the reducer returned an array, not a single value per pixel; wrap array "
            "processes such as quantiles in array_element",
            parameter="reducer",
        )
    if not isinstance(result, xr.DataArray):
        template = array.isel({ARRAY_DIM: 0}, drop=True)
        result = xr.full_like(template, np.nan if result is None else result)
    return _drop_array_coords(result).rename(cube.name)


def apply(data: xr.DataArray, process: Callback, context: Any = None) -> xr.DataArray:
    """Apply the unary ``process`` callback (parameters ``x``, ``context``) to every value."""
    cube = require_cube(data)
    result = process(x=cube, context=context)
    if not isinstance(result, xr.DataArray):
        result = xr.full_like(cube, np.nan if result is None else result, dtype=np.float64)
    if set(result.dims) != set(cube.dims):
        raise ProcessParameterInvalid(
            f"the callback changed the dimensions {list(cube.dims)} to {list(result.dims)}",
            parameter="process",
        )
    return result.transpose(*cube.dims).rename(cube.name)


def apply_dimension(
    data: xr.DataArray,
    process: Callback,
    dimension: str,
    target_dimension: str | None = None,
    context: Any = None,
) -> xr.DataArray:
    """Apply the ``process`` callback to the array of every pixel along ``dimension``.

    With ``target_dimension`` the result goes into that (new) dimension with labels 0..n-1;
    otherwise it replaces ``dimension``, keeping its labels if the length is unchanged.
    """
    cube = require_cube(data)
    require_dimension(cube, dimension)
    target = dimension if target_dimension is None else target_dimension
    if target != dimension and target in cube.dims:
        raise DimensionExists(
            f"dimension {target!r} exists already; drop or rename it first",
            parameter="target_dimension",
        )
    array = cube.rename({dimension: ARRAY_DIM})
    result = process(data=array, context=context)
    if not isinstance(result, xr.DataArray) or ARRAY_DIM not in result.dims:
        raise ProcessParameterInvalid(
            "the callback must return an array per pixel (use reduce_dimension for single values)",
            parameter="process",
        )
    size = result.sizes[ARRAY_DIM]
    result = _drop_array_coords(result).rename({ARRAY_DIM: target})
    if target == dimension and size == cube.sizes[dimension]:
        labels: Any = cube[dimension].values
    else:
        labels = np.arange(size)
    result = result.assign_coords({target: labels})
    order = [target if d == dimension else d for d in cube.dims]
    return result.transpose(*order).rename(cube.name)


def filter_temporal(
    data: xr.DataArray, extent: Sequence[str | None], dimension: str | None = None
) -> xr.DataArray:
    """Keep the labels of the temporal dimension within ``[start, end)``.

    The end is excluded (https://processes.openeo.org/#filter_temporal).
    """
    cube = require_cube(data)
    interval = parse_temporal_extent(extent, "extent")
    dim = require_dimension(cube, T if dimension is None else dimension)
    times = cube[dim].values
    if not np.issubdtype(times.dtype, np.datetime64):
        raise ProcessParameterInvalid(
            f"dimension {dim!r} has no date-time labels", parameter="dimension"
        )
    return cube.isel({dim: np.flatnonzero(interval.mask(times))})


def spatial_window(cube: xr.DataArray, geometry: Geometry) -> dict[str, Any]:
    """Index the pixels of ``cube`` whose area intersects the bounding box of ``geometry``."""
    geobox = cube.odc.geobox
    if geobox is None:
        raise ProcessParameterInvalid(
            "the data cube has no coordinate reference system", parameter="data"
        )
    left, bottom, right, top = geometry.to_crs(geobox.crs).boundingbox
    x = cube[X].values
    y = cube[Y].values
    half_x = abs(geobox.resolution.x) / 2
    half_y = abs(geobox.resolution.y) / 2
    keep_x = np.flatnonzero((x + half_x > left) & (x - half_x < right))
    keep_y = np.flatnonzero((y + half_y > bottom) & (y - half_y < top))
    return {X: keep_x, Y: keep_y}


def filter_bbox(data: xr.DataArray, extent: Mapping[str, Any]) -> xr.DataArray:
    """Keep the pixels that intersect the bounding box (reprojected to the cube's CRS)."""
    cube = require_cube(data)
    geometry = parse_spatial_extent(extent, "extent")
    return cube if geometry is None else cube.isel(spatial_window(cube, geometry))


def filter_bands(
    data: xr.DataArray,
    bands: Sequence[str] = (),
    wavelengths: Sequence[Sequence[float]] = (),
) -> xr.DataArray:
    """Keep the named bands, in the given order."""
    cube = require_cube(data)
    require_dimension(cube, BANDS, "data")
    if wavelengths:
        raise ProcessParameterInvalid(
            "SAR bands have no wavelengths; select bands by name", parameter="wavelengths"
        )
    if not bands:
        raise ProcessParameterInvalid(
            "give at least one band name (BandFilterParameterMissing)", parameter="bands"
        )
    available = [str(b) for b in cube[BANDS].values]
    missing = [b for b in bands if b not in available]
    if missing:
        raise ProcessParameterInvalid(
            f"bands {missing} are not in the data cube; available: {available}",
            parameter="bands",
        )
    return cube.sel({BANDS: list(bands)})


def rename_labels(
    data: xr.DataArray,
    dimension: str,
    target: Sequence[Any],
    source: Sequence[Any] = (),
) -> xr.DataArray:
    """Rename the labels ``source`` (default: all, in order) of ``dimension`` to ``target``."""
    cube = require_cube(data)
    require_dimension(cube, dimension)
    labels = cube[dimension].values.tolist()
    source = list(source) or labels
    if len(source) != len(target):
        raise LabelMismatch(
            f"{len(target)} target labels for {len(source)} source labels", parameter="target"
        )
    unknown = [s for s in source if s not in labels]
    if unknown:
        raise LabelMismatch(
            f"labels {unknown} are not labels of {dimension!r}: {labels} (LabelNotAvailable)",
            parameter="source",
        )
    mapping = dict(zip(source, target, strict=True))
    renamed = [mapping.get(label, label) for label in labels]
    if len(set(renamed)) != len(renamed):
        raise LabelMismatch(
            f"renaming gives duplicate labels {renamed} (LabelExists)", parameter="target"
        )
    return cube.assign_coords({dimension: renamed})


def rename_dimension(data: xr.DataArray, source: str, target: str) -> xr.DataArray:
    """Rename dimension ``source`` to ``target``."""
    cube = require_cube(data)
    require_dimension(cube, source, "source")
    if target in cube.dims:
        raise DimensionExists(f"dimension {target!r} exists already", parameter="target")
    return cube.rename({source: target})


def add_dimension(
    data: xr.DataArray,
    name: str,
    label: Any,
    type: str = "other",  # noqa: A002
) -> xr.DataArray:
    """Add a dimension of size one with the given label."""
    cube = require_cube(data)
    if name in cube.dims:
        raise DimensionExists(f"dimension {name!r} exists already", parameter="name")
    if type in ("spatial", "geometry"):
        raise ProcessParameterInvalid(f"cannot add a dimension of type {type!r}", parameter="type")
    value = parse_time(label, "label") if type == "temporal" else label
    return _ordered(cube.expand_dims({name: [value]}))


def drop_dimension(data: xr.DataArray, name: str) -> xr.DataArray:
    """Drop a dimension that has a single label."""
    cube = require_cube(data)
    require_dimension(cube, name, "name")
    if cube.sizes[name] != 1:
        raise ProcessParameterInvalid(
            f"dimension {name!r} has {cube.sizes[name]} labels; reduce it first "
            "(DimensionLabelCountMismatch)",
            parameter="name",
        )
    return cube.isel({name: 0}, drop=True)


def dimension_labels(data: xr.DataArray, dimension: str) -> list[Any]:
    """Labels of a dimension (dates as ISO strings)."""
    cube = require_cube(data)
    require_dimension(cube, dimension)
    values = cube[dimension].values
    if np.issubdtype(values.dtype, np.datetime64):
        return [str(np.datetime_as_string(v, unit="s")) + "Z" for v in values]
    return list(values.tolist())


def merge_cubes(
    cube1: xr.DataArray,
    cube2: xr.DataArray,
    overlap_resolver: Callback | None = None,
    context: Any = None,
) -> xr.DataArray:
    """Merge two cubes on the same grid: labels of ``cube2`` are appended to ``cube1``'s.

    Overlapping labels need ``overlap_resolver`` (parameters ``x`` from cube1, ``y`` from
    cube2, ``context``).  A cube whose dimensions are a subset of the other's overlaps it
    entirely and is broadcast.
    """
    a = require_cube(cube1, "cube1")
    b = require_cube(cube2, "cube2")
    for dim in (X, Y):
        if dim in a.dims and dim in b.dims and not np.array_equal(a[dim].values, b[dim].values):
            raise ProcessParameterInvalid(
                "the cubes are on different grids; resample one onto the other first",
                parameter="cube2",
            )
    if set(a.dims) != set(b.dims):
        if not (set(a.dims) < set(b.dims) or set(b.dims) < set(a.dims)):
            raise ProcessParameterInvalid(
                f"incompatible dimensions {list(a.dims)} and {list(b.dims)}", parameter="cube2"
            )
        return _resolve(a, b, overlap_resolver, context)
    differing = [
        d for d in a.dims if d not in (X, Y) and not np.array_equal(a[d].values, b[d].values)
    ]
    if not differing:
        return _resolve(a, b, overlap_resolver, context)
    if len(differing) > 1:
        raise ProcessParameterInvalid(
            f"the cubes differ along several dimensions {differing}; they can be merged "
            "along one only",
            parameter="cube2",
        )
    dim = str(differing[0])
    labels_a = a[dim].values.tolist()
    labels_b = b[dim].values.tolist()
    common = [label for label in labels_a if label in labels_b]
    parts = [a.drop_sel({dim: common}), b.drop_sel({dim: common})]
    if common:
        parts.append(
            _resolve(a.sel({dim: common}), b.sel({dim: common}), overlap_resolver, context)
        )
    merged = xr.concat(parts, dim=dim, join="exact")
    order = labels_a + [label for label in labels_b if label not in labels_a]
    if dim == T:
        order = sorted(order)
    return _ordered(merged.sel({dim: order}))


def _resolve(
    a: xr.DataArray, b: xr.DataArray, resolver: Callback | None, context: Any
) -> xr.DataArray:
    if resolver is None:
        raise OverlapResolverMissing(
            "the cubes overlap; give an overlap_resolver (e.g. max) or make their labels "
            "disjoint with rename_labels",
            parameter="overlap_resolver",
        )
    result = resolver(x=a, y=b, context=context)
    if not isinstance(result, xr.DataArray):
        raise ProcessParameterInvalid(
            "the overlap resolver must return a value per pixel", parameter="overlap_resolver"
        )
    return _ordered(result)
