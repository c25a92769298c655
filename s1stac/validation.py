"""Offline validation of STAC JSON against a local mirror of the STAC schemas.

Schemas are looked up by their canonical URL in a folder laid out as ``<host>/<path>``
(``https://stac-extensions.github.io/sar/v1.3.0/schema.json`` ->
``<folder>/stac-extensions.github.io/sar/v1.3.0/schema.json``), optionally with an
``index.json`` mapping every URL to its file.  The STAC 1.1.0 core and GeoJSON schemas that
pystac ships are used as a fallback, so nothing is ever fetched from the network.

References
----------
STAC specification 1.1.0, https://github.com/radiantearth/stac-spec/tree/v1.1.0
pystac validation, https://pystac.readthedocs.io/en/stable/api/validation.html
"""

from __future__ import annotations

import functools
import json
import logging
import os
import pathlib
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import jsonschema
import pystac
import pystac.validation
from pystac.validation.local_validator import get_local_schema_cache
from pystac.validation.stac_validator import GetSchemaError, JsonSchemaSTACValidator
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource
from referencing.jsonschema import DRAFT7

from .errors import CatalogError

__all__ = [
    "SCHEMAS_ENV",
    "OfflineSTACValidator",
    "core_schema_url",
    "find_schemas_dir",
    "mirror_index",
    "validate_dict",
    "validate_object",
]

LOGGER = logging.getLogger(__name__)

SCHEMAS_ENV = "S1STAC_STAC_SCHEMAS"
"""Environment variable naming the folder of the offline schema mirror."""

_DEFAULT_SCHEMAS_DIR = pathlib.Path(__file__).resolve().parents[2] / "shared/data/stac-schemas"
"""``<repository>/../shared/data/stac-schemas`` (development checkout)."""

_CORE_SCHEMAS = {
    "Feature": "https://schemas.stacspec.org/v{version}/item-spec/json-schema/item.json",
    "Collection": (
        "https://schemas.stacspec.org/v{version}/collection-spec/json-schema/collection.json"
    ),
    "Catalog": "https://schemas.stacspec.org/v{version}/catalog-spec/json-schema/catalog.json",
}

# NOTE: RFC 3339 section 5.6 (upper/lower case T and Z accepted, offset mandatory); jsonschema
# only checks "date-time" when optional packages are installed, so the check is done here.
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$",
)
_FORMAT_CHECKER = jsonschema.FormatChecker()


