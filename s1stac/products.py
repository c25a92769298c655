"""Writing and STAC registration of derived products: time series, timescans and mosaics.

The one place where the chains of :mod:`s1stac.pipeline` compute and write.  A product is one
STAC item: its layers are written as Cloud-Optimized GeoTIFFs (:func:`s1stac.io.write_cogs`,
one ``dask.array.store`` for all layers) into ``<catalog>/<collection>/<item id>/``, pictures
are added by the caller as ``overview`` assets, and the item is registered last
(:meth:`s1stac.catalog.StaticCatalog.add_items`, atomic): a crash while writing leaves no
registered item (and the folder of a new item is removed).  A product is *complete* when its
item is registered and every local asset file exists; :func:`is_complete` is what re-runs
check to skip work.

File names follow OST's output layout (``OST_SPEC.md`` §3.6, §4.5, §5.1, §10b):
``{NN}.{YYMMDD}.bs.{POL}.tif`` per date of a time series, ``{NN}.bs.{POL}.{metric}.tif`` per
timescan / mosaic layer; asset keys are those of the openEO ``save_result`` of s1stac
(``vv_20210309T051946`` for a date, ``vv_avg`` for a metric).

References
----------
STAC datacube extension v2.3.0, https://github.com/stac-extensions/datacube
STAC best practices (derived_from), https://github.com/radiantearth/stac-spec/blob/v1.1.0/best-practices.md
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import math
import pathlib
import shutil
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import odc.geo.xr  # noqa: F401 - registers the .odc accessor
import pystac
import shapely.geometry
import xarray as xr
from odc.geo.geobox import GeoBox
from pystac.utils import datetime_to_str
from shapely.geometry.base import BaseGeometry

from s1stac import __version__, dateline
from s1stac.catalog import StaticCatalog, local_path
from s1stac.errors import CatalogError
from s1stac.io import write_cogs
from s1stac.stac_items import COLLECTION_EXTENSIONS, extension_urls

__all__ = [
    "COG_MEDIA_TYPE",
    "Layer",
    "grid_properties",
    "is_complete",
    "write_product",
]

LOGGER = logging.getLogger(__name__)

COG_MEDIA_TYPE: Final = "image/tiff; application=geotiff; profile=cloud-optimized"
LEVELS: Final = {
    "s1-ard": "L2",
    "s1-timeseries": "L2",
    "s1-timescan": "L3",
    "s1-mosaic": "L3",
}
"""``processing:level`` of each derived product collection."""
INHERITED: Final = (
    "platform",
    "constellation",
    "instruments",
    "sar:instrument_mode",
    "sar:frequency_band",
    "sar:center_frequency",
    "sar:product_type",
    "sar:observation_direction",
    "sat:orbit_state",
    "sat:relative_orbit",
)
"""Properties a product copies from its sources when all of them agree."""


@dataclass(frozen=True)
class Layer:
    """One 2-D layer of a product: a COG asset."""

    key: str
    """Asset key (``vv_20210309T051946``, ``vv_avg``)."""
    filename: str
    """File name inside the item folder."""
    data: xr.DataArray
    """Lazy or in-memory layer, dims ``(y, x)`` with a CRS (``spatial_ref``)."""
    title: str
    fields: Mapping[str, Any] = field(default_factory=dict)
    """Extra asset fields (``sar:polarizations``, ``datetime``...)."""


def grid_properties(
    geobox: GeoBox,
    *,
    bands: Sequence[str] | None = None,
    times: Sequence[np.datetime64] | None = None,
    cube: bool = True,
) -> dict[str, Any]:
    """``proj:`` fields of a grid and, with ``cube``, ``cube:dimensions`` (x, y, bands, t)."""
    epsg = geobox.crs.epsg if geobox.crs is not None else None
    left, bottom, right, top = geobox.boundingbox
    properties: dict[str, Any] = {
        "proj:code": f"EPSG:{epsg}" if epsg else None,
        "proj:shape": [geobox.height, geobox.width],
        "proj:transform": [float(v) for v in list(geobox.affine)[:6]],
        "proj:bbox": [float(left), float(bottom), float(right), float(top)],
    }
    if epsg is None and geobox.crs is not None:
        properties["proj:wkt2"] = geobox.crs.to_wkt()
    if not cube:
        return properties
    reference: int | str = epsg if epsg else str(geobox.crs.to_wkt() if geobox.crs else "")
    dims: dict[str, Any] = {
        "x": {
            "type": "spatial",
            "axis": "x",
            "extent": [float(left), float(right)],
            "step": float(geobox.affine.a),
            "reference_system": reference,
        },
        "y": {
            "type": "spatial",
            "axis": "y",
            "extent": [float(bottom), float(top)],
            "step": float(geobox.affine.e),
            "reference_system": reference,
        },
    }
    if bands is not None:
        dims["bands"] = {"type": "bands", "values": [str(b) for b in bands]}
    if times is not None:
        values = [f"{np.datetime_as_string(np.datetime64(t, 's'), unit='s')}Z" for t in times]  # type: ignore[call-overload]
        dims["t"] = {"type": "temporal", "extent": [values[0], values[-1]], "values": values}
    properties["cube:dimensions"] = dims
    return properties


def inherited(sources: Iterable[Any], names: Iterable[str] = INHERITED) -> dict[str, Any]:
    """Properties ``names`` on which all ``sources`` (items with ``.properties``) agree."""
    sources = list(sources)
    properties = {}
    for name in names:
        values = [source.properties.get(name) for source in sources]
        if values and all(v is not None and v == values[0] for v in values):
            properties[name] = values[0]
    return properties


def is_complete(catalog: StaticCatalog, collection_id: str, item_id: str) -> bool:
    """Whether ``item_id`` is registered in the collection and all its local files exist."""
    if item_id not in catalog.item_ids(collection_id):
        return False
    try:
        item = catalog.get_item(collection_id, item_id)
    except (CatalogError, OSError, ValueError):
        return False
    base = catalog.item_path(collection_id, item_id).parent
    for asset in item.assets.values():
        local = local_path(asset.href, base)
        if local is not None and not local[0].exists():
            return False
    return True


def grid_footprint(geobox: GeoBox) -> BaseGeometry:
    """Lon/lat outline of a grid for its STAC item (split at the antimeridian if it crosses it)."""
    outline = geobox.footprint(4326, npoints=3).geom
    if dateline.crosses(outline):
        outline = geobox.extent.to_crs("EPSG:4326", resolution="auto", wrapdateline=True).geom
    return dateline.split(outline)


def _band_fields(layer: xr.DataArray, resolution: float) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "data_type": np.dtype(layer.dtype).name,
        "raster:spatial_resolution": resolution,
    }
    if np.issubdtype(layer.dtype, np.floating):
        fields["nodata"] = "nan"
    elif "_FillValue" in layer.attrs:
        fields["nodata"] = int(layer.attrs["_FillValue"])
    if layer.attrs.get("units"):
        fields["unit"] = str(layer.attrs["units"])
    if "scale_factor" in layer.attrs:
        fields["raster:scale"] = float(layer.attrs["scale_factor"])
        fields["raster:offset"] = float(layer.attrs.get("add_offset", 0.0))
    return fields


def write_product(
    catalog: StaticCatalog,
    collection_id: str,
    item_id: str,
    *,
    layers: Sequence[Layer],
    time_range: tuple[dt.datetime, dt.datetime],
    properties: Mapping[str, Any],
    sources: Sequence[pystac.Item] = (),
    lineage: str = "",
    scheduler: str | None = None,
    register: bool = True,
) -> pystac.Item:
    """Write the layers of one product and register its STAC item.

    Parameters
    ----------
    catalog
        Catalog receiving the item.
    collection_id
        ``s1-timeseries``, ``s1-timescan`` or ``s1-mosaic``.
    item_id
        Id of the item; its folder ``<collection>/<item id>/`` receives the files.
    layers
        2-D layers on one grid, computed together.
    time_range
        First and last acquisition time (UTC).
    properties
        Further item properties (``sat:``, ``sar:``, ``proj:``/``cube:`` from
        :func:`grid_properties`...).
    sources
        Items the product derives from (``derived_from`` links).
    lineage
        ``processing:lineage`` text.
    scheduler
        Dask scheduler (:func:`s1stac.io.compute_context`).
    register
        Register the item now; ``False`` returns it unregistered (the caller registers
        several items at once).

    Returns
    -------
    pystac.Item
        The item (self href set to its file when registered).

    Raises
    ------
    CatalogError
        If the item is invalid; on any error nothing is registered and the folder of a new
        item is removed (an item being overwritten is unlisted before its files are
        replaced: a re-run then redoes it).
    """
    if collection_id not in LEVELS:
        raise CatalogError(f"collection {collection_id!r} is not a derived product collection")
    if not layers:
        raise CatalogError(f"product {item_id!r} has no layer to write")
    folder = catalog.item_path(collection_id, item_id).parent
    if item_id in catalog.item_ids(collection_id):
        # overwrite: the old version is unlisted before its files are replaced, so that an
        # interrupted run leaves no item listed over a mix of old and new files
        catalog.remove_item(collection_id, item_id)
        LOGGER.info("%s: %s unlisted, being rewritten", collection_id, item_id)
    with writing(catalog, collection_id, [item_id]):
        paths = write_cogs(
            {folder / layer.filename: layer.data for layer in layers}, scheduler=scheduler
        )
        item = _item(collection_id, item_id, layers, paths, time_range, properties)
        for source in sources:
            href = source.get_self_href() or source.id
            item.add_link(pystac.Link("derived_from", href, pystac.MediaType.GEOJSON, source.id))
        if lineage:
            item.properties["processing:lineage"] = lineage
        item.stac_extensions = extension_urls(item.to_dict(include_self_link=False), collection_id)
        if register:
            written = catalog.add_items(collection_id, [item])
            item.set_self_href(str(written[0]))
    LOGGER.info("%s: %s (%d layer(s))", collection_id, item_id, len(layers))
    return item


@contextlib.contextmanager
def writing(catalog: StaticCatalog, collection: str, ids: Iterable[str]) -> Iterator[None]:
    """On any error inside the block, remove the folders of the items that were new."""
    new = [
        folder
        for folder in (catalog.item_path(collection, i).parent for i in ids)
        if not folder.exists()
    ]
    try:
        yield
    except BaseException:
        for folder in new:
            shutil.rmtree(folder, ignore_errors=True)
        raise


def register(catalog: StaticCatalog, collection: str, items: list[pystac.Item]) -> None:
    """Register the items of one group at once (atomic) and set their self hrefs."""
    written = catalog.add_items(collection, items)
    for item, path in zip(items, written, strict=True):
        item.set_self_href(str(path))


def _item(
    collection_id: str,
    item_id: str,
    layers: Sequence[Layer],
    paths: Sequence[pathlib.Path],
    time_range: tuple[dt.datetime, dt.datetime],
    properties: Mapping[str, Any],
) -> pystac.Item:
    geobox = layers[0].data.odc.geobox
    start, end = time_range
    props = {
        **properties,
        "processing:level": LEVELS[collection_id],
        "processing:software": {"s1stac": __version__},
        "processing:datetime": datetime_to_str(dt.datetime.now(dt.UTC).replace(microsecond=0)),
    }
    if "cube" not in COLLECTION_EXTENSIONS[collection_id]:
        props.pop("cube:dimensions", None)
    footprint = grid_footprint(geobox)
    instant = start == end
    item = pystac.Item(
        id=item_id,
        geometry=dict(shapely.geometry.mapping(footprint)),
        bbox=dateline.bbox(footprint),
        datetime=start if instant else None,
        start_datetime=None if instant else start,
        end_datetime=None if instant else end,
        properties=props,
    )
    resolution = abs(float(geobox.resolution.x))
    for layer, path in zip(layers, paths, strict=True):
        extra = (
            _band_fields(layer.data, resolution)
            | dict(layer.fields)
            | {"file:size": path.stat().st_size}
        )
        item.add_asset(
            layer.key, pystac.Asset(str(path), layer.title, None, COG_MEDIA_TYPE, ["data"], extra)
        )
    return item


def item_grid(item: pystac.Item, key: str) -> GeoBox:
    """Pixel grid of asset ``key`` of an item (asset ``proj:`` fields, else the item's)."""
    from affine import Affine
    from odc.geo import CRS

    fields = {**item.properties, **item.assets[key].extra_fields}
    code = fields.get("proj:code") or (
        f"EPSG:{fields['proj:epsg']}" if fields.get("proj:epsg") else fields.get("proj:wkt2")
    )
    if code is None or "proj:shape" not in fields or "proj:transform" not in fields:
        raise CatalogError(
            f"item {item.id!r} asset {key!r} has no proj:code/proj:shape/proj:transform; "
            "derived products need geocoded items"
        )
    height, width = (int(v) for v in fields["proj:shape"][:2])
    return GeoBox((height, width), Affine(*fields["proj:transform"][:6]), CRS(code))


def stack_chunk(n_dates: int, budget: int = 256 * 2**20) -> int:
    """Side of square spatial chunks holding ``n_dates`` float32 values per pixel in ``budget``.

    A multiple of the 512-pixel COG tiles between 512 and 2048 pixels.
    """
    side = int(math.sqrt(budget / (4 * max(n_dates, 1))))
    return int(min(2048, max(512, side // 512 * 512)))


def load_assets(
    items: Sequence[pystac.Item],
    keys: Sequence[str],
    geobox: GeoBox,
    *,
    chunk: int | None = None,
) -> xr.Dataset:
    """Load assets of items with odc-stac onto ``geobox`` (no resampling on aligned grids).

    Blocks hold every time of their pixels (square spatial chunks of ``chunk`` pixels, by
    default :func:`stack_chunk` of the number of items): a temporal computation over a stack
    larger than memory then holds a few blocks per thread.  (With one chunk per time, dask
    schedules every read of a stack before its first temporal reduction: odc-stac's read tasks
    share two root tasks.)

    Values are float32 with NaN for no-data; integer codes with ``raster:scale`` /
    ``raster:offset`` are decoded (``q * scale + offset``).  Spatial dims are ``(y, x)``
    whatever the CRS (odc-stac names them latitude / longitude for geographic grids).
    """
    import odc.stac

    dataset = odc.stac.load(
        list(items),
        bands=list(keys),
        geobox=geobox,
        chunks={
            "time": -1,
            "x": chunk or stack_chunk(len(items)),
            "y": chunk or stack_chunk(len(items)),
        },
        resampling="nearest",
        groupby="id",
    )
    dataset = (
        dataset.rename({"latitude": "y", "longitude": "x"})
        if "latitude" in dataset.dims
        else dataset
    )
    out = {}
    for key in keys:
        layer = dataset[key]
        nodata = layer.attrs.get("nodata")
        fields = items[0].assets[key].extra_fields
        if nodata is not None and not (isinstance(nodata, float) and np.isnan(nodata)):
            layer = layer.where(layer != nodata)
        layer = layer.astype(np.float32)
        if "raster:scale" in fields:
            layer = layer * np.float32(fields["raster:scale"]) + np.float32(
                fields.get("raster:offset", 0.0)
            )
        out[key] = layer.drop_attrs(deep=False).assign_attrs(units=fields.get("unit", ""))
    return xr.Dataset(out)


def read_small(paths: Sequence[pathlib.Path], max_size: int = 1024) -> np.ndarray[Any, Any]:
    """Read COGs shrunk to at most ``max_size`` pixels a side (overviews), decoded, NaN no-data.

    Returns an array ``(len(paths), rows, cols)`` of float32.
    """
    import rasterio
    from rasterio.enums import Resampling

    planes = []
    for path in paths:
        with rasterio.open(path) as src:
            factor = max(1, -(-max(src.height, src.width) // max_size))
            shape = (max(1, src.height // factor), max(1, src.width // factor))
            raw = src.read(1, out_shape=shape, resampling=Resampling.nearest, masked=True)
            values = raw.astype(np.float32) * np.float32(src.scales[0]) + np.float32(src.offsets[0])
            planes.append(np.ma.filled(values, np.nan))
    return np.stack(planes)


def load_series(
    item: pystac.Item, keys: Sequence[str], *, chunk: int | None = None
) -> xr.DataArray:
    """Assets ``keys`` of one item (one file per date on one grid) as a lazy ``(t, y, x)`` stack.

    Each asset is handed to odc-stac as an item of its own (its ``datetime`` field, else the
    item's), so that :func:`load_assets` reads blocks holding every date of their pixels.
    Values are decoded as there; the ``t`` coordinate is the assets' times.
    """
    from pystac.utils import str_to_datetime

    geobox = item_grid(item, keys[0])
    href = item.get_self_href()
    base = pathlib.Path(href).parent if href else pathlib.Path.cwd()
    dates = []
    for key in keys:
        if item_grid(item, key) != geobox:
            raise CatalogError(f"item {item.id!r}: asset {key!r} is not on the grid of {keys[0]!r}")
        asset = item.assets[key]
        found = local_path(asset.href, base)
        when = asset.extra_fields.get("datetime")
        date = pystac.Item(
            f"{item.id}-{key}",
            item.geometry,
            item.bbox,
            str_to_datetime(when) if when else item.datetime,
            {k: v for k, v in item.properties.items() if k.startswith("proj:")},
        )
        fields = {k: v for k, v in asset.extra_fields.items() if k != "datetime"}
        path = str(found[0]) if found is not None and found[1] is None else asset.href
        date.add_asset(
            "data",
            pystac.Asset(path, media_type=asset.media_type, roles=asset.roles, extra_fields=fields),
        )
        dates.append(date)
    layer = load_assets(dates, ["data"], geobox, chunk=chunk)["data"]
    return layer.rename({"time": "t"})
