"""Inventory: STAC items of real products, duplicates, tracks, acquisitions, AOI, coverage, map.

References are independent of the code under test: the products' own ``manifest.safe`` (parsed
here with lxml), geodesic areas from ``pyproj.Geod`` for coverage fractions, and hand-built
STAC items for the refinement rules.
"""

from __future__ import annotations

import datetime as dt
import functools
import http.server
import json
import logging
import pathlib
import threading
import zipfile
from collections.abc import Iterator
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pystac
import pytest
import shapely
from lxml import etree

from s1stac.aoi import area_km2, read_aoi
from s1stac.catalog import StaticCatalog
from s1stac.errors import AoiError, CatalogError, ParameterError, ProductError
from s1stac.inventory import (
    ORBIT_PERIOD,
    coverage,
    drop_duplicates,
    find_duplicates,
    group_acquisitions,
    group_tracks,
    inventory,
    items_to_geodataframe,
    refine,
    scan_products,
)
from s1stac.plotting import plot_inventory
from s1stac.stac_search import search_stac

NS = {
    "safe": "http://www.esa.int/safe/sentinel-1.0",
    "s1": "http://www.esa.int/safe/sentinel-1.0/sentinel-1",
    "s1sarl1": "http://www.esa.int/safe/sentinel-1.0/sentinel-1/sar/level-1",
    "gml": "http://www.opengis.net/gml",
}
GEOD = pyproj.Geod(ellps="WGS84")
UNIT_BOX = shapely.box(0, 0, 1, 1)


# --- independent reference: the manifests --------------------------------------------------------


def _manifest_bytes(path: pathlib.Path) -> bytes:
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            name = next(n for n in archive.namelist() if n.endswith("manifest.safe"))
            return archive.read(name)
    return (path / "manifest.safe").read_bytes()


def manifest_facts(path: pathlib.Path) -> dict[str, Any]:
    """Read what the manifest says with XPath (no s1stac code involved)."""
    root = etree.fromstring(_manifest_bytes(path))

    def text(xpath: str) -> str:
        return str(root.xpath(f"string({xpath})", namespaces=NS)).strip()

    coords = [tuple(map(float, p.split(","))) for p in text("//gml:coordinates").split()]
    pols = [e.text for e in root.xpath("//s1sarl1:transmitterReceiverPolarisation", namespaces=NS)]
    processing = root.xpath("//safe:processing", namespaces=NS)[0]
    return {
        "direction": text("//s1:pass"),
        "pols": pols,
        "relative_orbit": int(text("//safe:relativeOrbitNumber[@type='start']")),
        "absolute_orbit": int(text("//safe:orbitNumber[@type='start']")),
        "datatake": int(text("//s1sarl1:missionDataTakeID")),
        "slice": int(text("//s1sarl1:sliceNumber")),
        "processing_stop": pd.Timestamp(processing.get("stop"), tz="UTC"),
        "start": pd.Timestamp(text("//safe:startTime"), tz="UTC"),
        "footprint": shapely.Polygon([(lon, lat) for lat, lon in coords]),
    }


def geodesic_fraction(aoi: shapely.Geometry, footprints: list[shapely.Geometry]) -> float:
    """Covered fraction of the AOI with geodesic areas (lon/lat edges densified)."""

    def area(geometry: shapely.Geometry) -> float:
        return abs(GEOD.geometry_area_perimeter(shapely.segmentize(geometry, 0.01))[0])

    return area(aoi.intersection(shapely.union_all(footprints))) / area(aoi)


@pytest.fixture(scope="module")
def facts(real_products: dict[str, pathlib.Path]) -> dict[str, dict[str, Any]]:
    return {key: manifest_facts(path) for key, path in real_products.items()}


