"""Spatial and temporal extents of openEO arguments: parsing, emptiness checks, reprojection.

Temporal intervals are left-closed ``[start, end)``; each end is an RFC 3339 date
(``2021-03-01``, midnight UTC), date-time, or ``null`` (open).  Bounding boxes are
``{"west", "south", "east", "north", "crs"}`` with ``crs`` defaulting to EPSG:4326; GeoJSON
geometries (Polygon, MultiPolygon, Feature, FeatureCollection) are in EPSG:4326.

References
----------
openEO subtypes temporal-interval and bounding-box,
https://processes.openeo.org/#load_collection
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
import shapely.geometry
from odc.geo import CRS
from odc.geo.geom import Geometry

from .errors import ProcessParameterInvalid, SpatialExtentEmpty, TemporalExtentEmpty

__all__ = ["TimeInterval", "parse_spatial_extent", "parse_temporal_extent", "parse_time"]

_GEOJSON_TYPES = ("Polygon", "MultiPolygon", "Feature", "FeatureCollection")


@dataclass(frozen=True)
class TimeInterval:
    """Left-closed interval ``[start, end)`` in naive UTC; ``None`` for an open end."""

    start: np.datetime64 | None
    end: np.datetime64 | None

    def mask(self, times: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """Boolean mask of the ``datetime64`` values inside the interval."""
        inside = np.ones(times.shape, dtype=bool)
        if self.start is not None:
            inside &= times >= self.start
        if self.end is not None:
            inside &= times < self.end
        return inside

    def overlaps(self, start: dt.datetime, end: dt.datetime) -> bool:
        """Whether a closed time range ``[start, end]`` (aware) intersects the interval."""
        lo = np.datetime64(start.astimezone(dt.UTC).replace(tzinfo=None), "ns")
        hi = np.datetime64(end.astimezone(dt.UTC).replace(tzinfo=None), "ns")
        return bool(
            (self.end is None or lo < self.end) and (self.start is None or hi >= self.start)
        )


def parse_time(value: str, parameter: str) -> np.datetime64:
    """Parse a date or RFC 3339 date-time string into naive UTC ``datetime64[ns]``."""
    try:
        if len(value) == 10:
            moment = dt.datetime.combine(dt.date.fromisoformat(value), dt.time(), dt.UTC)
        else:
            moment = dt.datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
            if moment.tzinfo is None:
                raise ValueError("no time zone")
    except ValueError as error:
        raise ProcessParameterInvalid(
            f"{value!r} is neither a date (YYYY-MM-DD) nor a date-time with time zone "
            f"(YYYY-MM-DDTHH:MM:SSZ): {error}",
            parameter=parameter,
        ) from error
    return np.datetime64(moment.astimezone(dt.UTC).replace(tzinfo=None), "ns")


def parse_temporal_extent(extent: Sequence[str | None] | None, parameter: str) -> TimeInterval:
    """Parse ``[start, end]``; ``TemporalExtentEmpty`` unless ``start < end``."""
    if extent is None:
        return TimeInterval(None, None)
    if not isinstance(extent, list | tuple) or len(extent) != 2:
        raise ProcessParameterInvalid(f"expected [start, end], got {extent!r}", parameter=parameter)
    start, end = (None if v is None else parse_time(v, parameter) for v in extent)
    if start is not None and end is not None and not start < end:
        raise TemporalExtentEmpty(
            f"the interval [{extent[0]}, {extent[1]}) is empty: the end is excluded and must "
            "be later than the start",
            parameter=parameter,
        )
    return TimeInterval(start, end)


def _bbox_geometry(extent: Mapping[str, Any], parameter: str) -> Geometry:
    west, south, east, north = (extent[k] for k in ("west", "south", "east", "north"))
    if not (west < east and south < north):
        raise SpatialExtentEmpty(
            f"the bounding box west={west}, east={east}, south={south}, north={north} has no "
            "area: west must be less than east and south less than north",
            parameter=parameter,
        )
    crs = extent.get("crs")
    try:
        parsed = CRS(4326 if crs is None else crs)
    except Exception as error:  # pyproj raises several types for bad CRS input
        raise ProcessParameterInvalid(
            f"crs {crs!r} is not an EPSG code or WKT2 definition: {error}", parameter=parameter
        ) from error
    return Geometry(shapely.box(west, south, east, north), parsed)


def _geojson_geometry(extent: Mapping[str, Any], parameter: str) -> Geometry:
    kind = extent.get("type")
    if kind == "FeatureCollection":
        shapes = [shapely.geometry.shape(f["geometry"]) for f in extent.get("features", [])]
        shape = shapely.union_all(shapes) if shapes else shapely.Polygon()
    elif kind == "Feature":
        shape = shapely.geometry.shape(extent["geometry"])
    else:
        shape = shapely.geometry.shape(extent)
    if shape.is_empty or shape.area == 0:
        raise SpatialExtentEmpty(f"the {kind} geometry has no area", parameter=parameter)
    return Geometry(shape, CRS(4326))


def parse_spatial_extent(extent: Mapping[str, Any] | None, parameter: str) -> Geometry | None:
    """Bounding box or GeoJSON as an odc-geo ``Geometry``; ``SpatialExtentEmpty`` if no area."""
    if extent is None:
        return None
    if not isinstance(extent, Mapping):
        raise ProcessParameterInvalid(
            f"expected a bounding box or GeoJSON object, got {extent!r}", parameter=parameter
        )
    if "west" in extent:
        return _bbox_geometry(extent, parameter)
    if extent.get("type") in _GEOJSON_TYPES:
        try:
            return _geojson_geometry(extent, parameter)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ProcessParameterInvalid(
                f"invalid GeoJSON: {error}", parameter=parameter
            ) from error
    raise ProcessParameterInvalid(
        "expected {west, south, east, north[, crs]} or a GeoJSON Polygon, MultiPolygon, "
        f"Feature or FeatureCollection, got keys {sorted(extent)}",
        parameter=parameter,
    )
