"""The static STAC catalog of s1stac: one Collection per product level, written atomically.

Layout (self-contained, relative links)::

    <root>/catalog.json
    <root>/<collection>/collection.json
    <root>/<collection>/<item id>/<item id>.json    (+ the item's own files, for derived levels)

Writers hold an exclusive lock (``<root>/.catalog.lock``), write every file to a temporary
file in the same folder and ``os.replace`` it, item files first and ``collection.json`` last:
a crash leaves at worst unlisted item files, never a listed item whose file is missing.

Catalog and collection content (titles, licence, extents, summaries) is defined in
:mod:`s1stac.stac_collections`, item content in :mod:`s1stac.stac_items`.

References
----------
STAC 1.1.0 best practices (catalog layout), https://github.com/radiantearth/stac-spec/blob/v1.1.0/best-practices.md
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import os
import pathlib
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final

import filelock
import pystac

from .errors import CatalogError
from .stac_collections import COLLECTIONS, catalog_dict, collection_dict
from .stac_items import COLLECTION_EXTENSIONS, EXTENSION_SCHEMAS, extension_urls
from .validation import find_schemas_dir, validate_dict

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["COLLECTIONS", "StaticCatalog", "as_catalog", "load_collection"]

LOGGER = logging.getLogger(__name__)

_STRUCTURAL_RELS: Final = {"self", "root", "parent", "collection", "child", "item"}
_ITEM_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]*$")
_VSIZIP = re.compile(r"^/vsizip/(?P<archive>.+?\.zip)/(?P<member>.+)$", re.IGNORECASE)
_JSON = "application/json"


def _dump(obj: Mapping[str, Any]) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False) + "\n"


def _write_json(path: pathlib.Path, obj: Mapping[str, Any]) -> None:
    """Write JSON atomically: temporary file in the same folder, fsync, ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write(_dump(obj))
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _read_json(path: pathlib.Path) -> dict[str, Any]:
    try:
        with path.open(encoding="utf-8") as stream:
            data: dict[str, Any] = json.load(stream)
    except (OSError, ValueError) as error:
        raise CatalogError(f"cannot read STAC JSON {str(path)!r}: {error}") from error
    return data


def local_path(href: str, base: pathlib.Path) -> tuple[pathlib.Path, str | None] | None:
    """(file, member in zip or None) of a local href; ``None`` for remote URLs."""
    match = _VSIZIP.match(href)
    if href.startswith("zip+file://"):
        archive, _, member = href.removeprefix("zip+file://").partition("!/")
        return pathlib.Path(archive), member or None
    if match:
        return pathlib.Path(match["archive"]), match["member"]
    if href.startswith("file://"):
        return pathlib.Path(href.removeprefix("file://")), None
    if re.match(r"^[A-Za-z][A-Za-z0-9+.\-]+://", href) or href.startswith("/vsi"):
        return None
    path = pathlib.Path(href)
    return (path if path.is_absolute() else base / path), None


def _missing(href: str, base: pathlib.Path, zips: dict[pathlib.Path, set[str]]) -> bool:
    local = local_path(href, base)
    if local is None:
        return False
    path, member = local
    if not path.exists():
        return True
    if member is None:
        return False
    if path not in zips:
        try:
            with zipfile.ZipFile(path) as archive:
                zips[path] = set(archive.namelist())
        except (OSError, zipfile.BadZipFile):
            zips[path] = set()
    return member not in zips[path]