@pytest.fixture(scope="module")
def result(grd_dir: pathlib.Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    return inventory([grd_dir], catalog=tmp_path_factory.mktemp("catalog"))


def _id(real_products: dict[str, pathlib.Path], key: str) -> str:
    return real_products[key].name.removesuffix(".zip").removesuffix(".SAFE")


# --- hand-built items ----------------------------------------------------------------------------


def make_item(
    item_id: str,
    start: str,
    *,
    seconds: float = 25.0,
    direction: str = "ascending",
    relative_orbit: int = 117,
    datatake: int | None = 1,
    slice_number: int | None = None,
    geometry: shapely.Geometry = UNIT_BOX,
    processed: str | None = None,
    polarisations: tuple[str, ...] = ("VV", "VH"),
    platform: str = "sentinel-1a",
    extra: dict[str, Any] | None = None,
) -> pystac.Item:
    begin = dt.datetime.fromisoformat(start).replace(tzinfo=dt.UTC)
    end = begin + dt.timedelta(seconds=seconds)
    properties = {
        "start_datetime": begin.isoformat(),
        "end_datetime": end.isoformat(),
        "platform": platform,
        "sar:instrument_mode": "IW",
        "sar:polarizations": list(polarisations),
        "sar:product_type": "GRD",
        "product:type": "IW_GRDH_1S",
        "sat:orbit_state": direction,
        "sat:relative_orbit": relative_orbit,
        "sat:absolute_orbit": 1000,
        "s1:datatake_id": datatake,
        "s1:slice_number": slice_number,
        "s1:total_slices": 9,
        **({"processing:datetime": processed} if processed else {}),
        **(extra or {}),
    }
    return pystac.Item(
        item_id,
        shapely.geometry.mapping(geometry),
        list(geometry.bounds),
        begin + (end - begin) / 2,
        properties,
    )


# --- scanning, GeoDataFrame ----------------------------------------------------------------------


def test_scan_products(grd_dir: pathlib.Path, tmp_path: pathlib.Path) -> None:
    found = scan_products([grd_dir])
    assert sorted(p.name for p in found) == sorted(p.name for p in grd_dir.iterdir())
    nested = tmp_path / "a" / "b"
    (nested / "S1A_X.SAFE" / "measurement").mkdir(parents=True)
    (nested / "S1B_Y.zip").write_bytes(b"")
    (nested / "notes.zip").write_bytes(b"")
    names = [p.name for p in scan_products([tmp_path])]
    assert names == ["S1A_X.SAFE", "S1B_Y.zip"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(ProductError, match="no Sentinel-1 product"):
        scan_products([tmp_path / "empty"])
    with pytest.raises(ProductError, match="does not exist"):
        scan_products([tmp_path / "missing"])


def test_geodataframe_matches_manifests(
    result: Any, real_products: dict[str, pathlib.Path], facts: dict[str, dict[str, Any]]
) -> None:
    gdf = result.gdf.set_index("id")
    assert result.gdf.crs.to_epsg() == 4326
    assert len(gdf) == 6
    assert str(gdf["start"].dtype) == "datetime64[ns, UTC]"
    for key, fact in facts.items():
        row = gdf.loc[_id(real_products, key)]
        assert row["orbit_direction"] == fact["direction"]
        assert row["relative_orbit"] == row["track"] == fact["relative_orbit"]
        assert row["absolute_orbit"] == fact["absolute_orbit"]
        assert row["datatake_id"] == fact["datatake"]
        assert row["slice_number"] == fact["slice"]
        assert row["polarisation_mode"] == " ".join(fact["pols"])
        assert row["pol_key"] == "".join(fact["pols"])
        assert row["processing_time"] == fact["processing_stop"]
        assert abs((row["start"] - fact["start"]).total_seconds()) < 1e-6
        assert row["acquisition_date"] == fact["start"].strftime("%Y%m%d")
        assert row["product_unique_id"] == key
        assert row.geometry.equals(fact["footprint"])
        if key == "FEC3":  # an older processing of 6D00: not registered
            assert row["href"] is None
        else:
            assert pathlib.Path(row["href"]).is_file()


# --- duplicates, tracks, acquisitions ------------------------------------------------------------


def test_duplicates_keep_newest_processing(
    result: Any, real_products: dict[str, pathlib.Path], facts: dict[str, dict[str, Any]]
) -> None:
    old, new = _id(real_products, "FEC3"), _id(real_products, "6D00")
    assert facts["6D00"]["processing_stop"] > facts["FEC3"]["processing_stop"]
    assert facts["6D00"]["start"] != facts["FEC3"]["start"]  # shifted by the reprocessing
    assert find_duplicates(result.gdf) == {old: new}
    kept = drop_duplicates(result.gdf)
    assert len(kept) == 5 and old not in set(kept["id"]) and new in set(kept["id"])
    reversed_order = result.gdf.iloc[::-1]
    assert find_duplicates(reversed_order) == {old: new}
    assert result.refined.removed[old].endswith(new)


def test_catalog_holds_one_item_per_acquisition_slice(
    result: Any, real_products: dict[str, pathlib.Path], tmp_path: pathlib.Path
) -> None:
    old, new = _id(real_products, "FEC3"), _id(real_products, "6D00")
    registered = {item.id for item in result.items}
    assert len(registered) == 5 and old not in registered and new in registered
    # the older processing arriving later is not registered ...
    catalog = tmp_path / "catalog"
    inventory([real_products["6D00"]], catalog=catalog)
    inventory([real_products["FEC3"]], catalog=catalog)
    assert StaticCatalog(catalog).item_ids("sentinel-1-grd") == [new]
    # ... and a newer processing replaces an older one already registered
    catalog = tmp_path / "catalog2"
    inventory([real_products["FEC3"]], catalog=catalog)
    inventory([real_products["6D00"]], catalog=catalog)
    assert StaticCatalog(catalog).item_ids("sentinel-1-grd") == [new]
    assert not (catalog / "sentinel-1-grd" / old).exists()


def test_short_consecutive_slices_are_not_duplicates() -> None:
    # slices shorter than the duplicate tolerance: times alone cannot tell them apart
    items = [
        make_item("S4", "2021-03-10T17:05:26.0", seconds=0.5, slice_number=4),
        make_item("S5", "2021-03-10T17:05:26.5", seconds=0.5, slice_number=5),
    ]
    assert find_duplicates(items_to_geodataframe(items)) == {}


def test_duplicates_without_processing_time_lose() -> None:
    items = [
        make_item("A", "2020-01-01T10:00:00", processed="2020-01-01T12:00:00Z"),
        make_item("B", "2020-01-01T10:00:00.400"),
        make_item("C", "2020-01-01T10:00:25", slice_number=2),  # next slice: no duplicate
    ]
    assert find_duplicates(items_to_geodataframe(items)) == {"B": "A"}


def test_track_keys_from_manifests(result: Any, facts: dict[str, dict[str, Any]]) -> None:
    expected = {f"{f['direction']}_{''.join(f['pols'])}" for f in facts.values()}
    assert set(group_tracks(result.gdf)) == expected == {"ASCENDING_VVVH", "DESCENDING_VVVH"}
    assert set(result.refined.groups) == expected
    tracks = group_tracks(result.gdf)
    assert all((g["orbit_direction"] + "_" + g["pol_key"] == k).all() for k, g in tracks.items())
    assert sum(len(g) for g in tracks.values()) == 6


def test_slices_of_one_datatake_form_one_acquisition(
    result: Any, real_products: dict[str, pathlib.Path], facts: dict[str, dict[str, Any]]
) -> None:
    first, second = _id(real_products, "CEAB"), _id(real_products, "3768")
    assert facts["CEAB"]["datatake"] == facts["3768"]["datatake"]
    assert facts["3768"]["slice"] == facts["CEAB"]["slice"] + 1
    (acquisition,) = [a for a in result.acquisitions if first in a.item_ids]
    assert acquisition.item_ids == (first, second)
    assert acquisition.slice_numbers == (facts["CEAB"]["slice"], facts["3768"]["slice"])
    assert acquisition.acquisition_id == "S1A_117_20150222T170725"
    assert acquisition.key == "ASCENDING_VVVH" and acquisition.datatake_id == 24024
    union = shapely.union_all([facts["CEAB"]["footprint"], facts["3768"]["footprint"]])
    assert acquisition.footprint.symmetric_difference(union).area < 1e-9
    # five acquisitions in the shared data minus the merged slices and the duplicate
    assert len(result.acquisitions) == 4
    # independent of the input order
    shuffled = group_acquisitions(result.gdf.iloc[[3, 0, 5, 2, 4, 1]])
    assert [a.item_ids for a in shuffled if first in a.item_ids] == [(first, second)]


def test_acquisitions_cross_midnight_and_split_at_gaps(caplog: pytest.LogCaptureFixture) -> None:
    items = [
        make_item("s2", "2020-01-01T23:59:40", slice_number=2),
        make_item("s3", "2020-01-02T00:00:05", slice_number=3),
        make_item("s5", "2020-01-02T00:00:55", slice_number=5),  # slice 4 missing
        make_item("t1", "2020-01-05T10:00:00", datatake=7),
        make_item("t2", "2020-01-05T10:00:40", datatake=7),  # 15 s gap, no slice numbers
        make_item("t3", "2020-01-05T10:01:05", datatake=7),
        make_item("b1", "2020-01-05T10:00:00", datatake=7, platform="sentinel-1b"),
    ]
    with caplog.at_level(logging.WARNING, logger="s1stac.refinement"):
        acquisitions = group_acquisitions(items_to_geodataframe(items))
    groups = [a.item_ids for a in acquisitions]
    assert groups == [("s2", "s3"), ("s5",), ("t1",), ("b1",), ("t2", "t3")]
    assert [a.segment for a in acquisitions] == [1, 2, 1, 1, 2]
    assert acquisitions[0].date == "20200101"
    assert acquisitions[1].acquisition_id == "S1A_117_20200102T000055"
    assert "slice 3 is followed by slice 5" in caplog.text
    assert "15.0 s gap" in caplog.text


def test_equator_crossing_keeps_one_track() -> None:
    anx = pd.Timestamp("2020-01-01T00:00:00Z")
    north = anx + pd.Timedelta(minutes=5)
    south = (anx + ORBIT_PERIOD - pd.Timedelta(seconds=40)).floor(
        "s"
    )  # next ANX 15 s after the end

    def at(stamp: pd.Timestamp, **kwargs: Any) -> pystac.Item:
        return make_item(
            kwargs.pop("item_id"),
            stamp.tz_localize(None).isoformat(),
            extra={"sat:anx_datetime": anx.isoformat()},
            **kwargs,
        )

    items = [
        at(south, item_id="south", relative_orbit=175, slice_number=1),
        at(south + pd.Timedelta(seconds=25), item_id="cross", relative_orbit=175, slice_number=2),
        at(north, item_id="north", relative_orbit=1, slice_number=3, datatake=2),
        at(south, item_id="desc", relative_orbit=175, direction="descending", datatake=3),
        make_item(
            "no_anx", "2020-01-01T10:00:00", relative_orbit=40, geometry=shapely.box(0, -3, 2, -1)
        ),
    ]
    gdf = items_to_geodataframe(items).set_index("id")
    assert gdf.loc["south", "track"] == gdf.loc["cross", "track"] == gdf.loc["north", "track"] == 1
    assert gdf.loc["south", "relative_orbit"] == 175  # the ESA number stays in relative_orbit
    assert gdf.loc["desc", "track"] == 175
    assert gdf.loc["no_anx", "track"] == 41
    (pass_,) = [a for a in group_acquisitions(gdf.reset_index()) if "south" in a.item_ids]
    assert pass_.item_ids == ("south", "cross") and pass_.track == 1


# --- AOI -----------------------------------------------------------------------------------------


def test_read_aoi_forms(tmp_path: pathlib.Path) -> None:
    box = shapely.box(12.3, 41.8, 12.7, 42.0)
    assert read_aoi("12.3,41.8,12.7,42.0").equals(box)
    assert read_aoi(box.wkt).equals(box)
    assert read_aoi(json.dumps(shapely.geometry.mapping(box))).equals(box)
    feature = {"type": "Feature", "properties": {}, "geometry": shapely.geometry.mapping(box)}
    assert read_aoi(json.dumps({"type": "FeatureCollection", "features": [feature]})).equals(box)
    # a file in UTM: reprojected to lon/lat, two features united
    halves = gpd.GeoDataFrame(
        geometry=[shapely.box(12.3, 41.8, 12.5, 42.0), shapely.box(12.5, 41.8, 12.7, 42.0)],
        crs=4326,
    ).to_crs(32633)
    path = tmp_path / "aoi.gpkg"
    halves.to_file(path)
    from_file = read_aoi(path)
    assert isinstance(from_file, shapely.Polygon)
    assert from_file.symmetric_difference(box).area < 1e-3 * box.area
    assert read_aoi(str(path)).equals(from_file)
    geojson = tmp_path / "aoi.geojson"
    geojson.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    assert read_aoi(geojson).equals(box)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("POLYGON ((0 0, 1 0", "does not parse"),
        ("{not json", "does not parse"),
        ("1,2,0,3", "empty or inverted"),
        ("POINT (1 2)", "without area"),
        ("no-such-file.gpkg", "AOI file no-such-file.gpkg does not exist"),
        ("not an aoi", "neither an existing file"),
        ("0,0,1e6,1e6", "not longitude/latitude"),
    ],
)
def test_read_aoi_errors(value: str, message: str) -> None:
    with pytest.raises(AoiError, match=message):
        read_aoi(value)


