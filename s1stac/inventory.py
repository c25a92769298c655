"""Inventory of Sentinel-1 GRD products: STAC items, a GeoDataFrame, and the search refinement.

Replaces the Open SAR Toolkit inventory (``OST_SPEC.md`` §7: ``Sentinel1.search``,
``refine_inventory.search_refinement``, ``plot_inventory``) with:

* local SAFE folders and zips turned into STAC items of the ``sentinel-1-grd`` collection of
  the static catalog (:func:`s1stac.stac_items.grd_item`,
  :class:`s1stac.catalog.StaticCatalog`), or items found at a STAC API (pystac-client);
* one GeoDataFrame of the items (:func:`items_to_geodataframe`), the analogue of OST's
  ``full.inventory.gpkg``;
* the refinement of :mod:`s1stac.refinement` (duplicates, track keys such as
  ``ASCENDING_VVVH``, datatake-based acquisitions, AOI coverage) and a PNG map
  (:func:`s1stac.plotting.plot_inventory`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import pathlib
import re
from collections.abc import Iterable, Sequence
from typing import Any, cast

import geopandas as gpd
import pandas as pd
import pystac
import shapely
from shapely.geometry.base import BaseGeometry
from tqdm import tqdm

from s1stac import dateline
from s1stac import refinement as _refinement
from s1stac.aoi import AoiLike, read_aoi
from s1stac.catalog import StaticCatalog
from s1stac.errors import AoiError, ParameterError, ProductError
from s1stac.refinement import (
    Acquisition,
    MosaicWindow,
    RefinedInventory,
    coverage,
    drop_duplicates,
    find_duplicates,
    group_acquisitions,
    group_tracks,
    refine,
)

__all__ = [
    "Acquisition",
    "GRD_COLLECTION",
    "InventoryResult",
    "MosaicWindow",
    "RefinedInventory",
    "coverage",
    "drop_duplicates",
    "find_duplicates",
    "group_acquisitions",
    "group_tracks",
    "inventory",
    "items_to_geodataframe",
    "refine",
    "scan_products",
]

log = logging.getLogger(__name__)

GRD_COLLECTION = "sentinel-1-grd"
ORBIT_PERIOD = pd.Timedelta(days=12) / 175
"""Sentinel-1 orbit period: 175 orbits per 12-day repeat cycle."""
_POL_ORDER = ("HH", "VV", "HV", "VH")
_NAME = re.compile(
    r"^(?P<mission>S1[A-D])_(?P<mode>IW|EW|WV|S[1-6])_(?P<type>GRD|SLC|OCN|RAW)(?P<res>[FHM_])_"
    r"(?P<level>\d)(?P<cls>[SA])(?P<pols>[SDHV])(?P<pol>[HV])_(?P<start>\d{8}T\d{6})_"
    r"(?P<stop>\d{8}T\d{6})_(?P<orbit>\d{6})_(?P<datatake>[0-9A-F]{6})_(?P<uid>[0-9A-F]{4})"
)
_ORBIT_OFFSET = {"S1A": 73, "S1B": 27}
"""Relative orbit = (absolute orbit - offset) mod 175 + 1 (ESA; OST ``s1scene.py``)."""

COLUMNS = (
    "id", "geometry", "start", "end", "platform", "orbit_direction", "relative_orbit", "track",
    "absolute_orbit", "instrument_mode", "product_type", "polarisation_mode", "pol_key",
    "datatake_id", "slice_number", "total_slices", "processing_time", "product_unique_id",
    "acquisition_date", "href",
)  # fmt: skip
"""Columns of :func:`items_to_geodataframe`, in order."""


@dataclasses.dataclass(frozen=True, eq=False)
class InventoryResult:
    """What :func:`inventory` found, registered and grouped."""

    gdf: gpd.GeoDataFrame
    """Every item kept (touching the AOI, if any), before refinement."""
    refined: RefinedInventory | None
    """Refinement per track key, ``None`` when ``refine=False``."""
    acquisitions: tuple[Acquisition, ...]
    """Acquisitions of the refined inventory (of ``gdf`` when ``refine=False``), in time order."""
    items: tuple[pystac.Item, ...]
    """The items registered in the catalog."""
    aoi: BaseGeometry | None = None
    plot: pathlib.Path | None = None

    def summary(self) -> str:
        """Describe the result in a few lines: items, keys, acquisitions, coverage, removals."""
        lines = [
            f"{len(self.gdf)} product(s) found, {len(self.items)} registered in collection "
            f"{GRD_COLLECTION} (one per acquisition slice, newest processing)"
        ]
        if self.refined is not None:
            for key, acquisitions in self.refined.acquisitions.items():
                cover = self.refined.coverage[key]
                cover_text = "" if pd.isna(cover) else f", {cover:.1%} of the AOI"
                lines.append(f"{key}: {len(acquisitions)} acquisition(s){cover_text}")
                lines += [
                    f"  {a.acquisition_id}: {len(a.item_ids)} slice(s) {list(a.slice_numbers)}"
                    for a in acquisitions
                ]
            for key, reason in self.refined.skipped.items():
                lines.append(f"{key}: skipped ({reason})")
            lines += [f"removed {i}: {why}" for i, why in sorted(self.refined.removed.items())]
        else:
            lines.append(f"{len(self.acquisitions)} acquisition(s)")
        if self.plot is not None:
            lines.append(f"map: {self.plot}")
        return "\n".join(lines)


def scan_products(paths: Iterable[str | os.PathLike[str]]) -> list[pathlib.Path]:
    """Expand folders into the Sentinel-1 products they contain.

    A ``*.SAFE`` folder or a file is taken as given; any other folder is searched recursively
    for ``*.SAFE`` folders and ``S1*.zip`` files (not looking inside SAFE folders).

    Raises
    ------
    ProductError
        If a path does not exist or nothing is found.
    """
    found: list[pathlib.Path] = []
    given = [pathlib.Path(p).expanduser() for p in paths]
    for path in given:
        if not path.exists():
            raise ProductError(
                f"{path} does not exist; give SAFE folders, zips, or folders of them"
            )
        if path.is_file() or path.suffix.upper() == ".SAFE":
            found.append(path)
            continue
        for root, dirs, files in os.walk(path):
            safes = sorted(d for d in dirs if d.upper().endswith(".SAFE"))
            found += [pathlib.Path(root) / d for d in safes]
            dirs[:] = sorted(d for d in dirs if d not in safes)
            found += [
                pathlib.Path(root) / f
                for f in sorted(files)
                if f.upper().startswith("S1") and f.lower().endswith(".zip")
            ]
    if not found:
        raise ProductError(
            f"no Sentinel-1 product (*.SAFE folder or S1*.zip) found in {[str(p) for p in given]}"
        )
    unique = list(dict.fromkeys(p.resolve() for p in found))
    log.info("%d product(s) found", len(unique))
    return unique


def _timestamp(value: Any) -> pd.Timestamp:
    """UTC timestamp (naive values are taken as UTC); ``NaT`` for ``None`` or ``""``."""
    if value is None or (isinstance(value, str) and not value) or value is pd.NaT:
        return cast(pd.Timestamp, pd.NaT)
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _int(value: Any) -> int | None:
    if value is None or value == "" or (isinstance(value, float) and pd.isna(value)):
        return None
    return int(value)


def _pol_mode(polarisations: Iterable[str]) -> str:
    pols = sorted(
        {str(p).upper() for p in polarisations}, key=lambda p: (_POL_ORDER + (p,)).index(p)
    )
    return " ".join(pols)


def _name_pols(match: re.Match[str]) -> list[str]:
    co = match["pol"] * 2
    return [co, co[0] + ("H" if co[0] == "V" else "V")] if match["pols"] == "D" else [co]


def _track(
    direction: str,
    relative_orbit: int,
    start: pd.Timestamp,
    anx: pd.Timestamp,
    footprint: BaseGeometry,
) -> int:
    """Relative orbit of the pass, consistent across the equator (OST §7.2 step 4, fixed).

    The relative orbit number changes at the ascending node (ANX, the equator in the ascending
    direction).  An ascending pass south of the equator, or crossing it, is named after the
    orbit that starts at its equator crossing (its ESA number + 1), so every ascending pass
    carries one number whatever the inventory holds.  OST renames the northern part to the
    southern number only when a crossing frame is in the inventory.  Without ``sat:anx_datetime``
    the side of the equator is taken from the footprint centroid (approximate within ~1 degree
    of the equator).
    """
    if direction != "ASCENDING":
        return relative_orbit
    before_anx = (start - anx) > ORBIT_PERIOD / 2 if pd.notna(anx) else footprint.centroid.y < 0.0
    return relative_orbit % 175 + 1 if before_anx else relative_orbit


def item_record(item: pystac.Item) -> dict[str, Any]:
    """Inventory row of one item (properties of :func:`s1stac.stac_items.grd_item`).

    Items of other producers are normalised: ``platform`` lower case; ``s1:`` values given as
    strings (Planetary Computer) become integers; ``eopf:datatake_id`` (CDSE) is read as
    datatake id; what is still missing (orbits, polarisations, datatake, unique id, product
    type) is taken from an ESA product name in the item id; ``processing:datetime`` may be
    missing (then duplicates are resolved by id).

    Raises
    ------
    ProductError
        If the item misses the orbit direction, the polarisations or the times.
    """
    p = item.properties
    name = _NAME.match(item.id)
    required = {
        "sat:orbit_state": p.get("sat:orbit_state"),
        "sar:polarizations": p.get("sar:polarizations") or (_name_pols(name) if name else None),
        "start_datetime": p.get("start_datetime") or p.get("datetime"),
    }
    missing = [k for k, v in required.items() if not v]
    if missing:
        raise ProductError(
            f"STAC item {item.id!r} has no {missing}: not a Sentinel-1 item the inventory can use"
        )
    platform = str(p.get("platform") or (f"sentinel-1{name['mission'][-1]}" if name else ""))
    platform = platform.lower()
    start = _timestamp(required["start_datetime"])
    end = _timestamp(p.get("end_datetime") or p.get("datetime") or required["start_datetime"])
    absolute = _int(p.get("sat:absolute_orbit")) or (int(name["orbit"]) if name else None)
    mission = "S1" + platform[-1:].upper()
    relative = _int(p.get("sat:relative_orbit"))
    if relative is None and absolute is not None and mission in _ORBIT_OFFSET:
        relative = (absolute - _ORBIT_OFFSET[mission]) % 175 + 1
    if relative is None:
        raise ProductError(f"STAC item {item.id!r} has no 'sat:relative_orbit'")
    datatake = _int(p.get("s1:datatake_id", p.get("eopf:datatake_id")))
    if datatake is None and name:
        datatake = int(name["datatake"], 16)
    product_type = p.get("product:type") or (
        f"{name['mode']}_{name['type']}{name['res']}_{name['level']}{name['cls']}"
        if name
        else p.get("sar:product_type")
    )
    direction = str(required["sat:orbit_state"]).upper()
    geometry = shapely.geometry.shape(item.geometry) if item.geometry else shapely.Polygon()
    pol_mode = _pol_mode(cast(list[str], required["sar:polarizations"]))
    return {
        "id": item.id,
        "geometry": geometry,
        "start": start,
        "end": end,
        "platform": platform,
        "orbit_direction": direction,
        "relative_orbit": relative,
        "track": _track(
            direction, relative, start, _timestamp(p.get("sat:anx_datetime")), geometry
        ),
        "absolute_orbit": absolute,
        "instrument_mode": p.get("sar:instrument_mode") or (name["mode"] if name else None),
        "product_type": product_type,
        "polarisation_mode": pol_mode,
        "pol_key": pol_mode.replace(" ", ""),
        "datatake_id": datatake,
        "slice_number": _int(p.get("s1:slice_number")),
        "total_slices": _int(p.get("s1:total_slices")),
        "processing_time": _timestamp(p.get("processing:datetime")),
        "product_unique_id": p.get("s1:product_unique_id") or (name["uid"] if name else None),
        "acquisition_date": start.strftime("%Y%m%d"),
        "href": item.get_self_href(),
    }


def items_to_geodataframe(items: Iterable[pystac.Item]) -> gpd.GeoDataFrame:
    """One row per STAC item, in EPSG:4326, with the columns of :data:`COLUMNS`.

    ``start``, ``end`` and ``processing_time`` are UTC pandas Timestamps; ``orbit_direction``
    is ``ASCENDING``/``DESCENDING``; ``polarisation_mode`` is OST's ``"VV VH"`` and ``pol_key``
    its spaceless form ``"VVVH"``; ``track`` is the relative orbit of the pass, equal to
    ``relative_orbit`` except for ascending passes at the equator (see :func:`item_record`);
    ``acquisition_date`` is the UTC start date ``YYYYMMDD``; ``href`` the item's self href.
    """
    records = [item_record(item) for item in items]
    frame = pd.DataFrame.from_records(records, columns=list(COLUMNS))
    for column in ("slice_number", "total_slices", "datatake_id", "absolute_orbit"):
        frame[column] = frame[column].astype("Int64")
    for column in ("relative_orbit", "track"):
        frame[column] = frame[column].astype("int64")
    for column in ("start", "end", "processing_time"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    gdf = gpd.GeoDataFrame(frame, geometry="geometry", crs="EPSG:4326")
    return gdf.sort_values(["start", "id"]).reset_index(drop=True)


def _items_from_products(products: Sequence[pathlib.Path]) -> list[pystac.Item]:
    from s1stac.safe import open_product
    from s1stac.stac_items import grd_item

    items = []
    for path in tqdm(
        products, desc="reading products", unit="product", disable=len(products) < 20, leave=False
    ):
        item = grd_item(open_product(path))
        log.debug("%s: %s", path, item.id)
        items.append(item)
    return items


def _day_bounds(
    start: dt.date | str | None, end: dt.date | str | None
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """UTC bounds; a date (or a datetime at midnight) as ``end`` includes that whole day."""
    lower, upper = _timestamp(start), _timestamp(end)
    if pd.notna(upper) and upper == upper.normalize():
        upper = upper + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)
    if pd.notna(lower) and pd.notna(upper) and lower > upper:
        raise ParameterError(f"start={start} is after end={end}; swap them")
    return lower, upper


def inventory(
    paths: Iterable[str | os.PathLike[str]] | None = None,
    *,
    catalog: str | os.PathLike[str] = "catalog",
    aoi: AoiLike | None = None,
    stac_url: str | None = None,
    collection: str | None = None,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    refine: bool = True,
    plot: str | os.PathLike[str] | None = None,
) -> InventoryResult:
    """Register Sentinel-1 GRD products in the static catalog and group them.

    Parameters
    ----------
    paths
        SAFE folders, zips, or folders searched for them (:func:`scan_products`).
    catalog
        Root folder of the static STAC catalog; items go to collection ``sentinel-1-grd``.
    aoi
        Area of interest (:func:`s1stac.aoi.read_aoi`): products not touching it are dropped.
    stac_url, collection
        STAC API (or static catalog) and collection to search instead of / besides ``paths``;
        see :func:`s1stac.stac_search.search_stac`.
    start, end
        Date range of the STAC search and of the local products (``end`` day inclusive).
    refine
        Apply :func:`s1stac.refinement.refine` (duplicates, coverage, tracks, acquisitions).
    plot
        Path of a PNG map of the footprints and the AOI (:func:`s1stac.plotting.plot_inventory`).

    Raises
    ------
    AoiError
        If the AOI does not parse, or no product touches it.
    ProductError, CatalogError, ParameterError
        For unreadable products, catalogs and invalid options.
    """
    paths = list(paths or [])
    if not paths and not stac_url:
        raise ParameterError("give product paths, or stac_url and collection to search")
    area = read_aoi(aoi) if aoi is not None else None
    lower, upper = _day_bounds(start, end)
    items: list[pystac.Item] = []
    if stac_url:
        from s1stac.stac_search import search_stac

        items += search_stac(stac_url, collection=collection, aoi=area, start=lower, end=upper)
    if paths:
        local = _items_from_products(scan_products(paths))
        items += [i for i in local if item_overlaps(i, lower, upper)]
    if area is not None:
        touching = [i for i in items if shapely.geometry.shape(i.geometry).intersects(area)]
        if not touching:
            raise AoiError(_no_product_message(aoi, area, items))
        for item in items:
            if item not in touching:
                log.info("%s does not touch the AOI: left out", item.id)
        items = touching
    if not items:
        raise ParameterError(f"no product between start={start} and end={end}: widen the dates")
    store = StaticCatalog(catalog)
    gdf = items_to_geodataframe(items)
    items = _register_newest(store, items)
    written = store.add_items(GRD_COLLECTION, items)
    hrefs = {path.stem: str(path) for path in written}
    gdf["href"] = [hrefs.get(item_id) for item_id in gdf["id"]]
    refined = _refinement.refine(gdf, area) if refine else None
    if refined is not None:
        acquisitions = sorted(
            (a for group in refined.acquisitions.values() for a in group), key=lambda a: a.start
        )
    else:
        acquisitions = group_acquisitions(gdf)
    png = None
    if plot is not None:
        from s1stac.plotting import plot_inventory

        png = plot_inventory(drop_duplicates(gdf), area, plot)
    return InventoryResult(gdf, refined, tuple(acquisitions), tuple(items), area, png)


def _register_newest(store: StaticCatalog, items: list[pystac.Item]) -> list[pystac.Item]:
    """Keep only the newest processing of each acquisition, in the catalog too.

    Reprocessed duplicates among ``items`` are not registered; an older processing already in
    the catalog is unlisted when a newer one arrives (one item per acquisition).
    """
    new_ids = {item.id for item in items}
    registered = [i for i in store.items(GRD_COLLECTION) if i.id not in new_ids]
    dropped = _refinement.find_duplicates(items_to_geodataframe([*items, *registered]))
    for old_id, kept_id in dropped.items():
        log.info("%s not registered: %s is a newer processing of it", old_id, kept_id)
        if old_id not in new_ids:
            store.remove_item(GRD_COLLECTION, old_id, delete_files=True)
    return [item for item in items if item.id not in dropped]


def item_overlaps(
    item: pystac.Item, lower: pd.Timestamp | None, upper: pd.Timestamp | None
) -> bool:
    """Whether the item's time span meets ``[lower, upper]`` (``None``/``NaT``: open end)."""
    p = item.properties
    lower = _timestamp(lower)
    upper = _timestamp(upper)
    first = _timestamp(p.get("start_datetime") or p.get("datetime"))
    last = _timestamp(p.get("end_datetime") or p.get("datetime"))
    return not ((pd.notna(lower) and last < lower) or (pd.notna(upper) and first > upper))


def _no_product_message(aoi: AoiLike | None, area: BaseGeometry, items: list[pystac.Item]) -> str:
    source = str(aoi) if not isinstance(aoi, BaseGeometry) else "the AOI geometry"
    if len(source) > 80:
        source = source[:77] + "..."
    bounds = tuple(round(v, 3) for v in dateline.bbox(area))
    if not items:
        return (
            f"aoi {source!r} (bounds {bounds}): no product found that touches it; give an AOI "
            "where products exist (EPSG:4326, lon/lat order), other dates or other products"
        )
    boxes = [dateline.bbox(shapely.geometry.shape(i.geometry)) for i in items]
    extent = tuple(round(v, 3) for v in dateline.union_bbox(boxes))
    note = " (west > east: across the antimeridian)" if extent[0] > extent[2] else ""
    return (
        f"aoi {source!r} (bounds {bounds}) touches none of the {len(items)} product(s), which "
        f"span lon/lat {extent}{note}; give an AOI inside the product footprints (EPSG:4326, "
        "lon/lat order) or other products"
    )
