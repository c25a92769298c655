"""Output grids that every acquisition of every track shares, so that ARDs stack without resampling.

Reference: ``OST_SPEC.md`` §2.4 (SNAP ``Terrain-Correction`` with ``alignToStandardGrid=true``,
``standardGridOriginX/Y=0`` and ``SARGeocoding.getPixelSpacingInDegree``).

* Geographic output (EPSG:4326, the default): the pixel size is ``resolution / 6378137 · 180/π``
  degrees along both axes, e.g. 20 m → 1.796630568239043e-04°.
* Projected output (any EPSG code in metres, e.g. UTM ``EPSG:32633``): the pixel size is
  ``resolution`` metres.

In both cases pixel edges lie on integer multiples of the pixel size counted from the origin
(0, 0) of the CRS (pixel-corner registration, as ``gdalwarp -tap -tr Δ Δ``): the grid of a
scene is the global grid cropped, outward, to the scene's footprint.  Grids are
:class:`odc.geo.geobox.GeoBox` objects, the grid type of odc-geo / odc-stac.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import pyproj
import shapely
from affine import Affine
from odc.geo.geobox import GeoBox
from odc.geo.geom import Geometry
from shapely.geometry.base import BaseGeometry

from s1stac import dateline
from s1stac.errors import ParameterError

EARTH_RADIUS_M = 6378137.0
"""Radius SNAP uses to turn a pixel spacing in metres into degrees (WGS84 semi-major axis)."""

AUTO_UTM = "AUTO:42001"
"""OST's name for "the UTM zone of the scene centre"."""

_SNAP_TOL = 1e-6
"""Fraction of a pixel by which bounds may overshoot a grid line and still snap onto it."""

GeometryLike: TypeAlias = BaseGeometry | Geometry | Sequence[float]
"""A footprint: shapely geometry in lon/lat, odc-geo Geometry (any CRS), or a lon/lat bbox."""


def degrees_per_pixel(resolution_m: float) -> float:
    """Pixel size in degrees that SNAP uses for a pixel spacing in metres.

    Examples
    --------
    >>> degrees_per_pixel(20.0)
    0.0001796630568239043
    """
    _check_resolution(resolution_m, "resolution_m")
    # NOTE: the same operations as SNAP (spacing / semiMajorAxis * RTOD) for identical floats.
    return resolution_m / EARTH_RADIUS_M * (180.0 / math.pi)


def utm_crs_for(lon: float, lat: float) -> str:
    """EPSG code of the WGS84 / UTM zone containing a point (``EPSG:326zz`` north, ``327zz`` south).

    Plain 6° zones: the Norway / Svalbard exceptions are not applied, so that a zone follows from
    the longitude alone.

    Examples
    --------
    >>> utm_crs_for(12.5, 41.9)
    'EPSG:32633'
    """
    if not (math.isfinite(lon) and math.isfinite(lat)) or abs(lat) > 90.0:
        raise ParameterError(f"invalid point {lon=}, {lat=}: give a longitude and a latitude")
    zone = int(math.floor((lon + 180.0) / 6.0)) % 60 + 1
    return f"EPSG:{32600 + zone if lat >= 0.0 else 32700 + zone}"


@dataclass(frozen=True)
class GridSpec:
    """A global grid: a CRS and a pixel size, pixel edges at multiples of the size from (0, 0)."""

    crs: str
    """CRS of the grid as ``"EPSG:<code>"``."""
    resolution: float
    """Pixel size in units of the CRS (degrees or metres), the same along both axes."""

    def __post_init__(self) -> None:
        _check_resolution(self.resolution, "resolution")
        _parse_crs(self.crs)

    @classmethod
    def from_metres(
        cls,
        resolution_m: float,
        crs: str = "EPSG:4326",
        *,
        centre: tuple[float, float] | None = None,
    ) -> GridSpec:
        """Grid of a pixel spacing in metres, as SNAP defines it (see module docstring).

        Parameters
        ----------
        resolution_m
            Pixel spacing in metres (``resolution`` of the OST ARD parameters).
        crs
            ``"EPSG:<code>"`` of a geographic CRS (degrees) or a projected CRS in metres, or
            ``"AUTO:42001"`` for the UTM zone of ``centre``.
        centre
            ``(lon, lat)`` of the scene centre, needed only with ``"AUTO:42001"``.
        """
        _check_resolution(resolution_m, "resolution_m")
        if crs.upper() == AUTO_UTM:
            if centre is None:
                raise ParameterError(
                    f"crs={crs!r} needs the scene centre (lon, lat) to pick a zone"
                )
            crs = utm_crs_for(*centre)
        parsed = _parse_crs(crs)
        if parsed.is_geographic:
            return cls(crs=crs, resolution=degrees_per_pixel(resolution_m))
        unit = parsed.axis_info[0].unit_name if parsed.axis_info else ""
        if unit not in ("metre", "meter"):
            raise ParameterError(
                f"crs={crs!r} has axes in {unit!r}: give a geographic CRS or one in metres"
            )
        return cls(crs=crs, resolution=float(resolution_m))

    def geobox(self, geometry: GeometryLike) -> GeoBox:
        """Crop the global grid to ``geometry``, snapping the bounds outward to whole pixels."""
        geom = as_geometry(geometry)
        geom = geom.to_crs(self.crs, resolution=_densify_step(geom))
        minx, miny, maxx, maxy = geom.boundingbox
        step = self.resolution
        ix0 = math.floor(minx / step + _SNAP_TOL)
        ix1 = math.ceil(maxx / step - _SNAP_TOL)
        iy0 = math.floor(miny / step + _SNAP_TOL)
        iy1 = math.ceil(maxy / step - _SNAP_TOL)
        width, height = max(ix1 - ix0, 1), max(iy1 - iy0, 1)
        transform = Affine(step, 0.0, ix0 * step, 0.0, -step, iy1 * step)
        return GeoBox((height, width), transform, self.crs)


