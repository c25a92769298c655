"""Downloading the products of remote GRD items from a real HTTP server, then ARD-ready.

The server (http.server in a thread, Range requests and bearer tokens implemented here)
publishes the real products of ``../shared/data/s1/grd``; items are written as a STAC API
gives them: the Copernicus Data Space style (one asset per SAFE member, ``s3://`` href with an
https alternate) and a whole-product zip asset with ``file:size`` / ``file:checksum``.  The
reference is the bytes of the served files.
"""

from __future__ import annotations

import hashlib
import http.server
import pathlib
import threading
from collections.abc import Iterator
from typing import Any

import pystac
import pytest

from s1stac.catalog import StaticCatalog
from s1stac.download import DownloadError, download, plan_download
from s1stac.errors import CatalogError
from s1stac.inventory import inventory
from s1stac.safe import open_product
from s1stac.stac_items import product_path

ZIP = "S1A_IW_GRDH_1SDV_20150222T170725_20150222T170750_004739_005DD8_CEAB"
SAFE = "S1B_IW_GRDH_1SDV_20211223T051122_20211223T051147_030148_039993_5371"
TOKEN = "secret-token"


class _Server:
    def __init__(self, root: pathlib.Path, token: str | None) -> None:
        self.requests: list[tuple[str, str | None]] = []
        self.fail_after: int | None = None  # bytes sent before a connection drop, once
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def do_GET(self) -> None:  # noqa: N802
                outer.requests.append((self.path, self.headers.get("Range")))
                if token and self.headers.get("Authorization") != f"Bearer {token}":
                    self.send_error(401, "Unauthorized")
                    return
                path = root / self.path.lstrip("/")
                if not path.is_file():
                    self.send_error(404)
                    return
                data = path.read_bytes()
                start = 0
                if self.headers.get("Range"):
                    start = int(self.headers["Range"].removeprefix("bytes=").split("-")[0])
                    if start >= len(data):
                        self.send_error(416)
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if outer.fail_after is not None:
                    cut, outer.fail_after = outer.fail_after, None
                    self.wfile.write(body[:cut])
                    self.wfile.flush()
                    self.connection.shutdown(2)  # the client sees a truncated body
                    return
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"


@pytest.fixture
def server(grd_dir: pathlib.Path) -> Iterator[_Server]:
    running = _Server(grd_dir, TOKEN)
    yield running
    running.httpd.shutdown()
    running.httpd.server_close()


def _remote_catalog(
    grd_dir: pathlib.Path, tmp_path: pathlib.Path, url: str, *, size_error: int = 0
) -> StaticCatalog:
    """Register the two products as a STAC API would describe them (remote hrefs)."""
    local = inventory(
        [grd_dir / f"{ZIP}.zip", grd_dir / f"{SAFE}.SAFE"], catalog=tmp_path / "local", refine=False
    )
    items = {item.id: item for item in local.items}
    zipped, safe = items[ZIP].clone(), items[SAFE].clone()
    data = (grd_dir / f"{ZIP}.zip").read_bytes()
    zipped.assets = {}
    zipped.add_asset(
        "product",
        pystac.Asset(
            f"{url}/{ZIP}.zip",
            media_type="application/zip",
            roles=["data"],
            extra_fields={
                "file:size": len(data) + size_error,
                "file:checksum": "1220" + hashlib.sha256(data).hexdigest(),
            },
        ),
    )
    safe.assets = {}
    folder = grd_dir / f"{SAFE}.SAFE"
    for k, path in enumerate(sorted(p for p in folder.rglob("*") if p.is_file())):
        member = f"{SAFE}.SAFE/{path.relative_to(folder).as_posix()}"
        safe.add_asset(
            f"file{k}",
            pystac.Asset(
                f"s3://eodata/Sentinel-1/SAR/IW_GRDH_1S/2021/12/23/{member}",
                roles=["data"],
                extra_fields={"alternate": {"https": {"href": f"{url}/{member}"}}},
            ),
        )
    store = StaticCatalog(tmp_path / "catalog")
    store.add_items("sentinel-1-grd", [zipped, safe])
    return store