def test_aoi_file_that_does_not_parse(tmp_path: pathlib.Path) -> None:
    broken = tmp_path / "broken.geojson"
    broken.write_text('{"type": "FeatureCollection", "features": [')
    with pytest.raises(AoiError, match="broken.geojson") as error:
        read_aoi(broken)
    assert "geopandas reads" in str(error.value)  # says which formats are accepted
    with pytest.raises(AoiError, match="broken.geojson"):
        read_aoi(str(broken))


def test_aoi_touching_no_product(grd_dir: pathlib.Path, tmp_path: pathlib.Path) -> None:
    with pytest.raises(AoiError, match="touches none of the 6 product") as error:
        inventory([grd_dir], catalog=tmp_path / "catalog", aoi="-60,-10,-59,-9")
    assert "aoi '-60,-10,-59,-9'" in str(error.value)
    assert not (tmp_path / "catalog").exists()


def test_inventory_with_aoi_and_coverage(
    grd_dir: pathlib.Path,
    tmp_path: pathlib.Path,
    real_products: dict[str, pathlib.Path],
    facts: dict[str, dict[str, Any]],
) -> None:
    aoi_text = "POLYGON ((11 49.5, 13 49.5, 13 51.5, 11 51.5, 11 49.5))"
    found = inventory([grd_dir], catalog=tmp_path / "c", aoi=aoi_text, plot=tmp_path / "map.png")
    ids = {_id(real_products, "CEAB"), _id(real_products, "3768")}
    assert set(found.gdf["id"]) == ids
    aoi = shapely.from_wkt(aoi_text)
    expected = geodesic_fraction(aoi, [facts["CEAB"]["footprint"], facts["3768"]["footprint"]])
    assert 0.3 < expected < 0.9
    by_acquisition = coverage(found.gdf, aoi)
    assert by_acquisition.to_dict() == pytest.approx(
        {"S1A_117_20150222T170725": expected}, rel=1e-3
    )
    assert coverage(found.gdf, aoi, by="track")["ASCENDING_117"] == pytest.approx(
        expected, rel=1e-3
    )
    for key in ("CEAB", "3768"):
        single = coverage(found.gdf, aoi, by="item")[_id(real_products, key)]
        assert single == pytest.approx(geodesic_fraction(aoi, [facts[key]["footprint"]]), rel=1e-3)
    # OST defaults: the one track covers too little of this AOI
    assert "ASCENDING_VVVH" in found.refined.skipped
    relaxed = refine(found.gdf, aoi, complete_coverage=False)
    assert relaxed.coverage["ASCENDING_VVVH"] == pytest.approx(expected, rel=1e-3)
    assert found.plot is not None and found.plot.stat().st_size > 10_000


