"""Scenes and areas across the antimeridian: split footprints, STAC bboxes, AOIs, inventory.

The crossing product is the real 5371 product whose manifest footprint is moved in longitude
so that it straddles the 180th meridian (the reference: the same polygon unmoved, whose ground
area, latitudes and shape the split footprint must keep).
"""

from __future__ import annotations

import pathlib
import re
import shutil

import numpy as np
import pystac
import pytest
import rasterio
import rasterio.transform
import shapely

from s1stac import dateline
from s1stac.aoi import area_km2, equal_area_crs, read_aoi
from s1stac.ard import ArdOptions, process_ard
from s1stac.catalog import StaticCatalog
from s1stac.errors import AoiError, ParameterError
from s1stac.inventory import inventory
from s1stac.safe import open_product
from s1stac.stac_search import normalise_item

SAFE = "S1B_IW_GRDH_1SDV_20211223T051122_20211223T051147_030148_039993_5371.SAFE"


def _shifted(grd_dir: pathlib.Path, tmp_path: pathlib.Path) -> tuple[pathlib.Path, float]:
    """Copy of the product with its manifest footprint centred on lon 180; returns the shift."""
    copy = tmp_path / SAFE
    shutil.copytree(grd_dir / SAFE, copy, ignore=shutil.ignore_patterns("*.tiff"))
    manifest = copy / "manifest.safe"
    manifest.chmod(0o644)
    text = manifest.read_text()
    coords = re.search(r"<gml:coordinates>(.*?)</gml:coordinates>", text)
    assert coords is not None
    pairs = [tuple(float(v) for v in p.split(",")) for p in coords.group(1).split()]
    shift = 180.0 - sum(lon for _, lon in pairs) / len(pairs)

    def wrap(lon: float) -> float:
        return lon - 360.0 if lon > 180.0 else lon

    moved = " ".join(f"{lat},{wrap(lon + shift)}" for lat, lon in pairs)
    manifest.write_text(text.replace(coords.group(1), moved))
    return copy, shift