def test_download_fetches_zip_and_safe_products_and_registers_them_locally(
    grd_dir: pathlib.Path, tmp_path: pathlib.Path, server: _Server
) -> None:
    store = _remote_catalog(grd_dir, tmp_path, server.url)
    for item in store.items("sentinel-1-grd"):
        with pytest.raises(CatalogError, match="s1stac download"):
            product_path(item)
    dest = tmp_path / "downloads"
    paths = download(store, dest=dest, token=TOKEN)
    assert sorted(p.name for p in paths) == sorted([f"{ZIP}.zip", f"{SAFE}.SAFE"])
    assert (dest / f"{ZIP}.zip").read_bytes() == (grd_dir / f"{ZIP}.zip").read_bytes()
    for path in (grd_dir / f"{SAFE}.SAFE").rglob("*"):
        if path.is_file():
            copy = dest / f"{SAFE}.SAFE" / path.relative_to(grd_dir / f"{SAFE}.SAFE")
            assert copy.read_bytes() == path.read_bytes(), path.name
    assert not list(dest.rglob("*.part"))
    # the items now point at the local products, and the reader opens them
    for item in store.items("sentinel-1-grd"):
        local = product_path(item)
        assert local.parent == dest and open_product(local).name == item.id
    store.validate()
    # a second call downloads nothing
    before = len(server.requests)
    assert sorted(download(store, dest=dest, token=TOKEN)) == sorted(paths)
    assert len(server.requests) == before


def test_an_item_id_other_than_the_product_name_is_replaced(
    grd_dir: pathlib.Path, tmp_path: pathlib.Path, server: _Server
) -> None:
    store = _remote_catalog(grd_dir, tmp_path, server.url)
    item = store.get_item("sentinel-1-grd", ZIP).clone()
    item.id = f"{ZIP}.SAFE"  # as some catalogues name their items
    store.remove_item("sentinel-1-grd", ZIP)
    store.add_items("sentinel-1-grd", [item])
    download(store, [f"{ZIP}.SAFE"], dest=tmp_path / "dl", token=TOKEN)
    assert ZIP in store.item_ids("sentinel-1-grd")
    assert f"{ZIP}.SAFE" not in store.item_ids("sentinel-1-grd")  # one item per product


def test_interrupted_download_resumes_with_a_range_request(
    grd_dir: pathlib.Path, tmp_path: pathlib.Path, server: _Server
) -> None:
    store = _remote_catalog(grd_dir, tmp_path, server.url)
    server.fail_after = 700_000
    download(store, [ZIP], dest=tmp_path / "dl", token=TOKEN)
    ranges = [r for path, r in server.requests if path.endswith(".zip")]
    assert ranges[0] is None and ranges[1] is not None
    resumed_at = int(ranges[1].removeprefix("bytes=").rstrip("-"))
    assert 500_000 < resumed_at <= 700_000  # what had arrived, in whole blocks
    assert (tmp_path / "dl" / f"{ZIP}.zip").read_bytes() == (grd_dir / f"{ZIP}.zip").read_bytes()