def test_area_is_ground_area() -> None:
    # one square degree each (OST's unit), about twice the ground area at the equator
    for box in (shapely.box(0, 60, 1, 61), shapely.box(0, 0, 1, 1), shapely.box(20, -45, 21, -44)):
        geodesic = abs(GEOD.geometry_area_perimeter(shapely.segmentize(box, 0.01))[0]) / 1e6
        assert area_km2(box) == pytest.approx(geodesic, rel=1e-4)
    ratio = area_km2(shapely.box(0, 0, 1, 1)) / area_km2(shapely.box(0, 60, 1, 61))
    assert 1.95 < ratio < 1 / np.cos(np.radians(60.5))


# --- refinement rules on hand-built inventories --------------------------------------------------


def test_refine_marginal_tracks_removed_cumulatively() -> None:
    aoi = shapely.box(0, 0, 1, 1)
    items = [
        make_item(
            "x",
            "2020-01-01T10:00:00",
            relative_orbit=10,
            datatake=1,
            geometry=shapely.box(-1, -1, 2, 2),
        ),
        make_item(
            "y",
            "2020-01-02T10:00:00",
            relative_orbit=20,
            datatake=2,
            geometry=shapely.box(-1, -1, 2, 2),
        ),
        make_item(
            "z",
            "2020-01-03T10:00:00",
            relative_orbit=30,
            datatake=3,
            geometry=shapely.box(0.9, 0, 2, 1),
        ),
        make_item(
            "far",
            "2020-01-03T10:00:00",
            relative_orbit=40,
            datatake=4,
            geometry=shapely.box(5, 5, 6, 6),
        ),
    ]
    refined = refine(items_to_geodataframe(items), aoi)
    kept = refined.groups["ASCENDING_VVVH"]
    assert list(kept["id"]) == ["y"]  # z first (least cover), then x (tie broken by track number)
    assert refined.coverage["ASCENDING_VVVH"] == pytest.approx(1.0)
    assert (
        "marginal track 30" in refined.removed["z"] and "marginal track 10" in refined.removed["x"]
    )
    assert refined.removed["far"] == "does not touch the AOI"  # inner join
    everything = refine(items_to_geodataframe(items), aoi, exclude_marginal=False)
    assert list(everything.groups["ASCENDING_VVVH"]["id"]) == ["x", "y", "z"]


