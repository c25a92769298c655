"""Composition of the stages into runs: the place where whole chains are computed and written.

Stage modules (:mod:`s1stac.inventory`, :mod:`s1stac.ard`, :mod:`s1stac.timeseries`,
:mod:`s1stac.timescan`, :mod:`s1stac.mosaic`, :mod:`s1stac.pictures`) stay pure and lazy; the
functions here read the catalog's items with odc-stac, call the stages in order and write and
register every output through :mod:`s1stac.products`.  They follow OST's batch processing
(``OST_SPEC.md`` §3 time series, §4 timescan, §5 mosaic, §10b layout):

* :func:`timeseries`: per track (relative orbit) and polarisation, the ``s1-ard`` items are
  stacked on their common extent (the pixels valid at every date and in every polarisation,
  the per-pixel form of OST's ``min_bounds``; optionally minus every pixel flagged as layover
  or shadow at any date, OST's ``valid``), filtered by the multi-temporal (Quegan) speckle
  filter, converted to dB and scaled to the output dtype (OST's integer codes with the exact
  inverse), and registered in ``s1-timeseries`` with the animation GIF of the track.
* :func:`timescan_products`: per track, OST's timescan metrics of every polarisation in
  ``s1-timescan`` with an RGB quick-look.
* :func:`mosaic_products`: the timescans of all tracks mosaicked (harmonised, feathered, cut to
  the AOI) into ``s1-mosaic``.

A product whose item is registered with all its files is skipped on a re-run unless
``overwrite``; a failure leaves nothing registered for the product being written.  The common
extent of a track costs one extra read of its stack.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pystac
import xarray as xr
from tqdm import tqdm

from s1stac._pipeline_mosaic import mosaic_products, mosaic_timeseries_products
from s1stac._pipeline_steps import (
    POLARISATIONS,
    animation,
    by_track,
    common_extent,
    intersection,
    item_time,
    load_stacks,
    ls_stack,
    pol_keys,
    series_cube,
    skip,
    span,
    stamp,
    write_metrics,
)
from s1stac.catalog import StaticCatalog, as_catalog
from s1stac.demo import DEMO_DATES, DemoResult, run_demo
from s1stac.errors import CatalogError, ParameterError
from s1stac.products import (
    Layer,
    grid_properties,
    inherited,
    item_grid,
    register,
    write_product,
    writing,
)
from s1stac.timescan import metric_range
from s1stac.timescan import timescan as compute_timescan
from s1stac.timeseries import multitemporal_speckle_filter, scale_to_int
from s1stac.timeseries import to_db as convert_to_db

log = logging.getLogger(__name__)

__all__ = [
    "DEMO_DATES",
    "DemoResult",
    "mosaic_products",
    "mosaic_timeseries_products",
    "run_demo",
    "timescan_products",
    "timeseries",
]

MtFilter = Literal["boxcar", "refined_lee"]
OutputDtype = Literal["float32", "uint8", "uint16"]


@dataclass(frozen=True)
class _SeriesOptions:
    mt_filter: MtFilter | None
    to_db: bool
    dtype: OutputDtype
    ls_mask: bool
    scheduler: str | None


def timeseries(
    catalog: str | os.PathLike[str] | StaticCatalog,
    *,
    track: str | int | None = None,
    polarisations: Sequence[str] | None = None,
    mt_speckle_filter: MtFilter | None = "boxcar",
    to_db: bool = True,
    dtype: OutputDtype = "float32",
    ls_mask: bool = False,
    overwrite: bool = False,
    scheduler: str | None = None,
    progress: bool = False,
) -> list[pystac.Item]:
    """Build the time series of every track (or one) from ``s1-ard`` (``OST_SPEC.md`` §3).

    Parameters
    ----------
    catalog
        Static catalog (folder) holding the ``s1-ard`` items.
    track
        Relative orbit to process; default every track.
    polarisations
        Polarisations to process; default every one present in all ARD items of a track.
    mt_speckle_filter
        Spatial part of the Quegan multi-temporal filter: ``"boxcar"`` (7x7), ``"refined_lee"``,
        or ``None`` for no filter.
    to_db
        Write dB (required by the integer dtypes, which code -30...5 dB).
    dtype
        ``float32`` (NaN no-data) or OST's integer codes ``uint8`` / ``uint16`` (0 no-data,
        decoded by the assets' ``raster:scale`` / ``raster:offset``).
    ls_mask
        Exclude every pixel flagged layover/shadow at any date (needs a layover/shadow asset
        ``ls_mask``, ``layover_shadow`` or ``mask`` in the ARD items).
    overwrite
        Redo complete products.
    scheduler
        Dask scheduler (``None``, ``"threads"``, ``"processes"`` or a ``tcp://`` address).
    progress
        Show a progress bar over the tracks.

    Returns
    -------
    list of pystac.Item
        One ``s1-timeseries`` item per track and polarisation: one COG per date (asset
        ``vv_20210309T051946``, file ``01.210309.bs.VV.tif``) and the track's animation GIF.
    """
    if dtype not in ("float32", "uint8", "uint16"):
        raise ParameterError(f"dtype={dtype!r}: choose 'float32', 'uint8' or 'uint16'")
    if dtype != "float32" and not to_db:
        raise ParameterError(f"dtype={dtype!r} codes dB values (-30...5 dB): set to_db=True")
    if mt_speckle_filter not in (None, "boxcar", "refined_lee"):
        raise ParameterError(
            f"mt_speckle_filter={mt_speckle_filter!r}: choose 'boxcar', 'refined_lee' or None"
        )
    store = as_catalog(catalog)
    options = _SeriesOptions(mt_speckle_filter, to_db, dtype, ls_mask, scheduler)
    wanted = None if polarisations is None else [p.upper() for p in polarisations]
    groups = by_track(store.items("s1-ard"), None if track is None else str(track), "s1-ard")
    if not groups:
        raise CatalogError(f"collection s1-ard of {store.root} has no items: run the ARD first")
    results: list[pystac.Item] = []
    for name, items in tqdm(groups.items(), desc="time series", disable=not progress):
        results += _track_timeseries(store, name, items, wanted, options, overwrite)
    return results


def _track_timeseries(
    store: StaticCatalog,
    track: str,
    items: list[pystac.Item],
    wanted: list[str] | None,
    options: _SeriesOptions,
    overwrite: bool,
) -> list[pystac.Item]:
    keys = pol_keys(items[0])
    pols = [p for p in POLARISATIONS if p in keys and all(p in pol_keys(i) for i in items)]
    if wanted is not None:
        missing = sorted(set(wanted) - set(pols))
        if missing:
            raise ParameterError(f"track {track}: polarisation(s) {missing} not in all ARD items")
        pols = [p for p in pols if p in wanted]
    first, last = stamp(item_time(items[0]), "%Y%m%d"), stamp(item_time(items[-1]), "%Y%m%d")
    ids = {pol: f"ts_{track}_{pol}_{first}_{last}" for pol in pols}
    if skip(store, "s1-timeseries", list(ids.values()), overwrite):
        return [store.get_item("s1-timeseries", i) for i in ids.values()]
    geobox = intersection([item_grid(item, keys[pols[0]]) for item in items], track)
    stacks = load_stacks(items, keys, pols, geobox)
    ls = ls_stack(items, geobox, track) if options.ls_mask else None
    valid, window = common_extent(stacks, ls, options.scheduler)
    times = stacks[pols[0]]["t"].values
    log.info("track %s: %d date(s), common extent %s", track, len(times), dict(valid.sizes))
    with writing(store, "s1-timeseries", ids.values()):
        products = []
        for pol in pols:
            cube = stacks[pol].isel(y=window[0], x=window[1]).where(valid)
            products.append(_write_series(store, ids[pol], pol, cube, items, options))
        folder = store.item_path("s1-timeseries", ids[pols[0]]).parent
        gif = folder / f"{track}_ts_animation.gif"
        animation(products, pols, times, gif, db=options.to_db)
        for product in products:
            title = f"time-series animation of track {track}"
            product.add_asset(
                "animation", pystac.Asset(str(gif), title, None, "image/gif", ["overview"])
            )
        register(store, "s1-timeseries", products)
    return products


def _write_series(
    store: StaticCatalog,
    item_id: str,
    pol: str,
    cube: xr.DataArray,
    items: list[pystac.Item],
    options: _SeriesOptions,
) -> pystac.Item:
    """Filter, convert and write the time series of one polarisation (unregistered item)."""
    cube = cube.assign_attrs(units="m2 m-2")
    if options.mt_filter is not None:
        cube = multitemporal_speckle_filter(cube, options.mt_filter)
    values = convert_to_db(cube) if options.to_db else cube
    if options.dtype == "float32":
        values = values.astype(np.float32)
    else:
        values = scale_to_int(values, options.dtype)
    layers = []
    for k, time in enumerate(cube["t"].values):
        iso = f"{np.datetime_as_string(time, unit='s')}Z"
        layers.append(
            Layer(
                f"{pol.lower()}_{stamp(time)}",
                f"{k + 1:02d}.{stamp(time, '%y%m%d')}.bs.{pol}.tif",
                values.isel(t=k, drop=True).rename(f"{pol} {stamp(time)}"),
                f"{pol} backscatter {iso}",
                {"sar:polarizations": [pol], "datetime": iso},
            )
        )
    properties = {
        **inherited(items),
        "sar:polarizations": [pol],
        **grid_properties(layers[0].data.odc.geobox, times=list(cube["t"].values)),
        "cube:variables": {
            pol.lower(): {
                "dimensions": ["t", "y", "x"],
                "type": "data",
                "unit": "dB" if options.to_db else "m2 m-2",
            }
        },
    }
    lineage = (
        f"OST time series: common extent of {len(items)} acquisition(s)"
        + (", layover/shadow excluded" if options.ls_mask else "")
        + (f", multi-temporal speckle filter ({options.mt_filter})" if options.mt_filter else "")
        + (", dB" if options.to_db else "")
        + f", {options.dtype}"
    )
    return write_product(
        store,
        "s1-timeseries",
        item_id,
        layers=layers,
        time_range=span(items),
        properties=properties,
        sources=items,
        lineage=lineage,
        scheduler=options.scheduler,
        register=False,
    )


def timescan_products(
    catalog: str | os.PathLike[str] | StaticCatalog,
    *,
    metrics: Sequence[str] = ("avg", "max", "min", "std", "cov"),
    remove_outliers: bool = True,
    percentiles: Sequence[float] = (5, 95),
    track: str | int | None = None,
    dtype: str = "float32",
    overwrite: bool = False,
    scheduler: str | None = None,
    progress: bool = False,
) -> list[pystac.Item]:
    """Timescan of every track's time series (``OST_SPEC.md`` §4), into ``s1-timescan``.

    Parameters
    ----------
    catalog
        Static catalog holding the ``s1-timeseries`` items.
    metrics, remove_outliers, percentiles
        As :func:`s1stac.timescan.timescan` (dB series are averaged in linear power).
    track
        Relative orbit to process; default every track.
    dtype
        ``float32`` (NaN no-data) or, as OST for integer time series, ``uint8`` / ``uint16``
        codes of each metric's range (:func:`s1stac.timescan.metric_range`; 0 = no data,
        ``raster:scale`` / ``raster:offset`` decode them).
    overwrite, scheduler, progress
        As :func:`timeseries`.

    Returns
    -------
    list of pystac.Item
        One item per track: one COG per polarisation and metric (asset ``vv_avg``...) and the
        RGB quick-look PNG (VV avg, VH avg, VV cov) when both polarisations are there.
    """
    if dtype not in ("float32", "uint8", "uint16"):
        raise ParameterError(f"dtype={dtype!r}: choose 'float32', 'uint8' or 'uint16'")
    store = as_catalog(catalog)
    groups = by_track(
        store.items("s1-timeseries"), None if track is None else str(track), "s1-timeseries"
    )
    if not groups:
        raise CatalogError("collection s1-timeseries has no items: run timeseries first")
    results = []
    for name, series_items in tqdm(groups.items(), desc="timescan", disable=not progress):
        latest = {}  # per polarisation, the series ending last
        for item in sorted(series_items, key=lambda i: span([i])[1]):
            latest[item.properties["sar:polarizations"][0]] = item
        items = [latest[p] for p in POLARISATIONS if p in latest]
        start, end = span(items)
        item_id = f"tscan_{name}_{start:%Y%m%d}_{end:%Y%m%d}"
        if skip(store, "s1-timescan", [item_id], overwrite):
            results.append(store.get_item("s1-timescan", item_id))
            continue
        layers: list[Layer] = []
        pols: list[str] = []
        for series in items:
            pol, cube = series_cube(series)
            pols.append(pol)
            result = compute_timescan(
                cube,
                list(metrics),
                to_power=cube.attrs.get("units") == "dB",
                remove_outliers=remove_outliers,
                percentiles=list(percentiles),
            )
            labels = [str(m) for m in result["metric"].values]
            for metric, unit in zip(
                result["metric"].values, result["metric_units"].values, strict=True
            ):
                layer = result.sel(metric=metric, drop=True).drop_vars(
                    "metric_units", errors="ignore"
                )
                layer = layer.astype(np.float32).assign_attrs(units=str(unit))
                if dtype != "float32":
                    low, high = metric_range(str(metric), str(unit), dtype)
                    layer = scale_to_int(layer, dtype, low=low, high=high)  # type: ignore[arg-type]
                layer = layer.rename(f"{pol} {metric}")
                layers.append(
                    Layer(
                        f"{pol.lower()}_{metric}",
                        f"{len(layers) + 1:02d}.bs.{pol}.{metric}.tif",
                        layer,
                        f"{pol} timescan {metric}",
                        {"sar:polarizations": [pol]},
                    )
                )
        grid = layers[0].data.odc.geobox
        properties = {
            **inherited(items),
            "sar:polarizations": pols,
            **grid_properties(grid, bands=[layer.key for layer in layers]),
        }
        product = write_metrics(
            store,
            "s1-timescan",
            item_id,
            pols=pols,
            labels=labels,
            title="timescan",
            layers=layers,
            time_range=(start, end),
            properties=properties,
            sources=items,
            scheduler=scheduler,
            lineage=f"OST timescan of {len(items)} time series: {', '.join(labels)}"
            + (", outliers removed" if remove_outliers else "")
            + ("" if dtype == "float32" else f", {dtype} codes"),
        )
        results.append(product)
    return results
