# %% [markdown]
# # Sentinel-1 GRD time series, timescan and mosaic with s1stac
#
# The steps of OST's time-series notebook (``Sentinel1Batch``: search / inventory ->
# ``grds_to_ards`` -> ``ards_to_timeseries`` -> ``timeseries_to_timescan`` -> mosaics ->
# ``create_timeseries_animation``) with s1stac.  Every product lands in a static STAC
# catalog; nothing is written outside it but the inventory map.
#
# Run as a script (``python examples/notebook_timeseries.py [WORKDIR]``) or open it as a
# notebook with jupytext.  Without real downloads it works on simulated scenes: two
# overlapping tracks (one ascending, one descending) over hilly terrain with a lake.

# %%
from __future__ import annotations

import logging
import pathlib
import sys

import s1stac
from s1stac import pipeline
from s1stac.ard_products import ard_products

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
workdir = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "s1stac-example")
catalog = workdir / "catalog"

# %% [markdown]
# ## 1. Project: area and time of interest
#
# OST: ``Sentinel1Batch(project_dir, aoi, start, end, product_type="GRD", ard_type=...)``.
# Here: simulated GRD products (instead of a download) over an AOI around their centre.

# %%
products_dir = workdir / "products"
if not (products_dir / "truth" / "truth.json").is_file():
    s1stac.simulate(products_dir, dates=4, start="2021-03-01", slices=2, seed=0)
grd = sorted(products_dir.glob("S1*.SAFE"))

# %% [markdown]
# ## 2. Inventory and refinement (OST ``search`` + ``refine_inventory``)

# %%
found = s1stac.inventory(grd, catalog=catalog, plot=workdir / "inventory.png")
print(found.summary())

# %% [markdown]
# ## 3. GRD -> ARD (OST ``grds_to_ards``; ``ard_type="OST-RTC"``)
#
# Terrain-flattened gamma0 on the aligned grid, one ``s1-ard`` item per acquisition.

# %%
# The DEM of the simulated scenes (ellipsoidal heights); with real data give a DEM file.
ard_products(
    catalog,
    dem=products_dir / "truth" / "dem.tif",
    product_type="RTC-gamma0",
    resolution=20,
    ls_mask=True,
    progress=True,
)

# %% [markdown]
# ## 4. Time series (OST ``ards_to_timeseries``)
#
# Per track and polarisation: common extent, multi-temporal speckle filter, dB, float32.

# %%
series = pipeline.timeseries(
    catalog, mt_speckle_filter="boxcar", to_db=True, dtype="float32", progress=True
)

# %% [markdown]
# ## 5. Timescan (OST ``timeseries_to_timescan``)

# %%
scans = pipeline.timescan_products(
    catalog, metrics=["avg", "max", "min", "std", "cov"], remove_outliers=True, progress=True
)

# %% [markdown]
# ## 6. Mosaics of the tracks (OST ``mosaic_timescan`` and ``mosaic_timeseries``)
#
# Time-series mosaics pair the acquisitions of the tracks within 6-day windows.

# %%
mosaics = pipeline.mosaic_products(catalog, harmonise=True, progress=True)
mosaics += pipeline.mosaic_timeseries_products(catalog, window_days=6, progress=True)

# %% [markdown]
# ## 7. Animation and quick-looks (OST ``create_timeseries_animation``)
#
# The time-series items carry the animation GIF of their track, the timescan and mosaic
# items an RGB quick-look (red VV avg, green VH avg, blue VV cov): assets with role
# ``overview``.

# %%
for item in [*series, *scans, *mosaics]:
    for key, asset in item.assets.items():
        if "overview" in (asset.roles or []):
            print(f"{item.id}: {key} -> {asset.get_absolute_href()}")

# %% [markdown]
# ## 8. Load the products back as data cubes (odc-stac)

# %%
cube = s1stac.catalog.load_collection(catalog, "s1-mosaic", chunks={})
print(cube)
