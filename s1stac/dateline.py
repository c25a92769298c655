"""Footprints and areas that cross the antimeridian (the 180th meridian).

A Sentinel-1 manifest writes the footprint of a scene over Fiji or the Aleutians with
longitudes that jump from +179.x to -179.x; read as one polygon it would wrap the whole globe
the wrong way.  STAC (RFC 7946 §3.1.9) wants such geometries split into a MultiPolygon at the
antimeridian and a bbox whose west is greater than its east.  The splitting (along great
circles, winding fixed) and the centroid are done by the ``antimeridian`` package
(https://www.gadom.ski/antimeridian); this module decides when to apply it and keeps the rest of
the code free of the question: :func:`split` for geometries read from files and APIs,
:func:`bbox` and :func:`union_bbox` for STAC bboxes (the smallest longitude range on the circle,
written by hand: the package's bbox assumes every part is near the antimeridian), :func:`centre`
for projections centred on an area.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence

import antimeridian
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

__all__ = ["bbox", "centre", "crosses", "is_split", "split", "union_bbox"]

_EDGE = 1e-9


def _rings(geometry: BaseGeometry) -> Iterable[np.ndarray]:
    polygons = getattr(geometry, "geoms", [geometry])
    for polygon in polygons:
        if isinstance(polygon, shapely.Polygon) and not polygon.is_empty:
            yield np.asarray(polygon.exterior.coords)
            for interior in polygon.interiors:
                yield np.asarray(interior.coords)


def crosses(geometry: BaseGeometry) -> bool:
    """Whether consecutive vertices of a polygon jump by more than 180 degrees of longitude."""
    return any(
        len(ring) > 1 and bool(np.any(np.abs(np.diff(ring[:, 0])) > 180.0))
        for ring in _rings(geometry)
    )


def is_split(geometry: BaseGeometry) -> bool:
    """Whether a (Multi)Polygon has parts touching both -180 and +180 (split at the 180th)."""
    if geometry.is_empty:
        return False
    minx, _, maxx, _ = geometry.bounds
    return minx <= -180.0 + _EDGE and maxx >= 180.0 - _EDGE


def split(geometry: BaseGeometry) -> BaseGeometry:
    """Split a geometry at the antimeridian if it crosses it; exterior rings counter-clockwise.

    A polygon that does not cross is returned oriented, otherwise unchanged.
    """
    if isinstance(geometry, shapely.Polygon | shapely.MultiPolygon) and crosses(geometry):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", antimeridian.FixWindingWarning)
            fixed = antimeridian.fix_shape(geometry, fix_winding=True)
        return shapely.geometry.shape(fixed)
    if isinstance(geometry, shapely.Polygon):
        return shapely.geometry.polygon.orient(geometry, sign=1.0)
    if isinstance(geometry, shapely.MultiPolygon):
        return shapely.MultiPolygon(
            [shapely.geometry.polygon.orient(p, sign=1.0) for p in geometry.geoms]
        )
    return geometry


def _cover(intervals: list[tuple[float, float]], south: float, north: float) -> list[float]:
    """Smallest bbox covering longitude intervals on the circle.

    It is the complement of the widest gap between the intervals: west > east when that gap is
    not the one across the antimeridian.
    """
    merged: list[list[float]] = []
    for west, east in sorted(intervals):
        if merged and west <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], east)
        else:
            merged.append([west, east])
    wrap_gap = merged[0][0] + 360.0 - merged[-1][1]
    gaps = [(merged[k + 1][0] - merged[k][1], k) for k in range(len(merged) - 1)]
    widest = max(gaps, default=(-1.0, -1))
    if widest[0] <= wrap_gap:
        return [merged[0][0], south, merged[-1][1], north]
    k = widest[1]
    return [merged[k + 1][0], south, merged[k][1], north]


def bbox(geometry: BaseGeometry) -> list[float]:
    """STAC bbox of a lon/lat geometry: west > east when it is split at the antimeridian."""
    parts = [g for g in getattr(geometry, "geoms", [geometry]) if not g.is_empty]
    if not parts:
        return [float(v) for v in geometry.bounds]
    bounds = [g.bounds for g in parts]
    south, north = min(b[1] for b in bounds), max(b[3] for b in bounds)
    return [float(v) for v in _cover([(b[0], b[2]) for b in bounds], south, north)]


def union_bbox(boxes: Sequence[Sequence[float]]) -> list[float]:
    """Union of 2-D STAC bboxes, some of which may cross the antimeridian (west > east)."""
    intervals: list[tuple[float, float]] = []
    for box in boxes:
        west, east = box[0], box[len(box) // 2]
        intervals += [(west, 180.0), (-180.0, east)] if west > east else [(west, east)]
    south = min(b[1] for b in boxes)
    north = max(b[len(b) // 2 + 1] for b in boxes)
    return [float(v) for v in _cover(intervals, south, north)]


def centre(geometry: BaseGeometry) -> shapely.Point:
    """Centroid of a lon/lat geometry, on the right side of the globe for split geometries."""
    if geometry.is_empty:
        return shapely.Point(0.0, 0.0)
    if is_split(geometry):
        return shapely.Point(antimeridian.centroid(geometry).coords[0])
    return geometry.centroid
