"""``save_result``: compute a cube, write COGs or NetCDF, register a STAC item with lineage.

Formats: ``GTiff`` writes one Cloud-Optimized GeoTIFF per band (per band and date for cubes
with ``t``); ``netCDF`` writes one file with one variable per band.  The item goes into the
collection named by ``options.collection``; by default ``s1-timeseries`` for cubes with a
``t`` dimension, ``s1-timescan`` for cubes without.  Its id is ``options.item_id`` or
``<collection>_<first date>_<last date>_<hash>``, the hash being that of the process graph,
its parameter values and the node, so re-running a graph replaces its item.  The item has
``derived_from`` links to every item loaded upstream of the node, the process graph as
``processing:expression`` and the grid as ``proj:`` and ``cube:dimensions`` fields.

References
----------
openEO save_result, https://processes.openeo.org/#save_result
STAC best practices (derived_from), https://github.com/radiantearth/stac-spec/blob/v1.1.0/best-practices.md
"""

from __future__ import annotations

import datetime as dt
import logging
import pathlib
import re
import shutil
from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any, Final

import numpy as np
import odc.geo.xr  # noqa: F401 - registers the .odc accessor
import pystac
import shapely.geometry
import xarray as xr
from pystac.utils import datetime_to_str

from s1stac import __version__, dateline
from s1stac.io import write_cogs, write_netcdf
from s1stac.products import INHERITED, LEVELS, grid_footprint, grid_properties, inherited
from s1stac.stac_items import COLLECTION_EXTENSIONS, extension_urls

from ..context import BANDS, DIMS, ProcessContext, SourceItem, T, X, Y, require_cube
from ..errors import DataCubeEmpty, FormatUnsuitable, ProcessParameterInvalid

__all__ = ["FORMATS", "OUTPUT_COLLECTIONS", "check_save_result", "save_result"]

LOGGER = logging.getLogger(__name__)

FORMATS: Final = {"gtiff": "GTiff", "netcdf": "netCDF"}
"""Output formats by lower-case name (openEO format names are case-insensitive)."""
OUTPUT_COLLECTIONS: Final = ("s1-ard", "s1-timeseries", "s1-timescan", "s1-mosaic")
"""Collections ``save_result`` may write to."""
_OPTIONS: Final = ("collection", "item_id")
_NO_OPTIONS: Final[Mapping[str, Any]] = MappingProxyType({})
_KEY = re.compile(r"[^A-Za-z0-9._-]+")
_COG = "image/tiff; application=geotiff; profile=cloud-optimized"
_NETCDF = "application/netcdf"


def _format(format: str) -> str:  # noqa: A002 - openEO parameter name
    try:
        return FORMATS[format.lower()]
    except KeyError:
        raise ProcessParameterInvalid(
            f"format {format!r} is not supported; choose one of {list(FORMATS.values())}",
            parameter="format",
        ) from None


def _options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    options = dict(options or {})
    unknown = sorted(set(options) - set(_OPTIONS))
    if unknown:
        raise ProcessParameterInvalid(
            f"unknown option(s) {unknown}; save_result options are {list(_OPTIONS)}",
            parameter="options",
        )
    collection = options.get("collection")
    if collection is not None and collection not in OUTPUT_COLLECTIONS:
        raise ProcessParameterInvalid(
            f"collection {collection!r} is not an output collection; choose one of "
            f"{list(OUTPUT_COLLECTIONS)}",
            parameter="options",
        )
    item_id = options.get("item_id")
    if item_id is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", str(item_id)):
        raise ProcessParameterInvalid(
            f"item_id {item_id!r} may contain only letters, digits, '.', '_' and '-'",
            parameter="options",
        )
    return options


def check_save_result(arguments: Mapping[str, Any], catalog: object) -> None:
    """Check before execution that the format and options are known."""
    if isinstance(arguments.get("format"), str):
        _format(arguments["format"])
    if "options" in arguments:
        _options(arguments["options"])


def _check_cube(cube: xr.DataArray, fmt: str) -> None:
    if Y not in cube.dims or X not in cube.dims or cube.odc.geobox is None:
        raise FormatUnsuitable(
            f"{fmt} needs a raster cube with dimensions y and x and a CRS; got "
            f"{[str(d) for d in cube.dims]}",
            parameter="data",
        )
    extra = [str(d) for d in cube.dims if d not in DIMS]
    if extra:
        raise FormatUnsuitable(
            f"dimension(s) {extra} cannot be written as {fmt}; reduce them, or turn them into "
            "bands with rename_dimension / apply_dimension",
            parameter="data",
        )
    empty = [str(d) for d in cube.dims if cube.sizes[d] == 0]
    if empty:
        raise DataCubeEmpty(f"the cube has no label along {empty}", parameter="data")


def _time_range(cube: xr.DataArray, sources: frozenset[SourceItem]) -> tuple[dt.datetime, ...]:
    moments = [s.start for s in sources] + [s.end for s in sources]
    if T in cube.dims:
        for value in cube[T].values[[0, -1]]:
            moment = value.astype("datetime64[us]").astype(dt.datetime)
            moments.append(moment.replace(tzinfo=dt.UTC))
    if not moments:
        now = dt.datetime.now(dt.UTC)
        return now, now
    return min(moments), max(moments)


