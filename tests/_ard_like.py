"""ARD-like ``s1-ard`` items built from the simulator's truth, for testing the later stages.

Each simulated acquisition becomes an item whose assets are the true gamma0 of its date (linear,
EPSG:4326 aligned grid) times gamma-distributed speckle of ``looks`` looks, cut to a part of the
grid per track so that the two tracks overlap: ascending the western ``fraction`` of the
columns, descending the eastern one; date ``k`` of a track also loses ``k`` rows at the top
(the common extent of a track is then smaller than every acquisition).
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import numpy as np
import pystac
import rasterio
import shapely.geometry
import xarray as xr
from affine import Affine
from odc.geo.geobox import GeoBox
from odc.geo.xr import xr_coords

from s1stac.catalog import StaticCatalog
from s1stac.io import write_cogs
from s1stac.products import grid_properties
from s1stac.safe import open_product
from s1stac.stac_items import extension_urls


def region(direction: str, width: int, fraction: float) -> slice:
    """Columns of the truth grid seen by a track."""
    cols = int(round(width * fraction))
    return slice(0, cols) if direction == "ascending" else slice(width - cols, width)


def register_ard_like(
    catalog: StaticCatalog,
    products: list[pathlib.Path],
    truth_dir: pathlib.Path,
    *,
    looks: float = 4.4,
    fraction: float = 0.7,
    seed: int = 0,
) -> list[pystac.Item]:
    """Register one ARD-like item per simulated product (see the module docstring)."""
    rng = np.random.default_rng(seed)
    per_track: dict[str, int] = {}
    items = []
    for path in sorted(products, key=lambda p: p.name.split("_")[4]):
        manifest = open_product(path).manifest
        direction = str(manifest.orbit_direction).lower()
        track = str(int(manifest.relative_orbit))
        k = per_track.setdefault(track, 0)
        per_track[track] = k + 1
        start = np.datetime64(manifest.start_time, "s").astype("datetime64[s]").item()
        day = start.strftime("%Y%m%d")
        item_id = f"{manifest.product_name}_ard"
        folder = catalog.item_path("s1-ard", item_id).parent
        layers: dict[pathlib.Path, xr.DataArray] = {}
        assets: dict[str, dict[str, Any]] = {}
        geobox = None
        for pol in manifest.polarisations:
            pol = str(pol)
            with rasterio.open(truth_dir / f"gamma0_{day}_{pol}.tif") as src:
                truth = src.read(1).astype(np.float32)
                transform = src.transform
            cols = region(direction, truth.shape[1], fraction)
            rows = slice(k, truth.shape[0])
            values = truth[rows, cols] * rng.gamma(looks, 1 / looks, truth[rows, cols].shape)
            affine = transform * Affine.translation(cols.start, rows.start)
            geobox = GeoBox(values.shape, affine, "EPSG:4326")
            layer = xr.DataArray(
                values.astype(np.float32),
                dims=("y", "x"),
                coords=xr_coords(geobox, dims=("y", "x")),
                name=pol,
            )
            file = folder / f"{item_id}_{pol.lower()}.tif"
            layers[file] = layer
            assets[pol.lower()] = {
                "href": str(file),
                "type": "image/tiff; application=geotiff; profile=cloud-optimized",
                "roles": ["data"],
                "sar:polarizations": [pol],
                "data_type": "float32",
                "nodata": "nan",
            }
        write_cogs(layers)
        assert geobox is not None
        footprint = shapely.geometry.polygon.orient(geobox.footprint(4326, npoints=3).geom, 1.0)
        properties = {
            "platform": manifest.platform,
            "constellation": "sentinel-1",
            "instruments": ["c-sar"],
            "sar:instrument_mode": "IW",
            "sar:frequency_band": "C",
            "sar:polarizations": [str(p) for p in manifest.polarisations],
            "sar:product_type": "GRD",
            "sat:orbit_state": direction,
            "sat:relative_orbit": int(manifest.relative_orbit),
            **grid_properties(geobox, cube=False),
        }
        item = pystac.Item(
            item_id,
            shapely.geometry.mapping(footprint),
            list(footprint.bounds),
            start.replace(tzinfo=__import__("datetime").UTC),
            properties,
        )
        for key, fields in assets.items():
            fields = dict(fields)
            item.add_asset(
                key,
                pystac.Asset(
                    fields.pop("href"),
                    key.upper(),
                    None,
                    fields.pop("type"),
                    fields.pop("roles"),
                    fields,
                ),
            )
        item.stac_extensions = extension_urls(item.to_dict(include_self_link=False), "s1-ard")
        items.append(item)
    catalog.add_items("s1-ard", items)
    return items


def truth_class_db(truth_dir: pathlib.Path, days: list[str], pol: str) -> dict[str, float]:
    """Mean true gamma0 (dB) per gamma class over ``days``: mean of linear values, in dB."""
    truth = json.loads((truth_dir / "truth.json").read_text())
    out = {}
    for name in truth["gamma_classes"]:
        linear = [
            10 ** (truth["gamma0_db"][f"{d[:4]}-{d[4:6]}-{d[6:]}"][pol][name] / 10) for d in days
        ]
        out[name] = float(10 * np.log10(np.mean(linear)))
    return out


def utm_ard_item(
    item_id: str,
    bounds: Any,
    transform: Affine,
    shape: tuple[int, int],
    when: Any,
    assets: dict[str, pystac.Asset],
) -> pystac.Item:
    """Build an ``s1-ard`` item of one descending track-117 acquisition on a UTM 33N grid."""
    import rasterio.warp

    lonlat = rasterio.warp.transform_bounds("EPSG:32633", "EPSG:4326", *bounds)
    item = pystac.Item(
        id=item_id,
        geometry=shapely.geometry.mapping(shapely.geometry.box(*lonlat)),
        bbox=list(lonlat),
        datetime=when,
        properties={
            "platform": "sentinel-1b",
            "sar:instrument_mode": "IW",
            "sar:polarizations": ["VV", "VH"],
            "sat:orbit_state": "descending",
            "sat:relative_orbit": 117,
            "proj:code": "EPSG:32633",
            "proj:shape": list(shape),
            "proj:transform": list(transform)[:6],
        },
    )
    for key, asset in assets.items():
        item.add_asset(key, asset)
    item.stac_extensions = extension_urls(item.to_dict(include_self_link=False), "s1-ard")
    return item
