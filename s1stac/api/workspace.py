"""Where graphs run by the API write: a private catalog over the served one, and its result files.

An :class:`OverlayCatalog` is a static catalog of its own (one per synchronous request, one per
batch job) whose collections also list the items of the served catalog: ``load_collection``
sees everything, ``save_result`` writes only into the overlay, so the served catalog is never
modified by users and each user's results stay in their job folder.

For synchronous requests, :func:`result_file` packs the files written into one download: the
file itself when there is one, a multi-band GeoTIFF (band descriptions = asset keys) when all
are GeoTIFFs on one grid, a zip archive otherwise.

References
----------
openEO API 1.2, synchronous processing, https://api.openeo.org/#tag/Data-Processing
"""

from __future__ import annotations

import logging
import os
import pathlib
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

import pystac
import rasterio

from s1stac.catalog import COLLECTIONS, StaticCatalog

__all__ = [
    "AssetFile",
    "OverlayCatalog",
    "asset_files",
    "local_source",
    "own_items",
    "result_file",
]

LOGGER = logging.getLogger(__name__)

_GTIFF: Final = "image/tiff; application=geotiff"
_ZIP_HREF: Final = re.compile(r"^zip\+file://(?P<archive>[^!]+)!/(?P<member>.+)$")
_VSIZIP: Final = re.compile(r"^/vsizip/(?P<archive>.+?\.zip)/(?P<member>.+)$", re.IGNORECASE)


class OverlayCatalog(StaticCatalog):
    """A writable catalog at ``root`` whose collections also list the items of ``base``.

    Parameters
    ----------
    root
        Folder of the overlay (created with the catalog skeleton).
    base
        The served catalog (only read).
    """

    def __init__(self, root: str | os.PathLike[str], base: StaticCatalog) -> None:
        super().__init__(root, create=True, schemas_dir=base.schemas_dir)
        self.base = base

    def items(self, collection_id: str) -> Iterator[pystac.Item]:
        """Items of the served catalog, then the overlay's own (which replace same ids)."""
        own = set(super().item_ids(collection_id))
        for item in self.base.items(collection_id):
            if item.id not in own:
                yield item
        yield from super().items(collection_id)


def own_items(root: str | os.PathLike[str]) -> list[tuple[str, pystac.Item]]:
    """List (collection id, item) of every item in an overlay (or any catalog) folder."""
    path = pathlib.Path(root)
    if not (path / "catalog.json").is_file():
        return []
    catalog = StaticCatalog(path, create=False)
    return [(cid, item) for cid in COLLECTIONS for item in catalog.items(cid)]


def local_source(href: str) -> tuple[pathlib.Path, str | None] | None:
    """(file, member of a zip or ``None``) of a local asset href; ``None`` for URLs."""
    for pattern in (_ZIP_HREF, _VSIZIP):
        match = pattern.match(href)
        if match:
            return pathlib.Path(match["archive"]), match["member"]
    if href.startswith("file://"):
        return pathlib.Path(href.removeprefix("file://")), None
    if "://" in href or href.startswith("/vsi"):
        return None
    path = pathlib.Path(href)
    return (path, None) if path.is_absolute() else None


@dataclass(frozen=True)
class AssetFile:
    """A data file written by ``save_result``."""

    key: str
    """Unique name among the files of a result (the file name)."""
    path: pathlib.Path
    media_type: str | None
    item_id: str
    asset_key: str
    """Key of the asset in its item."""


def asset_files(items: list[tuple[str, pystac.Item]]) -> dict[str, AssetFile]:
    """Local files of the items' assets by unique key (file name, else collection/file name)."""
    files: dict[str, AssetFile] = {}
    for collection_id, item in items:
        for asset_key, asset in item.assets.items():
            source = local_source(asset.get_absolute_href() or asset.href)
            if source is None or source[1] is not None:
                continue
            key = source[0].name
            if key in files:
                key = f"{collection_id}-{key}"
            files[key] = AssetFile(key, source[0], asset.media_type, item.id, asset_key)
    return files


def _grid(path: pathlib.Path) -> tuple[object, ...] | None:
    with rasterio.open(path) as dataset:
        if dataset.count != 1:
            return None
        return (dataset.crs, dataset.transform, dataset.shape, dataset.dtypes[0])


def result_file(files: dict[str, AssetFile], folder: pathlib.Path) -> tuple[pathlib.Path, str]:
    """One file to send for a synchronous result: (path, media type).

    Raises
    ------
    ValueError
        If ``files`` is empty.
    """
    if not files:
        raise ValueError("no result file was written")
    if len(files) == 1:
        only = next(iter(files.values()))
        return only.path, only.media_type or "application/octet-stream"
    paths = [f.path for f in files.values()]
    if all(p.suffix.lower() in (".tif", ".tiff") for p in paths):
        grids = {_grid(p) for p in paths}
        if len(grids) == 1 and None not in grids:
            return _stack(files, folder / "result.tif"), _GTIFF
    target = folder / "result.zip"
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for key, file in files.items():
            archive.write(file.path, arcname=key)
    return target, "application/zip"


def _stack(files: dict[str, AssetFile], target: pathlib.Path) -> pathlib.Path:
    """Multi-band tiled GeoTIFF of single-band GeoTIFFs on one grid, band by band."""
    first = next(iter(files.values())).path
    with rasterio.open(first) as dataset:
        profile = dataset.profile
    profile.update(
        driver="GTiff",
        count=len(files),
        tiled=True,
        compress="deflate",
        blockxsize=256,
        blockysize=256,
        interleave="band",
    )
    if profile["width"] < 256 or profile["height"] < 256:
        profile.update(tiled=False)
        profile.pop("blockxsize")
        profile.pop("blockysize")
    with rasterio.open(target, "w", **profile) as out:
        for index, file in enumerate(files.values(), start=1):
            with rasterio.open(file.path) as dataset:
                out.write(dataset.read(1), index)
            out.set_band_description(index, file.asset_key)
    return target
