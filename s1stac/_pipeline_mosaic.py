"""Mosaic products of :mod:`s1stac.pipeline`: timescan and time-series mosaics of all tracks.

Reference: ``OST_SPEC.md`` §5 (OST ``mosaic_timescan`` / ``mosaic_timeseries``, Orfeo Toolbox
Mosaic).  Layers in dB are mosaicked in linear power (:func:`s1stac.mosaic.mosaic`) and
converted back; time-series dates of the tracks are paired by time windows
(:func:`s1stac.mosaic.pair_by_date_window`) instead of OST's "i-th acquisition of every track".
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
from collections.abc import Sequence

import numpy as np
import pystac
import xarray as xr
from tqdm import tqdm

from s1stac._pipeline_steps import (
    POLARISATIONS,
    by_track,
    series_cube,
    skip,
    span,
    stamp,
    write_metrics,
)
from s1stac.aoi import AoiLike, read_aoi
from s1stac.catalog import StaticCatalog, as_catalog
from s1stac.errors import CatalogError
from s1stac.mosaic import mosaic, pair_by_date_window
from s1stac.products import (
    Layer,
    grid_properties,
    inherited,
    item_grid,
    load_assets,
    register,
    write_product,
    writing,
)
from s1stac.timeseries import from_db
from s1stac.timeseries import to_db as convert_to_db

__all__ = ["mosaic_products", "mosaic_timeseries_products"]

LOGGER = logging.getLogger(__name__)


def _aoi_suffix(aoi: AoiLike | None) -> str:
    if aoi is None:
        return ""
    return "_aoi" + hashlib.sha256(read_aoi(aoi).wkt.encode()).hexdigest()[:8]


def _blend(
    images: Sequence[xr.DataArray],
    *,
    aoi: AoiLike | None,
    harmonise: bool,
    feather_distance: float | None,
) -> xr.DataArray:
    """Mosaic 2-D layers (dB ones in linear power), float32, units kept."""
    unit = str(images[0].attrs.get("units", ""))
    db = unit == "dB"
    linear = [(from_db(i) if db else i).rename(f"image{n}") for n, i in enumerate(images)]
    out = mosaic(linear, aoi=aoi, harmonise=harmonise, feather_distance=feather_distance)
    if db:
        out = convert_to_db(out.assign_attrs(units="m2 m-2"))
    return out.astype(np.float32).assign_attrs(units=unit)


def mosaic_products(
    catalog: str | os.PathLike[str] | StaticCatalog,
    *,
    aoi: AoiLike | None = None,
    harmonise: bool = True,
    feather_distance: float | None = None,
    overwrite: bool = False,
    scheduler: str | None = None,
    progress: bool = False,
) -> list[pystac.Item]:
    """Mosaic the timescans of all tracks (``OST_SPEC.md`` §5) into ``s1-mosaic``.

    Layers in dB (``avg``, ``max``, ``min``, ``median``, percentiles) are mosaicked in linear
    power and converted back; the others (``std``, ``cov``...) as they are, ``count``
    without harmonisation.  See :func:`s1stac.mosaic.mosaic` for harmonisation, feathering
    and the AOI cut.

    Returns
    -------
    list of pystac.Item
        One item: a COG per layer common to all timescans (``01.bs.VV.avg.tif``...), and the
        RGB quick-look.
    """
    store = as_catalog(catalog)
    items = sorted(store.items("s1-timescan"), key=lambda i: i.id)
    if not items:
        raise CatalogError("collection s1-timescan has no items: run timescan_products first")
    keys = [
        k
        for k, a in items[0].assets.items()
        if "data" in (a.roles or []) and all(k in i.assets for i in items)
    ]
    start, end = span(items)
    item_id = f"mosaic_timescan_{start:%Y%m%d}_{end:%Y%m%d}{_aoi_suffix(aoi)}"
    if skip(store, "s1-mosaic", [item_id], overwrite):
        return [store.get_item("s1-mosaic", item_id)]
    layers: list[Layer] = []
    pols: list[str] = []
    labels: list[str] = []
    for key in tqdm(keys, desc="mosaic", disable=not progress):
        images = [
            load_assets([item], [key], item_grid(item, key))[key].isel(time=0, drop=True)
            for item in items
        ]
        pol, metric = key.split("_", 1)[0].upper(), key.split("_", 1)[1]
        out = _blend(
            images,
            aoi=aoi,
            harmonise=harmonise and metric != "count",
            feather_distance=feather_distance,
        )
        pols += [pol] if pol not in pols else []
        labels += [metric] if metric not in labels else []
        layers.append(
            Layer(
                key,
                f"{len(layers) + 1:02d}.bs.{pol}.{metric}.tif",
                out.rename(f"{pol} {metric}"),
                f"{pol} timescan {metric} mosaic",
                {"sar:polarizations": [pol]},
            )
        )
    properties = {
        "sar:polarizations": pols,
        **grid_properties(layers[0].data.odc.geobox, cube=False),
    }
    properties |= {k: v for k, v in inherited(items).items() if not k.startswith("sat:")}
    product = write_metrics(
        store,
        "s1-mosaic",
        item_id,
        pols=pols,
        labels=labels,
        title="mosaic",
        layers=layers,
        time_range=(start, end),
        properties=properties,
        sources=items,
        scheduler=scheduler,
        lineage=f"mosaic of {len(items)} timescan(s)"
        + (", harmonised" if harmonise else "")
        + (", cut to the AOI" if aoi is not None else ""),
    )
    return [product]


def mosaic_timeseries_products(
    catalog: str | os.PathLike[str] | StaticCatalog,
    *,
    window_days: float = 6.0,
    require_all: bool = True,
    aoi: AoiLike | None = None,
    harmonise: bool = True,
    feather_distance: float | None = None,
    overwrite: bool = False,
    scheduler: str | None = None,
    progress: bool = False,
) -> list[pystac.Item]:
    """Time-series mosaics (``OST_SPEC.md`` §5.1): the tracks' dates paired by time windows.

    Parameters
    ----------
    window_days, require_all
        Grouping of the acquisitions of all tracks (:func:`s1stac.mosaic.pair_by_date_window`;
        ``require_all``: keep only groups where every track has an acquisition).
    aoi, harmonise, feather_distance
        As :func:`mosaic_products`.
    overwrite, scheduler, progress
        As :func:`s1stac.pipeline.timeseries`.

    Returns
    -------
    list of pystac.Item
        One ``s1-mosaic`` item per polarisation, one COG per date group
        (``01.210309-210310.bs.VV.tif``; asset ``vv_20210309T051946`` keyed by the group's
        first acquisition, with ``start_datetime`` / ``end_datetime``).
    """
    store = as_catalog(catalog)
    tracks = by_track(store.items("s1-timeseries"), None, "s1-timeseries")
    if not tracks:
        raise CatalogError("collection s1-timeseries has no items: run timeseries first")
    results = []
    for pol in POLARISATIONS:
        series = {}
        for name, items in tracks.items():
            mine = [i for i in items if i.properties.get("sar:polarizations") == [pol]]
            if mine:
                series[name] = max(mine, key=lambda i: span([i])[1])
        if not series:
            continue
        start, end = span(series.values())
        item_id = f"mosaic_ts_{pol}_{start:%Y%m%d}_{end:%Y%m%d}{_aoi_suffix(aoi)}"
        if skip(store, "s1-mosaic", [item_id], overwrite):
            results.append(store.get_item("s1-mosaic", item_id))
            continue
        cubes = {name: series_cube(item)[1] for name, item in series.items()}
        groups = pair_by_date_window(
            {name: list(cube["t"].values) for name, cube in cubes.items()},
            window_days,
            require_all=require_all,
        )
        if not groups:
            LOGGER.warning("%s: no date group within %s days", pol, window_days)
            continue
        layers = []
        for n, group in enumerate(tqdm(groups, desc=f"mosaic {pol}", disable=not progress)):
            images = [cubes[name].isel(t=k, drop=True) for name, k in group.members]
            out = _blend(images, aoi=aoi, harmonise=harmonise, feather_distance=feather_distance)
            first, last = stamp(group.start, "%y%m%d"), stamp(group.end, "%y%m%d")
            label = first if first == last else f"{first}-{last}"
            layers.append(
                Layer(
                    f"{pol.lower()}_{stamp(group.start)}",
                    f"{n + 1:02d}.{label}.bs.{pol}.tif",
                    out.rename(f"{pol} {label}"),
                    f"{pol} backscatter mosaic {label}",
                    {
                        "sar:polarizations": [pol],
                        "start_datetime": _iso(group.start),
                        "end_datetime": _iso(group.end),
                    },
                )
            )
        properties = {
            "sar:polarizations": [pol],
            **grid_properties(layers[0].data.odc.geobox, cube=False),
        }
        properties |= {
            k: v for k, v in inherited(list(series.values())).items() if not k.startswith("sat:")
        }
        with writing(store, "s1-mosaic", [item_id]):
            product = write_product(
                store,
                "s1-mosaic",
                item_id,
                layers=layers,
                time_range=(start, end),
                properties=properties,
                sources=list(series.values()),
                scheduler=scheduler,
                register=False,
                lineage=f"time-series mosaic of {len(series)} track(s), windows of "
                f"{window_days} days" + (", harmonised" if harmonise else ""),
            )
            register(store, "s1-mosaic", [product])
        results.append(product)
    return results


def _iso(moment: dt.datetime) -> str:
    """ISO 8601 UTC of a naive UTC datetime."""
    return moment.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"
