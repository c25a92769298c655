"""HTML pages of the catalog: rendered by the server, checked over HTTP and in headless Chromium.

The catalog holds the s1-ard stack of the API tests and, when the shared data is available,
two real GRD zips (footprints and quick-looks from the products themselves).  Chromium
(Debian package ``chromium``) dumps the DOM and takes a screenshot, kept as a test artifact
under ``tests/artifacts/`` (or ``$S1STAC_TEST_ARTIFACTS``).
"""

from __future__ import annotations

import html.parser
import io
import os
import pathlib
import shutil
import subprocess
import zipfile
from collections.abc import Iterator

import matplotlib.image
import numpy as np
import pytest
import rasterio
import requests
from _api_server import ServerProcess, Stack, make_stack

from s1stac.catalog import StaticCatalog
from s1stac.safe import open_product
from s1stac.stac_items import grd_item

ARTIFACTS = pathlib.Path(
    os.environ.get("S1STAC_TEST_ARTIFACTS", pathlib.Path(__file__).parent / "artifacts")
)
GRD_KEYS = ("CEAB", "3768")


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Stack:
    stack = make_stack(tmp_path_factory.mktemp("browse") / "catalog")
    try:
        products = request.getfixturevalue("real_products")
    except pytest.skip.Exception:
        return stack  # no shared data: the GRD collection stays empty
    items = [grd_item(open_product(products[key])) for key in GRD_KEYS]
    StaticCatalog(stack.root).add_items("sentinel-1-grd", items)
    return stack


@pytest.fixture(scope="module")
def server(catalog: Stack) -> Iterator[ServerProcess]:
    process = ServerProcess(catalog.root).start()
    try:
        yield process
    finally:
        process.stop()


class Page(html.parser.HTMLParser):
    """Links, images, table rows and SVG paths of an HTML page."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.links: list[str] = []
        self.images: list[str] = []
        self.rows: dict[str, int] = {}
        self.paths = 0
        self._table: str | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "a" and values.get("href"):
            self.links.append(str(values["href"]))
        elif tag == "img":
            self.images.append(str(values["src"]))
        elif tag == "table":
            self._table = values.get("id")
        elif tag == "tr" and self._table:
            self.rows[self._table] = self.rows.get(self._table, 0) + 1
        elif tag == "path":
            self.paths += 1


def grd_count(catalog: Stack) -> int:
    return len(StaticCatalog(catalog.root, create=False).item_ids("sentinel-1-grd"))


def test_catalog_collection_and_item_pages(server: ServerProcess, catalog: Stack):
    home = requests.get(server.url, timeout=10)
    assert home.url == f"{server.url}/browse/" and "text/html" in home.headers["content-type"]
    page = Page(home.text)
    assert page.rows["collections"] == 1 + 5  # header + one row per collection
    assert f"{server.url}/stac" in page.links or "/stac" in page.links

    ard = Page(requests.get(f"{server.url}/browse/collections/s1-ard", timeout=10).text)
    assert ard.rows["items"] == 1 + 4 and ard.paths == 4  # one footprint per item
    assert len(ard.images) == 4  # previews rendered from the COGs
    preview = requests.get(ard.images[0], timeout=10)
    assert preview.headers["content-type"] == "image/png"
    rgba = matplotlib.image.imread(io.BytesIO(preview.content))
    with rasterio.open(catalog.root / "s1-ard" / "ard-0" / "ard-0_vv.tif") as dataset:
        data = dataset.read(1)
    assert rgba.shape[:2] == data.shape
    np.testing.assert_array_equal(rgba[..., 3] == 0, np.isnan(data))  # no-data transparent

    item_url = next(link for link in ard.links if link.endswith("/items/ard-2"))
    item = Page(requests.get(item_url, timeout=10).text)
    assert item.rows["assets"] == 1 + 2 and item.paths == 1
    for link in item.links:
        if "/assets/" in link:
            response = requests.get(link, timeout=10)
            assert response.status_code == 200 and response.content[:2] == b"II"
    assert requests.get(f"{server.url}/browse/collections/nope", timeout=10).status_code == 404
    assert requests.get(f"{item_url}x", timeout=10).status_code == 404


def test_grd_pages_show_footprints_and_quick_looks(server: ServerProcess, catalog: Stack):
    if grd_count(catalog) == 0:
        pytest.skip("shared GRD products not available")
    grd = Page(requests.get(f"{server.url}/browse/collections/sentinel-1-grd", timeout=10).text)
    assert grd.rows["items"] == 1 + len(GRD_KEYS) and grd.paths == len(GRD_KEYS)
    quick_look = requests.get(grd.images[0], timeout=10)
    assert quick_look.status_code == 200
    item = StaticCatalog(catalog.root, create=False).items("sentinel-1-grd")
    href = next(iter(item)).assets["quick-look"].href
    archive, member = href.removeprefix("zip+file://").split("!/")
    with zipfile.ZipFile(archive) as source:
        assert quick_look.content == source.read(member)  # the product's own quick-look


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("Chromium is not installed (Debian: apt-get install chromium)")


def run_chromium(*args: str) -> subprocess.CompletedProcess[str]:
    command = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--virtual-time-budget=5000",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


def test_pages_in_headless_chromium(server: ServerProcess, catalog: Stack):
    collection = "sentinel-1-grd" if grd_count(catalog) else "s1-ard"
    url = f"{server.url}/browse/collections/{collection}"
    dom = Page(run_chromium("--dump-dom", url).stdout)
    assert dom.rows["items"] > 1 and dom.paths == dom.rows["items"] - 1
    assert dom.images and all(src.startswith(server.url) for src in dom.images)

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for name, page in (
        ("collection", url),
        ("item", f"{server.url}/browse/collections/s1-ard/items/ard-0"),
    ):
        screenshot = ARTIFACTS / f"browse-{name}.png"
        screenshot.unlink(missing_ok=True)
        run_chromium(f"--screenshot={screenshot}", "--window-size=1280,1000", page)
        image = matplotlib.image.imread(screenshot)
        assert image.shape[:2] == (1000, 1280)
        assert image[..., :3].std() > 0.05  # not a blank page
        print(f"screenshot: {screenshot}")
