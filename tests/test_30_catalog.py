"""Static STAC catalog, GRD STAC items and offline validation (catalog, stac_items, validation)."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import io
import json
import logging
import multiprocessing
import os
import pathlib
import socket
import time
import warnings
import zipfile

import numpy as np
import pystac
import pytest
import rasterio
import rasterio.warp
import shapely
import shapely.geometry
from affine import Affine
from lxml import etree
from pystac.validation import RegisteredValidator
from pystac.validation.stac_validator import GetSchemaError

from s1stac import catalog as catalog_module
from s1stac.catalog import COLLECTIONS, StaticCatalog, load_collection
from s1stac.errors import CatalogError
from s1stac.stac_items import EXTENSION_SCHEMAS, GRD_COLLECTION, extension_urls
from s1stac.validation import (
    SCHEMAS_ENV,
    OfflineSTACValidator,
    find_schemas_dir,
    mirror_index,
    validate_dict,
    validate_object,
)

REPO = pathlib.Path(__file__).resolve().parents[1]
UTC = dt.UTC


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test here must work offline: refuse any socket connection."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("network access attempted in an offline test")

    monkeypatch.setattr(socket.socket, "connect", refuse)


def ard_item(
    item_id: str,
    folder: pathlib.Path | None,
    *,
    west: float = 12.0,
    south: float = 41.0,
    day: int = 1,
    relative_orbit: int = 117,
) -> pystac.Item:
    """Small derived-level item with one real (text) asset file in ``folder``."""
    bbox = [west, south, west + 0.5, south + 0.25]
    start = dt.datetime(2021, 3, day, 5, 11, 22, tzinfo=UTC)
    item = pystac.Item(
        id=item_id,
        geometry=shapely.geometry.mapping(shapely.box(*bbox)),
        bbox=bbox,
        datetime=start,
        properties={
            "platform": "sentinel-1b",
            "sar:polarizations": ["VV", "VH"],
            "sar:instrument_mode": "IW",
            "sat:orbit_state": "descending",
            "sat:relative_orbit": relative_orbit,
            "sat:absolute_orbit": 30000 + day,
            "processing:level": "L2",
        },
    )
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{item_id}_vv.txt"
        path.write_text(item_id)
        item.add_asset("vv", pystac.Asset(href=str(path), media_type="text/plain", roles=["data"]))
    item.stac_extensions = extension_urls(item.to_dict(include_self_link=False), "s1-ard")
    return item


def read_all_json(root: pathlib.Path) -> dict[str, dict[str, object]]:
    return {
        str(p.relative_to(root)): json.loads(p.read_text()) for p in sorted(root.rglob("*.json"))
    }


# ---------------------------------------------------------------------------------------------
# validation


def test_schema_folder_lookup(
    tmp_path: pathlib.Path, schemas_dir: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SCHEMAS_ENV, str(schemas_dir))
    assert find_schemas_dir() == schemas_dir.resolve()
    monkeypatch.setenv(SCHEMAS_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(CatalogError, match=SCHEMAS_ENV):
        find_schemas_dir()
    with pytest.raises(CatalogError, match="schemas_dir"):
        find_schemas_dir(tmp_path / "nowhere")


def test_every_emitted_schema_url_is_mirrored(schemas_dir: pathlib.Path) -> None:
    index = mirror_index(schemas_dir)
    for url in EXTENSION_SCHEMAS.values():
        assert url in index, url
        assert (schemas_dir / index[url]).is_file()


def test_validate_dict_reports_all_errors(schemas_dir: pathlib.Path) -> None:
    document = ard_item("x", None).to_dict(include_self_link=False)
    assert validate_dict(document, schemas_dir) == []
    document = json.loads(json.dumps(document))
    document["properties"]["start_datetime"] = "2021-03-01 05:11:22"  # no T, no zone
    document["properties"]["sar:polarizations"] = ["XX"]
    document["stac_extensions"].append("https://example.com/unknown/v1.0.0/schema.json")
    errors = validate_dict(document, schemas_dir)
    text = "\n".join(errors)
    assert "end_datetime" in text  # start_datetime requires end_datetime
    assert "is not a 'date-time'" in text
    assert "'XX' is not one of" in text
    assert "unknown/v1.0.0/schema.json: schema not in the offline mirror" in text
    assert validate_dict(document, schemas_dir, check_formats=False) != []


def test_offline_pystac_validator_leaves_global_alone(schemas_dir: pathlib.Path) -> None:
    before = RegisteredValidator._validator
    item = ard_item("x", None)
    urls = validate_object(item, schemas_dir=schemas_dir)
    assert urls[0].endswith("v1.1.0/item-spec/json-schema/item.json")
    assert EXTENSION_SCHEMAS["sar"] in urls
    item.stac_extensions.append("https://example.com/unknown/v1.0.0/schema.json")
    with pytest.raises(GetSchemaError, match="not in the offline mirror"):
        item.validate(validator=OfflineSTACValidator(schemas_dir))
    assert RegisteredValidator._validator is before


# ---------------------------------------------------------------------------------------------
# catalog skeleton


def test_skeleton_validates_and_reads_with_pystac(
    tmp_path: pathlib.Path, schemas_dir: pathlib.Path
) -> None:
    cat = StaticCatalog(tmp_path / "cat")
    assert cat.validate(schemas_dir) == 1 + len(COLLECTIONS)
    root = pystac.Catalog.from_file(str(tmp_path / "cat" / "catalog.json"))
    collections = {c.id: c for c in root.get_collections()}
    assert sorted(collections) == sorted(
        ["sentinel-1-grd", "s1-ard", "s1-timeseries", "s1-timescan", "s1-mosaic"]
    )
    grd = collections[GRD_COLLECTION]
    assert grd.license == "other"
    assert any(link.rel == "license" for link in grd.links)
    assert grd.extent.spatial.bboxes == [[-180.0, -90.0, 180.0, 90.0]]
    assert grd.extent.temporal.intervals[0][1] is None
    assert [p.roles for p in collections["s1-ard"].providers or []] == [
        ["producer", "licensor"],
        ["processor"],
    ]
    for path in (tmp_path / "cat").rglob("*.json"):
        assert "self" not in {link["rel"] for link in json.loads(path.read_text())["links"]}


def test_committed_skeleton_is_what_the_code_writes(
    tmp_path: pathlib.Path, schemas_dir: pathlib.Path
) -> None:
    committed = REPO / "catalog"
    StaticCatalog(tmp_path)
    generated = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.json"))
    assert len(generated) == 1 + len(COLLECTIONS)
    for relpath in generated:
        mine, theirs = (committed / relpath).read_bytes(), (tmp_path / relpath).read_bytes()
        if b'"rel": "item"' in mine:  # items registered since: compare the fixed part only
            varying = ("links", "extent", "summaries", "stac_extensions")
            mine_doc, theirs_doc = json.loads(mine), json.loads(theirs)
            for key in varying:
                mine_doc.pop(key), theirs_doc.pop(key, None)
            assert mine_doc == theirs_doc, relpath
        else:
            assert mine == theirs, relpath
    assert StaticCatalog(committed, create=False).validate(schemas_dir) >= len(generated)
    assert not (committed / ".catalog.lock").exists()


def test_open_without_create_and_repairs(tmp_path: pathlib.Path) -> None:
    with pytest.raises(CatalogError, match="catalog.json missing"):
        StaticCatalog(tmp_path / "none", create=False)
    StaticCatalog(tmp_path)
    (tmp_path / "s1-mosaic" / "collection.json").unlink()
    StaticCatalog.open_or_create(tmp_path)
    assert (tmp_path / "s1-mosaic" / "collection.json").is_file()
    children = [
        link
        for link in json.loads((tmp_path / "catalog.json").read_text())["links"]
        if link["rel"] == "child"
    ]
    assert len(children) == len(COLLECTIONS)


# ---------------------------------------------------------------------------------------------
# adding items


def test_add_items_relative_links_extent_and_idempotency(
    tmp_path: pathlib.Path, schemas_dir: pathlib.Path
) -> None:
    outside, tmp_path = tmp_path / "outside", tmp_path / "cat"
    cat = StaticCatalog(tmp_path, schemas_dir=schemas_dir)
    a = ard_item("a", tmp_path / "s1-ard" / "a", day=1)
    b = ard_item("b", outside / "b", west=13.0, day=13, relative_orbit=44)
    cat.add_items("s1-ard", [a, b], validate=True)
    assert cat.item_ids("s1-ard") == ["a", "b"]
    written = json.loads((tmp_path / "s1-ard" / "a" / "a.json").read_text())
    assert written["assets"]["vv"]["href"] == "./a_vv.txt"  # inside the catalog: relative
    assert written["collection"] == "s1-ard"
    assert {link["rel"]: link["href"] for link in written["links"]} == {
        "root": "../../catalog.json",
        "parent": "../collection.json",
        "collection": "../collection.json",
    }
    other = json.loads((tmp_path / "s1-ard" / "b" / "b.json").read_text())
    assert other["assets"]["vv"]["href"] == str(outside / "b" / "b_vv.txt")  # outside: absolute

    collection = json.loads((tmp_path / "s1-ard" / "collection.json").read_text())
    assert collection["extent"]["spatial"]["bbox"] == [[12.0, 41.0, 13.5, 41.25]]
    assert collection["extent"]["temporal"]["interval"] == [
        ["2021-03-01T05:11:22Z", "2021-03-13T05:11:22Z"]
    ]
    assert collection["summaries"]["sat:relative_orbit"] == [44, 117]
    assert collection["summaries"]["sar:polarizations"] == ["VH", "VV"]
    assert collection["summaries"]["sat:absolute_orbit"] == {"minimum": 30001, "maximum": 30013}
    assert EXTENSION_SCHEMAS["sat"] in collection["stac_extensions"]

    # re-ingest "a" moved east: replaced, no duplicate link, extent follows
    cat.add_items("s1-ard", [ard_item("a", tmp_path / "s1-ard" / "a", west=14.0)])
    links = [link["href"] for link in cat._item_links("s1-ard")]
    assert links == ["./a/a.json", "./b/b.json"]
    collection = json.loads((tmp_path / "s1-ard" / "collection.json").read_text())
    assert collection["extent"]["spatial"]["bbox"] == [[13.0, 41.0, 14.5, 41.25]]
    assert cat.get_item("s1-ard", "a").bbox == [14.0, 41.0, 14.5, 41.25]

    # items() yields items whose relative hrefs resolve
    hrefs = {i.id: i.assets["vv"].get_absolute_href() for i in cat.items("s1-ard")}
    assert hrefs["a"] == str(tmp_path / "s1-ard" / "a" / "a_vv.txt")
    assert cat.validate(schemas_dir) == 1 + len(COLLECTIONS) + 2

    cat.remove_item("s1-ard", "b")
    assert cat.item_ids("s1-ard") == ["a"]
    assert not (tmp_path / "s1-ard" / "b" / "b.json").exists()
    collection = json.loads((tmp_path / "s1-ard" / "collection.json").read_text())
    assert collection["summaries"]["sat:relative_orbit"] == [117]
    with pytest.raises(CatalogError, match="no item 'b'"):
        cat.get_item("s1-ard", "b")
    cat.remove_item("s1-ard", "a", delete_files=True)
    assert not (tmp_path / "s1-ard" / "a").exists()
    collection = json.loads((tmp_path / "s1-ard" / "collection.json").read_text())
    assert collection["extent"]["spatial"]["bbox"] == [[-180.0, -90.0, 180.0, 90.0]]
    assert cat.validate(schemas_dir) == 1 + len(COLLECTIONS)


def test_missing_asset_is_refused_and_nothing_written(tmp_path: pathlib.Path) -> None:
    cat = StaticCatalog(tmp_path)
    before = read_all_json(tmp_path)
    good = ard_item("good", tmp_path / "s1-ard" / "good")
    bad = ard_item("bad", tmp_path / "s1-ard" / "bad")
    (tmp_path / "s1-ard" / "bad" / "bad_vv.txt").unlink()
    with pytest.raises(CatalogError, match=r"'bad'.*do not exist.*vv: .*bad_vv.txt"):
        cat.add_items("s1-ard", [good, bad])
    assert read_all_json(tmp_path) == before
    relative = ard_item("rel", None)
    relative.add_asset("vv", pystac.Asset(href="./rel_vv.tif", roles=["data"]))
    with pytest.raises(CatalogError, match="rel_vv.tif"):
        cat.add_items("s1-ard", [relative])


def test_invalid_or_foreign_items_are_refused(
    tmp_path: pathlib.Path, schemas_dir: pathlib.Path
) -> None:
    cat = StaticCatalog(tmp_path, schemas_dir=schemas_dir)
    item = ard_item("bad", tmp_path / "x")
    item.properties["sat:relative_orbit"] = 0  # sat: minimum 1
    with pytest.raises(CatalogError, match="not valid STAC"):
        cat.add_items("s1-ard", [item])
    item = ard_item("cube", tmp_path / "x")
    item.properties["cube:dimensions"] = {}
    with pytest.raises(CatalogError, match="not part of collection 's1-ard'"):
        cat.add_items("s1-ard", [item])
    with pytest.raises(CatalogError, match="unknown collection"):
        cat.add_items("s1-nope", [ard_item("c", tmp_path / "x")])
    with pytest.raises(CatalogError, match="more than once"):
        cat.add_items("s1-ard", [ard_item("d", tmp_path / "x"), ard_item("d", tmp_path / "x")])
    assert cat.item_ids("s1-ard") == []


def _add_worker(root: str, ids: list[str]) -> list[str]:
    """Add items one by one, starting when every worker is ready (to maximise contention)."""
    cat = StaticCatalog(root)
    (pathlib.Path(root) / f"ready-{ids[0]}").touch()
    while not (pathlib.Path(root) / "go").exists():
        time.sleep(0.005)
    for item_id in ids:
        folder = pathlib.Path(root) / "s1-ard" / item_id
        cat.add_items("s1-ard", [ard_item(item_id, folder, west=float(len(item_id)))])
    return ids


def test_concurrent_writers(tmp_path: pathlib.Path, schemas_dir: pathlib.Path) -> None:
    jobs = [[f"p{p}-{i}" for i in range(8)] + ["shared"] for p in range(4)]
    StaticCatalog(tmp_path)
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(len(jobs), mp_context=context) as pool:
        futures = [pool.submit(_add_worker, str(tmp_path), job) for job in jobs]
        deadline = time.monotonic() + 60
        while len(list(tmp_path.glob("ready-*"))) < len(jobs) and time.monotonic() < deadline:
            time.sleep(0.01)
        (tmp_path / "go").touch()
        done = [future.result(timeout=60) for future in futures]
    assert done == jobs
    cat = StaticCatalog(tmp_path)
    expected = sorted({i for job in jobs for i in job})
    assert cat.item_ids("s1-ard") == expected
    read_all_json(tmp_path)  # every file is complete JSON
    assert not list(tmp_path.rglob("*.tmp"))
    assert cat.validate(schemas_dir) == 1 + len(COLLECTIONS) + len(expected)


def test_crash_before_collection_write(
    tmp_path: pathlib.Path,
    schemas_dir: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cat = StaticCatalog(tmp_path)
    cat.add_items("s1-ard", [ard_item("old", tmp_path / "s1-ard" / "old")])
    write = catalog_module._write_json

    def crash_on_collection(path: pathlib.Path, obj: dict[str, object]) -> None:
        if path.name == "collection.json":
            raise OSError("simulated crash")
        write(path, obj)

    monkeypatch.setattr(catalog_module, "_write_json", crash_on_collection)
    new = [ard_item(f"new{i}", tmp_path / "s1-ard" / f"new{i}") for i in range(2)]
    with pytest.raises(OSError, match="simulated crash"):
        cat.add_items("s1-ard", new)
    assert (tmp_path / "s1-ard" / "new1" / "new1.json").is_file()  # item files came first
    assert cat.item_ids("s1-ard") == ["old"]  # ... but are not listed
    with caplog.at_level(logging.WARNING, logger="s1stac.catalog"):
        assert cat.validate(schemas_dir) == 1 + len(COLLECTIONS) + 1
    assert "unlisted item files ['new0/new0.json', 'new1/new1.json']" in caplog.text
    monkeypatch.setattr(catalog_module, "_write_json", write)
    cat.add_items("s1-ard", new)
    assert cat.item_ids("s1-ard") == ["new0", "new1", "old"]
    assert cat.validate(schemas_dir) == 1 + len(COLLECTIONS) + 3


def test_crash_inside_atomic_write(
    tmp_path: pathlib.Path, schemas_dir: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cat = StaticCatalog(tmp_path)
    replace = os.replace
    calls = []

    def crash_on_second(src: str, dst: str) -> None:
        calls.append(dst)
        if len(calls) == 2:
            raise OSError("simulated crash in os.replace")
        replace(src, dst)

    monkeypatch.setattr(catalog_module.os, "replace", crash_on_second)
    items = [ard_item(f"i{i}", tmp_path / "s1-ard" / f"i{i}") for i in range(3)]
    with pytest.raises(OSError, match="simulated crash"):
        cat.add_items("s1-ard", items)
    monkeypatch.setattr(catalog_module.os, "replace", replace)
    assert not list(tmp_path.rglob("*.tmp"))
    assert not (tmp_path / "s1-ard" / "i1" / "i1.json").exists()
    assert cat.item_ids("s1-ard") == []
    assert cat.validate(schemas_dir) == 1 + len(COLLECTIONS)
    cat.add_items("s1-ard", items)
    assert cat.item_ids("s1-ard") == ["i0", "i1", "i2"]


def test_validate_reports_asset_deleted_after_registration(
    tmp_path: pathlib.Path, schemas_dir: pathlib.Path
) -> None:
    cat = StaticCatalog(tmp_path)
    cat.add_items("s1-ard", [ard_item("a", tmp_path / "s1-ard" / "a")])
    (tmp_path / "s1-ard" / "a" / "a_vv.txt").unlink()
    with pytest.raises(CatalogError, match=r"asset 'vv' file missing: \./a_vv\.txt"):
        cat.validate(schemas_dir)


# ---------------------------------------------------------------------------------------------
# odc-stac load-back of a geocoded item


# NOTE: odc-geo multiplies Affine objects with `*`, which affine >= 3.1 flags as pending
# deprecation: a third-party warning, not ours.
@pytest.mark.filterwarnings("ignore:Use `@` matmul:PendingDeprecationWarning")
def test_load_collection_round_trips_pixels(
    tmp_path: pathlib.Path, schemas_dir: pathlib.Path
) -> None:
    pytest.importorskip("odc.stac")
    rng = np.random.default_rng(42)
    data = rng.normal(-12.0, 3.0, size=(48, 64)).astype("float32")
    data[:5, :7] = -9999.0
    transform = Affine(10.0, 0.0, 290000.0, 0.0, -10.0, 4640000.0)
    folder = tmp_path / "cat" / "s1-ard" / "cog"
    folder.mkdir(parents=True)
    cog = folder / "cog_vv.tif"
    profile = {"driver": "COG", "dtype": "float32", "count": 1, "height": 48, "width": 64}
    with rasterio.open(
        cog, "w", crs="EPSG:32633", transform=transform, nodata=-9999.0, **profile
    ) as ds:
        ds.write(data, 1)
        bounds = ds.bounds
    lonlat = rasterio.warp.transform_bounds("EPSG:32633", "EPSG:4326", *bounds)
    item = pystac.Item(
        id="cog",
        geometry=shapely.geometry.mapping(shapely.box(*lonlat)),
        bbox=list(lonlat),
        datetime=dt.datetime(2021, 3, 1, 5, 11, 22, tzinfo=UTC),
        properties={
            "proj:code": "EPSG:32633",
            "proj:shape": [48, 64],
            "proj:transform": list(transform)[:6],
            "sar:polarizations": ["VV"],
        },
    )
    item.add_asset(
        "vv",
        pystac.Asset(
            href=str(cog),
            media_type=pystac.MediaType.COG,
            roles=["data", "gamma0"],
            extra_fields={"data_type": "float32", "nodata": -9999.0, "unit": "1"},
        ),
    )
    item.stac_extensions = extension_urls(item.to_dict(include_self_link=False), "s1-ard")
    cat = StaticCatalog(tmp_path / "cat", schemas_dir=schemas_dir)
    cat.add_items("s1-ard", [item], validate=True)
    assert cat.get_item("s1-ard", "cog").assets["vv"].href == "./cog_vv.tif"

    dataset = load_collection(tmp_path / "cat", "s1-ard", bands=["vv"])
    assert dataset.vv.shape == (1, 48, 64)
    assert dataset.odc.crs.epsg == 32633
    np.testing.assert_array_equal(dataset.vv.isel(time=0).values, data)
    assert dataset.vv.attrs["nodata"] == -9999.0
    assert float(dataset.x[0]) == 290005.0 and float(dataset.y[0]) == 4639995.0
    with pytest.raises(CatalogError, match="no items"):
        load_collection(tmp_path / "cat", "s1-mosaic")


# ---------------------------------------------------------------------------------------------
# GRD items of the real products


def _member_bytes(product: pathlib.Path, href: str) -> bytes:
    """Read a product file (path relative to the SAFE folder, or href) without s1stac."""
    relpath = href.split(".SAFE/", 1)[-1]
    if product.is_dir():
        return (product / relpath).read_bytes()
    with zipfile.ZipFile(product) as archive:
        return archive.read(f"{product.stem}.SAFE/{relpath}")


def _manifest_reference(product: pathlib.Path) -> dict[str, object]:
    root = etree.fromstring(_member_bytes(product, "manifest.safe"))

    def text(name: str, **attrs: str) -> str:
        cond = "".join(f" and @{k}='{v}'" for k, v in attrs.items())
        return str(root.xpath(f"string(//*[local-name()='{name}'{cond}])"))

    coordinates = text("coordinates").split()
    lat_lon = [tuple(float(v) for v in pair.split(",")) for pair in coordinates]
    processing = root.xpath("//*[local-name()='processing']")[0]
    software = processing.xpath("./*[local-name()='facility']/*[local-name()='software']")[0]
    return {
        "footprint": shapely.Polygon([(lon, lat) for lat, lon in lat_lon]),
        "sar:instrument_mode": text("mode"),
        "sar:polarizations": [
            str(e.text) for e in root.xpath("//*[local-name()='transmitterReceiverPolarisation']")
        ],
        "sar:product_type": text("productType"),
        "sat:orbit_state": text("pass").lower(),
        "sat:absolute_orbit": int(text("orbitNumber", type="start")),
        "sat:relative_orbit": int(text("relativeOrbitNumber", type="start")),
        # early manifests carry the placeholder 0000-000A: COSPAR ids of S1A / S1B
        "sat:platform_international_designator": text("nssdcIdentifier").replace(
            "0000-000A", {"A": "2014-016A", "B": "2016-025A"}[text("number")]
        ),
        "platform": f"sentinel-1{text('number').lower()}",
        "processing:facility": processing.xpath("./*[local-name()='facility']/@name")[0],
        "processing:software": {software.get("name"): software.get("version")},
        "processing:datetime": processing.get("stop")[:19],
        "s1:datatake_id": int(text("missionDataTakeID")),
        "start": text("startTime"),
        "stop": text("stopTime"),
    }


@pytest.fixture(scope="module")
def grd_items(real_products: dict[str, pathlib.Path]) -> dict[str, pystac.Item]:
    from s1stac.safe import open_product
    from s1stac.stac_items import grd_item

    return {key: grd_item(open_product(path)) for key, path in real_products.items()}


@pytest.mark.parametrize("key", ["CEAB", "3768", "FEC3", "6D00", "5371", "ECC8"])
def test_grd_item_matches_manifest_and_annotation(
    key: str,
    real_products: dict[str, pathlib.Path],
    grd_items: dict[str, pystac.Item],
    schemas_dir: pathlib.Path,
) -> None:
    path, item = real_products[key], grd_items[key]
    ref = _manifest_reference(path)
    props = item.properties
    assert item.id == path.stem == path.name.split(".")[0]
    assert validate_dict(item.to_dict(include_self_link=False), schemas_dir) == []
    assert set(item.stac_extensions) <= set(mirror_index(schemas_dir))

    footprint = shapely.geometry.shape(item.geometry)
    assert footprint.equals(ref["footprint"])
    assert footprint.exterior.is_ccw
    assert item.bbox == list(ref["footprint"].bounds)
    for field in (
        "sar:instrument_mode",
        "sar:polarizations",
        "sar:product_type",
        "sat:orbit_state",
        "sat:absolute_orbit",
        "sat:relative_orbit",
        "sat:platform_international_designator",
        "platform",
        "processing:facility",
        "processing:software",
        "s1:datatake_id",
    ):
        assert props[field] == ref[field], field
    assert props["processing:datetime"].startswith(ref["processing:datetime"])
    assert props["s1:product_unique_id"] == key
    start = dt.datetime.fromisoformat(ref["start"]).replace(tzinfo=UTC)
    stop = dt.datetime.fromisoformat(ref["stop"]).replace(tzinfo=UTC)
    assert props["start_datetime"] == pystac.utils.datetime_to_str(start)
    assert props["end_datetime"] == pystac.utils.datetime_to_str(stop)
    assert abs(item.datetime - (start + (stop - start) / 2)) <= dt.timedelta(microseconds=1)
    assert props["constellation"] == "sentinel-1" and props["instruments"] == ["c-sar"]
    assert props["product:type"] == "IW_GRDH_1S" and props["processing:level"] == "L1"

    annotation = etree.fromstring(_member_bytes(path, item.assets["annotation-vv"].href))
    radar_frequency = float(annotation.xpath("string(//radarFrequency)"))
    assert props["sar:center_frequency"] == pytest.approx(radar_frequency / 1e9, abs=1e-6)
    assert props["sar:center_frequency"] == pytest.approx(5.405, abs=1e-4)
    mid_swath = float(annotation.xpath("string(//imageInformation/incidenceAngleMidSwath)"))
    assert props["view:incidence_angle"] == pytest.approx(mid_swath, abs=1e-9)
    # IW GRDH row of the Product Definition table, cross-checked with the annotation spacing
    assert props["sar:pixel_spacing_range"] == pytest.approx(
        float(annotation.xpath("string(//imageInformation/rangePixelSpacing)")), abs=0.01
    )
    assert props["sar:pixel_spacing_azimuth"] == pytest.approx(
        float(annotation.xpath("string(//imageInformation/azimuthPixelSpacing)")), abs=0.01
    )
    assert (props["sar:resolution_range"], props["sar:resolution_azimuth"]) == (20, 22)
    assert (props["sar:looks_range"], props["sar:looks_azimuth"]) == (5, 1)
    assert props["sar:looks_equivalent_number"] == 4.4
    assert props["sar:beam_ids"] == ["IW1", "IW2", "IW3"]


def test_grd_item_assets(
    real_products: dict[str, pathlib.Path], grd_items: dict[str, pystac.Item]
) -> None:
    with zipfile.ZipFile(real_products["CEAB"]) as archive:
        members = {i.filename: i.file_size for i in archive.infolist()}
    ceab = grd_items["CEAB"]
    assert sorted(ceab.assets) == sorted(
        ["manifest", "quick-look", "archive"]
        + [
            f"{kind}-{pol}"
            for kind in ("annotation", "calibration", "noise")
            for pol in "vv vh".split()
        ]
    )
    for key, asset in ceab.assets.items():
        if key == "archive":
            assert asset.href == str(real_products["CEAB"])
            assert asset.extra_fields["file:size"] == real_products["CEAB"].stat().st_size
            continue
        archive_path, member = asset.href.removeprefix("zip+file://").split("!/")
        assert archive_path == str(real_products["CEAB"])
        assert asset.extra_fields["file:size"] == members[member]
    assert ceab.assets["noise-vh"].extra_fields["sar:polarizations"] == ["VH"]
    assert ceab.assets["quick-look"].roles == ["overview", "thumbnail"]

    ecc8 = grd_items["ECC8"]  # annotation and VV measurement only
    assert sorted(ecc8.assets) == ["annotation-vh", "annotation-vv", "manifest", "vv"]
    vv = grd_items["5371"].assets["vv"]
    assert vv.roles == ["data", "amplitude"] and vv.media_type == "image/tiff; application=geotiff"
    assert vv.extra_fields["sar:polarizations"] == ["VV"]
    assert vv.extra_fields["file:size"] == pathlib.Path(vv.href).stat().st_size


def test_grd_asset_hrefs_open_with_rasterio(
    real_products: dict[str, pathlib.Path], grd_items: dict[str, pystac.Item]
) -> None:
    from PIL import Image

    member = grd_items["FEC3"].assets["quick-look"].href.split("!/")[1]
    with zipfile.ZipFile(real_products["FEC3"]) as archive:
        reference = np.asarray(Image.open(io.BytesIO(archive.read(member))).convert("RGB"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)  # a PNG
        with rasterio.open(grd_items["FEC3"].assets["quick-look"].href) as ds:
            pixels = ds.read()
    np.testing.assert_array_equal(np.moveaxis(pixels, 0, -1), reference)

    annotation = etree.fromstring(
        _member_bytes(real_products["5371"], grd_items["5371"].assets["annotation-vv"].href)
    )
    lines = int(annotation.xpath("string(//imageInformation/numberOfLines)"))
    samples = int(annotation.xpath("string(//imageInformation/numberOfSamples)"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)  # blanked TIFF
        with rasterio.open(grd_items["5371"].assets["vv"].href) as ds:
            assert (ds.height, ds.width, ds.dtypes[0]) == (lines, samples, "uint16")


def test_grd_items_in_catalog(
    tmp_path: pathlib.Path, grd_items: dict[str, pystac.Item], schemas_dir: pathlib.Path
) -> None:
    from s1stac.stac_items import product_path

    cat = StaticCatalog(tmp_path, schemas_dir=schemas_dir)
    cat.add_items(GRD_COLLECTION, grd_items.values(), validate=True)
    cat.add_items(GRD_COLLECTION, [grd_items["CEAB"]])  # re-ingest
    assert cat.validate() == 1 + len(COLLECTIONS) + len(grd_items)
    collection = json.loads((tmp_path / GRD_COLLECTION / "collection.json").read_text())
    index = mirror_index(schemas_dir)
    assert set(collection["stac_extensions"]) <= set(index)
    summaries = collection["summaries"]
    assert summaries["platform"] == ["sentinel-1a", "sentinel-1b"]
    assert summaries["sat:orbit_state"] == ["ascending", "descending"]
    assert summaries["sat:relative_orbit"] == sorted(
        {i.properties["sat:relative_orbit"] for i in grd_items.values()}
    )
    bounds = shapely.union_all(
        [shapely.geometry.shape(i.geometry) for i in grd_items.values()]
    ).bounds
    assert collection["extent"]["spatial"]["bbox"] == [list(bounds)]
    assert collection["extent"]["temporal"]["interval"] == [
        [
            grd_items["FEC3"].properties["start_datetime"],
            grd_items["5371"].properties["end_datetime"],
        ]
    ]
    stored = {i.id[-4:]: i for i in cat.items(GRD_COLLECTION)}
    assert sorted(stored) == sorted(grd_items)
    assert (
        stored["CEAB"].assets["annotation-vv"].href
        == grd_items["CEAB"].assets["annotation-vv"].href
    )
    assert product_path(stored["CEAB"]) == pathlib.Path(grd_items["CEAB"].assets["archive"].href)
    assert product_path(stored["5371"]).name.endswith("_5371.SAFE")
