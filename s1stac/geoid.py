"""Geoid undulations from PROJ's global geoid grids: orthometric to ellipsoid heights.

Reference: PROJ ``vgridshift`` (https://proj.org/operations/transformations/vgridshift.html)
and the EPSG transformations "WGS 84 to EGM96 height (1)" (EPSG:10084) and "WGS 84 to EGM2008
height (1)" (EPSG:3858): ellipsoid height ``h = H + N``, with the undulation ``N`` interpolated
bilinearly in a global grid of longitude / latitude.

Grids (PROJ's names, older names accepted):

* EGM96: ``us_nga_egm96_15.tif`` or ``egm96_15.gtx``; Debian/Ubuntu's ``proj-data`` package
  installs ``/usr/share/proj/egm96_15.gtx`` (``apt-get install proj-data``).
* EGM2008: ``us_nga_egm08_25.tif`` or ``egm08_25.gtx``; not in Debian's ``proj-data``, fetched
  with PROJ's ``projsync --file us_nga_egm08_25.tif``.

They are looked for in pyproj's PROJ data folders, ``$PROJ_DATA``, ``$PROJ_LIB`` and the system
folders (:func:`geoid_search_path`), and read with rasterio: pyproj's own PROJ is never pointed
to another PROJ installation's ``proj.db``.
"""

from __future__ import annotations

import functools
import os
import pathlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

import numpy as np
import numpy.typing as npt
import pyproj
import rasterio

from s1stac.errors import ParameterError, S1StacError

GeoidModel: TypeAlias = Literal["EGM96", "EGM2008"]
VerticalReference: TypeAlias = Literal["EGM96", "EGM2008", "ellipsoid"]

GEOID_GRIDS: dict[GeoidModel, tuple[str, ...]] = {
    "EGM96": ("us_nga_egm96_15.tif", "egm96_15.gtx"),
    "EGM2008": ("us_nga_egm08_25.tif", "egm08_25.gtx"),
}
"""File names of PROJ's geoid grids, current name first."""

INSTALL_HINT: dict[GeoidModel, str] = {
    "EGM96": "install it with 'apt-get install proj-data' (Debian/Ubuntu)",
    "EGM2008": (
        "Debian's proj-data does not ship it: get us_nga_egm08_25.tif with PROJ's "
        "'projsync --file us_nga_egm08_25.tif'"
    ),
}


class DemError(S1StacError, ValueError):
    """A DEM cannot be used: absent, not covering the scene, or its geoid grid is missing."""


@dataclass(frozen=True)
class GeoidGrid:
    """A global geoid grid held in memory."""

    values: npt.NDArray[np.float32]
    """Undulations in metres, rows north to south; the first column repeated at the end when
    the grid wraps around the globe."""
    lon0: float
    """Longitude of the centre of the first column."""
    lat0: float
    """Latitude of the centre of the first row."""
    step_lon: float
    """Column spacing in degrees (positive)."""
    step_lat: float
    """Row spacing in degrees (negative: rows go south)."""
    wraps: bool
    """True when the columns span 360° of longitude."""
    path: pathlib.Path
    """File the grid was read from."""


def geoid_search_path() -> list[pathlib.Path]:
    """Folders searched for geoid grids: PROJ's data folders of pyproj, then system ones."""
    folders = [pathlib.Path(p) for p in pyproj.datadir.get_data_dir().split(os.pathsep)]
    folders.append(pathlib.Path(pyproj.datadir.get_user_data_dir()))
    folders += [pathlib.Path(os.environ[v]) for v in ("PROJ_DATA", "PROJ_LIB") if os.environ.get(v)]
    folders += [pathlib.Path(sys.prefix, "share", "proj"), pathlib.Path("/usr/local/share/proj")]
    folders.append(pathlib.Path("/usr/share/proj"))
    return list(dict.fromkeys(folders))


def find_geoid_grid(
    model: GeoidModel, *, search_path: Sequence[str | os.PathLike[str]] | None = None
) -> pathlib.Path:
    """Find the PROJ geoid grid of ``model``.

    Raises
    ------
    DemError
        Listing the folders searched and how to install the grid, when it is nowhere.
    """
    if model not in GEOID_GRIDS:
        raise ParameterError(f"geoid model {model!r} unknown: choose one of {list(GEOID_GRIDS)}")
    folders = [pathlib.Path(p) for p in search_path] if search_path else geoid_search_path()
    for folder in folders:
        for name in GEOID_GRIDS[model]:
            if (folder / name).is_file():
                return folder / name
    raise DemError(
        f"{model} geoid grid ({' or '.join(GEOID_GRIDS[model])}) not found in "
        f"{[str(f) for f in folders]}: {INSTALL_HINT[model]}, or pass geoid_grid=<path>"
    )


