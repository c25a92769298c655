"""In-memory index of the served static catalog, for the STAC API search and the HTML pages.

Each collection's items are read once (plain JSON, not pystac objects) and kept with their
footprints (shapely) and time ranges (POSIX seconds) as arrays, so a search is a few
vectorised comparisons.  A collection is read again when its ``collection.json`` changes
(the catalog rewrites it whenever items are added or removed).

Search semantics (STAC API item search 1.0): ``bbox`` and ``intersects`` select the items
whose geometry intersects the box or geometry (a ``bbox`` with west > east crosses the
antimeridian); ``datetime`` (an instant or ``start/end``, open ends ``..``) selects the items
whose ``[start_datetime, end_datetime]`` (or ``datetime``) intersects it, inclusive.

References
----------
STAC API item search, https://github.com/radiantearth/stac-api-spec/tree/v1.0.0/item-search
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import pathlib
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import shapely
import shapely.geometry
from pystac.utils import str_to_datetime

from s1stac.catalog import COLLECTIONS, StaticCatalog

from .errors import BadRequest
from .workspace import local_source

__all__ = ["CatalogIndex", "CollectionIndex", "parse_bbox", "parse_datetime"]

LOGGER = logging.getLogger(__name__)

_OPEN: Final = ("", "..")


@dataclass(frozen=True)
class CollectionIndex:
    """Items of one collection with their footprints and time ranges."""

    collection: Mapping[str, Any]
    """``collection.json`` as written in the catalog."""
    documents: tuple[Mapping[str, Any], ...]
    """Item JSON as written (hrefs relative to :attr:`folders`)."""
    folders: tuple[pathlib.Path, ...]
    """Folder of each item file."""
    positions: Mapping[str, int]
    """Item id -> position."""
    geometries: np.ndarray
    """Footprints (shapely, EPSG:4326); ``None`` for items without geometry."""
    starts: np.ndarray
    ends: np.ndarray


def _seconds(value: str | None) -> float:
    if value is None:
        return np.nan
    return str_to_datetime(value).timestamp()


def _time_range(properties: Mapping[str, Any]) -> tuple[float, float]:
    start = properties.get("start_datetime") or properties.get("datetime")
    end = properties.get("end_datetime") or start
    return _seconds(start), _seconds(end)


def _read_collection(catalog: StaticCatalog, collection_id: str) -> CollectionIndex:
    path = catalog.collection_path(collection_id)
    collection = json.loads(path.read_text(encoding="utf-8"))
    documents, folders, geometries, starts, ends = [], [], [], [], []
    for link in collection.get("links", []):
        if link.get("rel") != "item":
            continue
        item_file = (path.parent / link["href"]).resolve()
        try:
            document = json.loads(item_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            LOGGER.warning("%s: item %s unreadable: %s", collection_id, item_file, error)
            continue
        documents.append(document)
        folders.append(item_file.parent)
        geometry = document.get("geometry")
        geometries.append(shapely.geometry.shape(geometry) if geometry else None)
        start, end = _time_range(document.get("properties", {}))
        starts.append(start)
        ends.append(end)
    array = np.empty(len(geometries), dtype=object)
    array[:] = geometries
    return CollectionIndex(
        collection=collection,
        documents=tuple(documents),
        folders=tuple(folders),
        positions={d["id"]: i for i, d in enumerate(documents)},
        geometries=array,
        starts=np.asarray(starts, dtype=float),
        ends=np.asarray(ends, dtype=float),
    )


def parse_bbox(value: Any) -> list[float]:
    """Parse a STAC bbox (4 or 6 numbers, list or comma-separated string)."""
    try:
        if isinstance(value, str):
            numbers = [float(v) for v in value.split(",")]
        else:
            numbers = [float(v) for v in value]
    except (TypeError, ValueError):
        raise BadRequest(f"bbox {value!r} is not a list of numbers") from None
    if len(numbers) not in (4, 6):
        raise BadRequest(f"bbox has {len(numbers)} numbers; give west,south,east,north")
    half = len(numbers) // 2
    south, north = numbers[1], numbers[half + 1]
    if south > north or not all(np.isfinite(numbers)):
        raise BadRequest(f"bbox {numbers} is invalid: south must not exceed north")
    return numbers


def _box_geometry(bbox: Sequence[float]) -> shapely.Geometry:
    half = len(bbox) // 2
    west, south, east, north = bbox[0], bbox[1], bbox[half], bbox[half + 1]
    if west <= east:
        return shapely.box(west, south, east, north)
    return shapely.union(
        shapely.box(west, south, 180.0, north), shapely.box(-180.0, south, east, north)
    )


def parse_datetime(value: str) -> tuple[float, float]:
    """``instant`` or ``start/end`` (open ends ``..`` or empty) -> POSIX seconds (inf for open)."""

    def moment(text: str, open_value: float) -> float:
        if text in _OPEN:
            return open_value
        try:
            parsed = str_to_datetime(text)
        except (ValueError, OverflowError):
            raise BadRequest(
                f"datetime {text!r} is not RFC 3339 (e.g. 2021-03-01T00:00:00Z)"
            ) from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        return parsed.timestamp()

    if "/" in value:
        first, _, second = value.partition("/")
        if first in _OPEN and second in _OPEN:
            raise BadRequest("datetime interval open at both ends ('../..')")
        start, end = moment(first, -np.inf), moment(second, np.inf)
        if start > end:
            raise BadRequest(f"datetime interval {value!r} ends before it starts")
        return start, end
    if value in _OPEN:
        raise BadRequest("datetime must be an instant or an interval 'start/end'")
    instant = moment(value, np.nan)
    return instant, instant


def parse_intersects(value: Any) -> shapely.Geometry:
    """Parse a GeoJSON geometry object into a shapely geometry."""
    if not isinstance(value, Mapping) or "type" not in value:
        raise BadRequest("intersects must be a GeoJSON geometry object")
    try:
        geometry = shapely.geometry.shape(value)
    except (ValueError, TypeError, AttributeError, KeyError, shapely.errors.ShapelyError) as error:
        raise BadRequest(f"intersects is not a valid GeoJSON geometry: {error}") from None
    if geometry.is_empty:
        raise BadRequest("intersects is an empty geometry")
    return geometry


class CatalogIndex:
    """Cached view of the served catalog's collections and items (thread-safe).

    Parameters
    ----------
    catalog
        The served catalog.
    """

    def __init__(self, catalog: StaticCatalog) -> None:
        self.catalog = catalog
        self.root = catalog.root
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[tuple[int, int], CollectionIndex]] = {}

    def collection(self, collection_id: str) -> CollectionIndex:
        """Index of a collection (re-read when its ``collection.json`` changed)."""
        path = self.catalog.collection_path(collection_id)
        stat = path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            cached = self._cache.get(collection_id)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        index = _read_collection(self.catalog, collection_id)
        with self._lock:
            self._cache[collection_id] = (stamp, index)
        return index

    def item(self, collection_id: str, item_id: str) -> tuple[Mapping[str, Any], pathlib.Path]:
        """(item JSON, folder of the item file); ``KeyError`` if not registered."""
        index = self.collection(collection_id)
        position = index.positions[item_id]
        return index.documents[position], index.folders[position]

    def search(
        self,
        *,
        collections: Sequence[str] | None = None,
        ids: Sequence[str] | None = None,
        bbox: Sequence[float] | None = None,
        intersects: shapely.Geometry | None = None,
        interval: tuple[float, float] | None = None,
    ) -> list[tuple[str, int]]:
        """Find the matching items: (collection id, position), by collection and catalog order."""
        area = intersects if intersects is not None else None
        if bbox is not None:
            box = _box_geometry(bbox)
            area = box if area is None else shapely.intersection(area, box)
        found = []
        for collection_id in collections or list(COLLECTIONS):
            index = self.collection(collection_id)
            keep = np.ones(len(index.documents), dtype=bool)
            if ids is not None:
                wanted = set(ids)
                keep &= np.array([d["id"] in wanted for d in index.documents], dtype=bool)
            if area is not None and keep.any():
                has = np.array([g is not None for g in index.geometries], dtype=bool)
                hits = np.zeros_like(keep)
                if has.any():
                    hits[has] = shapely.intersects(index.geometries[has], area)
                keep &= hits
            if interval is not None and keep.any():
                start, end = interval
                with np.errstate(invalid="ignore"):
                    keep &= (index.ends >= start) & (index.starts <= end)
            found += [(collection_id, int(i)) for i in np.flatnonzero(keep)]
        return found

    def asset_source(
        self, collection_id: str, item_id: str, key: str
    ) -> tuple[pathlib.Path, str | None, str | None]:
        """(file, zip member or ``None``, media type) of a local asset; ``KeyError`` otherwise."""
        document, folder = self.item(collection_id, item_id)
        asset = document.get("assets", {})[key]
        href = asset["href"]
        source = local_source(href)
        if source is None and "://" not in href and not href.startswith("/vsi"):
            source = ((folder / href).resolve(), None)
        if source is None:
            raise KeyError(key)
        return source[0], source[1], asset.get("type")
