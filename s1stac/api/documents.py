"""STAC documents as served over HTTP: absolute URLs instead of the catalog's relative hrefs.

Items of the served catalog and of job results are written with hrefs relative to their
files.  Over HTTP every asset href becomes the URL of an endpoint that sends the file
(``.../assets/{key}``), structural links point to API URLs, and ``derived_from`` links to
items of the served catalog become STAC API item URLs (links to files elsewhere are dropped:
server paths mean nothing to a client).

References
----------
openEO API 1.2, batch job results, https://api.openeo.org/#tag/Batch-Jobs/operation/list-results
STAC API features, https://github.com/radiantearth/stac-api-spec/tree/v1.0.0/ogcapi-features
"""

from __future__ import annotations

import copy
import os
import pathlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import numpy as np

from s1stac.catalog import COLLECTIONS

from .jobs import Job
from .workspace import AssetFile, local_source

__all__ = ["api_item", "catalog_item_url", "job_results"]

_JSON: Final = "application/json"
_GEOJSON: Final = "application/geo+json"
_STRUCTURAL: Final = {"self", "root", "parent", "collection", "item", "items", "child"}


def catalog_item_url(
    href: str, folder: pathlib.Path, root: pathlib.Path, stac_url: str
) -> str | None:
    """STAC API URL of an item file of the served catalog (``None`` if it is not one)."""
    source = local_source(href)
    if source is None and "://" not in href:
        source = (pathlib.Path(os.path.normpath(folder / href)), None)
    if source is None or source[1] is not None:
        return None
    path = pathlib.Path(os.path.normpath(source[0]))
    if not path.is_relative_to(root):
        return None
    parts = path.relative_to(root).parts
    if len(parts) == 3 and parts[0] in COLLECTIONS and parts[2] == f"{parts[1]}.json":
        return f"{stac_url}/collections/{parts[0]}/items/{parts[1]}"
    return None


def api_item(
    document: Mapping[str, Any],
    *,
    self_url: str,
    collection_url: str,
    root_url: str,
    asset_url: Callable[[str, Mapping[str, Any]], str | None],
    derived_url: Callable[[str], str | None],
) -> dict[str, Any]:
    """Item JSON with API URLs.

    Parameters
    ----------
    document
        Item as written in a catalog.
    self_url, collection_url, root_url
        URLs of the item, its collection and the API root.
    asset_url
        ``(key, asset) -> URL`` of an asset, ``None`` to keep its href (remote URLs).
    derived_url
        ``href -> URL`` of a ``derived_from`` target, ``None`` to drop the link.
    """
    item = copy.deepcopy(dict(document))
    for key, asset in item.get("assets", {}).items():
        url = asset_url(key, asset)
        if url is not None:
            asset["href"] = url
    links = []
    for link in item.get("links", []):
        rel = link.get("rel")
        if rel in _STRUCTURAL:
            continue
        if rel == "derived_from":
            url = derived_url(link["href"])
            if url is None:
                continue
            link = {**link, "href": url, "type": _GEOJSON}
        links.append(link)
    item["links"] = [
        {"rel": "self", "href": self_url, "type": _GEOJSON},
        {"rel": "parent", "href": collection_url, "type": _JSON},
        {"rel": "collection", "href": collection_url, "type": _JSON},
        {"rel": "root", "href": root_url, "type": _JSON},
        *links,
    ]
    return item


def _extent(documents: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    boxes = np.array([d["bbox"][:2] + d["bbox"][-2:] for d in documents if d.get("bbox")])
    times = sorted(
        value
        for d in documents
        for key in ("start_datetime", "datetime", "end_datetime")
        if (value := d.get("properties", {}).get(key))
    )
    bbox = (
        [
            float(boxes[:, 0].min()),
            float(boxes[:, 1].min()),
            float(boxes[:, 2].max()),
            float(boxes[:, 3].max()),
        ]
        if len(boxes)
        else [-180.0, -90.0, 180.0, 90.0]
    )
    interval = [times[0], times[-1]] if times else [None, None]
    return {"spatial": {"bbox": [bbox]}, "temporal": {"interval": [interval]}}


def job_results(
    job: Job,
    items: Sequence[Mapping[str, Any]],
    files: Mapping[str, AssetFile],
    *,
    root: str,
) -> dict[str, Any]:
    """``GET /jobs/{job_id}/results``: a STAC Collection with every result file as an asset.

    Parameters
    ----------
    job
        The job.
    items
        Its result items (as written).
    files
        Its result files by asset key (:func:`s1stac.api.workspace.asset_files`).
    root
        URL of the openEO API root.
    """
    base = f"{root}/jobs/{job.id}/results"
    assets = {}
    for key, file in files.items():
        document = next(d for d in items if d["id"] == file.item_id)
        asset = dict(document["assets"][file.asset_key])
        asset.update(href=f"{base}/assets/{key}", title=asset.get("title") or file.asset_key)
        assets[key] = asset
    collection: dict[str, Any] = {
        "type": "Collection",
        "stac_version": "1.1.0",
        "id": job.id,
        "title": job.title or f"Results of job {job.id}",
        "description": job.description or f"Results of the openEO batch job {job.id}.",
        "license": "other",
        "extent": _extent(items),
        "openeo:status": str(job.status),
        "assets": assets,
        "links": [
            {"rel": "self", "href": base, "type": _JSON},
            {"rel": "root", "href": f"{root}/", "type": _JSON},
            *({"rel": "item", "href": f"{base}/items/{d['id']}", "type": _GEOJSON} for d in items),
        ],
    }
    return collection
