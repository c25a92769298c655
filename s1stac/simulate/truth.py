"""Ground truth of a simulation: DEM, land cover, true gamma0 per date, layover/shadow per track.

All rasters share the terrain's standard geographic grid (EPSG:4326, pixel corners on
multiples of the pixel size): ``dem.tif`` (float32, heights above the WGS84 ellipsoid, CRS
EPSG:4979), ``landcover.tif`` (uint8 :class:`~s1stac.simulate.terrain.LandCover` codes),
``gamma0_<YYYYMMDD>_<pol>.tif`` (float32, linear terrain-flattened gamma0 the products were
simulated from) and ``layover_shadow_<direction>_<relative orbit>.tif`` (uint8: 0 none,
1 layover, 2 shadow, 3 both, 255 outside the image).  ``truth.json`` documents classes and the
gamma0 of every class on every date in dB.

Reference: OST specification section 2.7 (layover/shadow codes), ``../reference/OST_SPEC.md``.
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import rasterio
from rasterio.crs import CRS

from s1stac.simulate.terrain import GAMMA_TO_LANDCOVER, GammaClass, LandCover, Terrain
from s1stac.types import FloatArray

_ROWS = 2048


def _profile(terrain: Terrain, dtype: str, nodata: float | None, crs: int = 4326) -> dict[str, Any]:
    rows, cols = terrain.shape
    profile: dict[str, Any] = {
        "driver": "GTiff",
        "width": cols,
        "height": rows,
        "count": 1,
        "dtype": dtype,
        "crs": CRS.from_epsg(crs),
        "transform": terrain.transform,
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "compress": "deflate",
        "BIGTIFF": "IF_SAFER",
    }
    if nodata is not None:
        profile["nodata"] = nodata
    return profile


def write_dem(path: pathlib.Path, terrain: Terrain) -> pathlib.Path:
    with rasterio.open(path, "w", **_profile(terrain, "float32", None, crs=4979)) as dst:
        dst.write(terrain.height, 1)
        dst.update_tags(1, units="m", height_reference="WGS84 ellipsoid")
    return path


def write_landcover(path: pathlib.Path, terrain: Terrain) -> pathlib.Path:
    with rasterio.open(path, "w", **_profile(terrain, "uint8", 0)) as dst:
        for row in range(0, terrain.shape[0], _ROWS):
            window = rasterio.windows.Window(
                0, row, terrain.shape[1], min(_ROWS, terrain.shape[0] - row)
            )
            dst.write(GAMMA_TO_LANDCOVER[terrain.gamma_class[row : row + _ROWS]], 1, window=window)
        dst.update_tags(**{f"class_{c.value}": c.name.lower() for c in LandCover})
    return path


def write_gamma0(path: pathlib.Path, terrain: Terrain, class_gamma0: FloatArray) -> pathlib.Path:
    """Write the true gamma0 (linear) of one date and polarisation: class value x texture."""
    with rasterio.open(path, "w", **_profile(terrain, "float32", None)) as dst:
        for row in range(0, terrain.shape[0], _ROWS):
            part = slice(row, row + _ROWS)
            values = class_gamma0[terrain.gamma_class[part]] * terrain.texture[part]
            window = rasterio.windows.Window(0, row, terrain.shape[1], values.shape[0])
            dst.write(values.astype(np.float32), 1, window=window)
        dst.update_tags(1, units="m2 m-2", long_name="terrain-flattened gamma0")
    return path


def write_layover_shadow(path: pathlib.Path, terrain: Terrain, flags: np.ndarray) -> pathlib.Path:
    with rasterio.open(path, "w", **_profile(terrain, "uint8", 255)) as dst:
        dst.write(flags, 1)
        dst.update_tags(
            codes="0 none, 1 layover, 2 shadow, 3 layover and shadow, 255 outside image"
        )
    return path


def write_json(
    path: pathlib.Path,
    *,
    terrain: Terrain,
    dates: Sequence[np.datetime64],
    polarisations: Sequence[str],
    table: FloatArray,
    tracks: Sequence[Mapping[str, Any]],
    products: Sequence[Mapping[str, Any]],
    settings: Mapping[str, Any],
) -> pathlib.Path:
    """``truth.json``: classes, gamma0 (dB) per date, polarisation and class, products, settings."""
    gamma0_db = {
        np.datetime_as_string(np.datetime64(date, "D")): {
            pol: {
                c.name.lower(): round(float(10.0 * np.log10(table[d, p, c])), 4) for c in GammaClass
            }
            for p, pol in enumerate(polarisations)
        }
        for d, date in enumerate(dates)
    }
    fractions = (
        np.bincount(terrain.gamma_class.ravel(), minlength=len(GammaClass))
        / terrain.gamma_class.size
    )
    document = {
        "grid": {
            "crs": "EPSG:4326",
            "dem_crs": "EPSG:4979 (heights above the WGS84 ellipsoid)",
            "transform": list(terrain.transform)[:6],
            "shape": list(terrain.shape),
        },
        "landcover_classes": {str(c.value): c.name.lower() for c in LandCover},
        "gamma_classes": {
            c.name.lower(): {
                "code": c.value,
                "landcover": int(GAMMA_TO_LANDCOVER[c]),
                "fraction": round(float(fractions[c]), 5),
            }
            for c in GammaClass
        },
        "gamma0_db": gamma0_db,
        "gamma0": (
            "gamma0_<date>_<pol>.tif = 10**(gamma0_db[date][pol][class] / 10) * texture; the "
            "texture (lognormal: crop parcels 1 dB, forest 0.5 dB, urban 2.2 dB) has mean 1 per "
            "class"
        ),
        "layover_shadow_codes": {
            "0": "none",
            "1": "layover",
            "2": "shadow",
            "3": "layover and shadow",
            "255": "outside image",
        },
        "tracks": list(tracks),
        "products": list(products),
        "settings": dict(settings),
    }
    path.write_text(json.dumps(document, indent=2, default=str))
    return path
