"""Per-track steps of :mod:`s1stac.pipeline`: grouping, common extent, stacks, pictures.

Reference: ``OST_SPEC.md`` §3.1-3.4 (valid-data outline, common extent, layover/shadow mask,
stacking on the aligned grid), §6 (animation) and §10b (layout).
"""

from __future__ import annotations

import datetime as dt
import logging
import pathlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pystac
import xarray as xr
from affine import Affine
from odc.geo.geobox import GeoBox
from pystac.utils import str_to_datetime

from s1stac.catalog import StaticCatalog
from s1stac.errors import CatalogError, ParameterError
from s1stac.io import compute_context
from s1stac.pictures import (
    TIMESCAN_RGB,
    QuicklookChannel,
    write_timescan_quicklook,
    write_timeseries_animation,
)
from s1stac.products import (
    is_complete,
    load_assets,
    load_series,
    read_small,
    register,
    write_product,
    writing,
)
from s1stac.timeseries import common_valid_mask

LOGGER = logging.getLogger(__name__)

POLARISATIONS = ("VV", "VH", "HH", "HV")
CO_POL = ("VV", "HH")
LS_KEYS = ("ls_mask", "layover_shadow", "mask")
"""Asset keys of a layover/shadow mask in ARD items (non-zero: layover and/or shadow)."""


def item_time(item: pystac.Item) -> dt.datetime:
    """Datetime (or start) of an item, UTC."""
    value = item.datetime or str_to_datetime(item.properties["start_datetime"])
    return value.astimezone(dt.UTC)


def span(items: Iterable[pystac.Item]) -> tuple[dt.datetime, dt.datetime]:
    """Earliest start and latest end of items, UTC."""
    starts: list[dt.datetime] = []
    ends: list[dt.datetime] = []
    for item in items:
        props = item.properties
        start, end = props.get("start_datetime"), props.get("end_datetime")
        starts.append(str_to_datetime(start) if start else item_time(item))
        ends.append(str_to_datetime(end) if end else item_time(item))
    return min(starts).astimezone(dt.UTC), max(ends).astimezone(dt.UTC)


def stamp(moment: dt.datetime | np.datetime64, fmt: str = "%Y%m%dT%H%M%S") -> str:
    """Format a datetime or ``datetime64``."""
    when: dt.datetime = (
        moment.astype("datetime64[us]").astype(dt.datetime)
        if isinstance(moment, np.datetime64)
        else moment
    )
    return when.strftime(fmt)


def track_of(item: pystac.Item) -> str:
    """Track name of an item: its relative orbit (OST's track folder name)."""
    orbit = item.properties.get("sat:relative_orbit")
    if orbit is None:
        raise CatalogError(f"item {item.id!r} has no sat:relative_orbit: cannot group by track")
    return str(int(orbit))


def by_track(
    items: Iterable[pystac.Item], track: str | None, collection: str
) -> dict[str, list[pystac.Item]]:
    """Items grouped by track (sorted by time), optionally only ``track``."""
    groups: dict[str, list[pystac.Item]] = defaultdict(list)
    for item in items:
        groups[track_of(item)].append(item)
    if track is not None:
        if track not in groups:
            raise ParameterError(f"track={track!r}: no {collection} item; tracks: {sorted(groups)}")
        groups = {track: groups[track]}
    return {key: sorted(group, key=item_time) for key, group in sorted(groups.items())}


def pol_keys(item: pystac.Item) -> dict[str, str]:
    """Polarisation -> asset key of the item's single-polarisation data assets."""
    found = {}
    for key, asset in item.assets.items():
        if "data" not in (asset.roles or []):
            continue
        pols = asset.extra_fields.get("sar:polarizations") or [key.upper()]
        if len(pols) == 1 and str(pols[0]).upper() in POLARISATIONS:
            found[str(pols[0]).upper()] = key
    return found


def skip(catalog: StaticCatalog, collection: str, ids: Sequence[str], overwrite: bool) -> bool:
    """Whether every product is complete and ``overwrite`` is off (logged)."""
    if overwrite or not all(is_complete(catalog, collection, i) for i in ids):
        return False
    LOGGER.info("%s: %s complete, skipped (overwrite=True redoes it)", collection, ", ".join(ids))
    return True


def intersection(grids: Sequence[GeoBox], track: str) -> GeoBox:
    """Bounding-box intersection of aligned grids (OST ``CreateStack``, ``extent=Minimum``)."""
    ref = grids[0]
    a, e = ref.affine.a, ref.affine.e
    rows, cols = [], []
    for grid in grids:
        same = grid.crs == ref.crs and np.isclose(grid.affine.a, a) and np.isclose(grid.affine.e, e)
        col = (grid.affine.c - ref.affine.c) / a
        row = (grid.affine.f - ref.affine.f) / e
        if not same or abs(col - round(col)) > 1e-6 or abs(row - round(row)) > 1e-6:
            raise ParameterError(
                f"track {track}: the ARD items are not on one aligned pixel grid; produce them "
                "with the same resolution and CRS"
            )
        cols.append((round(col), round(col) + grid.width))
        rows.append((round(row), round(row) + grid.height))
    r0, r1 = max(r[0] for r in rows), min(r[1] for r in rows)
    c0, c1 = max(c[0] for c in cols), min(c[1] for c in cols)
    if r0 >= r1 or c0 >= c1:
        raise ParameterError(f"track {track}: the acquisitions do not overlap")
    x0, y0 = ref.affine * (c0, r0)
    return GeoBox((r1 - r0, c1 - c0), Affine(a, 0.0, x0, 0.0, e, y0), ref.crs)


