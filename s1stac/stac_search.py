"""Sentinel-1 GRD items from a STAC API or a static STAC catalog (pystac-client).

The search of the Open SAR Toolkit (``OST_SPEC.md`` §7.1) queries the Copernicus catalogue
with credentials; here any STAC API is searched with pystac-client
(https://pystac-client.readthedocs.io): ``collections``, ``intersects`` (the AOI) and
``datetime``.  A static catalog (no ``/search`` endpoint, e.g. a folder served over HTTP) is
read item by item and filtered by AOI and dates on the client side.

Found items are normalised to the properties that :func:`s1stac.stac_items.grd_item` writes,
so that they can be registered in the ``sentinel-1-grd`` collection of the static catalog:

* ``platform`` lower case (Planetary Computer writes ``SENTINEL-1A``);
* ``s1:datatake_id``, ``s1:slice_number``, ``s1:total_slices`` integers (Planetary Computer
  writes strings; CDSE's ``eopf:datatake_id`` is copied), ``s1:product_unique_id`` from the
  ESA product name in the id;
* ``start_datetime``/``end_datetime`` rewritten as RFC 3339 (Planetary Computer uses a space);
* ``sat:``/``sar:`` orbit and polarisation fields filled from the product name when missing;
* fields of extensions the collection does not use (projection, raster, datacube) dropped and
  ``stac_extensions`` recomputed; structural links dropped; relative asset hrefs resolved
  against the item.
"""

from __future__ import annotations

import json
import logging
import re
import warnings
from typing import Any

import pandas as pd
import pystac
import shapely
from pystac.utils import datetime_to_str
from shapely.geometry.base import BaseGeometry

from s1stac import dateline
from s1stac.errors import CatalogError, ParameterError, ProductError
from s1stac.inventory import GRD_COLLECTION, item_overlaps, item_record
from s1stac.stac_items import COLLECTION_EXTENSIONS, EXTENSION_SCHEMAS, extension_urls

log = logging.getLogger(__name__)

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_STRUCTURAL = {"self", "root", "parent", "collection", "child", "item"}


def search_stac(
    url: str,
    *,
    collection: str | None,
    aoi: BaseGeometry | None = None,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
    max_items: int | None = None,
) -> list[pystac.Item]:
    """Search a STAC API (or read a static catalog) for Sentinel-1 GRD items.

    Parameters
    ----------
    url
        Landing page of a STAC API, or the ``catalog.json`` of a static catalog (path or URL).
    collection
        Collection id to search.
    aoi
        Area of interest (EPSG:4326); items must intersect it.
    start, end
        UTC bounds (``NaT``/``None`` for open ends); items must overlap them.
    max_items
        Stop after this many items.

    Returns
    -------
    list of pystac.Item
        Normalised copies (see the module docstring), not attached to any catalog.

    Raises
    ------
    CatalogError
        If the URL does not open or the collection is not found.
    ParameterError
        If ``collection`` is missing.
    """
    import pystac_client
    from pystac_client.conformance import ConformanceClasses
    from pystac_client.warnings import PystacClientWarning

    if not collection:
        raise ParameterError("stac_url needs a collection id (--collection), e.g. sentinel-1-grd")
    lower = start if start is not None and pd.notna(start) else None
    upper = end if end is not None and pd.notna(end) else None
    with warnings.catch_warnings():
        # NOTE: pystac-client warns about every missing conformance class; said once in the log
        warnings.simplefilter("ignore", PystacClientWarning)
        try:
            client = pystac_client.Client.open(url)
        except Exception as error:  # noqa: BLE001 - requests/pystac/json raise many types
            raise CatalogError(
                f"stac_url {url!r} does not open as a STAC API or catalog ({error}); give the "
                "landing page of a STAC API or the URL/path of a catalog.json"
            ) from error
        if client.conforms_to(ConformanceClasses.ITEM_SEARCH):
            search = client.search(
                collections=[collection],
                intersects=shapely.geometry.mapping(aoi) if aoi is not None else None,
                datetime=_interval(lower, upper),
                max_items=max_items,
            )
            found = list(search.items())
            log.info("%s: /search found %d item(s) in %s", url, len(found), collection)
        else:
            found = _walk_static(client, url, collection, aoi, lower, upper, max_items)
    return [normalise_item(item) for item in found]


def _interval(lower: pd.Timestamp | None, upper: pd.Timestamp | None) -> str | None:
    """STAC API ``datetime`` parameter: ``start/end`` with ``..`` for an open end."""
    if lower is None and upper is None:
        return None
    text = [datetime_to_str(t.to_pydatetime()) if t is not None else ".." for t in (lower, upper)]
    return "/".join(text)


