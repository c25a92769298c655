"""Discovery documents of the openEO API: capabilities, collections, processes, file formats.

openEO collections are the catalog's collections (the raw GRD products as ``SENTINEL1_GRD``,
see :data:`s1stac.api.graphs.COLLECTION_ALIASES`) with the ``cube:dimensions`` that
``load_collection`` produces: ``x``/``y`` in the CRS of the items' grid (EPSG:4326 for GRD,
which is in radar geometry), ``t``, and ``bands`` = the data assets of the items (the
polarisations for GRD).  Band names are also given as STAC 1.1 ``summaries.bands``.

References
----------
openEO API 1.2.0, https://api.openeo.org/1.2.0/
STAC datacube extension, https://github.com/stac-extensions/datacube
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Final

import pyproj

from s1stac import __version__
from s1stac.catalog import COLLECTIONS
from s1stac.openeo import list_processes
from s1stac.openeo.errors import CollectionNotFound
from s1stac.openeo.processes.save import FORMATS, OUTPUT_COLLECTIONS
from s1stac.stac_items import GRD_COLLECTION

from .graphs import catalog_collection, openeo_collection
from .stac_index import CatalogIndex

__all__ = [
    "API_VERSION",
    "ENDPOINTS",
    "capabilities",
    "collection",
    "collections",
    "conformance",
    "file_formats",
    "processes",
    "well_known",
]

API_VERSION: Final = "1.2.0"
STAC_VERSION: Final = "1.1.0"
DATACUBE_EXTENSION: Final = "https://stac-extensions.github.io/datacube/v2.2.0/schema.json"
ENDPOINTS: Final = (
    ("/", ("GET",)),
    ("/conformance", ("GET",)),
    ("/credentials/basic", ("GET",)),
    ("/me", ("GET",)),
    ("/file_formats", ("GET",)),
    ("/collections", ("GET",)),
    ("/collections/{collection_id}", ("GET",)),
    ("/processes", ("GET",)),
    ("/validation", ("POST",)),
    ("/result", ("POST",)),
    ("/jobs", ("GET", "POST")),
    ("/jobs/{job_id}", ("GET", "PATCH", "DELETE")),
    ("/jobs/{job_id}/results", ("GET", "POST", "DELETE")),
    ("/jobs/{job_id}/logs", ("GET",)),
    ("/process_graphs", ("GET",)),
    ("/process_graphs/{process_graph_id}", ("GET", "PUT", "DELETE")),
)
"""Endpoints of the versioned root, with the placeholder names the openEO client matches."""
GRD_BANDS: Final = ("VV", "VH", "HH", "HV")
_STRUCTURAL: Final = {"self", "root", "parent", "child", "item", "items", "collection"}
_JSON: Final = "application/json"


def well_known(base_url: str) -> dict[str, Any]:
    """``GET /.well-known/openeo``: the API versions served."""
    return {
        "versions": [
            {"url": f"{base_url}/openeo/1.2/", "api_version": API_VERSION, "production": True}
        ]
    }


def capabilities(root: str, stac_url: str) -> dict[str, Any]:
    """``GET /`` of the versioned root."""
    return {
        "api_version": API_VERSION,
        "backend_version": __version__,
        "stac_version": STAC_VERSION,
        "type": "Catalog",
        "id": "s1stac",
        "title": "s1stac",
        "description": (
            "Sentinel-1 GRD processing on xarray/dask over a static STAC catalog: "
            "analysis-ready backscatter, time series, timescans and mosaics as openEO processes."
        ),
        "production": True,
        "endpoints": [{"path": path, "methods": list(methods)} for path, methods in ENDPOINTS],
        "links": [
            {"rel": "self", "href": f"{root}/", "type": _JSON},
            {"rel": "data", "href": f"{root}/collections", "type": _JSON},
            {"rel": "conformance", "href": f"{root}/conformance", "type": _JSON},
            {"rel": "version-history", "href": f"{_base(root)}/.well-known/openeo", "type": _JSON},
            {"rel": "related", "href": stac_url, "type": _JSON, "title": "STAC API"},
        ],
    }


def _base(root: str) -> str:
    return root.rsplit("/openeo/", 1)[0]


def conformance() -> dict[str, Any]:
    """``GET /conformance``."""
    return {
        "conformsTo": [
            f"https://api.openeo.org/{API_VERSION}",
            "https://api.stacspec.org/v1.0.0/core",
            "https://api.stacspec.org/v1.0.0/collections",
        ]
    }


def file_formats() -> dict[str, Any]:
    """``GET /file_formats``: the formats of ``save_result`` and their options."""
    parameters = {
        "collection": {
            "type": "string",
            "description": "Collection the result item is registered in (default: "
            "s1-timeseries for cubes with a time dimension, s1-timescan otherwise).",
            "enum": list(OUTPUT_COLLECTIONS),
        },
        "item_id": {
            "type": "string",
            "description": "Id of the result item (default: derived from the dates and graph).",
            "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]*$",
        },
    }
    titles = {
        "GTiff": "Cloud-Optimized GeoTIFF (one file per band and date)",
        "netCDF": "netCDF (one file, one variable per band)",
    }
    return {
        "input": {},
        "output": {
            name: {
                "title": titles.get(name, name),
                "gis_data_types": ["raster"],
                "parameters": copy.deepcopy(parameters),
            }
            for name in FORMATS.values()
        },
    }


def processes() -> dict[str, Any]:
    """``GET /processes``: the specifications of the registered processes."""
    return {"processes": list_processes(), "links": []}


def _band_names(collection_id: str, index: CatalogIndex) -> list[str]:
    items = index.collection(collection_id)
    if collection_id == GRD_COLLECTION:
        found = {p for d in items.documents for p in d["properties"].get("sar:polarizations", [])}
        return [b for b in GRD_BANDS if b in found] or list(GRD_BANDS)
    names: dict[str, None] = {}
    for document in items.documents:
        for key, asset in document.get("assets", {}).items():
            if "data" in (asset.get("roles") or []):
                names.setdefault(key)
    return list(names)


def _reference_system(collection_id: str, index: CatalogIndex) -> int | str:
    codes = {
        str(d["properties"].get("proj:code"))
        for d in index.collection(collection_id).documents
        if d["properties"].get("proj:code")
    }
    if len(codes) == 1 and collection_id != GRD_COLLECTION:
        code = codes.pop()
        return int(code.split(":")[1]) if code.upper().startswith("EPSG:") else code
    return 4326


def collection(index: CatalogIndex, collection_id: str, root: str, stac_url: str) -> dict[str, Any]:
    """``GET /collections/{collection_id}``: openEO metadata of a catalog collection."""
    catalog_id = catalog_collection(collection_id)
    if catalog_id is None:
        names = [openeo_collection(c) for c in COLLECTIONS]
        raise CollectionNotFound(
            f"collection {collection_id!r} does not exist; collections: {names}"
        )
    source: Mapping[str, Any] = index.collection(catalog_id).collection
    data = copy.deepcopy(dict(source))
    openeo_id = openeo_collection(catalog_id)
    data["id"] = openeo_id
    west, south, east, north = data["extent"]["spatial"]["bbox"][0][:4]
    interval = data["extent"]["temporal"]["interval"][0]
    bands = _band_names(catalog_id, index)
    reference = _reference_system(catalog_id, index)
    if reference != 4326:
        transformer = pyproj.Transformer.from_crs(4326, reference, always_xy=True)
        west, south, east, north = transformer.transform_bounds(west, south, east, north)
    data["cube:dimensions"] = {
        "x": {
            "type": "spatial",
            "axis": "x",
            "extent": [west, east],
            "reference_system": reference,
        },
        "y": {
            "type": "spatial",
            "axis": "y",
            "extent": [south, north],
            "reference_system": reference,
        },
        "t": {"type": "temporal", "extent": list(interval)},
        "bands": {"type": "bands", "values": bands},
    }
    summaries = data.setdefault("summaries", {})
    summaries["bands"] = [{"name": band} for band in bands]
    extensions = list(data.get("stac_extensions", []))
    if DATACUBE_EXTENSION not in extensions:
        extensions.append(DATACUBE_EXTENSION)
    data["stac_extensions"] = extensions
    links = [link for link in data.get("links", []) if link.get("rel") not in _STRUCTURAL]
    data["links"] = [
        {"rel": "self", "href": f"{root}/collections/{openeo_id}", "type": _JSON},
        {"rel": "root", "href": f"{root}/", "type": _JSON},
        {"rel": "parent", "href": f"{root}/collections", "type": _JSON},
        {
            "rel": "items",
            "href": f"{stac_url}/collections/{catalog_id}/items",
            "type": "application/geo+json",
            "title": "Items of the collection (STAC API)",
        },
        *links,
    ]
    return data


def collections(index: CatalogIndex, root: str, stac_url: str) -> dict[str, Any]:
    """``GET /collections``."""
    return {
        "collections": [
            collection(index, openeo_collection(cid), root, stac_url) for cid in COLLECTIONS
        ],
        "links": [{"rel": "self", "href": f"{root}/collections", "type": _JSON}],
    }
