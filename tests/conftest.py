"""Shared fixtures: the real data of ``../shared`` (skipped cleanly where it is absent)."""

from __future__ import annotations

import os
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED = pathlib.Path(os.environ.get("S1STAC_SHARED", REPO.parent / "shared"))
S1_DIR = SHARED / "data" / "s1"
GRD_DIR = S1_DIR / "grd"
SCHEMAS_DIR = SHARED / "data" / "stac-schemas"
OPENEO_DIR = SHARED / "data" / "openeo"

REAL_PRODUCTS = {
    "CEAB": "S1A_IW_GRDH_1SDV_20150222T170725_20150222T170750_004739_005DD8_CEAB.zip",
    "3768": "S1A_IW_GRDH_1SDV_20150222T170750_20150222T170815_004739_005DD8_3768.zip",
    "FEC3": "S1A_IW_GRDH_1SDV_20150203T043109_20150203T043134_004454_00574F_FEC3.zip",
    "6D00": "S1A_IW_GRDH_1SDV_20150203T043109_20150203T043134_004454_00574F_6D00.zip",
    "5371": "S1B_IW_GRDH_1SDV_20211223T051122_20211223T051147_030148_039993_5371.SAFE",
    "ECC8": "S1B_IW_GRDH_1SDV_20210401T052623_20210401T052648_026269_032297_ECC8.SAFE",
}


def _need(path: pathlib.Path) -> pathlib.Path:
    if not path.exists():
        pytest.skip(f"shared test data not available: {path}")
    return path


@pytest.fixture(scope="session")
def grd_dir() -> pathlib.Path:
    """Folder of the real Sentinel-1 GRD products."""
    return _need(GRD_DIR)


@pytest.fixture(scope="session")
def real_products(grd_dir: pathlib.Path) -> dict[str, pathlib.Path]:
    """Map the 4-character unique id of each real product to its path."""
    return {key: _need(grd_dir / name) for key, name in REAL_PRODUCTS.items()}


@pytest.fixture(scope="session")
def rome_dem() -> pathlib.Path:
    """Copernicus-style 30 m DEM over Rome (heights over EGM96)."""
    return _need(S1_DIR / "dem" / "Rome-30m-DEM.tif")


@pytest.fixture(scope="session")
def schemas_dir() -> pathlib.Path:
    """Offline mirror of the STAC schemas."""
    return _need(SCHEMAS_DIR)


@pytest.fixture(scope="session")
def openeo_dir() -> pathlib.Path:
    """Offline copy of the openEO process and API specifications."""
    return _need(OPENEO_DIR)
