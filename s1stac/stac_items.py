"""STAC Items of Sentinel-1 GRD products, and the extension versions used per product level.

Field set per STAC 1.1.0 with the sar v1.3.0, sat v1.1.0, product v1.0.0, processing v1.2.0,
view v1.1.0 and file v2.1.0 extensions.  ``sar:product_type`` (deprecated in sar v1.1.0 but
still defined by v1.3.0) is kept because the inventory groups on it; ``product:type`` carries
ESA's full product type (``IW_GRDH_1S``).  Resolution, pixel spacing and looks per mode and
resolution class come from the Sentinel-1 Product Definition (S1-RS-MDA-52-7440, table 5-1).

References
----------
STAC extensions, https://stac-extensions.github.io
Sentinel-1 Level-1 GRD, https://sentinels.copernicus.eu/web/sentinel/technical-guides/
sentinel-1-sar/products-algorithms/level-1-algorithms/ground-range-detected
"""

from __future__ import annotations

import json
import logging
import pathlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pystac
import shapely
import shapely.geometry
from pystac.utils import datetime_to_str

from . import dateline
from .errors import CatalogError, MissingComponentError

if TYPE_CHECKING:
    from .safe import Product
    from .types import Annotation

__all__ = [
    "COLLECTION_EXTENSIONS",
    "EXTENSION_SCHEMAS",
    "GRD_COLLECTION",
    "GrdModeParameters",
    "GRD_MODE_PARAMETERS",
    "extension_urls",
    "grd_item",
    "product_path",
]

LOGGER = logging.getLogger(__name__)

GRD_COLLECTION: Final = "sentinel-1-grd"

EXTENSION_SCHEMAS: Final[dict[str, str]] = {
    "sar": "https://stac-extensions.github.io/sar/v1.3.0/schema.json",
    "sat": "https://stac-extensions.github.io/sat/v1.1.0/schema.json",
    "product": "https://stac-extensions.github.io/product/v1.0.0/schema.json",
    "processing": "https://stac-extensions.github.io/processing/v1.2.0/schema.json",
    "view": "https://stac-extensions.github.io/view/v1.1.0/schema.json",
    "file": "https://stac-extensions.github.io/file/v2.1.0/schema.json",
    "proj": "https://stac-extensions.github.io/projection/v2.0.0/schema.json",
    "raster": "https://stac-extensions.github.io/raster/v2.0.0/schema.json",
    "cube": "https://stac-extensions.github.io/datacube/v2.3.0/schema.json",
}
"""Schema URL of every extension s1stac writes, by field prefix (one version each)."""

COLLECTION_EXTENSIONS: Final[dict[str, tuple[str, ...]]] = {
    GRD_COLLECTION: ("sar", "sat", "product", "processing", "view", "file"),
    "s1-ard": ("sar", "sat", "product", "processing", "view", "file", "proj", "raster"),
    "s1-timeseries": ("sar", "sat", "product", "processing", "file", "proj", "raster", "cube"),
    "s1-timescan": ("sar", "sat", "product", "processing", "file", "proj", "raster", "cube"),
    "s1-mosaic": ("sar", "sat", "product", "processing", "file", "proj", "raster"),
}
"""Extension prefixes allowed in the items of each collection (product level)."""


@dataclass(frozen=True)
class GrdModeParameters:
    """Nominal image quality of one GRD mode and resolution class (Product Definition 5-1)."""

    resolution_range: float
    """Ground range resolution, metres."""
    resolution_azimuth: float
    """Azimuth resolution, metres."""
    pixel_spacing_range: float
    pixel_spacing_azimuth: float
    looks_range: int
    looks_azimuth: int
    looks_equivalent_number: float


GRD_MODE_PARAMETERS: Final[dict[tuple[str, str], GrdModeParameters]] = {
    ("SM", "F"): GrdModeParameters(9, 9, 3.5, 3.5, 2, 2, 3.7),
    ("SM", "H"): GrdModeParameters(23, 23, 10, 10, 6, 6, 29.7),
    ("SM", "M"): GrdModeParameters(84, 84, 40, 40, 22, 22, 398.4),
    ("IW", "H"): GrdModeParameters(20, 22, 10, 10, 5, 1, 4.4),
    ("IW", "M"): GrdModeParameters(88, 87, 40, 40, 22, 5, 81.8),
    ("EW", "H"): GrdModeParameters(50, 50, 25, 25, 3, 1, 2.7),
    ("EW", "M"): GrdModeParameters(93, 87, 40, 40, 6, 2, 10.7),
    ("WV", "M"): GrdModeParameters(52, 51, 25, 25, 13, 13, 123.7),
}
"""Key: (instrument mode, resolution class)."""

_BEAM_IDS: Final[dict[str, list[str]]] = {
    "IW": ["IW1", "IW2", "IW3"],
    "EW": ["EW1", "EW2", "EW3", "EW4", "EW5"],
}