def _walk_static(
    client: Any,
    url: str,
    collection: str,
    aoi: BaseGeometry | None,
    lower: pd.Timestamp | None,
    upper: pd.Timestamp | None,
    max_items: int | None,
) -> list[pystac.Item]:
    log.warning(
        "%s has no /search endpoint (not a STAC API): reading every item of collection %s "
        "and filtering AOI and dates on the client side",
        url,
        collection,
    )
    # NOTE: Client.get_collection's fallback returns the last child when none matches
    match = [c for c in client.get_collections() if c.id == collection]
    if not match:
        ids = [c.id for c in client.get_collections()]
        raise CatalogError(f"stac_url {url!r} has no collection {collection!r}; it has {ids}")
    found: list[pystac.Item] = []
    seen = 0
    for item in match[0].get_items(recursive=True):
        seen += 1
        if aoi is not None and not shapely.geometry.shape(item.geometry).intersects(aoi):
            continue
        if not item_overlaps(item, lower, upper):
            continue
        found.append(item)
        if max_items is not None and len(found) >= max_items:
            break
    log.info("%s: %d of %d item(s) of %s kept by AOI and dates", url, len(found), seen, collection)
    return found


def _asset_href(asset: pystac.Asset) -> str:
    """Relative hrefs resolved against the item; URLs and absolute paths kept as written."""
    href = asset.href
    if _SCHEME.match(href) or href.startswith("/"):
        return href
    return asset.get_absolute_href() or href


def normalise_item(item: pystac.Item) -> pystac.Item:
    """Copy of a Sentinel-1 GRD item from any producer with the properties of ``grd_item``.

    Raises
    ------
    ProductError
        If the item lacks what the inventory needs (see
        :func:`s1stac.inventory.item_record`).
    """
    record = item_record(item)
    allowed = set(COLLECTION_EXTENSIONS[GRD_COLLECTION])
    foreign = set(EXTENSION_SCHEMAS) - allowed

    def keep(name: str) -> bool:
        return name.split(":", 1)[0] not in foreign if ":" in name else True

    properties = {k: v for k, v in item.properties.items() if keep(k)}
    properties.pop("datetime", None)
    properties |= {
        "start_datetime": datetime_to_str(record["start"].to_pydatetime()),
        "end_datetime": datetime_to_str(record["end"].to_pydatetime()),
        "platform": record["platform"],
        "sat:orbit_state": record["orbit_direction"].lower(),
        "sat:relative_orbit": record["relative_orbit"],
        "sar:polarizations": record["polarisation_mode"].split(),
        "sar:instrument_mode": record["instrument_mode"],
        "sar:product_type": item.properties.get("sar:product_type") or "GRD",
    }
    optional = {
        "sat:absolute_orbit": record["absolute_orbit"],
        "s1:datatake_id": record["datatake_id"],
        "s1:slice_number": record["slice_number"],
        "s1:total_slices": record["total_slices"],
        "s1:product_unique_id": record["product_unique_id"],
    }
    properties |= {k: v for k, v in optional.items() if v is not None}
    if pd.notna(record["processing_time"]):
        properties["processing:datetime"] = datetime_to_str(
            record["processing_time"].to_pydatetime()
        )
    middle = record["start"] + (record["end"] - record["start"]) / 2
    footprint = dateline.split(shapely.geometry.shape(item.geometry))
    copy = pystac.Item(
        id=item.id,
        geometry=json.loads(shapely.to_geojson(footprint)),
        bbox=dateline.bbox(footprint),
        datetime=middle.to_pydatetime(),
        properties=properties,
    )
    for key, asset in item.assets.items():
        fields = {k: v for k, v in asset.extra_fields.items() if keep(k)}
        copy.add_asset(
            key,
            pystac.Asset(
                href=_asset_href(asset),
                title=asset.title,
                description=asset.description,
                media_type=asset.media_type,
                roles=asset.roles,
                extra_fields=fields,
            ),
        )
    for link in item.links:
        if link.rel not in _STRUCTURAL:
            copy.add_link(link.clone())
    copy.stac_extensions = extension_urls(copy.to_dict(include_self_link=False), GRD_COLLECTION)
    if not record["geometry"].is_valid or record["geometry"].is_empty:
        raise ProductError(f"STAC item {item.id!r} has no valid footprint geometry")
    return copy
