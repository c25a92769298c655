"""STAC API 1.0 over the served static catalog: landing page, collections, items, item search.

Read-only and public, like the openEO discovery endpoints: the catalog is what the server
publishes.  Items are served with absolute URLs (:mod:`s1stac.api.documents`); asset files
(COGs, GRD zips and their members) are sent by ``.../items/{item_id}/assets/{key}``, which
only serves files that an item of the catalog names, with HTTP Range support for files (GDAL
and odc-stac read COGs over HTTP in ranges).  Paging uses a ``token`` (the offset of the
next page); the ``next`` link of a ``POST /search`` repeats the request body with it.

References
----------
STAC API 1.0.0, https://github.com/radiantearth/stac-api-spec/tree/v1.0.0
"""

from __future__ import annotations

import json
import pathlib
import zipfile
from collections.abc import Iterator, Mapping
from typing import Any, Final
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse

from s1stac.catalog import COLLECTIONS
from s1stac.openeo.errors import CollectionNotFound

from .documents import api_item, catalog_item_url
from .errors import BadRequest, FileNotFound, NotFound
from .metadata import STAC_VERSION
from .stac_index import CatalogIndex, parse_bbox, parse_datetime, parse_intersects
from .state import JsonBody, ServerDep, stac_root
from .workspace import local_source

__all__ = [
    "CONFORMANCE",
    "check_collection_id",
    "collection_document",
    "item_document",
    "router",
]

router = APIRouter()

CONFORMANCE: Final = (
    "https://api.stacspec.org/v1.0.0/core",
    "https://api.stacspec.org/v1.0.0/collections",
    "https://api.stacspec.org/v1.0.0/ogcapi-features",
    "https://api.stacspec.org/v1.0.0/item-search",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
)
DEFAULT_LIMIT: Final = 10
MAX_LIMIT: Final = 1000
_JSON: Final = "application/json"
_GEOJSON: Final = "application/geo+json"
_STRUCTURAL: Final = {"self", "root", "parent", "child", "item", "items", "collection"}
_CHUNK: Final = 1 << 20
_SEARCH_KEYS: Final = ("collections", "ids", "bbox", "intersects", "datetime", "limit", "token")


def check_collection_id(collection_id: str) -> str:
    if collection_id not in COLLECTIONS:
        raise CollectionNotFound(
            f"collection {collection_id!r} does not exist; collections: {list(COLLECTIONS)}"
        )
    return collection_id


def collection_document(index: CatalogIndex, collection_id: str, stac: str) -> dict[str, Any]:
    """Return a collection of the catalog with STAC API links."""
    data = dict(index.collection(collection_id).collection)
    kept = [link for link in data.get("links", []) if link.get("rel") not in _STRUCTURAL]
    url = f"{stac}/collections/{collection_id}"
    data["links"] = [
        {"rel": "self", "href": url, "type": _JSON},
        {"rel": "root", "href": stac, "type": _JSON},
        {"rel": "parent", "href": stac, "type": _JSON},
        {"rel": "items", "href": f"{url}/items", "type": _GEOJSON},
        *kept,
    ]
    return data


def _local(href: str) -> bool:
    return local_source(href) is not None or "://" not in href


def item_document(
    index: CatalogIndex, collection_id: str, position: int, stac: str
) -> dict[str, Any]:
    """Return an item of the catalog with absolute URLs (assets served by the API)."""
    collection = index.collection(collection_id)
    document = collection.documents[position]
    folder = collection.folders[position]
    item_url = f"{stac}/collections/{collection_id}/items/{document['id']}"
    item = api_item(
        document,
        self_url=item_url,
        collection_url=f"{stac}/collections/{collection_id}",
        root_url=stac,
        asset_url=lambda key, asset: (
            f"{item_url}/assets/{key}" if _local(asset.get("href", "")) else None
        ),
        derived_url=lambda href: catalog_item_url(href, folder, index.root, stac),
    )
    item["collection"] = collection_id
    return item


