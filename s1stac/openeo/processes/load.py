"""``load_collection`` and ``load_stac``: STAC items -> lazy data cube (t, bands, y, x).

Items are selected by time range (``[start, end)``), footprint and ``properties`` filters;
bands are asset keys.  A GeoJSON spatial extent also sets the pixels outside its polygons
(not touched by them) to NaN.  When every selected asset lies on one pixel grid (same CRS,
pixel size and pixel-aligned origins, as the ARD of s1stac), the cube's grid is the union of
the items' grids cropped to the pixels that intersect the spatial extent, so odc-stac copies
pixels without resampling; otherwise odc-stac reprojects onto the grid of the first item
(nearest neighbour) and a warning is logged.  Values are float (float32 unless an asset is
float64) with NaN where an asset's ``nodata`` value was; scale and offset are not applied
(openEO).  Cubes on geographic grids (EPSG:4326, which odc-stac loads with dimensions
``latitude`` / ``longitude``) get the dimensions ``y`` / ``x`` like every other cube.

References
----------
openEO load_collection, https://processes.openeo.org/#load_collection
openEO load_stac (experimental), https://processes.openeo.org/experimental.html#load_stac
odc-stac, https://odc-stac.readthedocs.io
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import pathlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import odc.geo.xr  # noqa: F401 - registers the .odc accessor
import odc.stac
import pystac
import shapely.geometry
import xarray as xr
from affine import Affine
from odc.geo import CRS
from odc.geo.geobox import GeoBox
from odc.geo.geom import Geometry
from odc.geo.xr import rasterize
from pystac.utils import str_to_datetime

from s1stac.catalog import COLLECTIONS, StaticCatalog
from s1stac.products import stack_chunk

from ..context import BANDS, DIMS, Callback, ProcessContext, SourceItem, T, X, Y
from ..errors import CollectionNotFound, NoDataAvailable, ProcessParameterInvalid
from ..extents import parse_spatial_extent, parse_temporal_extent
from .backscatter import GRD_COLLECTIONS, GrdSelection, grd_selection

__all__ = ["check_load_collection", "check_load_stac", "load_collection", "load_stac"]

LOGGER = logging.getLogger(__name__)

_GEOGRAPHIC_DIMS = {"latitude": Y, "longitude": X}
"""odc-stac's dimension names on geographic grids -> the cube's spatial dimensions."""

_GRID_TOLERANCE = 1e-6
"""Largest origin misalignment (pixels) still treated as the same grid."""


def _collection_file(catalog: StaticCatalog, collection_id: str) -> pathlib.Path:
    if collection_id in COLLECTIONS:
        path = catalog.collection_path(collection_id)
        if path.is_file():
            return path
    raise CollectionNotFound(
        f"collection {collection_id!r} does not exist in catalog {str(catalog.root)!r}; "
        f"collections: {list(COLLECTIONS)}",
        parameter="id",
    )


def check_load_collection(arguments: Mapping[str, Any], catalog: StaticCatalog) -> None:
    """Check before execution that the collection exists and the extents are not empty."""
    if isinstance(arguments.get("id"), str):
        collection = arguments["id"]
        _collection_file(
            catalog, GRD_COLLECTIONS[0] if collection in GRD_COLLECTIONS else collection
        )
    check_load_stac(arguments, catalog)


def check_load_stac(arguments: Mapping[str, Any], catalog: StaticCatalog) -> None:
    """Check before execution that the extents are not empty."""
    if "temporal_extent" in arguments:
        parse_temporal_extent(arguments["temporal_extent"], "temporal_extent")
    if "spatial_extent" in arguments:
        parse_spatial_extent(arguments["spatial_extent"], "spatial_extent")


def load_collection(
    id: str,  # noqa: A002 - openEO parameter name
    spatial_extent: Mapping[str, Any] | None,
    temporal_extent: Sequence[str | None] | None,
    bands: Sequence[str] | None = None,
    properties: Mapping[str, Callback] | None = None,
    *,
    context: ProcessContext,
) -> xr.DataArray | GrdSelection:
    """Load a collection of the static catalog as a lazy cube (t, bands, y, x).

    GRD collections (radar geometry) give a :class:`GrdSelection` for ``sar_backscatter``.
    """
    if id in GRD_COLLECTIONS:
        grd = GRD_COLLECTIONS[0]
        _collection_file(context.catalog, grd)
        items, geometry = _select(
            list(context.catalog.items(grd)),
            f"collection {id!r}",
            spatial_extent,
            temporal_extent,
            properties,
        )
        context.add_sources(_source(item) for item in items)
        return grd_selection(items, bands, geometry)
    _collection_file(context.catalog, id)
    items = list(context.catalog.items(id))
    return _load(
        items, f"collection {id!r}", spatial_extent, temporal_extent, bands, properties, context
    )


def load_stac(
    url: str,
    spatial_extent: Mapping[str, Any] | None = None,
    temporal_extent: Sequence[str | None] | None = None,
    bands: Sequence[str] | None = None,
    properties: Mapping[str, Callback] | None = None,
    *,
    context: ProcessContext,
) -> xr.DataArray:
    """Load the items of a STAC Item, Collection or Catalog (path or URL) as a lazy cube."""
    try:
        stac = pystac.read_file(url)
    except Exception as error:  # pystac raises OSError, JSON and STAC type errors
        raise ProcessParameterInvalid(
            f"cannot read a STAC document at {url!r}: {error}", parameter="url"
        ) from error
    if isinstance(stac, pystac.Item):
        items = [stac]
    elif isinstance(stac, pystac.Catalog):
        items = list(stac.get_items(recursive=True))
    else:
        raise ProcessParameterInvalid(
            f"{url!r} is a {type(stac).__name__}; give a STAC Item, Collection or Catalog",
            parameter="url",
        )
    return _load(items, repr(url), spatial_extent, temporal_extent, bands, properties, context)


def _time_range(item: pystac.Item) -> tuple[dt.datetime, dt.datetime]:
    props = item.properties
    start: str | None = props.get("start_datetime") or props.get("datetime")
    end: str | None = props.get("end_datetime") or start
    if start is None or end is None:
        raise ProcessParameterInvalid(f"item {item.id!r} has no datetime", parameter="id")
    return str_to_datetime(start), str_to_datetime(end)


def _source(item: pystac.Item) -> SourceItem:
    start, end = _time_range(item)
    href = item.get_self_href() or item.id
    return SourceItem(href, item.id, item.collection_id, start, end, dict(item.properties))


def _band_keys(item: pystac.Item) -> list[str]:
    return [key for key, asset in item.assets.items() if "data" in (asset.roles or [])]


def _select_bands(items: list[pystac.Item], bands: Sequence[str] | None, source: str) -> list[str]:
    common = [key for key in _band_keys(items[0]) if all(key in _band_keys(i) for i in items)]
    if bands is None:
        if not common:
            raise NoDataAvailable(f"the items of {source} share no data asset", parameter="bands")
        return common
    for band in bands:
        lacking = [i.id for i in items if band not in _band_keys(i)]
        if lacking:
            raise ProcessParameterInvalid(
                f"band {band!r} is not a data asset of item(s) {lacking[:5]} of {source}; "
                f"bands of all selected items: {common}",
                parameter="bands",
            )
    return list(bands)


def _grid(item: pystac.Item, band: str) -> tuple[str, tuple[int, int], Affine] | None:
    fields = {**item.properties, **item.assets[band].extra_fields}
    code = fields.get("proj:code") or (
        f"EPSG:{fields['proj:epsg']}" if fields.get("proj:epsg") else None
    )
    if code is None or "proj:transform" not in fields or "proj:shape" not in fields:
        return None
    shape = tuple(int(v) for v in fields["proj:shape"])
    return str(code), (shape[0], shape[1]), Affine(*fields["proj:transform"][:6])


def _common_grid(items: list[pystac.Item], bands: list[str]) -> GeoBox | None:
    """Union of the asset grids if they are one pixel grid, else ``None``."""
    grids = [_grid(item, band) for item in items for band in bands]
    if any(g is None for g in grids):
        return None
    crs, _, ref = grids[0]  # type: ignore[misc]
    columns: list[int] = []
    rows: list[int] = []
    for code, (height, width), transform in grids:  # type: ignore[misc]
        if CRS(code) != CRS(crs) or not np.allclose(
            [transform.a, transform.b, transform.d, transform.e], [ref.a, 0.0, 0.0, ref.e]
        ):
            return None
        col = (transform.c - ref.c) / ref.a
        row = (transform.f - ref.f) / ref.e
        if abs(col - round(col)) > _GRID_TOLERANCE or abs(row - round(row)) > _GRID_TOLERANCE:
            return None
        columns += [round(col), round(col) + width]
        rows += [round(row), round(row) + height]
    origin = ref * (min(columns), min(rows))
    affine = Affine(ref.a, 0.0, origin[0], 0.0, ref.e, origin[1])
    shape = (int(max(rows) - min(rows)), int(max(columns) - min(columns)))
    return GeoBox(shape, affine, CRS(crs))


def _crop(geobox: GeoBox, geometry: Geometry) -> GeoBox | None:
    """Crop ``geobox`` to the pixels that intersect the bounding box of ``geometry``."""
    left, bottom, right, top = geometry.to_crs(geobox.crs or 4326).boundingbox
    a, e, c, f = geobox.affine.a, geobox.affine.e, geobox.affine.c, geobox.affine.f
    cols = sorted(((left - c) / a, (right - c) / a))
    rows = sorted(((top - f) / e, (bottom - f) / e))
    col0, col1 = max(math.floor(cols[0]), 0), min(math.ceil(cols[1]), geobox.width)
    row0, row1 = max(math.floor(rows[0]), 0), min(math.ceil(rows[1]), geobox.height)
    if col0 >= col1 or row0 >= row1:
        return None
    return geobox[row0:row1, col0:col1]


def _footprint(item: pystac.Item) -> Geometry | None:
    if item.geometry is not None:
        return Geometry(shapely.geometry.shape(item.geometry), CRS(4326))
    if item.bbox is not None:
        return Geometry(shapely.box(*item.bbox[:2], *item.bbox[-2:]), CRS(4326))
    return None


def _load(
    items: list[pystac.Item],
    source: str,
    spatial_extent: Mapping[str, Any] | None,
    temporal_extent: Sequence[str | None] | None,
    bands: Sequence[str] | None,
    properties: Mapping[str, Callback] | None,
    context: ProcessContext,
) -> xr.DataArray:
    items, geometry = _select(items, source, spatial_extent, temporal_extent, properties)
    band_keys = _select_bands(items, bands, source)
    cube = _odc_load(items, band_keys, geometry, source)
    if geometry is not None and "west" not in (spatial_extent or {}):
        # openEO: pixels outside the polygons of a GeoJSON extent are no-data
        inside = rasterize(geometry, cube.odc.geobox, all_touched=True)
        cube = cube.where(inside.data)
    context.add_sources(_source(item) for item in items)
    return cube


def _select(
    items: list[pystac.Item],
    source: str,
    spatial_extent: Mapping[str, Any] | None,
    temporal_extent: Sequence[str | None] | None,
    properties: Mapping[str, Callback] | None,
) -> tuple[list[pystac.Item], Geometry | None]:
    """Items in the temporal and spatial extents passing the property filters."""
    interval = parse_temporal_extent(temporal_extent, "temporal_extent")
    geometry = parse_spatial_extent(spatial_extent, "spatial_extent")
    if not items:
        raise NoDataAvailable(f"{source} has no items", parameter="id")
    items = [item for item in items if interval.overlaps(*_time_range(item))]
    if not items:
        raise NoDataAvailable(
            f"no item of {source} lies in the temporal extent {temporal_extent}",
            parameter="temporal_extent",
        )
    if geometry is not None:
        area = geometry.to_crs(4326)
        items = [i for i in items if (f := _footprint(i)) is None or f.intersects(area)]
        if not items:
            raise NoDataAvailable(
                f"no item of {source} intersects the spatial extent {spatial_extent}",
                parameter="spatial_extent",
            )
    for name, accept in (properties or {}).items():
        items = [i for i in items if accept(value=i.properties.get(name)) is True]
        if not items:
            raise NoDataAvailable(
                f"no item of {source} passes the filter on property {name!r}",
                parameter="properties",
            )
    return items, geometry


def _odc_load(
    items: list[pystac.Item], bands: list[str], geometry: Geometry | None, source: str
) -> xr.DataArray:
    grid = _common_grid(items, bands)
    # blocks hold every date of their pixels (products.stack_chunk): temporal reductions of a
    # stack larger than memory then run block by block
    side = stack_chunk(len(items))
    options: dict[str, Any] = {
        "chunks": {"time": -1, "x": side, "y": side},
        "resampling": "nearest",
    }
    if grid is not None:
        cropped = grid if geometry is None else _crop(grid, geometry)
        if cropped is None:
            raise NoDataAvailable(
                f"the spatial extent covers no pixel of {source}", parameter="spatial_extent"
            )
        options["geobox"] = cropped
    else:
        first = _grid(items[0], bands[0])
        LOGGER.warning("%s: the assets are not on one pixel grid: resampling (nearest)", source)
        if first is not None:
            options |= {"crs": first[0], "resolution": abs(first[2].a)}
        if geometry is not None:
            options["geopolygon"] = geometry
    dataset = odc.stac.load(items, bands=bands, **options)
    layers = []
    for band in bands:
        layer = dataset[band]
        nodata = layer.attrs.get("nodata")
        if nodata is not None and not (isinstance(nodata, float) and math.isnan(nodata)):
            layer = layer.where(layer != nodata)
        if layer.dtype != np.float64:
            layer = layer.astype(np.float32)
        layers.append(layer.drop_attrs(deep=False))
    cube = xr.concat(layers, dim=xr.Variable(BANDS, bands)).rename({"time": T})
    # odc-stac names the axes of geographic grids latitude / longitude: the cube's are y / x
    cube = cube.rename({k: v for k, v in _GEOGRAPHIC_DIMS.items() if k in cube.dims})
    cube.name = "data"
    return cube.transpose(*DIMS)
