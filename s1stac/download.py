"""Download the GRD products of catalog items found in a STAC API, then register them locally.

Items searched in a STAC API (``s1stac inventory --stac-url``) point at remote files.  The ARD
stage reads local SAFE folders or zips, so :func:`download` fetches each product once:

* a whole-product archive when the item has one (an asset whose media type is
  ``application/zip`` or whose path ends in ``.zip``, e.g. the Copernicus Data Space "Product"
  asset or an ASF zip URL) -> ``DEST/<product>.zip``;
* otherwise the SAFE members the item lists (assets whose path contains ``<product>.SAFE/``,
  as the Copernicus Data Space items do, or ``<product>/`` with the short member names of the
  AWS and Planetary Computer copies, ``measurement/iw-vv.tiff``) -> ``DEST/<product>.SAFE/...``;
  the manifest must be among them.

``http(s)`` hrefs are fetched with requests; an asset's ``alternate`` hrefs (STAC
alternate-assets extension) are used when its main href is not http(s) (``s3://eodata/...``
with an https alternate).  Authentication: a bearer token (``token`` or ``$S1STAC_TOKEN``),
extra headers, or credentials in ``~/.netrc`` (Earthdata for ASF), which requests reads; Azure
blob URLs without a signature get a read token from the Planetary Computer's token service
(or the ``sas_url`` given), as its ``planetary-computer`` package would sign them.

A file is written to ``<file>.part`` and renamed when complete; an interrupted download resumes
from the ``.part`` file with an HTTP Range request.  When the item gives a size
(``file:size``) or checksum (``file:checksum``, multihash of SHA-256, SHA-1 or MD5), the file is
checked against it.  The downloaded product is then inventoried: its item is replaced by one
with local hrefs (same id).  Products already local are skipped.

No library of the field does this for Sentinel-1 SAFE products from any STAC API (sentinelsat
and eodag are tied to their provider configurations), hence this small module.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import logging
import os
import pathlib
import re
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

import pystac
import requests
from tqdm import tqdm

from s1stac.catalog import StaticCatalog, as_catalog
from s1stac.errors import CatalogError, S1StacError
from s1stac.esa_safe import PRODUCT_NAME_RE
from s1stac.stac_items import product_path

__all__ = ["DownloadError", "RemoteFile", "download", "plan_download"]

LOGGER = logging.getLogger(__name__)

GRD_COLLECTION = "sentinel-1-grd"
CHUNK = 1 << 16  # bytes per write: an interrupted download keeps all but the last block
RETRIES = 3
TIMEOUT = 60.0
_SAFE_MEMBER = re.compile(r"/(S1[A-D]_[A-Z0-9]{2}_[A-Z0-9_]+?_[0-9A-F]{4})(?:\.SAFE)?/(.+)$")
"""``.../<product>.SAFE/<member>`` (Copernicus Data Space) or ``.../<product>/<member>`` (AWS,
Planetary Computer, whose members have short names that the reader knows)."""
PC_SAS_URL = "https://planetarycomputer.microsoft.com/api/sas/v1/token"
"""Token service of the Planetary Computer: read tokens for its Azure blob containers."""
_MULTIHASH = {"1220": "sha256", "1114": "sha1", "d50110": "md5"}


class DownloadError(S1StacError):
    """A product could not be downloaded (names the URL and what to do)."""


@dataclass(frozen=True)
class RemoteFile:
    """One file to fetch: where from, where to, and what it must be."""

    url: str
    target: pathlib.Path
    size: int | None = None
    checksum: str | None = None
    """Multihash (hex) from ``file:checksum``."""


def _http_href(asset: pystac.Asset) -> str | None:
    """Return the http(s) href of an asset: its href, else an ``alternate`` one."""
    hrefs = [asset.href]
    alternates = asset.extra_fields.get("alternate") or {}
    if isinstance(alternates, Mapping):
        hrefs += [a.get("href", "") for a in alternates.values() if isinstance(a, Mapping)]
    return next((h for h in hrefs if h.lower().startswith(("http://", "https://"))), None)


def _is_local(item: pystac.Item) -> bool:
    try:
        return product_path(item).exists()
    except CatalogError:  # remote, or another producer's item
        return False


def _remote(asset: pystac.Asset, key: str, item: pystac.Item, target: pathlib.Path) -> RemoteFile:
    url = _http_href(asset)
    if url is None:
        raise DownloadError(
            f"item {item.id!r} asset {key!r}: {asset.href!r} is not an http(s) URL and has no "
            "http(s) alternate; download it with the provider's tool and run "
            "`s1stac inventory PATH` on the file"
        )
    size = asset.extra_fields.get("file:size")
    checksum = asset.extra_fields.get("file:checksum")
    return RemoteFile(url, target, int(size) if size else None, checksum or None)


def plan_download(item: pystac.Item, dest: str | os.PathLike[str]) -> list[RemoteFile]:
    """Files to fetch for the product of a GRD item (see the module docstring).

    Raises
    ------
    DownloadError
        If the item has neither an archive asset nor the SAFE members with the manifest.
    """
    dest = pathlib.Path(dest)
    for key, asset in item.assets.items():
        path = urlparse(_http_href(asset) or asset.href).path
        if asset.media_type in ("application/zip", "application/x-zip-compressed") or (
            path.lower().endswith(".zip")
        ):
            return [_remote(asset, key, item, dest / f"{item.id}.zip")]
    members = []
    for key, asset in item.assets.items():
        hrefs = [asset.href, _http_href(asset) or ""]
        paths = [unquote(urlparse(h).path) for h in hrefs]
        match = next((m for p in paths if (m := _SAFE_MEMBER.search(p))), None)
        if match and match.group(1) == item.id.removesuffix(".SAFE"):
            folder = dest / f"{match.group(1)}.SAFE"
            members.append(_remote(asset, key, item, folder / match.group(2)))
    if not any(m.target.name == "manifest.safe" for m in members):
        raise DownloadError(
            f"item {item.id!r}: no product archive (zip) asset and no SAFE manifest among its "
            f"assets {sorted(item.assets)}; download the product with the provider's tool and "
            "run `s1stac inventory PATH` on it"
        )
    return members


def _session(token: str | None, headers: Mapping[str, str] | None) -> requests.Session:
    session = requests.Session()
    session.headers["User-Agent"] = "s1stac-download"
    token = token or os.environ.get("S1STAC_TOKEN")
    if token:
        session.headers["Authorization"] = f"Bearer {token}"
    session.headers.update(headers or {})
    return session


class _Signer:
    """Appends read tokens to Azure blob URLs that have none (Planetary Computer assets)."""

    def __init__(self, session: requests.Session, sas_url: str | None) -> None:
        self.session = session
        self.sas_url = sas_url
        self.tokens: dict[tuple[str, str], str] = {}
        self.lock = threading.Lock()

    def __call__(self, url: str) -> str:
        parts = urlparse(url)
        host = parts.hostname or ""
        if "sig=" in parts.query or not (self.sas_url or host.endswith(".blob.core.windows.net")):
            return url
        account, container = host.split(".")[0], parts.path.lstrip("/").split("/")[0]
        with self.lock:
            if (account, container) not in self.tokens:
                endpoint = f"{(self.sas_url or PC_SAS_URL).rstrip('/')}/{account}/{container}"
                try:
                    reply = self.session.get(endpoint, timeout=TIMEOUT)
                    reply.raise_for_status()
                    self.tokens[account, container] = str(reply.json()["token"])
                except (requests.RequestException, ValueError, KeyError) as error:
                    raise DownloadError(
                        f"{url}: no read token from {endpoint} ({error}); sign the items "
                        "yourself or give a token service (sas_url / --sas-url)"
                    ) from error
            token = self.tokens[account, container]
        return f"{url}{'&' if parts.query else '?'}{token}"


def _verify(file: RemoteFile, path: pathlib.Path) -> None:
    size = path.stat().st_size
    if file.size is not None and size != file.size:
        raise DownloadError(
            f"{file.url}: {size} bytes downloaded, the item says file:size {file.size}; "
            "the file was removed, run the download again"
        )
    if file.checksum:
        algorithm = next((a for p, a in _MULTIHASH.items() if file.checksum.startswith(p)), None)
        if algorithm is None:
            LOGGER.warning("%s: checksum %s of unknown kind, not checked", file.url, file.checksum)
            return
        prefix = next(p for p, a in _MULTIHASH.items() if a == algorithm)
        digest = hashlib.new(algorithm)
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(CHUNK), b""):
                digest.update(block)
        if digest.hexdigest() != file.checksum[len(prefix) :].lower():
            raise DownloadError(
                f"{file.url}: {algorithm} checksum differs from the item's file:checksum; "
                "the file was removed, run the download again"
            )


def _fetch(session: requests.Session, sign: _Signer, file: RemoteFile, bar: tqdm | None) -> None:
    """Download one file through ``<target>.part`` (resumed), verified, then renamed."""
    if file.target.exists():
        return
    url = sign(file.url)
    file.target.parent.mkdir(parents=True, exist_ok=True)
    part = file.target.with_name(file.target.name + ".part")
    for attempt in range(1, RETRIES + 1):
        have = part.stat().st_size if part.exists() else 0
        headers = {"Range": f"bytes={have}-"} if have else {}
        try:
            with session.get(url, headers=headers, stream=True, timeout=TIMEOUT) as reply:
                if reply.status_code == 416 and have:  # the part file is already whole
                    break
                if reply.status_code in (401, 403):
                    raise DownloadError(
                        f"{file.url}: HTTP {reply.status_code} {reply.reason}; give an access "
                        "token (--token or $S1STAC_TOKEN) or credentials in ~/.netrc"
                    )
                if reply.status_code == 404:
                    raise DownloadError(f"{file.url}: HTTP 404, the product is not there")
                reply.raise_for_status()
                mode = "ab" if have and reply.status_code == 206 else "wb"
                with part.open(mode) as handle:
                    for block in reply.iter_content(CHUNK):
                        handle.write(block)
                        if bar is not None:
                            bar.update(len(block))
            break
        except (
            requests.ConnectionError,
            requests.Timeout,
            requests.HTTPError,
            requests.exceptions.ChunkedEncodingError,  # body cut short
        ) as error:
            if attempt == RETRIES:
                raise DownloadError(
                    f"{file.url}: {error} (after {RETRIES} attempts); run the download again "
                    "to resume"
                ) from error
            LOGGER.warning("%s: %s; retrying (%d/%d)", file.url, error, attempt, RETRIES)
            time.sleep(2.0 ** (attempt - 1))
    try:
        _verify(file, part)
    except DownloadError:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, file.target)


def _fetch_product(
    session: requests.Session,
    sign: _Signer,
    files: Sequence[RemoteFile],
    workers: int,
    bar: tqdm | None,
) -> pathlib.Path:
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        for future in [pool.submit(_fetch, session, sign, f, bar) for f in files]:
            future.result()
    first = files[0].target
    if first.suffix == ".zip":
        return first
    return next(p for p in first.parents if p.suffix == ".SAFE")


def download(
    catalog: str | os.PathLike[str] | StaticCatalog,
    items: Iterable[str] | None = None,
    *,
    dest: str | os.PathLike[str] = "downloads",
    token: str | None = None,
    headers: Mapping[str, str] | None = None,
    workers: int = 4,
    sas_url: str | None = None,
    progress: bool = False,
) -> list[pathlib.Path]:
    """Download the products of remote GRD items and register them with local hrefs.

    Parameters
    ----------
    catalog
        Static catalog whose ``sentinel-1-grd`` items are downloaded.
    items
        Item ids to download; default every item that is not local yet.
    dest
        Folder receiving ``<product>.zip`` or ``<product>.SAFE/``.
    token
        Bearer token of the provider (default ``$S1STAC_TOKEN``).
    headers
        Further HTTP headers.
    workers
        Files fetched at the same time.
    sas_url
        Token service whose read tokens are appended to URLs without one
        (``{sas_url}/{account}/{container}`` -> ``{"token": ...}``); by default the Planetary
        Computer's, for its ``*.blob.core.windows.net`` URLs only.
    progress
        Show a progress bar in bytes.

    Returns
    -------
    list of pathlib.Path
        The local product (zip or SAFE folder) of every selected item, in item order.

    Raises
    ------
    DownloadError
        A product cannot be fetched (HTTP error, size or checksum mismatch, no usable asset);
        what was downloaded completely stays, partial files resume on the next call, and the
        item keeps its remote hrefs.
    CatalogError
        Unknown item ids.
    """
    from s1stac.inventory import inventory

    store = as_catalog(catalog)
    known = {item.id: item for item in store.items(GRD_COLLECTION)}
    wanted = list(items) if items is not None else list(known)
    missing = [i for i in wanted if i not in known]
    if missing:
        raise CatalogError(f"no item {missing} in {GRD_COLLECTION} of {store.root}")
    if workers < 1:
        raise DownloadError(f"workers={workers!r} must be at least 1")
    session = _session(token, headers)
    sign = _Signer(session, sas_url)
    products: list[pathlib.Path] = []
    todo = []
    for item_id in wanted:
        item = known[item_id]
        if _is_local(item):
            LOGGER.info("%s is local, not downloaded", item_id)
            products.append(product_path(item))
            continue
        todo.append((item_id, plan_download(item, dest)))
    total = sum(f.size or 0 for _, files in todo for f in files) or None
    with tqdm(total=total, unit="B", unit_scale=True, desc="download", disable=not progress) as bar:
        for item_id, files in todo:
            product = _fetch_product(session, sign, files, workers, bar)
            # an item named otherwise than its product (".SAFE" suffix...) would stay beside the
            # local one, which the inventory would even drop as its duplicate: unlist it first
            renamed = PRODUCT_NAME_RE.match(item_id) is None
            if renamed:
                store.remove_item(GRD_COLLECTION, item_id)
            try:
                inventory([product], catalog=store.root, refine=False)
            except S1StacError as error:
                if renamed:
                    store.add_items(GRD_COLLECTION, [known[item_id]])
                raise DownloadError(
                    f"{item_id}: downloaded to {product} but it cannot be read ({error}); "
                    f"remove {product} and download it again"
                ) from error
            LOGGER.info("%s downloaded to %s", item_id, product)
            products.append(product)
    return products