@router.get("")
def landing_page(request: Request) -> dict[str, Any]:
    """STAC API landing page."""
    stac = stac_root(request)
    links = [
        {"rel": "self", "href": stac, "type": _JSON},
        {"rel": "root", "href": stac, "type": _JSON},
        {"rel": "conformance", "href": f"{stac}/conformance", "type": _JSON},
        {"rel": "data", "href": f"{stac}/collections", "type": _JSON},
        {"rel": "search", "href": f"{stac}/search", "type": _GEOJSON, "method": "GET"},
        {"rel": "search", "href": f"{stac}/search", "type": _GEOJSON, "method": "POST"},
    ]
    links += [
        {"rel": "child", "href": f"{stac}/collections/{cid}", "type": _JSON, "title": title}
        for cid, (title, _) in COLLECTIONS.items()
    ]
    return {
        "type": "Catalog",
        "stac_version": STAC_VERSION,
        "id": "s1stac",
        "title": "s1stac catalog",
        "description": "Sentinel-1 GRD products and the products derived from them.",
        "conformsTo": list(CONFORMANCE),
        "links": links,
    }


@router.get("/conformance")
def conformance() -> dict[str, Any]:
    """Conformance classes of the STAC API."""
    return {"conformsTo": list(CONFORMANCE)}


@router.get("/collections")
def collections(request: Request, server: ServerDep) -> dict[str, Any]:
    """All collections."""
    stac = stac_root(request)
    return {
        "collections": [collection_document(server.index, cid, stac) for cid in COLLECTIONS],
        "links": [
            {"rel": "self", "href": f"{stac}/collections", "type": _JSON},
            {"rel": "root", "href": stac, "type": _JSON},
        ],
    }


@router.get("/collections/{collection_id}")
def collection(collection_id: str, request: Request, server: ServerDep) -> dict[str, Any]:
    """One collection."""
    return collection_document(server.index, check_collection_id(collection_id), stac_root(request))


def _strings(value: Any, name: str) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [v for v in value.split(",") if v]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise BadRequest(f"{name} must be a list of strings")


def _int(value: Any, name: str, default: int, minimum: int) -> int:
    if value is None:
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise BadRequest(f"{name} {value!r} is not an integer") from None
    if number < minimum:
        raise BadRequest(f"{name} {number} must be at least {minimum}")
    return number


def _search(
    request: Request, index: CatalogIndex, params: Mapping[str, Any], method: str
) -> JSONResponse:
    stac = stac_root(request)
    unknown = sorted(set(params) - set(_SEARCH_KEYS))
    if unknown:
        raise BadRequest(f"unsupported search parameter(s) {unknown}; supported: {_SEARCH_KEYS}")
    collections = _strings(params.get("collections"), "collections")
    for collection_id in collections or []:
        check_collection_id(collection_id)
    bbox = parse_bbox(params["bbox"]) if params.get("bbox") is not None else None
    intersects = params.get("intersects")
    if isinstance(intersects, str):
        try:
            intersects = json.loads(intersects)
        except json.JSONDecodeError:
            raise BadRequest("intersects is not GeoJSON") from None
    if bbox is not None and intersects is not None:
        raise BadRequest("give bbox or intersects, not both")
    when = params.get("datetime")
    if when is not None and not isinstance(when, str):
        raise BadRequest("datetime must be a string (instant or 'start/end')")
    # STAC API: a limit above the maximum is lowered to it, not refused
    limit = min(_int(params.get("limit"), "limit", DEFAULT_LIMIT, 1), MAX_LIMIT)
    offset = _int(params.get("token"), "token", 0, 0)
    found = index.search(
        collections=collections,
        ids=_strings(params.get("ids"), "ids"),
        bbox=bbox,
        intersects=parse_intersects(intersects) if intersects is not None else None,
        interval=parse_datetime(when) if when else None,
    )
    page = found[offset : offset + limit]
    features = [item_document(index, cid, position, stac) for cid, position in page]
    url = str(request.url)
    links: list[dict[str, Any]] = [
        {"rel": "self", "href": url, "type": _GEOJSON},
        {"rel": "root", "href": stac, "type": _JSON},
    ]
    if offset + limit < len(found):
        token = str(offset + limit)
        if method == "POST":
            links.append(
                {
                    "rel": "next",
                    "href": url,
                    "type": _GEOJSON,
                    "method": "POST",
                    "body": {**params, "token": token},
                    "merge": False,
                }
            )
        else:
            query = {**dict(request.query_params), "token": token}
            next_url = f"{url.split('?', 1)[0]}?{urlencode(query)}"
            links.append({"rel": "next", "href": next_url, "type": _GEOJSON})
    body = {
        "type": "FeatureCollection",
        "features": features,
        "links": links,
        "numberMatched": len(found),
        "numberReturned": len(features),
    }
    return JSONResponse(body, media_type=_GEOJSON)


