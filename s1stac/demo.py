"""The demonstration run: the whole chain on simulated scenes, into a static STAC catalog.

``s1stac demo`` calls :func:`run_demo`: simulate two overlapping tracks, inventory, ARD, time
series, timescan, mosaic and pictures (:mod:`s1stac.pipeline`), then validate the catalog.
"""

from __future__ import annotations

import logging
import os
import pathlib
from dataclasses import dataclass, field

from s1stac.catalog import StaticCatalog
from s1stac.errors import CatalogError
from s1stac.inventory import InventoryResult, inventory
from s1stac.validation import find_schemas_dir

log = logging.getLogger(__name__)

__all__ = ["DEMO_DATES", "DemoResult", "run_demo"]

DEMO_DATES = 3
"""Acquisitions per track of the demo (12-day repeat)."""


@dataclass(frozen=True)
class DemoResult:
    """What :func:`run_demo` produced."""

    products: tuple[pathlib.Path, ...]
    inventory: InventoryResult
    catalog: pathlib.Path
    map_png: pathlib.Path
    validated: int | None
    """Number of STAC objects validated offline (``None``: no schema mirror found)."""
    levels: dict[str, int] = field(default_factory=dict)
    """Items per derived collection (``s1-ard``, ``s1-timeseries``...) after the run."""
    pictures: tuple[pathlib.Path, ...] = ()
    """Animations and quick-looks written."""
    stopped: str | None = None
    """Why the chain stopped after the inventory, if it did."""

    def summary(self) -> str:
        """Describe the run in a few lines for the terminal."""
        lines = [
            f"{len(self.products)} simulated product(s) in {self.products[0].parent}",
            self.inventory.summary(),
        ]
        lines += [f"{collection}: {count} item(s)" for collection, count in self.levels.items()]
        lines += [f"picture: {path}" for path in self.pictures]
        if self.stopped:
            lines.append(f"chain stopped after the inventory: {self.stopped}")
        lines.append(f"catalog: {self.catalog / 'catalog.json'}")
        if self.validated is None:
            lines.append("STAC validation skipped: no schema mirror ($S1STAC_STAC_SCHEMAS)")
        else:
            lines.append(f"{self.validated} STAC objects valid")
        return "\n".join(lines)


def _ard_stage(store: StaticCatalog, dem: pathlib.Path, scheduler: str | None) -> None:
    """Run the ARD stage (RTC-gamma0, 20 m, with the layover/shadow mask) over the GRD items."""
    from s1stac.ard_products import ard_products

    ard_products(
        store,
        dem=dem,
        resolution=20,
        product_type="RTC-gamma0",
        ls_mask=True,
        progress=True,
        scheduler=scheduler,
    )


def run_demo(
    workdir: str | os.PathLike[str] = "demo",
    *,
    catalog: str | os.PathLike[str] | None = None,
    dates: int = DEMO_DATES,
    seed: int = 0,
    scheduler: str | None = None,
) -> DemoResult:
    """Run the chain on simulated scenes: simulate, inventory, ARD, time series, timescan, mosaic.

    Two overlapping tracks (one ascending, one descending) over generated hilly terrain with a
    lake, ``dates`` acquisitions each, every acquisition cut into two consecutive slices.  A
    re-run reuses the simulated products already in ``workdir`` and skips complete products.

    Parameters
    ----------
    workdir
        Folder of the simulated products (``products/``) and the inventory map.
    catalog
        Root of the static STAC catalog that receives every product (default
        ``workdir/catalog``).
    dates
        Acquisitions per track.
    seed
        Seed of the simulation.
    scheduler
        Dask scheduler of the computing stages (``None``: local threads).
    """
    from s1stac.pipeline import (
        mosaic_products,
        mosaic_timeseries_products,
        timescan_products,
        timeseries,
    )
    from s1stac.simulate import simulate

    workdir = pathlib.Path(workdir)
    catalog = pathlib.Path(catalog) if catalog is not None else workdir / "catalog"
    products_dir = workdir / "products"
    existing = sorted(products_dir.glob("S1*.SAFE"))
    if existing and (products_dir / "truth" / "truth.json").is_file():
        log.info("reusing %d simulated product(s) in %s", len(existing), products_dir)
        products = tuple(existing)
    else:
        log.info("simulating %d date(s) on two tracks into %s", dates, products_dir)
        products = simulate(products_dir, dates=dates, slices=2, seed=seed).products
    map_png = workdir / "inventory.png"
    result = inventory(list(products), catalog=catalog, plot=map_png)
    store = StaticCatalog(catalog)
    _ard_stage(store, products_dir / "truth" / "dem.tif", scheduler)
    pictures: list[pathlib.Path] = []
    series = timeseries(store, scheduler=scheduler, progress=True)
    scans = timescan_products(store, scheduler=scheduler, progress=True)
    mosaics = mosaic_products(store, scheduler=scheduler, progress=True)
    mosaics += mosaic_timeseries_products(store, scheduler=scheduler, progress=True)
    for item in [*series, *scans, *mosaics]:
        for asset in item.assets.values():
            path = pathlib.Path(asset.get_absolute_href() or asset.href)
            if "overview" in (asset.roles or []) and path not in pictures:
                pictures.append(path)
    levels = {
        collection: len(store.item_ids(collection))
        for collection in ("s1-ard", "s1-timeseries", "s1-timescan", "s1-mosaic")
    }
    try:
        schemas = find_schemas_dir()
    except CatalogError:  # validation is optional where no schema mirror exists
        schemas = None
    validated = store.validate(schemas_dir=schemas) if schemas is not None else None
    return DemoResult(
        products,
        result,
        pathlib.Path(catalog),
        map_png,
        validated,
        levels,
        tuple(pictures),
    )