def test_crossing_footprint_is_split_and_keeps_its_area(
    grd_dir: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    copy, shift = _shifted(grd_dir, tmp_path)
    footprint = open_product(copy).manifest.footprint
    original = open_product(grd_dir / SAFE).manifest.footprint
    assert isinstance(footprint, shapely.MultiPolygon) and len(footprint.geoms) == 2
    assert dateline.is_split(footprint) and not dateline.is_split(original)
    assert footprint.bounds[1] == pytest.approx(original.bounds[1], abs=1e-9)
    assert footprint.bounds[3] == pytest.approx(original.bounds[3], abs=1e-9)
    # same ground area (split along great circles, moved in longitude only)
    assert area_km2(footprint) == pytest.approx(area_km2(original), rel=2e-3)
    west, south, east, north = dateline.bbox(footprint)
    assert west > east
    assert west == pytest.approx(original.bounds[0] + shift, abs=1e-9)
    assert east == pytest.approx(original.bounds[2] + shift - 360.0, abs=1e-9)
    operation = equal_area_crs(footprint).coordinate_operation
    assert operation is not None
    lon_0 = next(p.value for p in operation.params if "Longitude" in p.name)
    assert abs(abs(lon_0) - 180.0) < 0.1  # not lon 0 on the other side of the globe


def test_inventory_and_catalog_across_the_antimeridian(
    grd_dir: pathlib.Path, tmp_path: pathlib.Path, schemas_dir: pathlib.Path
) -> None:
    copy, _ = _shifted(grd_dir, tmp_path)
    footprint = open_product(copy).manifest.footprint
    south, north = footprint.bounds[1], footprint.bounds[3]
    middle = (south + north) / 2
    aoi = f"179.95,{middle - 0.05},-179.95,{middle + 0.05}"  # a box across the 180th
    result = inventory([copy, grd_dir / f"{SAFE[:-5]}.SAFE"], catalog=tmp_path / "c", aoi=aoi)
    (item,) = result.items  # the Rome product is far away: not kept
    # the AOI across the 180th is covered entirely (areas measured around lon 180)
    assert list(result.refined.coverage.values()) == [pytest.approx(1.0, abs=1e-6)]
    data = item.to_dict()
    assert data["geometry"]["type"] == "MultiPolygon"
    assert data["bbox"][0] > data["bbox"][2]
    store = StaticCatalog(tmp_path / "c")
    assert store.validate(schemas_dir) > 0
    extent = pystac.Collection.from_file(
        str(store.root / "sentinel-1-grd" / "collection.json")
    ).extent.spatial.bboxes[0]
    assert extent[0] > extent[2]  # the collection extent crosses too
    # an AOI on the other side of the globe finds nothing; one on the east half finds it
    with pytest.raises(AoiError, match=r"touches none.*across the antimeridian"):
        inventory([copy], catalog=tmp_path / "d", aoi=f"0,{south},1,{north}")
    east_only = inventory(
        [copy], catalog=tmp_path / "e", aoi=f"-179.99,{middle},-179.9,{middle + 0.01}"
    )
    assert [i.id for i in east_only.items] == [item.id]


def _hills(path: pathlib.Path, west: float, east: float, lon0: float) -> pathlib.Path:
    """DEM tile (EPSG:4326, ellipsoidal heights) of hills that move with ``lon0``."""
    step = 0.0003
    width, height = int(round((east - west) / step)), int(round(0.3 / step))
    lon = west + (np.arange(width) + 0.5) * step
    lat = 41.8 - (np.arange(height) + 0.5) * step
    rel = (lon - lon0 + 180.0) % 360.0 - 180.0
    z = 200 + 150 * np.outer(
        np.cos(2 * np.pi * (lat - 41.65) / 0.04), np.sin(2 * np.pi * rel / 0.05)
    )
    profile = {"driver": "GTiff", "width": width, "height": height, "count": 1}
    with rasterio.open(
        path, "w", **profile, dtype="float32", crs="EPSG:4326",
        transform=rasterio.transform.from_origin(west, 41.8, step, step),
    ) as dst:  # fmt: skip
        dst.write(z.astype("float32"), 1)
    return path


def test_ard_across_the_antimeridian_equals_the_same_scene_elsewhere(
    grd_dir: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    """The real product turned 168 degrees east (28 UTM zones) straddles the 180th meridian.

    Its ARD on UTM zone 1 must be the ARD of the unturned product on zone 33: same grid
    coordinates, same angles, areas and layover/shadow mask (the DEM tiles on each side of
    the antimeridian are the unturned DEM moved, warped by GDAL instead of s1stac's bilinear).
    """
    from _layouts import rotated_copy

    turned = rotated_copy(grd_dir / SAFE, tmp_path, 168.0)
    bands = ("local_incidence_angle", "ellipsoid_incidence_angle", "contributing_area", "mask")
    options = {"crs": "AUTO:42001", "dem_geoid": "none", "extra_bands": bands}
    here = process_ard(
        grd_dir / SAFE,
        ArdOptions(aoi=(11.97, 41.6, 12.07, 41.7), **options),
        dem=_hills(tmp_path / "dem.tif", 11.8, 12.3, 12.0),
    )
    across = process_ard(
        turned,
        ArdOptions(aoi=read_aoi("179.97,41.6,-179.93,41.7"), **options),
        dem=[
            _hills(tmp_path / "west.tif", 179.8, 180.0, 180.0),
            _hills(tmp_path / "east.tif", -180.0, -179.7, 180.0),
        ],
    )
    assert here.geobox.crs.epsg == 32633 and across.geobox.crs.epsg == 32601
    assert here.geobox.shape == across.geobox.shape == (571, 436)
    assert here.geobox.affine == across.geobox.affine
    a, b = here.dataset, across.dataset
    assert np.nanmax(np.abs(a.ellipsoid_incidence_angle - b.ellipsoid_incidence_angle)) < 5e-4
    local = np.abs(a.local_incidence_angle - b.local_incidence_angle).values
    assert np.nanmedian(local) < 0.02 and np.nanpercentile(local, 99) < 0.1
    assert np.isfinite(b.local_incidence_angle).mean() > 0.99
    area = np.abs(a.contributing_area - b.contributing_area) / a.contributing_area
    assert np.nanmedian(area) < 1e-3 and np.isfinite(b.contributing_area).mean() > 0.99
    assert (a.mask.values == b.mask.values).mean() > 0.999
    with pytest.raises(ParameterError, match="projected CRS"):
        process_ard(
            turned, ArdOptions(aoi=read_aoi("179.97,41.6,-179.93,41.7")), dem=tmp_path / "west.tif"
        )


def test_item_footprint_of_a_grid_across_the_antimeridian() -> None:
    from affine import Affine
    from odc.geo.geobox import GeoBox

    from s1stac.products import grid_footprint

    grid = GeoBox((571, 436), Affine(20.0, 0.0, 247480.0, 0.0, -20.0, 4620920.0), "EPSG:32601")
    footprint = grid_footprint(grid)
    assert isinstance(footprint, shapely.MultiPolygon) and dateline.is_split(footprint)
    west, _, east, _ = dateline.bbox(footprint)
    assert 179.9 < west < 180.0 and -180.0 < east < -179.9


def test_aoi_boxes_and_polygons_across_the_antimeridian() -> None:
    box = read_aoi("179,-17,-179,-16")
    assert isinstance(box, shapely.MultiPolygon) and dateline.bbox(box) == [179, -17, -179, -16]
    assert area_km2(box) == pytest.approx(area_km2(read_aoi("10,-17,12,-16")), rel=1e-6)
    with pytest.raises(AoiError, match="inverted"):
        read_aoi("1,2,0,3")  # swapped corners, not a box across the 180th
    jumping = read_aoi("POLYGON ((179 -16, -179 -16, -179 -17, 179 -17, 179 -16))")
    assert dateline.is_split(jumping) and jumping.area == pytest.approx(box.area, rel=1e-3)


def test_union_bbox_is_the_smallest_on_the_circle() -> None:
    pacific, europe = [179.0, -17.0, -179.0, -16.0], [8.0, 48.0, 13.0, 53.0]
    assert dateline.union_bbox([pacific, europe]) == [8.0, -17.0, -179.0, 53.0]
    assert dateline.union_bbox([[1, 2, 3, 4], [0, 1, 2, 3]]) == [0, 1, 3, 4]
    assert dateline.union_bbox([[-170, 0, -160, 1], [160, 0, 170, 1]]) == [160, 0, -160, 1]
    assert dateline.union_bbox([[-170, 0, -160, 1], [-10, 0, 10, 1]]) == [-170, 0, 10, 1]


def test_items_from_an_api_are_split() -> None:
    polygon = shapely.Polygon([(179.5, 50), (-179.5, 50), (-179.5, 51), (179.5, 51)])
    item = pystac.Item(
        "S1A_IW_GRDH_1SDV_20230628T210705_20230628T210730_049191_05EA4D_21D1",
        shapely.geometry.mapping(polygon),
        list(polygon.bounds),
        None,
        {
            "start_datetime": "2023-06-28T21:07:05Z",
            "end_datetime": "2023-06-28T21:07:30Z",
            "sat:orbit_state": "descending",
            "sat:relative_orbit": 119,
            "sar:polarizations": ["VV", "VH"],
        },
    )
    copy = normalise_item(item)
    assert copy.geometry["type"] == "MultiPolygon"
    assert copy.bbox[0] == pytest.approx(179.5) and copy.bbox[2] == pytest.approx(-179.5)
