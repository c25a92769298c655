"""Areas of interest: parsing, and areas measured in an equal-area projection.

The inventory refinement of the Open SAR Toolkit (``ost/s1/refine_inventory.py``, see
``OST_SPEC.md`` §7.2) measures every area in square degrees of EPSG:4326, so a fixed
``area_reduce`` means very different ground areas at different latitudes.  Here every area is
measured on the ground: geometries in longitude/latitude are densified and projected to a
Lambert azimuthal equal-area projection centred on the area of interest, and the inventory
works with *fractions of the AOI area*.

AOI inputs accepted by :func:`read_aoi`: a WKT string, a GeoJSON string (geometry, Feature or
FeatureCollection), a bounding box ``"minx,miny,maxx,maxy"`` in degrees, any vector file that
geopandas reads (GeoPackage, GeoJSON, Shapefile, FlatGeobuf, KML...), or a shapely geometry.
"""

from __future__ import annotations

import json
import logging
import os
import pathlib
import re
from typing import TypeAlias

import geopandas as gpd
import numpy as np
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry

from s1stac import dateline
from s1stac.errors import AoiError

log = logging.getLogger(__name__)

AoiLike: TypeAlias = str | os.PathLike[str] | BaseGeometry
"""Anything :func:`read_aoi` turns into an area of interest."""

ACCEPTED = (
    "a WKT string ('POLYGON ((...))'), a GeoJSON string, a bounding box "
    "'minx,miny,maxx,maxy' in degrees, or a vector file that geopandas reads "
    "(.gpkg, .geojson, .shp, .fgb, ...)"
)

_NUMBER = r"\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*"
_BBOX = re.compile(rf"^{_NUMBER},{_NUMBER},{_NUMBER},{_NUMBER}$")
_WKT = re.compile(
    r"^\s*(SRID=\d+;)?\s*(MULTI)?(POLYGON|POINT|LINESTRING|GEOMETRYCOLLECTION)\b", re.IGNORECASE
)
_DENSIFY_DEG = 0.05
"""Longest edge (degrees) kept before projecting: lon/lat straight edges stay faithful."""


def read_aoi(value: AoiLike, *, parameter: str = "aoi") -> BaseGeometry:
    """Read an area of interest into one polygonal shapely geometry in EPSG:4326.

    Parameters
    ----------
    value
        WKT string, GeoJSON string, ``"minx,miny,maxx,maxy"`` (degrees), path of a vector file
        (reprojected to EPSG:4326, all features united), or a shapely geometry (taken as
        longitude/latitude).
    parameter
        Name of the parameter the value came from, used in error messages.

    Returns
    -------
    shapely.geometry.base.BaseGeometry
        A valid ``Polygon`` or ``MultiPolygon`` in longitude/latitude.

    Raises
    ------
    AoiError
        If the value does not parse, names a file that cannot be read, is empty, is not an
        area (points and lines have no area to cover) or lies outside longitude/latitude
        bounds.

    Examples
    --------
    >>> read_aoi("12.3,41.8,12.7,42.0").bounds
    (12.3, 41.8, 12.7, 42.0)
    """
    if isinstance(value, BaseGeometry):
        return _check(value, f"{parameter} (shapely geometry)", parameter)
    if isinstance(value, os.PathLike):
        return _check(_read_file(pathlib.Path(value), parameter), str(value), parameter)
    if not isinstance(value, str):
        raise AoiError(f"{parameter}={value!r} is not an area of interest; give {ACCEPTED}.")
    text = value.strip()
    if not text:
        raise AoiError(f"{parameter} is empty; give {ACCEPTED}.")
    if _BBOX.match(text):
        return _check(_parse_bbox(text, parameter), f"{parameter} bbox {text!r}", parameter)
    if text.startswith("{"):
        return _check(_parse_geojson(text, parameter), f"{parameter} GeoJSON string", parameter)
    if _WKT.match(text):
        try:
            geometry = shapely.from_wkt(text.split(";", 1)[-1])
        except shapely.errors.ShapelyError as error:
            raise AoiError(
                f"{parameter}: the WKT {_short(text)} does not parse ({error}); give {ACCEPTED}."
            ) from error
        return _check(geometry, f"{parameter} WKT", parameter)
    path = pathlib.Path(text).expanduser()
    if path.exists():
        return _check(_read_file(path, parameter), str(path), parameter)
    if path.suffix and " " not in text:
        raise AoiError(f"{parameter}: the AOI file {path} does not exist; give {ACCEPTED}.")
    raise AoiError(
        f"{parameter}={_short(text)} is neither an existing file nor a WKT/GeoJSON/bbox string; "
        f"give {ACCEPTED}."
    )