def load_stacks(
    items: list[pystac.Item], keys: dict[str, str], pols: Sequence[str], geobox: GeoBox
) -> dict[str, xr.DataArray]:
    """Lazy stacks ``(t, y, x)`` of each polarisation on ``geobox``."""
    return {
        pol: load_assets(items, [keys[pol]], geobox)[keys[pol]].rename({"time": "t"})
        for pol in pols
    }


def ls_stack(items: list[pystac.Item], geobox: GeoBox, track: str) -> xr.DataArray:
    """Lazy layover/shadow masks ``(t, y, x)`` of a track (``ParameterError`` if absent)."""
    key = next((k for k in LS_KEYS if all(k in i.assets for i in items)), None)
    if key is None:
        raise ParameterError(
            f"ls_mask=True but the ARD items of track {track} have no layover/shadow asset "
            f"({' or '.join(LS_KEYS)}); produce the ARD with the mask or set ls_mask=False"
        )
    return load_assets(items, [key], geobox)[key].rename({"time": "t"})


def common_extent(
    stacks: dict[str, xr.DataArray], ls: xr.DataArray | None, scheduler: str | None
) -> tuple[xr.DataArray, tuple[slice, slice]]:
    """Pixels valid at every date in every polarisation (minus layover/shadow), and their bbox.

    The per-pixel form of OST's ``min_bounds`` (§3.2) and ``valid`` (§3.3); computed now (one
    read of the stacks).
    """
    valid = None
    for stack in stacks.values():
        mask = common_valid_mask(stack)
        valid = mask if valid is None else valid & mask
    if valid is None:
        raise ParameterError("no polarisation to stack")
    if ls is not None:
        valid = valid & ~((ls.fillna(0) != 0).any("t"))
    with compute_context(scheduler):
        valid = valid.compute()
    rows = np.flatnonzero(valid.any("x").values)
    cols = np.flatnonzero(valid.any("y").values)
    if rows.size == 0:
        raise ParameterError("the acquisitions of the track have no pixel valid at every date")
    window = (slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1))
    return valid.isel(y=window[0], x=window[1]), window


def animation(
    products: Sequence[pystac.Item],
    pols: Sequence[str],
    times: np.ndarray[Any, Any],
    path: pathlib.Path,
    *,
    db: bool,
) -> None:
    """Animated GIF of a track from its written COGs (OST §6.1): RGB of co- and cross-pol."""
    shown = [p for p in pols if p in CO_POL][:1] + [p for p in pols if p not in CO_POL][:1]
    planes = []
    for pol in shown:
        product = products[list(pols).index(pol)]
        paths = [
            pathlib.Path(asset.href)
            for asset in product.assets.values()
            if "data" in (asset.roles or [])
        ]
        planes.append(read_small(paths))
    cube = xr.DataArray(
        np.stack(planes, axis=1),
        dims=("t", "band", "y", "x"),
        coords={"t": times, "band": shown},
        attrs={"units": "dB" if db else "m2 m-2"},
    )
    write_timeseries_animation(cube, path, shrink=1)


def series_cube(item: pystac.Item) -> tuple[str, xr.DataArray]:
    """(polarisation, lazy cube ``(t, y, x)``) of an ``s1-timeseries`` item, as float."""
    keys = [k for k, a in item.assets.items() if "data" in (a.roles or [])]
    pols = item.properties.get("sar:polarizations") or [keys[0].split("_")[0].upper()]
    cube = load_series(item, keys)
    return str(pols[0]), cube.rename(str(pols[0]))


def write_metrics(
    store: StaticCatalog,
    collection: str,
    item_id: str,
    *,
    pols: Sequence[str],
    labels: Sequence[str],
    title: str,
    **product: Any,
) -> pystac.Item:
    """Write a product of metric layers (timescan, mosaic) with its RGB quick-look; register it.

    ``product`` holds the arguments of :func:`write_product`; on any error nothing is registered.
    """
    with writing(store, collection, [item_id]):
        item = write_product(store, collection, item_id, register=False, **product)
        png = store.item_path(collection, item_id).parent / f"{item_id}_quicklook.png"
        if quicklook(item, pols, labels, png):
            item.add_asset(
                "quicklook",
                pystac.Asset(str(png), f"{title} RGB quick-look", None, "image/png", ["overview"]),
            )
        register(store, collection, [item])
    return item


def quicklook(
    product: pystac.Item, pols: Sequence[str], labels: Sequence[str], path: pathlib.Path
) -> bool:
    """RGB PNG of a timescan product from its COGs; ``False`` if it lacks the channels."""
    co = next((p for p in pols if p in CO_POL), None)
    cross = next((p for p in pols if p not in CO_POL), None)
    if co is None or cross is None or "avg" not in labels or "cov" not in labels:
        LOGGER.info("%s: no quick-look (needs co- and cross-pol avg and cov)", product.id)
        return False
    rename = {"VV": co, "VH": cross}
    channels = tuple(
        QuicklookChannel(rename[c.polarisation], c.metric, c.low, c.high, c.db)
        for c in TIMESCAN_RGB
    )
    layers = {}
    for pol in (co, cross):
        assets = [product.assets[f"{pol.lower()}_{m}"] for m in labels]
        layers[pol] = xr.DataArray(
            read_small([pathlib.Path(a.href) for a in assets]),
            dims=("metric", "y", "x"),
            coords={
                "metric": list(labels),
                "metric_units": ("metric", [a.extra_fields.get("unit", "") for a in assets]),
            },
        )
    write_timescan_quicklook(layers, path, channels=channels)
    return True