def test_refine_full_aoi_crossing_and_complete_coverage() -> None:
    aoi = shapely.box(0, 0, 1, 1)
    items = [
        make_item("full", "2020-01-01T10:00:00", datatake=1, geometry=shapely.box(-1, -1, 2, 2)),
        make_item("half", "2020-01-13T10:00:00", datatake=2, geometry=shapely.box(-1, 0.5, 2, 2)),
        make_item(
            "hh",
            "2020-01-02T10:00:00",
            datatake=3,
            polarisations=("HH",),
            geometry=shapely.box(0, 0, 0.5, 1),
        ),
    ]
    refined = refine(items_to_geodataframe(items), aoi)
    assert list(refined.groups["ASCENDING_VVVH"]["id"]) == ["full"]
    assert "full_aoi_crossing" in refined.removed["half"]
    assert "ASCENDING_HH" in refined.skipped and "50.0%" in refined.skipped["ASCENDING_HH"]
    loose = refine(
        items_to_geodataframe(items), aoi, full_aoi_crossing=False, complete_coverage=False
    )
    assert list(loose.groups["ASCENDING_VVVH"]["id"]) == ["full", "half"]
    assert loose.coverage["ASCENDING_HH"] == pytest.approx(0.5, abs=1e-3)
    no_aoi = refine(items_to_geodataframe(items), None)
    assert sum(len(g) for g in no_aoi.groups.values()) == 3 and not no_aoi.removed
    with pytest.raises(ParameterError, match="area_reduce"):
        refine(items_to_geodataframe(items), aoi, area_reduce=5.0)


