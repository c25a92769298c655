"""s1stac: Sentinel-1 GRD time series and timescans on xarray/dask, registered in STAC.

The Python API mirrors the processing chain::

    import s1stac

    result = s1stac.inventory(["downloads/"], catalog="catalog", aoi="aoi.geojson")
    cube = ...                                   # ARD stack (t, y, x), e.g. from the catalog
    stats = s1stac.timescan(cube, metrics=["avg", "std", "p5", "p95"])
    conn = s1stac.connect("http://127.0.0.1:8000")   # openEO client on `s1stac serve`
"""

from __future__ import annotations

__version__ = "0.1.0"

from s1stac.catalog import StaticCatalog
from s1stac.client import connect
from s1stac.geometry import ground_to_radar, radar_to_ground
from s1stac.inventory import inventory
from s1stac.mosaic import mosaic
from s1stac.safe import open_product
from s1stac.simulate import simulate
from s1stac.timescan import timescan

__all__ = [
    "StaticCatalog",
    "__version__",
    "connect",
    "ground_to_radar",
    "inventory",
    "mosaic",
    "open_product",
    "radar_to_ground",
    "simulate",
    "timescan",
]