def _short(text: str, limit: int = 80) -> str:
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def _parse_bbox(text: str, parameter: str) -> BaseGeometry:
    minx, miny, maxx, maxy = (float(part) for part in text.split(","))
    # west > east is a box across the antimeridian (RFC 7946 §5.2) when it is then narrower
    # than half the globe ("179,-17,-179,-16"); otherwise the corners were swapped
    across = minx > maxx and minx - maxx > 180.0 and -180.0 <= maxx and minx <= 180.0
    if not ((minx < maxx or across) and miny < maxy):
        raise AoiError(
            f"{parameter} bbox {text!r} is empty or inverted: write it as "
            "'minx,miny,maxx,maxy' (west,south,east,north) in degrees; across the antimeridian "
            "west is greater than east ('179,-17,-179,-16')."
        )
    if across:
        return shapely.MultiPolygon(
            [shapely.box(minx, miny, 180.0, maxy), shapely.box(-180.0, miny, maxx, maxy)]
        )
    return shapely.box(minx, miny, maxx, maxy)


def _parse_geojson(text: str, parameter: str) -> BaseGeometry:
    try:
        document = json.loads(text)
        if document.get("type") == "FeatureCollection":
            shapes = [shapely.geometry.shape(f["geometry"]) for f in document["features"]]
            return shapely.union_all(shapes) if shapes else shapely.Polygon()
        if document.get("type") == "Feature":
            return shapely.geometry.shape(document["geometry"])
        return shapely.geometry.shape(document)
    except (ValueError, KeyError, TypeError, AttributeError, shapely.errors.ShapelyError) as error:
        raise AoiError(
            f"{parameter}: the GeoJSON string {_short(text)} does not parse ({error}); "
            f"give {ACCEPTED}."
        ) from error


def _read_file(path: pathlib.Path, parameter: str) -> BaseGeometry:
    if not path.is_file():
        raise AoiError(f"{parameter}: the AOI file {path} does not exist; give {ACCEPTED}.")
    try:
        frame = gpd.read_file(path)
    except Exception as error:  # noqa: BLE001 - pyogrio/GDAL raise many unrelated types
        raise AoiError(
            f"{parameter}: the AOI file {path} cannot be read as a vector file ({error}); "
            f"give {ACCEPTED}."
        ) from error
    if frame.empty or frame.geometry.isna().all():
        raise AoiError(f"{parameter}: the AOI file {path} holds no geometry; give {ACCEPTED}.")
    if frame.crs is None:
        log.warning("AOI file %s has no CRS: its coordinates are taken as EPSG:4326", path)
    elif not frame.crs.equals(pyproj.CRS.from_epsg(4326)):
        log.info("AOI file %s reprojected from %s to EPSG:4326", path, frame.crs.to_string())
        frame = frame.to_crs(4326)
    return shapely.union_all(frame.geometry.dropna().to_numpy())


def _check(geometry: BaseGeometry, source: str, parameter: str) -> BaseGeometry:
    if geometry is None or geometry.is_empty:
        raise AoiError(f"{source}: the area of interest is empty; give {ACCEPTED}.")
    if not geometry.is_valid:
        log.info("%s: invalid geometry repaired with shapely.make_valid", source)
        geometry = shapely.make_valid(geometry)
    polygons = dateline.split(_polygonal_part(geometry))
    if polygons.is_empty or polygons.area == 0.0:
        raise AoiError(
            f"{source}: the area of interest is a {geometry.geom_type} without area; the "
            f"inventory needs a polygon (buffer the point or line, or give a bbox via {parameter})."
        )
    minx, miny, maxx, maxy = polygons.bounds
    if minx < -180.0 or maxx > 180.0 or miny < -90.0 or maxy > 90.0:
        raise AoiError(
            f"{source}: bounds {polygons.bounds} are not longitude/latitude degrees; give the "
            "AOI in EPSG:4326, or a vector file that declares its CRS."
        )
    return polygons


def _polygonal_part(geometry: BaseGeometry) -> BaseGeometry:
    if isinstance(geometry, shapely.Polygon | shapely.MultiPolygon):
        return geometry
    parts = [
        g
        for g in shapely.get_parts(geometry)
        if isinstance(g, shapely.Polygon | shapely.MultiPolygon)
    ]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def equal_area_crs(geometry: BaseGeometry) -> pyproj.CRS:
    """Lambert azimuthal equal-area CRS centred on ``geometry`` (longitude/latitude).

    Areas are exact in this projection wherever they are; centring keeps shapes (and thus
    the straight-edge approximation of densified polygons) faithful around the AOI.
    """
    centre = dateline.centre(geometry)
    return pyproj.CRS.from_proj4(
        f"+proj=laea +lat_0={centre.y:.6f} +lon_0={centre.x:.6f} +ellps=WGS84 +units=m +no_defs"
    )


def to_equal_area(geometry: BaseGeometry, crs: pyproj.CRS) -> BaseGeometry:
    """Project a longitude/latitude geometry to ``crs`` after densifying its edges."""
    transformer = pyproj.Transformer.from_crs(4326, crs, always_xy=True)
    dense = shapely.segmentize(geometry, _DENSIFY_DEG)
    return shapely.transform(
        dense, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1]))
    )


def area_km2(geometry: BaseGeometry, crs: pyproj.CRS | None = None) -> float:
    """Ground area of a longitude/latitude geometry in square kilometres."""
    if geometry.is_empty:
        return 0.0
    crs = crs or equal_area_crs(geometry)
    return float(to_equal_area(geometry, crs).area) / 1e6