def test_refine_mosaic_windows() -> None:
    aoi = shapely.box(0, 0, 2, 1)
    left, right = shapely.box(-0.5, -0.5, 1, 1.5), shapely.box(1, -0.5, 2.5, 1.5)

    def acq(item_id: str, day: int, track: int, geometry: shapely.Geometry) -> pystac.Item:
        start = f"2020-01-{day:02d}T10:00:00"
        return make_item(item_id, start, relative_orbit=track, datatake=day, geometry=geometry)

    items = [
        acq("L1", 1, 10, left), acq("L3", 3, 10, left), acq("R4", 4, 20, right),
        acq("R10", 10, 20, right), acq("L13", 13, 10, left), acq("R20", 20, 20, right),
    ]  # fmt: skip
    refined = refine(items_to_geodataframe(items), aoi, mosaic_refine=True)
    windows = refined.mosaics["ASCENDING_VVVH"]
    assert [(w.start.day, w.end.day) for w in windows] == [(1, 4), (10, 13)]
    assert [w.acquisition_ids for w in windows] == [
        ("S1A_010_20200103T100000", "S1A_020_20200104T100000"),
        ("S1A_020_20200110T100000", "S1A_010_20200113T100000"),
    ]
    assert list(refined.groups["ASCENDING_VVVH"]["id"]) == ["L3", "R4", "R10", "L13"]
    assert "mosaic_refine" in refined.removed["L1"] and "mosaic_refine" in refined.removed["R20"]