@_FORMAT_CHECKER.checks("date-time", raises=ValueError)
def _is_rfc3339(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _RFC3339.match(value):
        return False
    datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    return True


def find_schemas_dir(schemas_dir: str | os.PathLike[str] | None = None) -> pathlib.Path:
    """Locate the offline STAC schema mirror.

    Parameters
    ----------
    schemas_dir
        Folder to use; when ``None``, the environment variable ``S1STAC_STAC_SCHEMAS``, then
        ``<repository>/../shared/data/stac-schemas``.

    Returns
    -------
    pathlib.Path
        The existing folder.

    Raises
    ------
    CatalogError
        When no folder is found.
    """
    if schemas_dir is not None:
        origin, path = "schemas_dir parameter", pathlib.Path(schemas_dir)
    elif os.environ.get(SCHEMAS_ENV):
        origin, path = f"${SCHEMAS_ENV}", pathlib.Path(os.environ[SCHEMAS_ENV])
    else:
        origin, path = "default location", _DEFAULT_SCHEMAS_DIR
    if not path.is_dir():
        raise CatalogError(
            f"offline STAC schema folder not found: {str(path)!r} ({origin}). Point to a "
            f"mirror of the STAC schemas (laid out as <host>/<path>, with index.json) with "
            f"the 'schemas_dir' parameter or the {SCHEMAS_ENV} environment variable."
        )
    return path.resolve()


@functools.lru_cache(maxsize=8)
def _mirror_index(root: pathlib.Path) -> dict[str, str]:
    index_file = root / "index.json"
    if index_file.is_file():
        with index_file.open(encoding="utf-8") as stream:
            index: dict[str, str] = json.load(stream)
        return index
    return {
        f"https://{path.relative_to(root).as_posix()}": path.relative_to(root).as_posix()
        for path in sorted(root.rglob("*.json"))
        if not path.name.startswith(".")
    }


def mirror_index(schemas_dir: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """Map every schema URL of the mirror to its path relative to the mirror folder."""
    return dict(_mirror_index(find_schemas_dir(schemas_dir)))


def _strip(url: str) -> str:
    return url.split("#", 1)[0]


def _load_from_mirror(root: pathlib.Path, url: str) -> dict[str, Any]:
    url = _strip(url)
    relpath = _mirror_index(root).get(url)
    if relpath is None and "://" in url:
        relpath = url.split("://", 1)[1]
    path = root / relpath if relpath is not None else None
    if path is None or not path.is_file():
        raise FileNotFoundError(f"schema {url} is not in the offline mirror {str(root)!r}")
    with path.open(encoding="utf-8") as stream:
        schema: dict[str, Any] = json.load(stream)
    return schema


@functools.lru_cache(maxsize=1)
def _packaged_schemas() -> dict[str, dict[str, Any]]:
    return get_local_schema_cache()


def _load_schema(root: pathlib.Path, url: str) -> dict[str, Any]:
    try:
        return _load_from_mirror(root, url)
    except FileNotFoundError:
        packaged = _packaged_schemas().get(_strip(url))
        if packaged is None:
            raise
        return packaged


class OfflineSTACValidator(JsonSchemaSTACValidator):
    """pystac validator that reads every schema from the offline mirror.

    Pass it explicitly (``item.validate(validator=OfflineSTACValidator(folder))``); it never
    touches the network and raises ``GetSchemaError`` for a schema the mirror lacks.

    Parameters
    ----------
    schemas_dir
        Mirror folder, see :func:`find_schemas_dir`.
    """

    def __init__(self, schemas_dir: str | os.PathLike[str] | None = None) -> None:
        super().__init__()
        self.schemas_dir = find_schemas_dir(schemas_dir)

    def _get_schema(self, schema_uri: str) -> dict[str, Any]:
        uri = _strip(schema_uri)
        if uri not in self.schema_cache:
            try:
                self.schema_cache[uri] = _load_schema(self.schemas_dir, uri)
            except (OSError, ValueError) as error:
                raise GetSchemaError(uri, error) from error
        return self.schema_cache[uri]


def validate_object(
    stac_object: pystac.STACObject, *, schemas_dir: str | os.PathLike[str] | None = None
) -> list[str]:
    """Validate a pystac object offline with pystac's own machinery.

    Returns
    -------
    list of str
        The schema URLs validated against.

    Raises
    ------
    pystac.STACValidationError
        On the first schema the object fails.
    """
    validator = OfflineSTACValidator(schemas_dir)
    return [str(uri) for uri in stac_object.validate(validator=validator)]


@functools.lru_cache(maxsize=8)
def _registry(root: pathlib.Path) -> Registry[Any]:
    def retrieve(uri: str) -> Resource[Any]:
        try:
            contents = _load_schema(root, uri)
        except (OSError, ValueError) as error:
            raise NoSuchResource(ref=uri) from error
        return Resource.from_contents(contents, default_specification=DRAFT7)

    resources = [
        (url, Resource.from_contents(_load_schema(root, url), default_specification=DRAFT7))
        for url in [*_mirror_index(root), *_packaged_schemas()]
    ]
    registry: Registry[Any] = Registry(retrieve=retrieve).with_resources(resources)  # type: ignore[call-arg]
    return registry


def core_schema_url(stac_dict: Mapping[str, Any]) -> str:
    """URL of the core STAC schema of an Item, Collection or Catalog dictionary."""
    kind = stac_dict.get("type")
    if kind not in _CORE_SCHEMAS:
        raise CatalogError(
            f"not a STAC Item, Collection or Catalog: type={kind!r} (expected one of "
            f"{sorted(_CORE_SCHEMAS)})"
        )
    return _CORE_SCHEMAS[str(kind)].format(version=stac_dict.get("stac_version", "1.1.0"))


def validate_dict(
    stac_dict: Mapping[str, Any],
    schemas_dir: str | os.PathLike[str] | None = None,
    *,
    check_formats: bool = True,
) -> list[str]:
    """Validate a STAC dictionary against its core and extension schemas, offline.

    Parameters
    ----------
    stac_dict
        Item, Collection or Catalog as JSON-like dictionary.
    schemas_dir
        Mirror folder, see :func:`find_schemas_dir`.
    check_formats
        Also check string formats (RFC 3339 ``date-time``...).

    Returns
    -------
    list of str
        Every error found, as ``"<schema url>: <json path>: <message>"``; empty when valid.
        A schema missing from the mirror is reported as an error, not raised.
    """
    root = find_schemas_dir(schemas_dir)
    registry = _registry(root)
    document = json.loads(json.dumps(stac_dict))
    urls = [core_schema_url(document), *document.get("stac_extensions", [])]
    errors: list[str] = []
    for url in urls:
        try:
            schema = registry.get_or_retrieve(_strip(url)).value.contents
        except NoSuchResource:
            errors.append(f"{url}: schema not in the offline mirror {str(root)!r}")
            continue
        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
        options: dict[str, Any] = {"format_checker": _FORMAT_CHECKER} if check_formats else {}
        validator = cls(schema, registry=registry, **options)
        for error in sorted(validator.iter_errors(document), key=lambda e: list(e.path)):
            for leaf in _leaves(error):
                location = "/".join(str(part) for part in leaf.absolute_path) or "<root>"
                errors.append(f"{url}: {location}: {leaf.message}")
    return list(dict.fromkeys(errors))


def _leaves(error: jsonschema.ValidationError) -> list[jsonschema.ValidationError]:
    """Find the innermost errors of a ``oneOf``/``anyOf`` failure.

    Branches written for another object ``type`` (Item vs Collection) are skipped, so that the
    messages name the offending field.
    """
    if not error.context:
        return [error]
    branches: dict[object, list[jsonschema.ValidationError]] = {}
    for sub in error.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    relevant = [
        subs
        for subs in branches.values()
        if not any(list(sub.absolute_path) == ["type"] for sub in subs)
    ]
    leaves = [leaf for subs in relevant for sub in subs for leaf in _leaves(sub)]
    return leaves or [error]