def aligned_grid(geometry: GeometryLike, *, resolution_m: float, crs: str = "EPSG:4326") -> GeoBox:
    """Grid of a scene on the global aligned grid of OST (``OST_SPEC.md`` §2.4).

    Parameters
    ----------
    geometry
        Footprint of the scene: shapely geometry in lon/lat, an odc-geo ``Geometry`` or a
        ``(min_lon, min_lat, max_lon, max_lat)`` box.
    resolution_m
        Pixel spacing in metres.
    crs
        ``"EPSG:4326"`` (default), any ``"EPSG:<code>"`` in metres (e.g. UTM), or
        ``"AUTO:42001"`` (UTM zone of the footprint's centroid).

    Returns
    -------
    GeoBox
        Pixel edges at integer multiples of the pixel size, enclosing the footprint.

    Examples
    --------
    >>> gbox = aligned_grid((12.45, 41.95, 12.55, 42.05), resolution_m=20.0)
    >>> gbox.resolution.x
    0.0001796630568239043
    """
    geom = as_geometry(geometry)
    centroid = dateline.centre(geom.to_crs("EPSG:4326").geom).coords[0]
    spec = GridSpec.from_metres(resolution_m, crs, centre=(centroid[0], centroid[1]))
    return spec.geobox(geom)


def as_geometry(geometry: GeometryLike) -> Geometry:
    """Turn a lon/lat shapely geometry, a lon/lat bbox or an odc-geo Geometry into a Geometry."""
    if isinstance(geometry, Geometry):
        if geometry.crs is None:
            raise ParameterError("geometry has no CRS: give one or pass a lon/lat shapely geometry")
        return geometry
    if isinstance(geometry, BaseGeometry):
        shape: Any = geometry
    elif isinstance(geometry, Sequence) and len(geometry) == 4:
        shape = shapely.box(*(float(v) for v in geometry))
    else:
        raise ParameterError(
            f"geometry={geometry!r:.80}: give a shapely geometry in lon/lat, an odc-geo Geometry "
            "or a (min_lon, min_lat, max_lon, max_lat) box"
        )
    if shape.is_empty or shape.geom_type not in ("Polygon", "MultiPolygon"):
        raise ParameterError(f"geometry must be a non-empty (multi)polygon, got {shape.geom_type}")
    minx, miny, maxx, maxy = shape.bounds
    if not (-180.0 <= minx <= maxx <= 360.0 and -90.0 <= miny <= maxy <= 90.0):
        raise ParameterError(f"geometry bounds {shape.bounds} are not longitude/latitude degrees")
    return Geometry(shape, "EPSG:4326")


def _densify_step(geom: Geometry) -> float:
    # NOTE: edges are split before reprojection so that edges that curve in the target CRS stay
    # inside the snapped bounds; 0.01° (about 1 km) keeps the error far below a pixel.
    return 0.01 if geom.crs is not None and geom.crs.geographic else 1000.0


def _check_resolution(value: float, name: str) -> None:
    if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0.0:
        raise ParameterError(f"{name}={value!r} must be a positive number of metres or degrees")


def _parse_crs(crs: str) -> pyproj.CRS:
    try:
        parsed = pyproj.CRS.from_user_input(crs)
    except (pyproj.exceptions.CRSError, TypeError) as err:
        raise ParameterError(
            f"crs={crs!r} is not a known CRS: give 'EPSG:4326', a UTM code such as 'EPSG:32633', "
            f"or '{AUTO_UTM}'"
        ) from err
    if not (parsed.is_geographic or parsed.is_projected):
        raise ParameterError(f"crs={crs!r} is neither geographic nor projected (2D map CRS)")
    return parsed