NOMINAL_CENTER_FREQUENCY_GHZ: Final = 5.405

_XML = "application/xml"
_GEOTIFF = "image/tiff; application=geotiff"
_PNG = "image/png"
_ZIP = "application/zip"

_ASSET_KINDS: Final[dict[str, tuple[str, str, list[str], str]]] = {
    # Product.components() kind: (asset key prefix, media type, roles, title)
    "measurement": ("", _GEOTIFF, ["data", "amplitude"], "measurement (amplitude DN)"),
    "annotation": ("annotation-", _XML, ["metadata"], "product annotation"),
    "calibration": ("calibration-", _XML, ["metadata"], "calibration LUTs"),
    "noise": ("noise-", _XML, ["metadata"], "thermal noise LUTs"),
    "manifest": ("manifest", _XML, ["metadata"], "SAFE manifest"),
    "quicklook": ("quick-look", _PNG, ["overview", "thumbnail"], "quick-look"),
}


def _utc(value: np.datetime64) -> datetime:
    """Aware UTC datetime (microseconds) of a naive UTC ``datetime64``."""
    moment: datetime = np.datetime64(value, "us").astype(datetime)
    return moment.replace(tzinfo=UTC)


def extension_urls(stac_dict: Mapping[str, Any], collection_id: str) -> list[str]:
    """List the schema URLs of the extensions whose fields a STAC Item or Collection uses.

    Scans properties (or a Collection's summaries) and assets for ``prefix:`` fields.

    Raises
    ------
    CatalogError
        If a field belongs to an extension that ``collection_id`` does not use.
    """
    allowed = COLLECTION_EXTENSIONS.get(collection_id)
    if allowed is None:
        raise CatalogError(
            f"unknown collection {collection_id!r}; choose one of {sorted(COLLECTION_EXTENSIONS)}"
        )
    fields: set[str] = set(stac_dict.get("properties", {}))
    fields |= set(stac_dict.get("summaries", {}))
    for asset in stac_dict.get("assets", {}).values():
        fields |= set(asset)
    prefixes = {name.split(":", 1)[0] for name in fields if ":" in name}
    used = sorted(prefixes & set(EXTENSION_SCHEMAS))
    foreign = [prefix for prefix in used if prefix not in allowed]
    if foreign:
        raise CatalogError(
            f"fields of extension(s) {foreign} are not part of collection {collection_id!r} "
            f"(allowed: {list(allowed)}); extend COLLECTION_EXTENSIONS in s1stac.stac_items"
        )
    return [EXTENSION_SCHEMAS[prefix] for prefix in used]


def _asset_href(product: Product, href: str) -> str:
    """Href that rasterio opens and STAC tools keep: ``zip+file://`` URL or absolute path."""
    vsizip = f"/vsizip/{product.path}/"
    if product.is_zip and href.startswith(vsizip):
        archive = product.path.resolve().as_posix()
        return f"zip+file://{archive}!/{href.removeprefix(vsizip)}"
    return pathlib.Path(href).resolve().as_posix()


def product_path(item: pystac.Item) -> pathlib.Path:
    """Path of the SAFE folder or zip a GRD item was made from (via its manifest asset)."""
    asset = item.assets.get("manifest")
    if asset is None:
        raise CatalogError(
            f"item {item.id!r} has no 'manifest' asset (a GRD item of another producer): "
            f"download its product first: s1stac download {item.id} --catalog CATALOG"
        )
    href = asset.href
    if href.startswith("zip+file://"):
        return pathlib.Path(href.removeprefix("zip+file://").split("!/", 1)[0])
    if re.match(r"^[A-Za-z][A-Za-z0-9+.\-]+://", href) and not href.startswith("file://"):
        raise CatalogError(
            f"item {item.id!r}: the product is remote ({href}); download it first: "
            f"s1stac download {item.id} --catalog CATALOG"
        )
    return pathlib.Path(asset.get_absolute_href() or href.removeprefix("file://")).parent


def _assets(product: Product) -> dict[str, pystac.Asset]:
    assets: dict[str, pystac.Asset] = {}
    for component in product.components():
        if component.kind not in _ASSET_KINDS:
            continue
        prefix, media_type, roles, title = _ASSET_KINDS[component.kind]
        pol = str(component.polarisation) if component.polarisation else None
        key = f"{prefix}{pol.lower()}" if pol else prefix
        if key in assets:
            LOGGER.warning("%s: ignoring second %s file %s", product.name, key, component.relpath)
            continue
        extra: dict[str, Any] = {"sar:polarizations": [pol]} if pol else {}
        if component.kind == "measurement":
            extra |= {"data_type": "uint16", "nodata": 0}
        extra["file:size"] = int(component.size)
        assets[key] = pystac.Asset(
            href=_asset_href(product, component.href),
            title=f"{pol} {title}" if pol else title,
            media_type=media_type,
            roles=list(roles),
            extra_fields=extra,
        )
    if product.is_zip:
        assets["archive"] = pystac.Asset(
            href=product.path.as_posix(),
            title="SAFE product archive",
            media_type=_ZIP,
            roles=["archive"],
            extra_fields={"file:size": product.path.stat().st_size},
        )
    return assets


