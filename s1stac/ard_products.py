"""Writing and STAC registration of the ARD of every acquisition (collection ``s1-ard``).

Reference: ``OST_SPEC.md`` §2 (single_ARD, one product per acquisition of assembled slices) and
§10b (output layout); ``STAC.md`` (fields of the ``s1-ard`` items).

:func:`ard_products` groups the ``sentinel-1-grd`` items of a catalog into acquisitions
(consecutive slices of one datatake, :func:`s1stac.refinement.group_acquisitions`), computes
each with :func:`s1stac.ard.process_ard` and writes one Cloud-Optimized GeoTIFF per
polarisation (linear float32, NaN no-data; plus the layover/shadow mask as asset ``ls_mask``
and other extra bands when asked) and an RGB thumbnail into
``<catalog>/s1-ard/<item id>/``.  The item is registered last
(:meth:`s1stac.catalog.StaticCatalog.add_items`, atomic): a failure leaves nothing registered
and removes the folder of a new item.  Items whose files are all present are skipped on a
re-run unless ``overwrite``.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import pathlib
from collections.abc import Sequence
from typing import Any, Final, Literal

import numpy as np
import pystac
import xarray as xr
from tqdm import tqdm

from s1stac.ard import ArdOptions, ArdProduct, ExtraBand, ProductType, SpeckleMethod, process_ard
from s1stac.catalog import StaticCatalog, as_catalog
from s1stac.dem import DemSource
from s1stac.errors import AcquisitionErrors, CatalogError, ParameterError, S1StacError
from s1stac.inventory import items_to_geodataframe
from s1stac.pictures import write_thumbnail
from s1stac.products import (
    Layer,
    grid_properties,
    is_complete,
    read_small,
    register,
    write_product,
    writing,
)
from s1stac.refinement import Acquisition, group_acquisitions
from s1stac.stac_items import product_path

__all__ = ["ARD_COLLECTION", "GRD_COLLECTION", "ard_item_id", "ard_products", "select_grd_items"]

log = logging.getLogger(__name__)

ARD_COLLECTION: Final = "s1-ard"
GRD_COLLECTION: Final = "sentinel-1-grd"
_MASK_KEY: Final = "ls_mask"
_SAR_CENTER_FREQUENCY: Final = 5.405
_COPIED: Final = ("platform", "constellation", "instruments", "sar:instrument_mode")


def _product_name(value: str | os.PathLike[str]) -> str:
    name = pathlib.Path(value).name
    for suffix in (".zip", ".SAFE"):
        name = name.removesuffix(suffix)
    return name


def select_grd_items(
    grd_items: Sequence[pystac.Item], wanted: Sequence[str | os.PathLike[str]] | None
) -> list[pystac.Item]:
    """Pick the GRD items named by id or by product path (SAFE folder / zip); all if ``None``.

    Raises
    ------
    ParameterError
        If an id or path is not a ``sentinel-1-grd`` item of the catalog.
    """
    if wanted is None:
        return list(grd_items)
    by_id = {item.id: item for item in grd_items}
    by_path: dict[pathlib.Path, pystac.Item] = {}
    for grd in grd_items:
        try:
            by_path[product_path(grd).resolve()] = grd
        except CatalogError:  # items without a local product are matched by id only
            continue
    selected: list[pystac.Item] = []
    for entry in wanted:
        found = by_id.get(str(entry)) or by_path.get(pathlib.Path(entry).resolve())
        found = found or by_id.get(_product_name(entry))
        if found is None:
            raise ParameterError(
                f"items: {str(entry)!r} is not an item of collection {GRD_COLLECTION!r}; "
                "register the product first (s1stac inventory PATH --catalog DIR)"
            )
        if found not in selected:
            selected.append(found)
    return selected


def ard_item_id(acquisition: Acquisition, options: ArdOptions) -> str:
    """Stable item id, e.g. ``S1A_117_20210310T170526_RTC-gamma0_20m``."""
    item_id = f"{acquisition.acquisition_id}_{options.product_type}_{options.resolution:g}m"
    return item_id if acquisition.segment == 1 else f"{item_id}_{acquisition.segment}"


def _layers(ard: ArdProduct) -> dict[str, xr.DataArray]:
    """Asset key -> layer (one per polarisation, then the extra bands)."""
    layers: dict[str, xr.DataArray] = {}
    for pol in ard.polarisations:
        layers[pol.value.lower()] = ard.dataset[pol.value]
    for band in ard.options.extra_bands:
        layers[_MASK_KEY if band == "mask" else band] = ard.dataset[band]
    return layers


def _thumbnail(paths: Sequence[pathlib.Path], out: pathlib.Path) -> pathlib.Path:
    planes = read_small(list(paths), max_size=512)
    vv = xr.DataArray(planes[0], dims=("y", "x"))
    vh = xr.DataArray(planes[1] if len(planes) > 1 else planes[0], dims=("y", "x"))
    return write_thumbnail(vv, vh, out)


def _properties(ard: ArdProduct, sources: Sequence[pystac.Item]) -> dict[str, Any]:
    first = sources[0].properties
    properties: dict[str, Any] = {key: first[key] for key in _COPIED if key in first}
    properties |= {
        "platform": ard.platform.lower(),
        "sar:polarizations": [p.value for p in ard.polarisations],
        "sar:frequency_band": "C",
        "sar:center_frequency": _SAR_CENTER_FREQUENCY,
        "sar:product_type": ard.options.product_type,
        "sar:looks_range": ard.looks,
        "sar:looks_azimuth": ard.looks,
        "sat:orbit_state": ard.orbit_direction.lower(),
        "sat:relative_orbit": int(ard.relative_orbit),
        "sat:absolute_orbit": int(ard.absolute_orbit),
    }
    return properties | grid_properties(ard.geobox, cube=False)


def _utc(value: np.datetime64) -> dt.datetime:
    text = str(np.datetime_as_string(np.asarray(value, dtype="datetime64[us]"), unit="us"))
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def _write(
    store: StaticCatalog,
    item_id: str,
    ard: ArdProduct,
    sources: Sequence[pystac.Item],
    scheduler: str | None,
) -> pystac.Item:
    """Write the COGs and the thumbnail, then register the item (nothing on failure)."""
    folder = store.item_path(ARD_COLLECTION, item_id).parent
    pol_keys = [p.value.lower() for p in ard.polarisations]
    layers = [
        Layer(
            key,
            f"{item_id}_{key}.tif",
            data,
            ard.extra.get(
                key.upper() if key in pol_keys else "mask" if key == _MASK_KEY else key, key
            ),
            {"sar:polarizations": [key.upper()]} if key in pol_keys else {},
        )
        for key, data in _layers(ard).items()
    ]
    with writing(store, ARD_COLLECTION, [item_id]):
        item = write_product(
            store,
            ARD_COLLECTION,
            item_id,
            layers=layers,
            time_range=(_utc(ard.start_time), _utc(ard.stop_time)),
            properties=_properties(ard, sources),
            sources=sources,
            scheduler=scheduler,
            register=False,
            lineage=ard.lineage,
        )
        pol_paths = [pathlib.Path(item.assets[key].href) for key in pol_keys]
        thumbnail = _thumbnail(pol_paths, folder / f"{item_id}_thumbnail.png")
        item.add_asset(
            "thumbnail",
            pystac.Asset(
                str(thumbnail),
                "RGB thumbnail",
                None,
                pystac.MediaType.PNG,
                ["thumbnail", "overview"],
            ),
        )
        register(store, ARD_COLLECTION, [item])
    return item


def ard_products(
    catalog: str | os.PathLike[str] | StaticCatalog,
    *,
    product_type: ProductType = "RTC-gamma0",
    resolution: float = 20.0,
    dem: DemSource | None = None,
    crs: str = "EPSG:4326",
    speckle_filter: SpeckleMethod | None = None,
    ls_mask: bool = False,
    polarisations: Sequence[str] | None = None,
    extra_bands: Sequence[ExtraBand] = (),
    items: Sequence[str | os.PathLike[str]] | None = None,
    overwrite: bool = False,
    on_error: Literal["raise", "continue"] = "raise",
    scheduler: str | None = None,
    progress: bool = False,
) -> list[pystac.Item]:
    """Compute, write and register the ARD of every acquisition in collection ``s1-ard``.

    Parameters
    ----------
    catalog
        Static catalog (folder) whose ``sentinel-1-grd`` items are processed.
    product_type
        ``GTC-sigma0``, ``GTC-gamma0`` or ``RTC-gamma0`` (``OST_SPEC.md`` §2.3).
    resolution
        Output pixel spacing in metres.
    dem
        DEM file(s) or STAC collection (:func:`s1stac.dem.load_dem`); required.
    crs
        Output CRS (``EPSG:4326``, an EPSG code in metres, or ``AUTO:42001``).
    speckle_filter
        Single-date speckle filter (``boxcar``, ``lee``, ``refined_lee``) or ``None``.
    ls_mask
        Also write the layover/shadow mask (asset ``ls_mask``, 0 none, 1 layover, 2 shadow,
        3 both).
    polarisations
        Polarisations to process; all of each product when ``None``.
    extra_bands
        Further bands (``local_incidence_angle``, ``ellipsoid_incidence_angle``,
        ``contributing_area``), written as assets of the same name.
    items
        GRD item ids or product paths to process; all ``sentinel-1-grd`` items when ``None``.
        Consecutive slices of one datatake are processed together.
    overwrite
        Redo items that are already complete.
    on_error
        ``"raise"``: stop at the first acquisition that fails.  ``"continue"``: log it, go on
        with the others, then raise :class:`~s1stac.errors.AcquisitionErrors` naming every
        failed acquisition (the others are registered; a re-run skips them).
    scheduler
        Dask scheduler (:func:`s1stac.io.compute_context`).
    progress
        Show a progress bar over the acquisitions.

    Returns
    -------
    list of pystac.Item
        The ``s1-ard`` item of every selected acquisition (skipped ones included).

    Raises
    ------
    ParameterError
        No DEM, bad options, unknown items.
    s1stac.errors.MissingComponentError
        A calibration, noise or measurement file is missing (nothing is registered).
    s1stac.errors.AcquisitionErrors
        With ``on_error="continue"``, after the batch, if any acquisition failed.
    """
    if on_error not in ("raise", "continue"):
        raise ParameterError(f"on_error={on_error!r}: choose 'raise' or 'continue'")
    if dem is None:
        raise ParameterError(
            "dem: a DEM is required for terrain correction; give a DEM file (--dem FILE) "
            "covering the scenes"
        )
    bands = tuple(extra_bands)
    if ls_mask and "mask" not in bands:
        bands = ("mask", *bands)
    options = ArdOptions(
        product_type=product_type,
        resolution=resolution,
        crs=crs,
        polarisations=None if polarisations is None else tuple(polarisations),  # type: ignore[arg-type]
        speckle_filter=speckle_filter,
        extra_bands=bands,
    )
    store = as_catalog(catalog)
    grd = select_grd_items(list(store.items(GRD_COLLECTION)), items)
    if not grd:
        raise ParameterError(
            f"collection {GRD_COLLECTION!r} of {store.root} is empty: run s1stac inventory first"
        )
    by_id = {item.id: item for item in grd}
    acquisitions = group_acquisitions(items_to_geodataframe(grd))
    results: list[pystac.Item] = []
    failures: dict[str, Exception] = {}
    for acquisition in tqdm(acquisitions, desc="ARD", unit="acq", disable=not progress):
        item_id = ard_item_id(acquisition, options)
        if not overwrite and is_complete(store, ARD_COLLECTION, item_id):
            log.info("%s: %s complete, skipped (overwrite=True redoes it)", ARD_COLLECTION, item_id)
            results.append(store.get_item(ARD_COLLECTION, item_id))
            continue
        sources = [by_id[i] for i in acquisition.item_ids]
        try:
            ard = process_ard([product_path(s) for s in sources], options, dem=dem)
            results.append(_write(store, item_id, ard, sources, scheduler))
        except (S1StacError, OSError) as error:  # rasterio's I/O errors are OSErrors
            if on_error == "raise":
                raise
            log.error("%s failed, going on with the others: %s", acquisition.acquisition_id, error)
            failures[acquisition.acquisition_id] = error
    if failures:
        listed = "; ".join(f"{key}: {error}" for key, error in failures.items())
        raise AcquisitionErrors(
            f"{len(failures)} of {len(acquisitions)} acquisition(s) failed ({listed}); the "
            f"{len(results)} others are in {ARD_COLLECTION}. Fix or leave out the failed ones "
            "and run again: complete acquisitions are skipped",
            failures,
        )
    return results