# --- map -----------------------------------------------------------------------------------------


def test_plot_inventory_png(result: Any, tmp_path: pathlib.Path) -> None:
    import matplotlib.image

    aoi = shapely.box(9, 46, 12, 51)
    out = plot_inventory(
        drop_duplicates(result.gdf), aoi, tmp_path / "sub" / "inventory.png", title="test"
    )
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    image = matplotlib.image.imread(out)[..., :3]
    white = np.all(image > 0.99, axis=-1).mean()
    assert 0.2 < white < 0.98
    # the first ascending and descending colours, 35 % opaque over white
    for colour in ("#1f77b4", "#d62728"):
        rgb = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)]) / 255
        fill = 0.35 * rgb + 0.65
        share = np.all(np.abs(image - fill) < 3 / 255, axis=-1).mean()
        assert share > 0.005, colour
    black = np.all(image < 0.05, axis=-1).mean()
    assert black > 0.001  # the AOI outline and the text


# --- STAC API and static catalogs over HTTP ------------------------------------------------------


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@pytest.fixture
def serve() -> Iterator[Any]:
    servers = []

    def start(handler: Any) -> str:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_static_catalog_over_http(
    result: Any,
    serve: Any,
    tmp_path: pathlib.Path,
    real_products: dict[str, pathlib.Path],
    caplog: pytest.LogCaptureFixture,
) -> None:
    root = pathlib.Path(result.gdf["href"].dropna().iloc[0]).parents[2]
    url = serve(functools.partial(_Quiet, directory=str(root))) + "/catalog.json"
    germany = read_aoi("8,48,13,53")
    with caplog.at_level(logging.WARNING, logger="s1stac.stac_search"):
        found = search_stac(url, collection="sentinel-1-grd", aoi=germany)
    assert "no /search endpoint" in caplog.text
    assert sorted(i.id for i in found) == sorted(_id(real_products, k) for k in ("3768", "CEAB"))
    dated = search_stac(
        url,
        collection="sentinel-1-grd",
        start=pd.Timestamp("2015-02-03", tz="UTC"),
        end=pd.Timestamp("2015-02-03T23:59:59", tz="UTC"),
    )
    assert [i.id for i in dated] == [_id(real_products, "6D00")]  # FEC3 was not registered
    with pytest.raises(CatalogError, match="no collection .nope."):
        search_stac(url, collection="nope")
    registered = inventory(
        stac_url=url, collection="sentinel-1-grd", catalog=tmp_path / "c", aoi="9.5,49.5,11,51.5",
        start=dt.date(2015, 2, 22), end=dt.date(2015, 2, 22),
    )  # fmt: skip
    (acquisition,) = registered.acquisitions
    assert registered.refined.coverage["ASCENDING_VVVH"] == pytest.approx(1.0, abs=1e-4)
    assert acquisition.item_ids == (_id(real_products, "CEAB"), _id(real_products, "3768"))
    assert all(pathlib.Path(h).is_file() for h in registered.gdf["href"])
    served = result.gdf.set_index("id").loc[list(registered.gdf["id"])]
    pd.testing.assert_series_equal(
        registered.gdf.set_index("id")["processing_time"], served["processing_time"]
    )