class StaticCatalog:
    """A static, self-contained STAC catalog with the five s1stac collections.

    Opening a folder without ``catalog.json`` creates the skeleton (catalog and the collections
    of :data:`COLLECTIONS`, empty, global extent from the launch of Sentinel-1A).

    Parameters
    ----------
    root
        Catalog folder.
    create
        Create the skeleton when missing; otherwise raise ``CatalogError``.
    schemas_dir
        Offline STAC schema mirror used to validate items before writing them (see
        :func:`s1stac.validation.find_schemas_dir`).
    lock_timeout
        Seconds to wait for the catalog lock.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        create: bool = True,
        schemas_dir: str | os.PathLike[str] | None = None,
        lock_timeout: float = 300.0,
    ) -> None:
        self.root = pathlib.Path(root).absolute()
        self.schemas_dir = schemas_dir
        self._lock = filelock.FileLock(str(self.root / ".catalog.lock"), timeout=lock_timeout)
        if not create and not (self.root / "catalog.json").is_file():
            raise CatalogError(
                f"no STAC catalog at {str(self.root)!r} (catalog.json missing); create one "
                "with StaticCatalog(root)"
            )
        if not self._complete():
            self.root.mkdir(parents=True, exist_ok=True)
            with self._locked():
                self._create_missing()

    @classmethod
    def open_or_create(cls, root: str | os.PathLike[str], **kwargs: Any) -> StaticCatalog:
        """Open the catalog at ``root``, creating its skeleton if needed."""
        return cls(root, create=True, **kwargs)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            with self._lock:
                yield
        except filelock.Timeout as error:
            raise CatalogError(
                f"catalog {str(self.root)!r} is locked by another writer ({self._lock.lock_file}); "
                "retry later or remove the lock file if no writer is running"
            ) from error

    def collection_path(self, collection_id: str) -> pathlib.Path:
        """Path of ``<root>/<collection>/collection.json``."""
        if collection_id not in COLLECTIONS:
            raise CatalogError(
                f"unknown collection {collection_id!r}; choose one of {list(COLLECTIONS)}"
            )
        return self.root / collection_id / "collection.json"

    def item_path(self, collection_id: str, item_id: str) -> pathlib.Path:
        """Path of ``<root>/<collection>/<item id>/<item id>.json``."""
        if not _ITEM_ID.match(item_id):
            raise CatalogError(
                f"invalid item id {item_id!r}: use letters, digits, '.', '_' and '-' only"
            )
        return self.collection_path(collection_id).parent / item_id / f"{item_id}.json"

    def _complete(self) -> bool:
        return (self.root / "catalog.json").is_file() and all(
            self.collection_path(cid).is_file() for cid in COLLECTIONS
        )

    def _create_missing(self) -> None:
        for collection_id in COLLECTIONS:
            path = self.collection_path(collection_id)
            if not path.is_file():
                _write_json(path, collection_dict(collection_id))
        catalog_file = self.root / "catalog.json"
        if not catalog_file.is_file():
            _write_json(catalog_file, catalog_dict())
            return
        catalog = _read_json(catalog_file)
        hrefs = {link["href"] for link in catalog.get("links", []) if link["rel"] == "child"}
        missing = [link for link in catalog_dict()["links"][1:] if link["href"] not in hrefs]
        if missing:
            catalog["links"] = catalog.get("links", []) + missing
            _write_json(catalog_file, catalog)

    def _item_dict(self, collection_id: str, item: pystac.Item) -> dict[str, Any]:
        """Item JSON as written: structural links relative, local hrefs inside root relative."""
        path = self.item_path(collection_id, item.id)
        self_href = item.get_self_href()
        base = pathlib.Path(self_href).parent if self_href else path.parent
        data = copy.deepcopy(item.to_dict(include_self_link=False, transform_hrefs=False))
        data["collection"] = collection_id
        zips: dict[pathlib.Path, set[str]] = {}
        missing = [
            f"{key}: {asset['href']}"
            for key, asset in data.get("assets", {}).items()
            if _missing(asset["href"], base, zips)
        ]
        if missing:
            raise CatalogError(
                f"item {item.id!r} has assets whose files do not exist: {missing}; write the "
                "files first (relative hrefs are resolved against the item's folder "
                f"{str(base)!r})"
            )
        for obj in [*data.get("assets", {}).values(), *data.get("links", [])]:
            obj["href"] = self._relative(obj["href"], base, path.parent)
        links = [link for link in data.get("links", []) if link["rel"] not in _STRUCTURAL_RELS]
        data["links"] = [
            {"rel": "root", "href": "../../catalog.json", "type": _JSON},
            {"rel": "parent", "href": "../collection.json", "type": _JSON},
            {"rel": "collection", "href": "../collection.json", "type": _JSON},
            *links,
        ]
        return data

    def _relative(self, href: str, base: pathlib.Path, item_dir: pathlib.Path) -> str:
        local = local_path(href, base)
        if local is None or local[1] is not None:
            return href
        path = pathlib.Path(os.path.abspath(local[0]))
        if not path.is_relative_to(self.root):
            return path.as_posix()
        relative = pathlib.Path(os.path.relpath(path, item_dir)).as_posix()
        return relative if relative.startswith("../") else f"./{relative}"

    def add_items(
        self,
        collection_id: str,
        items: Iterable[pystac.Item],
        *,
        validate: bool | None = None,
    ) -> list[pathlib.Path]:
        """Register items in a collection (replacing items of the same id).

        Parameters
        ----------
        collection_id
            One of :data:`COLLECTIONS`.
        items
            Items to write; local asset files must exist (relative hrefs are resolved against
            the item's self href, else against ``<root>/<collection>/<item id>/``).
        validate
            Validate every item against the STAC schemas before writing: ``None`` does so
            when the offline schema mirror is found, ``True`` requires it.

        Returns
        -------
        list of pathlib.Path
            The item JSON files written.

        Raises
        ------
        CatalogError
            On a missing asset file, an invalid item or a duplicate id; nothing is written.
        """
        items = list(items)
        ids = [item.id for item in items]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise CatalogError(f"item ids given more than once: {duplicates}")
        documents = {item.id: self._item_dict(collection_id, item) for item in items}
        allowed = {EXTENSION_SCHEMAS[prefix] for prefix in COLLECTION_EXTENSIONS[collection_id]}
        for document in documents.values():
            declared = set(document.get("stac_extensions", []))
            undeclared = sorted(set(extension_urls(document, collection_id)) - declared)
            foreign = sorted(declared - allowed)
            if undeclared or foreign:
                raise CatalogError(
                    f"item {document['id']!r}: extensions used but not declared {undeclared}, "
                    f"declared but outside the extension set of collection {collection_id!r} "
                    f"{foreign}; declare stac_extensions with s1stac.stac_items.extension_urls"
                )
        self._validate_documents(documents.values(), validate)
        written = []
        with self._locked():
            collection_file = self.collection_path(collection_id)
            collection = _read_json(collection_file)
            for item_id, document in documents.items():
                path = self.item_path(collection_id, item_id)
                _write_json(path, document)
                written.append(path)
            links = {link["href"]: link for link in collection["links"] if link["rel"] == "item"}
            for item_id in documents:
                href = f"./{item_id}/{item_id}.json"
                links[href] = {"rel": "item", "href": href, "type": "application/geo+json"}
            self._write_collection(collection_id, list(links.values()), documents)
        LOGGER.info("%s: %d item(s) registered in %s", self.root, len(written), collection_id)
        return written

    def _validate_documents(
        self, documents: Iterable[Mapping[str, Any]], validate: bool | None
    ) -> None:
        if validate is False:
            return
        try:
            schemas = find_schemas_dir(self.schemas_dir)
        except CatalogError:
            if validate:
                raise
            LOGGER.debug("no STAC schema mirror found: items written without validation")
            return
        for document in documents:
            errors = validate_dict(document, schemas)
            if errors:
                raise CatalogError(
                    f"item {document['id']!r} is not valid STAC ({len(errors)} error(s)): "
                    + "; ".join(errors[:5])
                )

    def _write_collection(
        self,
        collection_id: str,
        item_links: list[dict[str, Any]],
        known: Mapping[str, Mapping[str, Any]],
    ) -> None:
        """Rewrite collection.json with sorted item links, extent and summaries of all items."""
        folder = self.collection_path(collection_id).parent
        item_links = sorted(item_links, key=lambda link: link["href"])
        documents = []
        for link in item_links:
            item_id = pathlib.PurePosixPath(link["href"]).stem
            if item_id in known:
                documents.append(known[item_id])
            else:
                documents.append(_read_json(folder / link["href"]))
        collection = collection_dict(collection_id, documents)
        collection["links"] += item_links
        _write_json(self.collection_path(collection_id), collection)

    def _item_links(self, collection_id: str) -> list[dict[str, Any]]:
        collection = _read_json(self.collection_path(collection_id))
        return [link for link in collection.get("links", []) if link["rel"] == "item"]

    def item_ids(self, collection_id: str) -> list[str]:
        """Ids of the items listed by a collection."""
        links = self._item_links(collection_id)
        return [pathlib.PurePosixPath(link["href"]).stem for link in links]

    def items(self, collection_id: str) -> Iterator[pystac.Item]:
        """Iterate over the items of a collection (with self hrefs, so relative hrefs resolve)."""
        folder = self.collection_path(collection_id).parent
        for link in self._item_links(collection_id):
            path = folder / link["href"]
            try:
                yield pystac.Item.from_file(str(path))
            except FileNotFoundError:
                LOGGER.warning("%s: item file %s vanished (removed concurrently)", folder, path)

    def get_item(self, collection_id: str, item_id: str) -> pystac.Item:
        """Read the item ``item_id`` of a collection (``CatalogError`` when not registered)."""
        if item_id not in self.item_ids(collection_id):
            raise CatalogError(
                f"no item {item_id!r} in collection {collection_id!r} of {self.root}"
            )
        return pystac.Item.from_file(str(self.item_path(collection_id, item_id)))

    def remove_item(self, collection_id: str, item_id: str, *, delete_files: bool = False) -> None:
        """Unlist an item, then delete its JSON (``delete_files``: its whole folder)."""
        path = self.item_path(collection_id, item_id)
        with self._locked():
            links = self._item_links(collection_id)
            remaining = [
                link for link in links if pathlib.PurePosixPath(link["href"]).stem != item_id
            ]
            if len(remaining) == len(links):
                raise CatalogError(f"no item {item_id!r} in collection {collection_id!r}")
            self._write_collection(collection_id, remaining, {})
            if delete_files:
                shutil.rmtree(path.parent, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)

    def validate(self, schemas_dir: str | os.PathLike[str] | None = None) -> int:
        """Validate the catalog, every collection and every item, offline.

        Also checks that every linked file exists and that local asset files exist.

        Returns
        -------
        int
            Number of STAC objects validated.

        Raises
        ------
        CatalogError
            Listing every problem found.
        """
        schemas = find_schemas_dir(schemas_dir if schemas_dir is not None else self.schemas_dir)
        problems: list[str] = []
        count = 0

        def check(path: pathlib.Path) -> dict[str, Any] | None:
            nonlocal count
            if not path.is_file():
                problems.append(f"{path}: linked file does not exist")
                return None
            document = _read_json(path)
            count += 1
            problems.extend(f"{path}: {error}" for error in validate_dict(document, schemas))
            for link in document.get("links", []):
                target = local_path(link["href"], path.parent)
                if target is not None and link["rel"] in _STRUCTURAL_RELS:
                    if not target[0].is_file():
                        problems.append(f"{path}: {link['rel']} link to missing {link['href']}")
            return document

        catalog = check(self.root / "catalog.json") or {}
        for child in [link for link in catalog.get("links", []) if link["rel"] == "child"]:
            collection_file = self.root / child["href"]
            collection = check(collection_file) or {}
            hrefs = [link["href"] for link in collection.get("links", []) if link["rel"] == "item"]
            if len(set(hrefs)) != len(hrefs):
                problems.append(f"{collection_file}: duplicate item links")
            orphans = {
                p.relative_to(collection_file.parent).as_posix()
                for p in collection_file.parent.glob("*/*.json")
                if p.stem == p.parent.name
            } - {href.removeprefix("./") for href in hrefs}
            if orphans:
                LOGGER.warning("%s: unlisted item files %s", collection_file, sorted(orphans))
            zips: dict[pathlib.Path, set[str]] = {}
            for href in hrefs:
                item_file = collection_file.parent / href
                item = check(item_file)
                if item is None:
                    continue
                if item.get("collection") != collection.get("id"):
                    problems.append(f"{item_file}: collection field {item.get('collection')!r}")
                problems.extend(
                    f"{item_file}: asset {key!r} file missing: {asset['href']}"
                    for key, asset in item.get("assets", {}).items()
                    if _missing(asset["href"], item_file.parent, zips)
                )
        if problems:
            raise CatalogError(
                f"catalog {str(self.root)!r}: {len(problems)} problem(s): "
                + "; ".join(problems[:20])
            )
        return count


def as_catalog(catalog: str | os.PathLike[str] | StaticCatalog) -> StaticCatalog:
    """Return the catalog itself, or the one at a folder (its skeleton created if needed)."""
    return catalog if isinstance(catalog, StaticCatalog) else StaticCatalog(catalog)


def load_collection(
    root: str | os.PathLike[str], collection_id: str, **odc_kwargs: Any
) -> xr.Dataset:
    """Load the items of a (geocoded) collection with ``odc.stac.load``.

    Parameters
    ----------
    root
        Catalog folder.
    collection_id
        Collection whose items carry ``proj:`` fields (not ``sentinel-1-grd``).
    **odc_kwargs
        Passed to :func:`odc.stac.load` (``bands``, ``crs``, ``resolution``, ``chunks``...).
    """
    import odc.stac

    items = list(StaticCatalog(root, create=False).items(collection_id))
    if not items:
        raise CatalogError(f"collection {collection_id!r} of {root} has no items to load")
    dataset: xr.Dataset = odc.stac.load(items, **odc_kwargs)
    return dataset