def geoid_undulation(
    lon: npt.ArrayLike,
    lat: npt.ArrayLike,
    model: GeoidModel = "EGM96",
    *,
    grid: str | os.PathLike[str] | None = None,
) -> npt.NDArray[np.float64]:
    """Geoid undulation ``N`` in metres (ellipsoid height = orthometric height + N).

    Parameters
    ----------
    lon, lat
        Broadcastable arrays of WGS84 longitude / latitude in degrees.
    model
        ``"EGM96"`` or ``"EGM2008"``.
    grid
        Grid file to use instead of the one :func:`find_geoid_grid` finds.

    Examples
    --------
    >>> round(float(geoid_undulation(12.5, 42.0)), 2)  # Rome, EGM96
    48.61
    """
    path = pathlib.Path(grid) if grid is not None else find_geoid_grid(model)
    return undulation(read_geoid_grid(path), lon, lat)


def undulation(grid: GeoidGrid, lon: npt.ArrayLike, lat: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Bilinear interpolation of ``grid`` at lon/lat (degrees), longitudes wrapped."""
    col = (np.asarray(lon, dtype=np.float64) - grid.lon0) / grid.step_lon
    row = (np.asarray(lat, dtype=np.float64) - grid.lat0) / grid.step_lat
    if grid.wraps:
        col = np.mod(col, grid.values.shape[1] - 1)
    return bilinear(grid.values, row, col)


def read_geoid_grid(path: str | os.PathLike[str]) -> GeoidGrid:
    """Read a geoid grid (GeoTIFF or GTX) once; later calls reuse it."""
    return _read_geoid_grid(str(pathlib.Path(path).resolve()))


def vertical_reference(crs: Any) -> VerticalReference | None:
    """Height reference of a DEM CRS: a geoid model, ``"ellipsoid"``, or ``None`` if not said.

    Examples
    --------
    >>> vertical_reference("EPSG:9707")  # WGS 84 + EGM96 height
    'EGM96'
    """
    parsed = pyproj.CRS.from_user_input(crs)
    if parsed.is_compound:
        vertical = parsed.sub_crs_list[-1]
        text = f"{vertical.name} {vertical.datum.name if vertical.datum else ''}".upper()
        for model in ("EGM2008", "EGM96"):
            if model in text.replace(" ", ""):
                return model  # type: ignore[return-value]
        raise DemError(
            f"DEM heights refer to {vertical.name!r}, which s1stac cannot convert: give a DEM "
            "in EGM96, EGM2008 or ellipsoid heights, or pass geoid= explicitly"
        )
    if parsed.is_geographic and len(parsed.axis_info) == 3:
        return "ellipsoid"
    return None


def bilinear(
    values: npt.NDArray[Any], row: npt.ArrayLike, col: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """Bilinear interpolation at fractional (row, col) indices of pixel centres.

    NaN outside the hull of the pixel centres and next to NaN pixels (a pixel exactly on a
    node takes the node's value).
    """
    row, col = np.broadcast_arrays(np.asarray(row, np.float64), np.asarray(col, np.float64))
    nrows, ncols = values.shape
    r0 = np.clip(np.floor(row), 0, max(nrows - 2, 0)).astype(np.intp)
    c0 = np.clip(np.floor(col), 0, max(ncols - 2, 0)).astype(np.intp)
    r1, c1 = np.minimum(r0 + 1, nrows - 1), np.minimum(c0 + 1, ncols - 1)
    fr, fc = row - r0, col - c0
    tol = 1e-9
    inside = (fr >= -tol) & (fr <= 1 + tol) & (fc >= -tol) & (fc <= 1 + tol)
    fr, fc = np.clip(fr, 0.0, 1.0), np.clip(fc, 0.0, 1.0)
    top = _lerp(values[r0, c0], values[r0, c1], fc)
    bottom = _lerp(values[r1, c0], values[r1, c1], fc)
    return np.where(inside, _lerp(top, bottom, fr), np.nan)


def _lerp(a: npt.NDArray[Any], b: npt.NDArray[Any], t: npt.NDArray[np.float64]) -> Any:
    # NOTE: weights 0 and 1 pick one side so that a NaN neighbour with no weight does not spread.
    with np.errstate(invalid="ignore"):
        mixed = (1.0 - t) * a + t * b
    return np.where(t == 0.0, a, np.where(t == 1.0, b, mixed))


@functools.lru_cache(maxsize=2)
def _read_geoid_grid(path: str) -> GeoidGrid:
    try:
        with rasterio.open(path) as src:
            values = src.read(1, masked=True).astype(np.float32).filled(np.nan)
            a, _, c, _, e, f = list(src.transform)[:6]
    except (rasterio.errors.RasterioIOError, OSError) as err:
        raise DemError(f"geoid grid {path} cannot be read ({err})") from err
    period = round(360.0 / a)
    wraps = values.shape[1] >= period and abs(period * a - 360.0) < 1e-6
    if wraps:
        values = np.concatenate([values[:, :period], values[:, :1]], axis=1)
    return GeoidGrid(values, c + 0.5 * a, f + 0.5 * e, a, e, wraps, pathlib.Path(path))
