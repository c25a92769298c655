"""Composition of the stages into runs: the place where whole chains are computed and written.

Stage modules (:mod:`s1stac.inventory`, :mod:`s1stac.ard`, :mod:`s1stac.timescan`, ...) stay
pure and lazy; the functions here open inputs, call them in order and register every output in
the static STAC catalog.
"""

from __future__ import annotations

import logging
import os
import pathlib
from dataclasses import dataclass

from s1stac.catalog import StaticCatalog
from s1stac.errors import CatalogError
from s1stac.inventory import InventoryResult, inventory
from s1stac.validation import find_schemas_dir

log = logging.getLogger(__name__)

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

    def summary(self) -> str:
        """Describe the run in a few lines for the terminal."""
        lines = [
            f"{len(self.products)} simulated product(s) in {self.products[0].parent}",
            self.inventory.summary(),
            f"catalog: {self.catalog / 'catalog.json'}",
        ]
        if self.validated is None:
            lines.append("STAC validation skipped: no schema mirror ($S1STAC_STAC_SCHEMAS)")
        else:
            lines.append(f"{self.validated} STAC objects valid")
        return "\n".join(lines)


def run_demo(
    workdir: str | os.PathLike[str] = "demo",
    *,
    catalog: str | os.PathLike[str] = "catalog",
    dates: int = DEMO_DATES,
    seed: int = 0,
) -> DemoResult:
    """Run the chain on simulated scenes: simulate, inventory, map, validate.

    Two overlapping tracks (one ascending, one descending) over generated hilly terrain with a
    lake, ``dates`` acquisitions each, every acquisition cut into two consecutive slices.  A
    re-run reuses the simulated products already in ``workdir``.

    Parameters
    ----------
    workdir
        Folder of the simulated products (``products/``) and pictures.
    catalog
        Root of the static STAC catalog that receives every product.
    dates
        Acquisitions per track.
    seed
        Seed of the simulation.
    """
    from s1stac.simulate import simulate

    workdir = pathlib.Path(workdir)
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
    try:
        schemas = find_schemas_dir()
    except CatalogError:  # validation is optional where no schema mirror exists
        schemas = None
    validated = store.validate(schemas_dir=schemas) if schemas is not None else None
    return DemoResult(products, result, pathlib.Path(catalog), map_png, validated)