def _first_annotation(product: Product) -> Annotation | None:
    for pol in product.polarisations:
        try:
            return product.annotation(pol)
        except MissingComponentError as error:
            LOGGER.warning("%s: %s", product.name, error)
    return None


def grd_item(product: Product) -> pystac.Item:
    """STAC Item of a Sentinel-1 GRD product (``sentinel-1-grd`` collection).

    Parameters
    ----------
    product
        Product opened with :func:`s1stac.safe.open_product`.

    Returns
    -------
    pystac.Item
        Id = product name, geometry = manifest footprint (counter-clockwise), ``datetime`` =
        middle of the acquisition; sar/sat/product/processing/view/file fields and one asset
        per measurement, annotation, calibration, noise file, the manifest and the quick-look.
        Asset hrefs are absolute paths, or ``zip+file:///<zip>!/<member>`` inside zips (both
        open with rasterio).
    """
    manifest = product.manifest
    polarisations = [str(pol) for pol in manifest.polarisations]
    start, end = _utc(manifest.start_time), _utc(manifest.stop_time)
    footprint = manifest.footprint  # split at the antimeridian and oriented by the reader
    annotation = _first_annotation(product)

    properties: dict[str, Any] = {
        "start_datetime": datetime_to_str(start),
        "end_datetime": datetime_to_str(end),
        "platform": manifest.platform,
        "constellation": "sentinel-1",
        "instruments": ["c-sar"],
        "sar:instrument_mode": manifest.mode,
        "sar:frequency_band": "C",
        "sar:center_frequency": (
            round(annotation.radar_frequency / 1e9, 6)
            if annotation is not None
            else NOMINAL_CENTER_FREQUENCY_GHZ
        ),
        "sar:polarizations": polarisations,
        "sar:product_type": manifest.product_type,
        "sar:observation_direction": "right",
    }
    mode_parameters = GRD_MODE_PARAMETERS.get((manifest.mode, manifest.resolution_class))
    if mode_parameters is None:
        LOGGER.warning(
            "%s: no nominal resolution for mode %s class %s",
            product.name,
            manifest.mode,
            manifest.resolution_class,
        )
    else:
        properties |= {f"sar:{k}": v for k, v in vars(mode_parameters).items()}
    beam_ids = _BEAM_IDS.get(manifest.mode)
    if beam_ids is None and annotation is not None:
        beam_ids = [annotation.swath]
    if beam_ids:
        properties["sar:beam_ids"] = list(beam_ids)
    properties |= {
        "sat:orbit_state": str(manifest.orbit_direction).lower(),
        "sat:absolute_orbit": int(manifest.absolute_orbit),
        "sat:relative_orbit": int(manifest.relative_orbit),
        "sat:platform_international_designator": manifest.international_designator,
        "product:type": _esa_product_type(manifest.product_name),
        "processing:level": "L1",
        "processing:facility": manifest.facility,
        "processing:software": {"Sentinel-1 IPF": manifest.ipf_version},
        "processing:datetime": datetime_to_str(_utc(manifest.processing_time)),
    }
    if manifest.ascending_node_time is not None:
        properties["sat:anx_datetime"] = datetime_to_str(_utc(manifest.ascending_node_time))
    if annotation is not None:
        properties["view:incidence_angle"] = float(annotation.incidence_angle_mid_swath)
    properties |= {
        "s1:datatake_id": int(manifest.datatake_id),
        "s1:slice_number": manifest.slice_number,
        "s1:total_slices": manifest.total_slices,
        "s1:product_unique_id": manifest.product_unique_id,
    }
    item = pystac.Item(
        id=manifest.product_name,
        geometry=json.loads(shapely.to_geojson(footprint)),
        bbox=dateline.bbox(footprint),
        datetime=start + (end - start) / 2,
        properties=properties,
        collection=None,
    )
    for key, asset in _assets(product).items():
        item.add_asset(key, asset)
    item.stac_extensions = extension_urls(item.to_dict(include_self_link=False), GRD_COLLECTION)
    return item


def _esa_product_type(product_name: str) -> str:
    """``IW_GRDH_1S`` from ``S1A_IW_GRDH_1SDV_...`` (mode, type+resolution, level+class)."""
    parts = product_name.split("_")
    if len(parts) < 4 or len(parts[3]) < 2:
        raise CatalogError(f"product name {product_name!r} does not follow the ESA convention")
    return f"{parts[1]}_{parts[2]}_{parts[3][:2]}"