def _pc_style_item() -> dict[str, Any]:
    """Build a GRD item the way the Planetary Computer writes them (strings, upper case)."""
    footprint = shapely.box(9.0, 49.0, 12.0, 51.0)
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "stac_extensions": [
            "https://stac-extensions.github.io/sar/v1.0.0/schema.json",
            "https://stac-extensions.github.io/sat/v1.0.0/schema.json",
            "https://stac-extensions.github.io/projection/v1.1.0/schema.json",
        ],
        "id": "S1A_IW_GRDH_1SDV_20230628T210705_20230628T210730_049191_05EA4D_21D1",
        "geometry": shapely.geometry.mapping(footprint),
        "bbox": list(footprint.bounds),
        "properties": {
            "datetime": "2023-06-28T21:07:18.488895Z",
            "start_datetime": "2023-06-28 21:07:05.989235+00:00",
            "end_datetime": "2023-06-28 21:07:30.988556+00:00",
            "platform": "SENTINEL-1A",
            "sar:instrument_mode": "IW",
            "sar:frequency_band": "C",
            "sar:polarizations": ["VV", "VH"],
            "sar:product_type": "GRD",
            "sat:orbit_state": "descending",
            "sat:absolute_orbit": 49191,
            "sat:relative_orbit": 119,
            "s1:datatake_id": "387661",
            "s1:slice_number": "14",
            "s1:total_slices": "15",
            "proj:epsg": None,
        },
        "links": [{"rel": "self", "href": "https://example.invalid/items/x"}],
        "assets": {
            "vv": {
                "href": "https://example.invalid/measurement/iw-vv.tiff",
                "type": "image/tiff; application=geotiff; profile=cloud-optimized",
                "roles": ["data"],
            }
        },
    }


def test_stac_api_search(serve: Any, tmp_path: pathlib.Path) -> None:
    requests: list[dict[str, Any]] = []

    class Api(_Quiet):
        def _send(self, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802
            base = f"http://127.0.0.1:{self.server.server_address[1]}"
            self._send({
                "type": "Catalog", "id": "api", "description": "test API", "stac_version": "1.0.0",
                "conformsTo": [
                    "https://api.stacspec.org/v1.0.0/core",
                    "https://api.stacspec.org/v1.0.0/item-search",
                ],
                "links": [
                    {"rel": "self", "href": base + "/"}, {"rel": "root", "href": base + "/"},
                    {"rel": "search", "href": base + "/search", "method": "POST",
                     "type": "application/geo+json"},
                ],
            })  # fmt: skip

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers["Content-Length"])
            requests.append(json.loads(self.rfile.read(length)))
            self._send({"type": "FeatureCollection", "features": [_pc_style_item()], "links": []})

    url = serve(Api) + "/"
    found = inventory(
        stac_url=url, collection="sentinel-1-grd", catalog=tmp_path / "c",
        aoi="10,50,11,50.5", start="2023-06-01", end="2023-06-30",
    )  # fmt: skip
    (body,) = requests
    assert body["collections"] == ["sentinel-1-grd"]
    assert shapely.geometry.shape(body["intersects"]).equals(shapely.box(10, 50, 11, 50.5))
    assert body["datetime"] == "2023-06-01T00:00:00Z/2023-06-30T23:59:59.999999Z"
    (item,) = found.items
    p = item.properties
    assert p["platform"] == "sentinel-1a" and p["s1:datatake_id"] == 387661
    assert p["s1:slice_number"] == 14 and p["s1:product_unique_id"] == "21D1"
    assert p["start_datetime"] == "2023-06-28T21:07:05.989235Z" and "proj:epsg" not in p
    row = found.gdf.iloc[0]
    assert row["orbit_direction"] == "DESCENDING" and row["track"] == 119
    assert row["datatake_id"] == int("05EA4D", 16)
    written = json.loads(pathlib.Path(row["href"]).read_text())
    assert written["assets"]["vv"]["href"] == "https://example.invalid/measurement/iw-vv.tiff"