def test_missing_token_is_a_clear_error_and_changes_nothing(
    grd_dir: pathlib.Path, tmp_path: pathlib.Path, server: _Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("S1STAC_TOKEN", raising=False)
    store = _remote_catalog(grd_dir, tmp_path, server.url)
    before = {i.id: i.assets["product"].href for i in store.items("sentinel-1-grd") if i.id == ZIP}
    with pytest.raises(DownloadError, match=r"HTTP 401.*--token or \$S1STAC_TOKEN"):
        download(store, [ZIP], dest=tmp_path / "dl")
    after = {i.id: i.assets["product"].href for i in store.items("sentinel-1-grd") if i.id == ZIP}
    assert before == after
    monkeypatch.setenv("S1STAC_TOKEN", TOKEN)
    assert download(store, [ZIP], dest=tmp_path / "dl")[0].name == f"{ZIP}.zip"


def test_size_mismatch_removes_the_file_and_keeps_the_remote_item(
    grd_dir: pathlib.Path, tmp_path: pathlib.Path, server: _Server
) -> None:
    store = _remote_catalog(grd_dir, tmp_path, server.url, size_error=1)
    with pytest.raises(DownloadError, match="file:size"):
        download(store, [ZIP], dest=tmp_path / "dl", token=TOKEN)
    assert not list((tmp_path / "dl").rglob("*"))  # neither the zip nor a .part
    item = store.get_item("sentinel-1-grd", ZIP)
    assert item.assets["product"].href.startswith("http://")


def test_items_without_a_usable_asset_are_named(
    grd_dir: pathlib.Path, tmp_path: pathlib.Path, server: _Server
) -> None:
    store = _remote_catalog(grd_dir, tmp_path, server.url)
    item = store.get_item("sentinel-1-grd", SAFE)
    item.assets = {k: a for k, a in item.assets.items() if "manifest" not in a.href}
    with pytest.raises(DownloadError, match="no SAFE manifest"):
        plan_download(item, tmp_path)
    s3_only = store.get_item("sentinel-1-grd", SAFE)
    for asset in s3_only.assets.values():
        asset.extra_fields.pop("alternate")
    with pytest.raises(DownloadError, match="not an http"):
        plan_download(s3_only, tmp_path)
    with pytest.raises(CatalogError, match="no item"):
        download(store, ["S1A_nothing"], dest=tmp_path)


def test_download_command(
    grd_dir: pathlib.Path, tmp_path: pathlib.Path, server: _Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from s1stac.cli import app

    monkeypatch.delenv("S1STAC_TOKEN", raising=False)
    store = _remote_catalog(grd_dir, tmp_path, server.url)
    runner = CliRunner()
    args = ["download", ZIP, "--catalog", str(store.root), "--dest", str(tmp_path / "dl")]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "HTTP 401" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(app, [*args, "--token", TOKEN])
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith(f"{ZIP}.zip")
    assert product_path(store.get_item("sentinel-1-grd", ZIP)) == tmp_path / "dl" / f"{ZIP}.zip"


def test_planetary_computer_style_items_are_signed_and_read(
    grd_dir: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    """Items as the Planetary Computer writes them: short member names, unsigned blob URLs."""
    from _layouts import archive_copy

    blobs = tmp_path / "blobs" / "s1-grd" / "GRD" / "2021" / "12" / "23" / "IW" / "SV"
    copy = archive_copy(grd_dir / f"{SAFE}.SAFE", blobs)
    signed: list[str] = []

    class Blob(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

        def do_GET(self) -> None:  # noqa: N802
            if self.path.startswith("/sas/"):
                assert self.path == "/sas/127/s1-grd"  # {account}/{container}
                body = b'{"token": "st=2026&se=2027&sp=rl&sig=abc%3D", "msft:expiry": "x"}'
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            path, _, query = self.path.partition("?")
            if "sig=abc" not in query:
                self.send_error(403, "Server failed to authenticate the request")
                return
            signed.append(path)
            self.path = path
            super().do_GET()

    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0),
        lambda *a: Blob(*a, directory=str(tmp_path / "blobs")),  # type: ignore[misc]
    )
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        base = f"{url}/{copy.relative_to(tmp_path / 'blobs').as_posix()}"
        local = inventory([grd_dir / f"{SAFE}.SAFE"], catalog=tmp_path / "local", refine=False)
        item = local.items[0].clone()
        item.assets = {}
        for key, member in {
            "vv": "measurement/iw-vv.tiff",
            "safe-manifest": "manifest.safe",
            "schema-product-vv": "annotation/iw-vv.xml",
            "schema-calibration-vv": "annotation/calibration/calibration-iw-vv.xml",
            "schema-noise-vv": "annotation/calibration/noise-iw-vv.xml",
        }.items():
            item.add_asset(key, pystac.Asset(f"{base}/{member}", roles=["data"]))
        store = StaticCatalog(tmp_path / "catalog")
        store.add_items("sentinel-1-grd", [item])
        (product,) = download(store, dest=tmp_path / "dl", sas_url=f"{url}/sas")
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert len(signed) == 5 and product == tmp_path / "dl" / f"{SAFE}.SAFE"
    opened = open_product(product)
    assert opened.name == SAFE and [str(p) for p in opened.polarisations] == ["VV"]
    assert opened.measurement_href("VV") == str(product / "measurement" / "iw-vv.tiff")
    assert (product / "measurement" / "iw-vv.tiff").read_bytes() == (
        copy / "measurement" / "iw-vv.tiff"
    ).read_bytes()
    assert product_path(store.get_item("sentinel-1-grd", SAFE)) == product