def _layers(
    cube: xr.DataArray, folder: pathlib.Path, item_id: str
) -> dict[str, tuple[pathlib.Path, xr.DataArray, str]]:
    """Asset key -> (path, 2-D layer, title) for GTiff output."""
    cube = cube if BANDS in cube.dims else cube.expand_dims({BANDS: [cube.name or "data"]})
    times = cube[T].values if T in cube.dims else [None]
    layers = {}
    for band in cube[BANDS].values:
        for time in times:
            layer = cube.sel({BANDS: band})
            key = _KEY.sub("_", str(band))
            title = str(band)
            if time is not None:
                layer = layer.sel({T: time})
                stamp = np.datetime_as_string(time, unit="s").replace("-", "").replace(":", "")
                key, title = f"{key}_{stamp}", f"{band} {np.datetime_as_string(time, unit='s')}"
            layer = layer.drop_vars([c for c in (T, BANDS) if c in layer.coords]).rename(key)
            layers[key] = (folder / f"{item_id}_{key}.tif", layer, title)
    return layers


def _inherited(sources: frozenset[SourceItem], collection: str) -> dict[str, Any]:
    allowed = set(COLLECTION_EXTENSIONS[collection])
    names = (*INHERITED, "sar:polarizations")
    return inherited(sources, [k for k in names if ":" not in k or k.split(":")[0] in allowed])


def _grid_fields(cube: xr.DataArray) -> tuple[dict[str, Any], dict[str, Any]]:
    """(proj:* fields, cube:dimensions) of the cube's grid."""
    properties = grid_properties(
        cube.odc.geobox,
        bands=[str(b) for b in cube[BANDS].values] if BANDS in cube.dims else None,
        times=list(cube[T].values) if T in cube.dims else None,
    )
    dims = properties.pop("cube:dimensions")
    return properties, dims


def _band_fields(cube: xr.DataArray) -> dict[str, Any]:
    """Asset fields of the values: data type, nodata, unit, scale and offset (CF attributes)."""
    fields: dict[str, Any] = {"data_type": np.dtype(cube.dtype).name}
    if np.issubdtype(cube.dtype, np.floating):
        fields["nodata"] = "nan"
    elif "_FillValue" in cube.attrs:
        fields["nodata"] = int(cube.attrs["_FillValue"])
    if "units" in cube.attrs:
        fields["unit"] = str(cube.attrs["units"])
    if "scale_factor" in cube.attrs:
        fields["raster:scale"] = float(cube.attrs["scale_factor"])
        fields["raster:offset"] = float(cube.attrs.get("add_offset", 0.0))
    return fields


def save_result(
    data: xr.DataArray,
    format: str,  # noqa: A002 - openEO parameter name
    options: Mapping[str, Any] = _NO_OPTIONS,
    *,
    context: ProcessContext,
) -> dict[str, Any]:
    """Write the cube and register it as a STAC item; returns the item (JSON)."""
    cube = require_cube(data)
    fmt = _format(format)
    opts = _options(options)
    _check_cube(cube, fmt)
    collection = opts.get("collection") or ("s1-timeseries" if T in cube.dims else "s1-timescan")
    if collection == "s1-ard" and T in cube.dims:
        return _save_ard(cube, fmt, opts, context)
    start, end = _time_range(cube, context.sources)
    item_id = opts.get("item_id") or (
        f"{collection}_{start:%Y%m%d}_{end:%Y%m%d}_{context.digest[:10]}"
    )
    catalog = context.catalog
    folder = catalog.item_path(collection, item_id).parent
    existed = folder.exists()
    try:
        assets = _write(cube, fmt, folder, item_id, context.scheduler)
        item = _item(cube, item_id, collection, (start, end), assets, context)
        written = catalog.add_items(collection, [item])
    except BaseException:
        if not existed:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    document: dict[str, Any] = pystac.Item.from_file(str(written[0])).to_dict()
    return document


def _write(
    cube: xr.DataArray, fmt: str, folder: pathlib.Path, item_id: str, scheduler: str | None
) -> dict[str, pystac.Asset]:
    """Compute and write the files of an item; its assets (absolute hrefs)."""
    resolution = abs(float(cube.odc.geobox.resolution.x))
    common = _band_fields(cube) | {"raster:spatial_resolution": resolution}
    assets: dict[str, pystac.Asset] = {}
    if fmt == "GTiff":
        layers = _layers(cube, folder, item_id)
        write_cogs({path: layer for path, layer, _ in layers.values()}, scheduler=scheduler)
        for key, (path, _, title) in layers.items():
            extra = common | {"file:size": path.stat().st_size}
            assets[key] = pystac.Asset(str(path), title, None, _COG, ["data"], extra)
    else:
        path = write_netcdf(cube, folder / f"{item_id}.nc", scheduler=scheduler)
        extra = common | {"file:size": path.stat().st_size}
        assets["data"] = pystac.Asset(str(path), "data cube", None, _NETCDF, ["data"], extra)
    return assets