@router.get("/collections/{collection_id}/items")
async def items(collection_id: str, request: Request, server: ServerDep) -> JSONResponse:
    """Items of a collection (``bbox``, ``datetime``, ``limit``, ``token``)."""
    params: dict[str, Any] = dict(request.query_params)
    params["collections"] = [check_collection_id(collection_id)]
    return _search(request, server.index, params, "GET")


@router.get("/collections/{collection_id}/items/{item_id}")
async def item(
    collection_id: str, item_id: str, request: Request, server: ServerDep
) -> JSONResponse:
    """One item."""
    index = server.index.collection(check_collection_id(collection_id))
    position = index.positions.get(item_id)
    if position is None:
        raise NotFound(f"collection {collection_id!r} has no item {item_id!r}")
    document = item_document(server.index, collection_id, position, stac_root(request))
    return JSONResponse(document, media_type=_GEOJSON)


@router.api_route(
    "/collections/{collection_id}/items/{item_id}/assets/{key}", methods=["GET", "HEAD"]
)
def asset(collection_id: str, item_id: str, key: str, server: ServerDep) -> Response:
    """Send the file of an asset (HTTP Range supported), or the zip member it names."""
    try:
        path, member, media_type = server.index.asset_source(
            check_collection_id(collection_id), item_id, key
        )
    except KeyError:
        raise FileNotFound(
            f"item {item_id!r} of {collection_id!r} has no local asset {key!r}"
        ) from None
    if member is None:
        if not path.is_file():
            raise FileNotFound(f"the file of asset {key!r} of item {item_id!r} is missing")
        return FileResponse(path, media_type=media_type)
    return _zip_member(path, member, media_type, f"asset {key!r} of item {item_id!r}")


def _zip_member(path: pathlib.Path, member: str, media_type: str | None, what: str) -> Response:
    """Send a member of a zip archive (streamed in chunks; no Range support)."""
    try:
        with zipfile.ZipFile(path) as archive:
            size = archive.getinfo(member).file_size
    except (OSError, KeyError, zipfile.BadZipFile) as error:
        raise FileNotFound(f"{what} cannot be read: {error}") from None

    def chunks() -> Iterator[bytes]:
        with zipfile.ZipFile(path) as archive, archive.open(member) as stream:
            while chunk := stream.read(_CHUNK):
                yield chunk

    return StreamingResponse(
        chunks(),
        media_type=media_type or "application/octet-stream",
        headers={"Content-Length": str(size)},
    )


@router.get("/search")
async def search_get(request: Request, server: ServerDep) -> JSONResponse:
    """Item search with query parameters."""
    return _search(request, server.index, dict(request.query_params), "GET")


@router.post("/search")
async def search_post(body: JsonBody, request: Request, server: ServerDep) -> JSONResponse:
    """Item search with a JSON body."""
    return _search(request, server.index, body, "POST")
