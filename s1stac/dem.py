"""Digital elevation models: heights above the WGS84 ellipsoid, on the grid a stage asks for.

Reference: ``OST_SPEC.md`` §1.2 (``dem.*`` parameters) and §2 (SNAP ``Terrain-Flattening`` and
``Terrain-Correction`` take DEM heights above the WGS84 ellipsoid, resampled bilinearly; with
``externalDEMApplyEGM=true`` SNAP adds the EGM96 geoid undulation to an external DEM).

Sources
    A GeoTIFF / VRT path, a list of tile paths, or a STAC collection of DEM tiles
    (:class:`DemCollection`: a static catalog on disk or a STAC API, Copernicus DEM style, one
    asset per tile).  Tiles are mosaicked with ``odc.stac.load`` on the native grid of the first
    tile (nearest: an exact copy for tiles of one grid), so that tile seams do not show.
Resampling
    Onto a requested grid (:func:`s1stac.grid.aligned_grid`), bilinear at the exact position of
    every output pixel centre (pyproj, no approximate transformer), block by block with dask;
    the result does not depend on the chunking.
Geoid
    Orthometric heights ``H`` become ellipsoid heights ``h = H + N`` (:mod:`s1stac.geoid`).
    ``geoid="auto"`` reads the vertical CRS of the DEM (e.g. EPSG:9707 = WGS 84 + EGM96
    height); a DEM without one (such as Copernicus DEM GeoTIFFs, whose heights are EGM2008) is
    taken as EGM96, as SNAP does, and this is logged as a warning.
Coverage
    A DEM that does not cover the scene footprint raises :class:`DemError`
    (:func:`check_coverage`, or ``load_dem(..., footprint=...)``).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import pathlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias, get_args

import dask
import dask.array as da
import numpy as np
import numpy.typing as npt
import odc.stac
import pyproj
import pystac
import pystac_client
import rasterio
import shapely
import xarray as xr
from affine import Affine
from odc.geo.geobox import GeoBox
from odc.geo.geom import Geometry
from odc.geo.xr import xr_coords
from pystac.extensions.projection import ProjectionExtension

from s1stac import dateline
from s1stac.errors import ParameterError
from s1stac.geoid import (
    DemError,
    GeoidModel,
    VerticalReference,
    bilinear,
    find_geoid_grid,
    read_geoid_grid,
    undulation,
    vertical_reference,
)
from s1stac.grid import GeometryLike, as_geometry
from s1stac.windows import WindowReader, assemble_window

__all__ = ["DemCollection", "DemError", "DemSource", "check_coverage", "load_dem"]

log = logging.getLogger(__name__)

GeoidChoice: TypeAlias = Literal["auto", "EGM96", "EGM2008", "none"]
Resampling: TypeAlias = Literal["nearest", "bilinear"]

_TILE_TIME = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
"""Nominal date of the STAC items made for DEM files (odc-stac needs one; DEMs have none)."""


@dataclass(frozen=True)
class DemCollection:
    """A STAC collection of DEM tiles (e.g. Copernicus DEM GLO-30)."""

    href: str
    """Path of a static catalog / collection JSON, or URL of a STAC API."""
    collection: str | None = None
    """Collection id; needed for a STAC API, optional for a static catalog."""
    asset: str = "data"
    """Asset key of the height raster in every item."""


DemSource: TypeAlias = str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | DemCollection
"""A DEM file (GeoTIFF, VRT...), a list of tile files, or a STAC collection of tiles."""


@dataclass(frozen=True)
class _Tiles:
    items: tuple[pystac.Item, ...]
    asset: str
    name: str
    vertical: VerticalReference | None


def check_coverage(
    source: DemSource, footprint: GeometryLike, *, min_fraction: float = 1.0
) -> float:
    """Fraction of ``footprint`` (by ground area) inside the extent of the DEM ``source``.

    Raises
    ------
    DemError
        Naming the DEM, the covered fraction and the bounds of the uncovered part, when less
        than ``min_fraction`` of the footprint is covered.
    """
    if not 0.0 < min_fraction <= 1.0:
        raise ParameterError(f"{min_fraction=} must be in (0, 1]")
    area = as_geometry(footprint).to_crs("EPSG:4326")
    return _coverage(_resolve(source, area), area, min_fraction)


def load_dem(
    source: DemSource,
    grid: GeoBox | GeometryLike,
    *,
    geoid: GeoidChoice = "auto",
    geoid_grid: str | os.PathLike[str] | None = None,
    footprint: GeometryLike | None = None,
    resampling: Resampling = "bilinear",
    margin: int = 2,
    chunks: int | None = 2048,
) -> xr.DataArray:
    """Heights above the WGS84 ellipsoid (metres, float32, NaN where the DEM has none).

    Parameters
    ----------
    source
        DEM file, list of tile files, or :class:`DemCollection` (a ``.json`` path is taken as
        a static STAC catalog or collection).
    grid
        A ``GeoBox`` (e.g. from :func:`s1stac.grid.aligned_grid`): heights resampled onto it;
        or an area (lon/lat geometry or bbox): heights on the DEM's native grid, cropped to the
        area plus ``margin`` pixels.
    geoid
        Reference of the DEM heights: ``"auto"`` (from the DEM's vertical CRS, EGM96 when it
        has none), ``"EGM96"``, ``"EGM2008"``, or ``"none"`` (heights already ellipsoidal).
    geoid_grid
        Geoid grid file to use instead of the one found in PROJ's data folders.
    footprint
        Scene footprint (lon/lat) that the DEM must cover entirely (see :func:`check_coverage`).
    resampling
        Resampling onto a requested ``GeoBox`` (OST's ``dem_resampling``: bilinear).
    margin
        Native DEM pixels added around the area.
    chunks
        Dask chunk size (pixels along y and x); ``None`` computes numpy arrays at once.

    Returns
    -------
    xr.DataArray
        Dims ``("y", "x")``, named ``height``, with odc-geo spatial coordinates.

    Examples
    --------
    >>> from s1stac.grid import aligned_grid
    >>> grid = aligned_grid(footprint, resolution_m=20.0)  # doctest: +SKIP
    >>> heights = load_dem("Rome-30m-DEM.tif", grid, footprint=footprint)  # doctest: +SKIP
    """
    if geoid not in get_args(GeoidChoice):
        raise ParameterError(f"{geoid=} unknown: choose one of {list(get_args(GeoidChoice))}")
    if resampling not in get_args(Resampling):
        raise ParameterError(f"{resampling=} unknown: choose one of {list(get_args(Resampling))}")
    if not isinstance(margin, int) or margin < 0:
        raise ParameterError(f"{margin=} must be a non-negative number of pixels")
    if chunks is not None and (not isinstance(chunks, int) or chunks <= 0):
        raise ParameterError(f"{chunks=} must be a positive number of pixels or None")
    target = grid if isinstance(grid, GeoBox) else None
    area = target.extent if target is not None else as_geometry(grid)
    area_lonlat = area.to_crs("EPSG:4326", resolution="auto", wrapdateline=True)
    across = dateline.is_split(area_lonlat.geom)
    tiles = _resolve(source, area_lonlat)
    hits = [i for i in tiles.items if _outline(i).intersects(area_lonlat.geom)]
    if not hits:
        minx, miny, maxx, maxy = area_lonlat.boundingbox
        raise DemError(
            f"no tile of DEM {tiles.name} intersects the area lon {minx:.4f}..{maxx:.4f}, "
            f"lat {miny:.4f}..{maxy:.4f}: give a DEM that covers the scene"
        )
    if footprint is not None:
        _coverage(tiles, as_geometry(footprint).to_crs("EPSG:4326"), 1.0)
    model = _geoid_model(geoid, tiles)
    geoid_file = None
    if model is not None:
        geoid_file = pathlib.Path(geoid_grid) if geoid_grid else find_geoid_grid(model)
    tiles = _Tiles(tuple(hits), tiles.asset, tiles.name, tiles.vertical)
    if geoid_file is not None:
        read_geoid_grid(geoid_file)  # fail early on an unreadable grid
    if across:
        # no native lon/lat window spans the 180th meridian: each tile is warped by GDAL
        # straight onto the requested grid, which must be projected
        if target is None or target.crs is None or target.crs.geographic:
            raise DemError(
                f"the area crosses the antimeridian: DEM {tiles.name} can only be resampled onto "
                "a projected grid there (give the ARD a projected CRS: --crs AUTO:42001)"
            )
        heights = _warp(tiles, target, chunks, resampling)
        if geoid_file is not None:
            heights = _add_undulation(heights, geoid_file)
    else:
        native = _native_geobox(tiles, area, margin if target is None else max(margin, 1))
        heights = _load(tiles, native, chunks)
        if target is not None and not _same_grid(native, target):
            heights = _resample(heights, native, target, resampling, chunks, geoid_file)
        elif geoid_file is not None:
            heights = _add_undulation(heights, geoid_file)
    return (
        heights.astype(np.float32)
        .rename("height")
        .assign_attrs(units="m", long_name="height above the WGS84 ellipsoid")
    )


def _resolve(source: DemSource, area: Geometry) -> _Tiles:
    if isinstance(source, str | os.PathLike) and str(source).lower().endswith(".json"):
        source = DemCollection(os.fspath(source))
    if isinstance(source, DemCollection):
        return _stac_tiles(source, area)
    paths = [source] if isinstance(source, str | os.PathLike) else list(source)
    if not paths:
        raise DemError("empty list of DEM tiles: give at least one GeoTIFF/VRT path")
    return _file_tiles([pathlib.Path(p) for p in paths])


def _outline(item: pystac.Item) -> Any:
    return shapely.geometry.shape(item.geometry) if item.geometry else shapely.Polygon()


def _file_tiles(paths: list[pathlib.Path]) -> _Tiles:
    name = str(paths[0]) if len(paths) == 1 else f"{len(paths)} tiles ({paths[0]}, ...)"
    items, verticals = [], set()
    for path in paths:
        try:
            with rasterio.open(path) as src:
                crs, transform, shape = src.crs, src.transform, src.shape
        except (rasterio.errors.RasterioIOError, OSError) as err:
            raise DemError(
                f"DEM file {path} cannot be read ({err}): give a GeoTIFF or VRT"
            ) from err
        if crs is None:
            raise DemError(f"DEM file {path} has no CRS: georeference it (e.g. EPSG:4326)")
        pcrs = pyproj.CRS.from_wkt(crs.to_wkt())
        verticals.add(vertical_reference(pcrs))
        horizontal = pcrs.sub_crs_list[0] if pcrs.is_compound else pcrs
        extent = Geometry(
            shapely.box(*rasterio.transform.array_bounds(*shape, transform)), horizontal
        )
        outline = extent.to_crs("EPSG:4326", resolution="auto")
        item = pystac.Item(
            id=path.stem,
            geometry=shapely.geometry.mapping(outline.geom),
            bbox=list(outline.boundingbox),
            datetime=_TILE_TIME,
            properties={},
        )
        item.add_asset("data", pystac.Asset(href=str(path.resolve()), roles=["data"]))
        proj = ProjectionExtension.ext(item, add_if_missing=True)
        code = horizontal.to_epsg()
        proj.code, proj.wkt2 = (f"EPSG:{code}", None) if code else (None, horizontal.to_wkt())
        proj.shape, proj.transform = list(shape), list(transform)[:6]
        items.append(item)
    if len(verticals) > 1:
        raise DemError(f"DEM {name} mixes height references {sorted(map(str, verticals))}")
    return _Tiles(tuple(items), "data", name, verticals.pop())


def _stac_tiles(source: DemCollection, area: Geometry) -> _Tiles:
    name = f"{source.href}" + (f" (collection {source.collection!r})" if source.collection else "")
    if source.href.startswith(("http://", "https://")) and not source.href.endswith(".json"):
        if source.collection is None:
            raise ParameterError(f"DemCollection({source.href!r}) of a STAC API needs collection=")
        client = pystac_client.Client.open(source.href)
        search = client.search(collections=[source.collection], intersects=area.json)
        items = list(search.items())
    else:
        try:
            root = pystac.read_file(source.href)
        except (OSError, pystac.STACError, ValueError) as err:
            raise DemError(f"DEM catalog {source.href} cannot be read: {err}") from err
        if not isinstance(root, pystac.Catalog):
            raise DemError(f"{source.href} is a {type(root).__name__}, not a catalog/collection")
        parent = root
        if source.collection is not None and root.id != source.collection:
            child = root.get_child(source.collection, recursive=True)
            if child is None:
                ids = [c.id for c in root.get_children()]
                raise DemError(f"no collection {source.collection!r} in {source.href}; has {ids}")
            parent = child
        items = [
            i
            for i in parent.get_items(recursive=True)
            if i.geometry is not None and shapely.geometry.shape(i.geometry).intersects(area.geom)
        ]
    for item in items:
        if source.asset not in item.assets:
            raise DemError(
                f"item {item.id!r} of DEM {name} has no asset {source.asset!r} "
                f"(assets: {sorted(item.assets)}): pass DemCollection(..., asset=<key>)"
            )
    vertical = None
    if items:
        with rasterio.open(items[0].assets[source.asset].get_absolute_href()) as src:
            vertical = vertical_reference(src.crs.to_wkt()) if src.crs else None
    return _Tiles(tuple(items), source.asset, name, vertical)


def _geoid_model(choice: GeoidChoice, tiles: _Tiles) -> GeoidModel | None:
    if choice == "none":
        return None
    if choice == "auto":
        if tiles.vertical is None:
            log.warning("DEM %s has no vertical CRS: heights taken as EGM96 heights", tiles.name)
            return "EGM96"
        return None if tiles.vertical == "ellipsoid" else tiles.vertical
    if tiles.vertical not in (None, choice):
        log.warning("DEM %s says %s heights; using geoid=%s", tiles.name, tiles.vertical, choice)
    return choice


def _native_geobox(tiles: _Tiles, area: Geometry, margin: int) -> GeoBox:
    item = tiles.items[0]
    crs, transform = None, None
    if ProjectionExtension.has_extension(item):
        proj = ProjectionExtension.ext(item.assets[tiles.asset])
        crs, transform = proj.crs_string, proj.transform
    if crs is None or transform is None:
        with rasterio.open(item.assets[tiles.asset].get_absolute_href()) as src:
            pcrs = pyproj.CRS.from_wkt(src.crs.to_wkt())
            crs = (pcrs.sub_crs_list[0] if pcrs.is_compound else pcrs).to_wkt()
            transform = list(src.transform)[:6]
    a, b, c, d, e, f = transform[:6]
    if b != 0 or d != 0:
        raise DemError(f"DEM {tiles.name} has a rotated grid: warp it north-up first")
    minx, miny, maxx, maxy = area.to_crs(crs, resolution="auto").boundingbox
    col0 = int(np.floor((minx - c) / a)) - margin
    col1 = int(np.ceil((maxx - c) / a)) + margin
    row0 = int(np.floor((maxy - f) / e)) - margin
    row1 = int(np.ceil((miny - f) / e)) + margin
    affine = Affine(a, 0.0, c + col0 * a, 0.0, e, f + row0 * e)
    return GeoBox((row1 - row0, col1 - col0), affine, crs)


def _coverage(tiles: _Tiles, footprint: Geometry, min_fraction: float) -> float:
    geod = pyproj.Geod(ellps="WGS84")
    extents = [_outline(i) for i in tiles.items]
    extent = shapely.union_all(extents) if extents else shapely.Polygon()
    total = abs(geod.geometry_area_perimeter(footprint.geom)[0])
    covered = abs(geod.geometry_area_perimeter(footprint.geom.intersection(extent))[0])
    fraction = covered / total if total > 0 else 0.0
    if fraction < min_fraction - 1e-9:
        x0, y0, x1, y1 = footprint.geom.difference(extent).bounds
        ex = (
            "no tile in this area"
            if extent.is_empty
            else "lon {:.4f}..{:.4f}, lat {:.4f}..{:.4f}".format(
                *np.take(extent.bounds, [0, 2, 1, 3])
            )
        )
        raise DemError(
            f"DEM {tiles.name} covers {fraction:.2%} of the scene footprint (required "
            f"{min_fraction:.0%}); uncovered part: lon {x0:.4f}..{x1:.4f}, lat {y0:.4f}..{y1:.4f}; "
            f"DEM extent: {ex}. Give a DEM (or a STAC collection of tiles) covering the scene"
        )
    return fraction


def _load(tiles: _Tiles, geobox: GeoBox, chunks: int | None) -> xr.DataArray:
    data = odc.stac.load(
        list(tiles.items),
        bands=[tiles.asset],
        geobox=geobox,
        resampling="nearest",
        groupby=lambda *_: 0,
        dtype="float32",
        chunks={"x": chunks, "y": chunks} if chunks else None,
    )
    array = data[tiles.asset].isel(time=0, drop=True)
    return array.rename(
        {k: v for k, v in (("latitude", "y"), ("longitude", "x")) if k in array.dims}
    )


def _warp(tiles: _Tiles, target: GeoBox, chunks: int | None, method: Resampling) -> xr.DataArray:
    """DEM tiles warped by GDAL onto a projected ``target`` chunk by chunk (first tile wins).

    For areas across the antimeridian only: odc-stac's read planning leaves a band of NaN
    pixels next to the 180th meridian there (measured: 70 of 436 columns of a UTM grid),
    while GDAL's warper, given each tile on its own, covers every pixel.
    """
    hrefs = tuple(str(item.assets[tiles.asset].get_absolute_href()) for item in tiles.items)
    return _by_blocks(
        target, chunks, lambda part: dask.delayed(_warp_block, pure=True)(hrefs, part, method)
    )


def _by_blocks(grid: GeoBox, chunks: int | None, task: Callable[[GeoBox], Any]) -> xr.DataArray:
    """Heights on ``grid`` whose ``chunks``-pixel blocks are the delayed ``task(block grid)``.

    ``chunks=None``: one block, computed at once (numpy-backed result).
    """
    step = chunks or max(grid.shape)
    blocks = []
    for r0 in range(0, grid.height, step):
        line = []
        for c0 in range(0, grid.width, step):
            part = grid[r0 : min(r0 + step, grid.height), c0 : min(c0 + step, grid.width)]
            line.append(da.from_delayed(task(part), part.shape.yx, dtype=np.float32))
        blocks.append(line)
    data: Any = da.block(blocks)
    if chunks is None:
        data = data.compute()
    return xr.DataArray(data, coords=xr_coords(grid, dims=("y", "x")), dims=("y", "x"))


def _warp_block(hrefs: tuple[str, ...], part: GeoBox, method: Resampling) -> npt.NDArray[Any]:
    from rasterio.warp import Resampling as GdalResampling
    from rasterio.warp import reproject

    gdal = {"nearest": "nearest", "bilinear": "bilinear"}[method]
    out = np.full(part.shape.yx, np.nan, dtype=np.float32)
    for href in hrefs:
        warped = np.full(part.shape.yx, np.nan, dtype=np.float32)
        with rasterio.open(href) as src:
            reproject(
                rasterio.band(src, 1),
                warped,
                src_nodata=src.nodata,
                dst_transform=part.affine,
                dst_crs=part.crs.to_wkt(),
                dst_nodata=np.nan,
                resampling=GdalResampling[gdal],
            )
        out = np.where(np.isnan(out), warped, out)
    return out


def _same_grid(a: GeoBox, b: GeoBox) -> bool:
    return a.shape == b.shape and a.crs == b.crs and a.affine.almost_equals(b.affine, 1e-12)


def _resample(
    native: xr.DataArray,
    src: GeoBox,
    dst: GeoBox,
    method: Resampling,
    chunks: int | None,
    geoid: pathlib.Path | None,
) -> xr.DataArray:
    """Resample ``native`` onto ``dst`` block by block, adding geoid undulations if given.

    Each block's task gets the native chunks its window overlaps (:class:`WindowReader`):
    a native chunk is read once, whichever blocks need it.
    """
    reader = WindowReader(native.data) if isinstance(native.data, da.Array) else None

    def task(part: GeoBox) -> Any:
        rows, cols = _window(src, part)
        parts = None
        if rows.start < rows.stop and cols.start < cols.stop:
            whole = [[(slice(None), slice(None))]]
            parts = reader.parts((rows, cols)) if reader else ([[native.data[rows, cols]]], whole)
        offset = (rows.start, cols.start)
        return dask.delayed(_resample_block)(parts, src, offset, part, method, geoid)

    return _by_blocks(dst, chunks, task)


def _window(src: GeoBox, part: GeoBox) -> tuple[slice, slice]:
    """Native pixels needed to interpolate every pixel centre of ``part`` (clipped)."""
    minx, miny, maxx, maxy = part.extent.to_crs(src.crs, resolution="auto").boundingbox
    a, _, c, _, e, f = list(src.affine)[:6]
    col0, col1 = int(np.floor((minx - c) / a)) - 1, int(np.ceil((maxx - c) / a)) + 1
    row0, row1 = int(np.floor((maxy - f) / e)) - 1, int(np.ceil((miny - f) / e)) + 1
    rows = slice(min(max(row0, 0), src.height), min(max(row1, 0), src.height))
    cols = slice(min(max(col0, 0), src.width), min(max(col1, 0), src.width))
    return rows, cols


def _resample_block(
    parts: tuple[Any, Any] | None,
    src: GeoBox,
    offset: tuple[int, int],
    dst: GeoBox,
    method: Resampling,
    geoid: pathlib.Path | None,
) -> npt.NDArray[np.float32]:
    values = assemble_window(*parts) if parts is not None else np.empty((0, 0), np.float32)
    if values.size == 0:
        return np.full(dst.shape, np.nan, dtype=np.float32)
    x, y = _centres(dst, src.crs)
    a, _, c, _, e, f = list(src.affine)[:6]
    # NOTE: indices in the whole native grid, then shifted by whole pixels (exactly), so that
    # every pixel gets the same value whatever the chunking.
    col, row = (x - c) / a - 0.5 - offset[1], (y - f) / e - 0.5 - offset[0]
    if method == "nearest":
        r, k = np.floor(row + 0.5).astype(np.intp), np.floor(col + 0.5).astype(np.intp)
        inside = (r >= 0) & (r < values.shape[0]) & (k >= 0) & (k < values.shape[1])
        picked = values[np.clip(r, 0, values.shape[0] - 1), np.clip(k, 0, values.shape[1] - 1)]
        heights = np.where(inside, picked, np.nan)
    else:
        heights = bilinear(values, row, col)
    if geoid is not None:
        lon, lat = (x, y) if src.crs.epsg == 4326 else _centres(dst, "EPSG:4326")
        heights += undulation(read_geoid_grid(geoid), lon, lat)
    return heights.astype(np.float32)


def _centres(geobox: GeoBox, crs: Any) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Pixel centres of ``geobox`` as 2D x, y arrays in ``crs``."""
    a, _, c, _, e, f = list(geobox.affine)[:6]
    x, y = np.meshgrid(
        c + (np.arange(geobox.width) + 0.5) * a, f + (np.arange(geobox.height) + 0.5) * e
    )
    if geobox.crs != crs:
        to_crs = pyproj.Transformer.from_crs(geobox.crs.proj, pyproj.CRS(crs), always_xy=True)
        x, y = to_crs.transform(x, y)
    return x, y


def _add_undulation(heights: xr.DataArray, geoid: pathlib.Path) -> xr.DataArray:
    geobox = heights.odc.geobox
    if not isinstance(geobox, GeoBox):
        raise DemError("heights have no north-up grid: cannot place geoid undulations")

    def _block(block: npt.NDArray[Any], block_info: Any = None) -> npt.NDArray[np.float32]:
        (r0, r1), (c0, c1) = block_info[0]["array-location"]
        lon, lat = _centres(geobox[r0:r1, c0:c1], "EPSG:4326")
        return (block + undulation(read_geoid_grid(geoid), lon, lat)).astype(np.float32)

    if heights.chunks is None:
        whole = {0: {"array-location": [(0, heights.shape[0]), (0, heights.shape[1])]}}
        return heights.copy(data=_block(heights.values, whole))
    return heights.copy(data=heights.data.map_blocks(_block, dtype=np.float32))