def _item(
    cube: xr.DataArray,
    item_id: str,
    collection: str,
    time_range: tuple[dt.datetime, dt.datetime],
    assets: Mapping[str, pystac.Asset],
    context: ProcessContext,
) -> pystac.Item:
    footprint = grid_footprint(cube.odc.geobox)
    start, end = time_range
    proj, dims = _grid_fields(cube)
    properties = _inherited(context.sources, collection) | proj
    if "cube" in COLLECTION_EXTENSIONS[collection]:
        properties["cube:dimensions"] = dims
    properties |= {
        "processing:level": LEVELS[collection],
        "processing:lineage": f"openEO process graph, node {context.node_id!r}",
        "processing:expression": {"format": "openeo", "expression": dict(context.expression)},
        "processing:software": {"s1stac": __version__},
        "processing:datetime": datetime_to_str(dt.datetime.now(dt.UTC).replace(microsecond=0)),
    }
    instant = start == end
    item = pystac.Item(
        id=item_id,
        geometry=shapely.geometry.mapping(footprint),
        bbox=dateline.bbox(footprint),
        datetime=start if instant else None,
        start_datetime=None if instant else start,
        end_datetime=None if instant else end,
        properties=properties,
    )
    for key, asset in assets.items():
        item.add_asset(key, asset)
    for source in sorted(context.sources, key=lambda s: s.href):
        item.add_link(
            pystac.Link("derived_from", source.href, pystac.MediaType.GEOJSON, source.item_id)
        )
    item.stac_extensions = extension_urls(item.to_dict(include_self_link=False), collection)
    return item


_ACQUISITION_SPAN: Final = dt.timedelta(minutes=30)
"""Slices of one acquisition start within this time of its first slice (orbits take 99 min)."""
_POLARISATIONS: Final = ("VV", "VH", "HH", "HV")


def _save_ard(
    cube: xr.DataArray, fmt: str, opts: Mapping[str, Any], context: ProcessContext
) -> dict[str, Any]:
    """``s1-ard``: one item per time label (acquisition), one asset per band.

    The item of a date derives from the source items starting within 30 minutes after its
    time label (the slices of that acquisition, as labelled by ``sar_backscatter``).
    Returns a GeoJSON FeatureCollection of the items.
    """
    if fmt != "GTiff":
        raise FormatUnsuitable("collection s1-ard is written as GTiff only", parameter="format")
    features = []
    for label in cube[T].values:
        start = np.datetime64(label, "us").astype(dt.datetime).replace(tzinfo=dt.UTC)
        sources = frozenset(
            s for s in context.sources if start <= s.start < start + _ACQUISITION_SPAN
        )
        if not sources:
            raise DataCubeEmpty(
                f"no source item starts at time label {start:%Y-%m-%dT%H:%M:%S}: s1-ard needs "
                "the cube of sar_backscatter",
                parameter="data",
            )
        first = min(sources, key=lambda s: s.start)
        mission = str(first.properties.get("platform", "sentinel-1x"))[-1:].upper()
        orbit = first.properties.get("sat:relative_orbit", 0)
        item_id = f"S1{mission}_{int(orbit):03d}_{start:%Y%m%dT%H%M%S}_{context.digest[:10]}"
        if opts.get("item_id"):
            item_id = f"{opts['item_id']}_{start:%Y%m%dT%H%M%S}"
        layer = cube.sel({T: label}).drop_vars(T)
        folder = context.catalog.item_path("s1-ard", item_id).parent
        existed = folder.exists()
        try:
            assets = _write(layer, fmt, folder, item_id, context.scheduler)
            item = _ard_item(layer, item_id, sources, cube.attrs, assets, context)
            written = context.catalog.add_items("s1-ard", [item])
        except BaseException:
            if not existed:
                shutil.rmtree(folder, ignore_errors=True)
            raise
        features.append(pystac.Item.from_file(str(written[0])).to_dict())
    return {"type": "FeatureCollection", "features": features}


def _ard_item(
    layer: xr.DataArray,
    item_id: str,
    sources: frozenset[SourceItem],
    attrs: Mapping[str, Any],
    assets: Mapping[str, pystac.Asset],
    context: ProcessContext,
) -> pystac.Item:
    start = min(s.start for s in sources)
    end = max(s.end for s in sources)
    item = _item(layer, item_id, "s1-ard", (start, end), assets, replace(context, sources=sources))
    item.properties.pop("sar:product_type", None)
    if attrs.get("sar:product_type"):
        item.properties["sar:product_type"] = str(attrs["sar:product_type"])
    orbits = {s.properties.get("sat:absolute_orbit") for s in sources}
    if len(orbits) == 1 and None not in orbits:
        item.properties["sat:absolute_orbit"] = orbits.pop()
    pols = [str(b) for b in layer[BANDS].values if str(b).upper() in _POLARISATIONS]
    item.properties["sar:polarizations"] = [p.upper() for p in pols]
    for key, asset in item.assets.items():
        if key.upper() in _POLARISATIONS:
            asset.extra_fields["sar:polarizations"] = [key.upper()]
    item.stac_extensions = extension_urls(item.to_dict(include_self_link=False), "s1-ard")
    return item
