"""Content of the s1stac catalog and collections: titles, providers, licence, extents, summaries.

All collections are licensed ``other`` (STAC 1.1.0 replaces ``proprietary`` by ``other``) with
a ``license`` link to the Copernicus Sentinel data legal notice: the GRD products are
Copernicus data, and derived products remain subject to its attribution terms; whoever
publishes derived products may relicense them (e.g. CC-BY-4.0) by editing the collection.
Empty collections get a global bbox and an open interval from the launch of Sentinel-1A; both
are replaced by the union of the items' bboxes and time ranges as items arrive.

References
----------
STAC 1.1.0 collection specification,
https://github.com/radiantearth/stac-spec/blob/v1.1.0/collection-spec/collection-spec.md
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any, Final

import pystac
from pystac.utils import str_to_datetime

from .dateline import union_bbox
from .stac_items import GRD_COLLECTION, extension_urls

__all__ = ["COLLECTIONS", "LEGAL_NOTICE", "catalog_dict", "collection_dict"]

LEGAL_NOTICE = "https://sentinel.esa.int/documents/247904/690755/Sentinel_Data_Legal_Notice"
GRD_GUIDE = (
    "https://sentinels.copernicus.eu/web/sentinel/technical-guides/sentinel-1-sar/"
    "products-algorithms/level-1-algorithms/ground-range-detected"
)
SENTINEL1_START: Final = "2014-04-03T00:00:00Z"
"""Launch of Sentinel-1A: start of the default (open) temporal extent of empty collections."""

COLLECTIONS: Final[dict[str, tuple[str, str]]] = {
    GRD_COLLECTION: (
        "Sentinel-1 Level-1 GRD",
        "Sentinel-1 Level-1 Ground Range Detected (GRD) products as delivered by ESA (SAFE "
        "folders or zips, registered in place): detected, multi-looked amplitude in radar "
        "geometry with the annotation, calibration and noise metadata.",
    ),
    "s1-ard": (
        "Sentinel-1 analysis-ready backscatter",
        "Backscatter per scene derived from the sentinel-1-grd items: thermal noise removed, "
        "radiometrically calibrated and terrain corrected, as Cloud-Optimized GeoTIFFs on a "
        "map grid.",
    ),
    "s1-timeseries": (
        "Sentinel-1 backscatter time series",
        "Stacks of analysis-ready backscatter per track over an area of interest, on one common "
        "grid.",
    ),
    "s1-timescan": (
        "Sentinel-1 timescan statistics",
        "Per-pixel temporal statistics (mean, standard deviation, percentiles...) of the "
        "backscatter time series.",
    ),
    "s1-mosaic": (
        "Sentinel-1 mosaics",
        "Mosaics of time-series or timescan layers over an area of interest, combining tracks.",
    ),
}
"""Collection id -> (title, description)."""

_BASE_SUMMARIES: Final[dict[str, list[Any]]] = {
    "constellation": ["sentinel-1"],
    "instruments": ["c-sar"],
    "sar:frequency_band": ["C"],
    "sar:observation_direction": ["right"],
}
_VALUE_SUMMARIES: Final = (
    "platform",
    "constellation",
    "instruments",
    "sar:instrument_mode",
    "sar:frequency_band",
    "sar:polarizations",
    "sar:product_type",
    "sar:observation_direction",
    "sat:orbit_state",
    "sat:relative_orbit",
    "product:type",
    "processing:level",
)
_RANGE_SUMMARIES: Final = ("sat:absolute_orbit",)
_JSON = "application/json"


def _provider(name: str, roles: list[str], url: str | None, description: str) -> pystac.Provider:
    return pystac.Provider(name=name, roles=roles, url=url, description=description)  # type: ignore[arg-type]


def _providers(collection_id: str) -> list[pystac.Provider]:
    if collection_id == GRD_COLLECTION:
        return [
            _provider(
                "European Space Agency (ESA)",
                ["producer", "processor", "licensor"],
                "https://sentinels.copernicus.eu",
                "Acquisition and Level-1 processing of the Copernicus Sentinel-1 data.",
            )
        ]
    return [
        _provider(
            "European Space Agency (ESA)",
            ["producer", "licensor"],
            "https://sentinels.copernicus.eu",
            "Copernicus Sentinel-1 Level-1 GRD source data.",
        ),
        _provider(
            "s1stac",
            ["processor"],
            None,
            "Processing of the GRD products into analysis-ready and derived layers.",
        ),
    ]


def _default_extent() -> pystac.Extent:
    return pystac.Extent(
        pystac.SpatialExtent([[-180.0, -90.0, 180.0, 90.0]]),
        pystac.TemporalExtent([[str_to_datetime(SENTINEL1_START), None]]),
    )


def collection_dict(collection_id: str, items: Iterable[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """Build the collection JSON (without item links), extent and summaries over ``items``."""
    title, description = COLLECTIONS[collection_id]
    items = list(items)
    collection = pystac.Collection(
        id=collection_id,
        title=title,
        description=description,
        extent=_extent(items),
        license="other",
        keywords=["sentinel-1", "copernicus", "sar", "c-band", "backscatter"],
        providers=_providers(collection_id),
        summaries=pystac.Summaries(_summaries(items)),
    )
    data = copy.deepcopy(collection.to_dict(include_self_link=False, transform_hrefs=False))
    data["links"] = [
        {"rel": "root", "href": "../catalog.json", "type": _JSON},
        {"rel": "parent", "href": "../catalog.json", "type": _JSON},
        {
            "rel": "license",
            "href": LEGAL_NOTICE,
            "type": "application/pdf",
            "title": "Legal notice on the use of Copernicus Sentinel data and service information",
        },
    ]
    if collection_id == GRD_COLLECTION:
        data["links"].append(
            {"rel": "about", "href": GRD_GUIDE, "type": "text/html", "title": "GRD technical guide"}
        )
    extensions = extension_urls(data, collection_id)
    if extensions:
        data["stac_extensions"] = extensions
    return data


def _extent(items: list[Mapping[str, Any]]) -> pystac.Extent:
    bboxes = [item["bbox"] for item in items if item.get("bbox")]
    times = []
    for item in items:
        props = item["properties"]
        for key in ("start_datetime", "datetime", "end_datetime"):
            if props.get(key):
                times.append(str_to_datetime(props[key]))
    if not bboxes or not times:
        return _default_extent()
    union = union_bbox(bboxes)  # west > east across the antimeridian
    return pystac.Extent(
        pystac.SpatialExtent([union]), pystac.TemporalExtent([[min(times), max(times)]])
    )


def _summaries(items: list[Mapping[str, Any]]) -> dict[str, Any]:
    values: dict[str, set[Any]] = {key: set(v) for key, v in _BASE_SUMMARIES.items()}
    ranges: dict[str, list[Any]] = {}
    for item in items:
        props = item["properties"]
        for key in _VALUE_SUMMARIES:
            value = props.get(key)
            for v in value if isinstance(value, list) else [value]:
                if v is not None and not isinstance(v, dict | list):
                    values.setdefault(key, set()).add(v)
        for key in _RANGE_SUMMARIES:
            if props.get(key) is not None:
                ranges.setdefault(key, []).append(props[key])
    out: dict[str, Any] = {
        key: sorted(values[key], key=lambda v: (str(type(v)), v))
        for key in _VALUE_SUMMARIES
        if values.get(key)
    }
    out |= {key: {"minimum": min(v), "maximum": max(v)} for key, v in ranges.items()}
    return out


def catalog_dict() -> dict[str, Any]:
    catalog = pystac.Catalog(
        id="s1stac",
        title="s1stac catalog",
        description=(
            "Sentinel-1 GRD inputs and every product derived from them by s1stac: analysis-ready "
            "backscatter, time series, timescans and mosaics."
        ),
    )
    data = copy.deepcopy(catalog.to_dict(include_self_link=False, transform_hrefs=False))
    data["links"] = [{"rel": "root", "href": "./catalog.json", "type": _JSON, "title": "s1stac"}]
    data["links"] += [
        {"rel": "child", "href": f"./{cid}/collection.json", "type": _JSON, "title": title}
        for cid, (title, _) in COLLECTIONS.items()
    ]
    return data
