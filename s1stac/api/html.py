"""Server-rendered HTML pages to browse the served catalog: catalog, collections, items.

Plain HTML (Jinja2 templates in ``templates/``), no JavaScript and nothing fetched from
elsewhere, so the pages work offline: footprints are drawn as inline SVG on a lon/lat frame,
thumbnails are the items' ``thumbnail`` assets (the GRD quick-looks) or, for items with a
GeoTIFF data asset, a preview rendered from its overviews (grey scale, 2-98 % stretch, no-data
transparent).  Asset links point to the STAC API asset endpoints.

References
----------
STAC best practices (thumbnails), https://github.com/radiantearth/stac-spec/blob/v1.1.0/best-practices.md
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, Final
from urllib.parse import quote

import jinja2
import numpy as np
import rasterio
import shapely
import shapely.geometry
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from s1stac import __version__
from s1stac.catalog import COLLECTIONS

from .errors import FileNotFound, NotFound
from .metadata import STAC_VERSION
from .stac_index import CatalogIndex
from .stac_routes import check_collection_id, item_document
from .state import OPENEO_PREFIX, ServerDep, base_url, stac_root
from .workspace import local_source

__all__ = ["preview_png", "router"]

router = APIRouter()

PAGE_SIZE: Final = 50
PREVIEW_SIZE: Final = 256
"""Longest side of rendered previews, pixels."""
_SVG: Final = (480, 300)
_GEOTIFF_TYPES: Final = ("image/tiff",)
_SHOWN_PROPERTIES: Final = (
    "sar:instrument_mode",
    "sar:polarizations",
    "sat:orbit_state",
    "sat:relative_orbit",
    "platform",
)

_TEMPLATES: Final = jinja2.Environment(
    loader=jinja2.PackageLoader("s1stac.api", "templates"),
    autoescape=jinja2.select_autoescape(default=True),
    undefined=jinja2.StrictUndefined,
)


def _render(template: str, **context: Any) -> HTMLResponse:
    page = _TEMPLATES.get_template(template).render(version=__version__, **context)
    return HTMLResponse(page)


def footprints_svg(
    geometries: Sequence[tuple[Mapping[str, Any] | None, str | None]],
    size: tuple[int, int] = _SVG,
) -> dict[str, Any]:
    """SVG paths of footprints (GeoJSON in lon/lat) fitted into a ``size`` frame.

    Returns ``{"width", "height", "paths": [{"d", "href"}], "bounds"}``; ``paths`` is empty
    when no geometry is given.
    """
    shapes = [(shapely.geometry.shape(g), href) for g, href in geometries if g]
    width, height = size
    if not shapes:
        return {"width": width, "height": height, "paths": [], "bounds": None}
    west, south, east, north = shapely.total_bounds([s for s, _ in shapes])
    pad = 0.05 * max(east - west, north - south, 1e-6)
    west, south, east, north = west - pad, south - pad, east + pad, north + pad
    scale = min(width / (east - west), height / (north - south))

    def point(x: float, y: float) -> str:
        return f"{(x - west) * scale:.1f},{(north - y) * scale:.1f}"

    paths = []
    for shape, href in shapes:
        rings = []
        for polygon in getattr(shape, "geoms", [shape]):
            if polygon.geom_type != "Polygon":
                continue
            for ring in [polygon.exterior, *polygon.interiors]:
                rings.append("M" + " L".join(point(x, y) for x, y, *_ in ring.coords) + " Z")
        paths.append({"d": " ".join(rings), "href": href})
    return {
        "width": round((east - west) * scale),
        "height": round((north - south) * scale),
        "paths": paths,
        "bounds": [round(v, 4) for v in (west, south, east, north)],
    }


def _thumbnail(document: Mapping[str, Any], item_url: str, page_url: str) -> str | None:
    assets = document.get("assets", {})
    for key, asset in assets.items():
        if "thumbnail" in (asset.get("roles") or []):
            return f"{item_url}/assets/{quote(key)}"
    if _preview_asset(document) is not None:
        return f"{page_url}/preview.png"
    return None


def _preview_asset(document: Mapping[str, Any]) -> str | None:
    for key, asset in document.get("assets", {}).items():
        media = asset.get("type") or ""
        if "data" in (asset.get("roles") or []) and media.startswith(_GEOTIFF_TYPES):
            href = asset.get("href", "")
            source = local_source(href)
            if (source is None and "://" not in href) or (source and source[1] is None):
                return str(key)
    return None


def preview_png(path: str, size: int = PREVIEW_SIZE) -> bytes:
    """Grey-scale PNG of the first band of a raster, longest side ``size`` pixels."""
    import matplotlib.image

    with rasterio.open(path) as dataset:
        factor = max(dataset.width, dataset.height) / size
        shape = (
            max(1, round(dataset.height / max(factor, 1))),
            max(1, round(dataset.width / max(factor, 1))),
        )
        data = dataset.read(1, out_shape=shape, masked=True).astype("float64")
    values = np.ma.masked_invalid(data)
    valid = values.compressed()
    if valid.size:
        low, high = np.percentile(valid, [2, 98])
        values = (values - low) / (high - low if high > low else 1.0)
    buffer = io.BytesIO()
    matplotlib.image.imsave(
        buffer, np.ma.clip(values, 0, 1), cmap="gray", vmin=0, vmax=1, format="png"
    )
    return buffer.getvalue()


def _item_rows(
    index: CatalogIndex, collection_id: str, positions: Sequence[int], request: Request
) -> list[dict[str, Any]]:
    stac = stac_root(request)
    base = f"{base_url(request)}/browse/collections/{collection_id}/items"
    rows = []
    for position in positions:
        document = index.collection(collection_id).documents[position]
        props = document.get("properties", {})
        page = f"{base}/{quote(document['id'])}"
        rows.append(
            {
                "id": document["id"],
                "url": page,
                "datetime": props.get("datetime") or props.get("start_datetime"),
                "end": props.get("end_datetime"),
                "summary": {k: _text(props[k]) for k in _SHOWN_PROPERTIES if k in props},
                "thumbnail": _thumbnail(
                    document,
                    f"{stac}/collections/{collection_id}/items/{quote(document['id'])}",
                    page,
                ),
            }
        )
    return rows


@router.get("/", include_in_schema=False)
def home() -> RedirectResponse:
    """Redirect to the catalog page."""
    return RedirectResponse("/browse/")


@router.get("/browse/", response_class=HTMLResponse)
def catalog_page(request: Request, server: ServerDep) -> HTMLResponse:
    """Render the catalog page: its collections."""
    collections = []
    for collection_id, (title, description) in COLLECTIONS.items():
        index = server.index.collection(collection_id)
        extent = index.collection.get("extent", {})
        collections.append(
            {
                "id": collection_id,
                "title": title,
                "description": description,
                "count": len(index.documents),
                "interval": extent.get("temporal", {}).get("interval", [[None, None]])[0],
            }
        )
    return _render(
        "catalog.html",
        title="s1stac catalog",
        collections=collections,
        stac_url=stac_root(request),
        openeo_url=base_url(request) + OPENEO_PREFIX + "/",
        stac_version=STAC_VERSION,
    )


@router.get("/browse/collections/{collection_id}", response_class=HTMLResponse)
def collection_page(
    collection_id: str,
    request: Request,
    server: ServerDep,
    page: int = Query(1, ge=1),
) -> HTMLResponse:
    """Render a collection: description, footprints, items with thumbnails (paged)."""
    index = server.index.collection(check_collection_id(collection_id))
    pages = max(1, math.ceil(len(index.documents) / PAGE_SIZE))
    if page > pages:
        raise NotFound(f"collection {collection_id!r} has {pages} page(s)")
    positions = range((page - 1) * PAGE_SIZE, min(page * PAGE_SIZE, len(index.documents)))
    base = f"{base_url(request)}/browse/collections/{collection_id}/items"
    svg = footprints_svg([(d.get("geometry"), f"{base}/{quote(d['id'])}") for d in index.documents])
    return _render(
        "collection.html",
        title=COLLECTIONS[collection_id][0],
        collection=index.collection,
        collection_id=collection_id,
        count=len(index.documents),
        rows=_item_rows(server.index, collection_id, positions, request),
        page=page,
        pages=pages,
        svg=svg,
        json_url=f"{stac_root(request)}/collections/{collection_id}",
    )


def _position(index: CatalogIndex, collection_id: str, item_id: str) -> int:
    position = index.collection(check_collection_id(collection_id)).positions.get(item_id)
    if position is None:
        raise NotFound(f"collection {collection_id!r} has no item {item_id!r}")
    return position


@router.get("/browse/collections/{collection_id}/items/{item_id}", response_class=HTMLResponse)
def item_page(
    collection_id: str, item_id: str, request: Request, server: ServerDep
) -> HTMLResponse:
    """Render an item: footprint, thumbnail, properties and asset links."""
    position = _position(server.index, collection_id, item_id)
    stac = stac_root(request)
    document = item_document(server.index, collection_id, position, stac)
    raw = server.index.collection(collection_id).documents[position]
    page_url = f"{base_url(request)}/browse/collections/{collection_id}/items/{quote(item_id)}"
    properties = {
        key: value if isinstance(value, str | int | float | bool) else _compact(value)
        for key, value in sorted(document.get("properties", {}).items())
    }
    return _render(
        "item.html",
        title=item_id,
        item=document,
        collection_id=collection_id,
        collection_title=COLLECTIONS[collection_id][0],
        properties=properties,
        assets=document.get("assets", {}),
        thumbnail=_thumbnail(
            raw, f"{stac}/collections/{collection_id}/items/{quote(item_id)}", page_url
        ),
        svg=footprints_svg([(document.get("geometry"), None)]),
        json_url=document["links"][0]["href"],
        derived=[
            {**link, "href": link["href"].replace(f"{stac}/", f"{base_url(request)}/browse/", 1)}
            for link in document["links"]
            if link.get("rel") == "derived_from"
        ],
    )


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _compact(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 300 else text[:297] + "..."


@router.get("/browse/collections/{collection_id}/items/{item_id}/preview.png")
def item_preview(collection_id: str, item_id: str, server: ServerDep) -> Response:
    """Send a grey-scale preview of the item's first GeoTIFF data asset."""
    position = _position(server.index, collection_id, item_id)
    document = server.index.collection(collection_id).documents[position]
    key = _preview_asset(document)
    if key is None:
        raise FileNotFound(f"item {item_id!r} has no GeoTIFF data asset to preview")
    path, _, _ = server.index.asset_source(collection_id, item_id, key)
    if not path.is_file():
        raise FileNotFound(f"the file of asset {key!r} of item {item_id!r} is missing")
    return Response(
        preview_png(str(path)),
        media_type="image/png",
        headers={"Cache-Control": "max-age=3600"},
    )
