"""Aligned output grids (OST_SPEC.md §2.4) and DEM loading with geoid correction."""

from __future__ import annotations

import datetime as dt
import logging
import math
import pathlib
import re

import numpy as np
import pyproj
import pystac
import pytest
import rasterio
import shapely
from odc.geo.geom import Geometry
from pystac.extensions.projection import ProjectionExtension
from scipy.interpolate import RegularGridInterpolator

from s1stac.dem import DemCollection, DemError, check_coverage, load_dem
from s1stac.errors import ParameterError
from s1stac.geoid import find_geoid_grid, geoid_undulation, vertical_reference
from s1stac.grid import GridSpec, aligned_grid, degrees_per_pixel, utm_crs_for

# NOTE: odc-stac warps tiles whose CRS differs from the grid's (here the file's EPSG:9707 vs
# EPSG:4326) in dask threads, and rasterio silences NotGeoreferencedWarning with
# warnings.catch_warnings, which is not thread-safe: the warning escapes now and then.
pytestmark = pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")

ROME_BOX = (12.47, 41.97, 12.53, 42.03)
"""Inside the Rome DEM (lon 12.4499..12.5499, lat 41.9501..42.0501)."""

# NGA's EGM96 test points (F477 program, INTPT.DAT/OUTINTPT.DAT): lat, lon, N from the
# spherical-harmonic model itself, i.e. independent of the 15' grid.
NGA_EGM96 = [
    (38.6281550, 269.7791550, -31.628),
    (-14.6212170, 305.0211140, -2.969),
    (46.8743190, 102.4487290, -43.575),
    (-23.6174460, 133.8747120, 15.871),
    (38.6254730, 359.9995000, 50.066),
    (-0.4667440, 0.0023000, 17.329),
]


# ---------------------------------------------------------------- grid


def test_degrees_per_pixel_is_snap_conversion() -> None:
    assert degrees_per_pixel(20.0) == 20.0 / 6378137.0 * (180.0 / math.pi)
    # values of OST_SPEC.md §2.4 (printed to 17 digits there)
    assert abs(degrees_per_pixel(20.0) - 1.7966305682390427e-04) < 1e-19
    assert abs(degrees_per_pixel(10.0) - 8.983152841195214e-05) < 1e-19


def test_aligned_grid_4326_edges_on_multiples_of_pixel() -> None:
    footprint = shapely.Polygon([(14.9254, 40.8767), (11.8657, 41.2810), (12.1897, 42.7804)])
    gbox = aligned_grid(footprint, resolution_m=20.0)
    step = degrees_per_pixel(20.0)
    assert gbox.crs == "EPSG:4326"
    assert gbox.resolution.x == step and gbox.resolution.y == -step
    for edge in (gbox.affine.c, gbox.affine.f):
        assert edge / step == pytest.approx(round(edge / step), abs=1e-6)
    left, bottom, right, top = gbox.boundingbox
    minx, miny, maxx, maxy = footprint.bounds
    assert left <= minx < left + step and right - step < maxx <= right
    assert bottom <= miny < bottom + step and top - step < maxy <= top


@pytest.mark.parametrize("crs", ["EPSG:4326", "EPSG:32633"])
def test_overlapping_footprints_differ_by_whole_pixels(crs: str) -> None:
    a = shapely.Polygon([(14.9254, 40.8767), (11.8657, 41.2810), (12.1897, 42.7804)])
    b = shapely.affinity.translate(a, 0.123456, -0.654321)
    ga = aligned_grid(a, resolution_m=10.0, crs=crs)
    gb = aligned_grid(b, resolution_m=10.0, crs=crs)
    step = ga.resolution.x
    assert gb.resolution == ga.resolution
    dx, dy = (gb.affine.c - ga.affine.c) / step, (gb.affine.f - ga.affine.f) / step
    assert dx == pytest.approx(round(dx), abs=1e-6) and round(dx) != 0
    assert dy == pytest.approx(round(dy), abs=1e-6) and round(dy) != 0
    # same pixel at both grids' overlap: world coordinate of a shared corner is identical
    ix, iy = round(dx), round(dy)
    assert ga.affine * (ix, -iy) == pytest.approx(gb.affine * (0, 0), abs=step * 1e-6)


def test_snapping_outward_hand_computed() -> None:
    spec = GridSpec(crs="EPSG:32633", resolution=20.0)
    gbox = spec.geobox(Geometry(shapely.box(300010, 4600005, 300050, 4600041), "EPSG:32633"))
    assert tuple(gbox.affine)[:6] == (20.0, 0.0, 300000.0, 0.0, -20.0, 4600060.0)
    assert gbox.shape == (3, 3)
    exact = spec.geobox(Geometry(shapely.box(300000, 4600000, 300060, 4600060), "EPSG:32633"))
    assert exact.shape == (3, 3) and exact.affine == gbox.affine


def test_utm_zones_and_auto_crs() -> None:
    assert utm_crs_for(12.5, 41.9) == "EPSG:32633"
    assert utm_crs_for(-47.9, -15.8) == "EPSG:32723"
    assert utm_crs_for(-180.0, 0.0) == "EPSG:32601" and utm_crs_for(179.99, 1.0) == "EPSG:32660"
    gbox = aligned_grid(ROME_BOX, resolution_m=20.0, crs="AUTO:42001")
    assert gbox.crs == "EPSG:32633" and gbox.resolution.x == 20.0
    assert gbox.affine.c % 20.0 == 0.0 and gbox.affine.f % 20.0 == 0.0


@pytest.mark.parametrize("resolution", [0.0, -10.0, float("nan"), float("inf")])
def test_bad_resolution_is_named(resolution: float) -> None:
    with pytest.raises(ParameterError, match="resolution"):
        aligned_grid(ROME_BOX, resolution_m=resolution)
    with pytest.raises(ParameterError, match="resolution"):
        GridSpec(crs="EPSG:4326", resolution=resolution)


@pytest.mark.parametrize("crs", ["EPSG:999999", "not a crs", "EPSG:5773"])
def test_bad_crs_is_named(crs: str) -> None:
    with pytest.raises(ParameterError, match="crs"):
        aligned_grid(ROME_BOX, resolution_m=20.0, crs=crs)


# ---------------------------------------------------------------- geoid


def test_egm96_undulation_matches_nga_test_points() -> None:
    lat, lon, expected = np.array(NGA_EGM96).T
    assert np.abs(geoid_undulation(lon, lat, "EGM96") - expected).max() < 0.1


def test_egm96_undulation_matches_proj_vgridshift() -> None:
    path = find_geoid_grid("EGM96")
    proj = pyproj.Transformer.from_pipeline(
        "+proj=pipeline +step +proj=unitconvert +xy_in=deg +xy_out=rad "
        f"+step +proj=vgridshift +grids={path} +multiplier=1 "
        "+step +proj=unitconvert +xy_in=rad +xy_out=deg"
    )
    rng = np.random.default_rng(65)
    lon = np.concatenate([rng.uniform(-180, 180, 500), [12.5, 179.9, -179.9, 0.0]])
    lat = np.concatenate([rng.uniform(-89.7, 89.7, 500), [42.0, 0.0, 0.0, 0.0]])
    _, _, reference = proj.transform(lon, lat, np.zeros_like(lon))
    assert np.abs(geoid_undulation(lon, lat) - reference).max() < 1e-3


@pytest.mark.parametrize("layout", ["repeated_column", "from_greenwich"])
def test_geoid_grid_layouts_agree(tmp_path: pathlib.Path, layout: str) -> None:
    gtx = find_geoid_grid("EGM96")
    with rasterio.open(gtx) as src:
        values, transform, crs = src.read(1), src.transform, src.crs
    assert transform.c == -180.125 and values.shape == (721, 1440)
    if layout == "repeated_column":  # -180..+180 inclusive, as PROJ-data GeoTIFFs
        values = np.concatenate([values, values[:, :1]], axis=1)
    else:  # columns 0°..359.75°
        values = np.roll(values, -720, axis=1)
        transform = transform * rasterio.Affine.translation(720, 0)
    path = tmp_path / "us_nga_egm96_15.tif"
    profile = dict(driver="GTiff", width=values.shape[1], height=721, count=1, dtype="float32")
    with rasterio.open(path, "w", crs=crs, transform=transform, **profile) as dst:
        dst.write(values, 1)
    assert find_geoid_grid("EGM96", search_path=[tmp_path]) == path
    rng = np.random.default_rng(7)
    lon, lat = rng.uniform(-540, 540, 2000), rng.uniform(-90, 90, 2000)
    np.testing.assert_allclose(
        geoid_undulation(lon, lat, grid=path), geoid_undulation(lon, lat, grid=gtx), atol=1e-5
    )


def test_missing_geoid_grid_says_how_to_install(tmp_path: pathlib.Path) -> None:
    with pytest.raises(DemError, match="apt-get install proj-data"):
        find_geoid_grid("EGM96", search_path=[tmp_path])
    with pytest.raises(DemError, match="us_nga_egm08_25.tif"):
        find_geoid_grid("EGM2008", search_path=[tmp_path])


def test_vertical_reference_from_crs() -> None:
    assert vertical_reference("EPSG:9707") == "EGM96"
    assert vertical_reference("EPSG:9518") == "EGM2008"
    assert vertical_reference("EPSG:4979") == "ellipsoid"
    assert vertical_reference("EPSG:4326") is None
    with pytest.raises(DemError, match="NAP"):
        vertical_reference("EPSG:7415")


# ---------------------------------------------------------------- DEM


def _raw(path: pathlib.Path) -> tuple[np.ndarray, rasterio.Affine]:
    with rasterio.open(path) as src:
        return src.read(1).astype(np.float64), src.transform


def _centres(dem) -> tuple[np.ndarray, np.ndarray]:
    return np.meshgrid(dem.x.values, dem.y.values)


def test_rome_heights_are_orthometric_plus_undulation(rome_dem: pathlib.Path) -> None:
    raw, transform = _raw(rome_dem)
    ortho = load_dem(rome_dem, ROME_BOX, geoid="none", margin=0).compute()
    ellipsoid = load_dem(rome_dem, ROME_BOX, margin=0).compute()  # EPSG:9707: EGM96
    # native grid cropped to the box: an exact copy of the file's pixels
    col0, row0 = (~transform) * (float(ortho.x[0]), float(ortho.y[0]))
    rows = slice(int(row0), int(row0) + ortho.sizes["y"])
    cols = slice(int(col0), int(col0) + ortho.sizes["x"])
    np.testing.assert_array_equal(ortho.values, raw[rows, cols])
    assert ortho.x[0] <= ROME_BOX[0] < ortho.x[0] + transform.a
    assert ellipsoid.dtype == np.float32 and ellipsoid.attrs["units"] == "m"
    lon, lat = _centres(ellipsoid)
    proj = pyproj.Transformer.from_pipeline(
        "+proj=pipeline +step +proj=unitconvert +xy_in=deg +xy_out=rad "
        f"+step +proj=vgridshift +grids={find_geoid_grid('EGM96')} +multiplier=1 "
        "+step +proj=unitconvert +xy_in=rad +xy_out=deg"
    )
    _, _, h_proj = proj.transform(lon, lat, raw[rows, cols])
    np.testing.assert_allclose(ellipsoid.values, h_proj, atol=2e-3)
    undulation = ellipsoid.values - ortho.values
    assert 46.0 < undulation.min() and undulation.max() < 50.0  # EGM96 over Rome: ~48.6 m


def test_resampling_to_aligned_grid_is_bilinear(rome_dem: pathlib.Path) -> None:
    raw, transform = _raw(rome_dem)
    target = aligned_grid(ROME_BOX, resolution_m=20.0)
    dem = load_dem(rome_dem, target, geoid="none").compute()
    assert dem.odc.geobox == target and dem.dims == ("y", "x")
    xs = transform.c + (np.arange(raw.shape[1]) + 0.5) * transform.a
    ys = transform.f + (np.arange(raw.shape[0]) + 0.5) * transform.e
    interp = RegularGridInterpolator((ys[::-1], xs), raw[::-1], method="linear")
    lon, lat = _centres(dem)
    np.testing.assert_allclose(dem.values, interp((lat, lon)), atol=1e-3)
    # each value lies within its four neighbours
    col = np.floor((lon - xs[0]) / transform.a).astype(int)
    row = np.floor((lat - ys[0]) / transform.e).astype(int)
    four = np.stack([raw[row, col], raw[row, col + 1], raw[row + 1, col], raw[row + 1, col + 1]])
    assert np.all(dem.values >= four.min(axis=0) - 1e-4)
    assert np.all(dem.values <= four.max(axis=0) + 1e-4)


def test_lazy_equals_eager(rome_dem: pathlib.Path) -> None:
    target = aligned_grid(ROME_BOX, resolution_m=20.0, crs="EPSG:32633")
    eager = load_dem(rome_dem, target, chunks=None)
    assert eager.chunks is None
    for chunks in (100, 37):
        lazy = load_dem(rome_dem, target, chunks=chunks)
        assert lazy.chunks is not None and lazy.chunks[0][0] == chunks
        np.testing.assert_array_equal(lazy.values, eager.values)
    assert not np.isnan(eager.values).any()


def _footprint_5371(safe: pathlib.Path) -> shapely.Polygon:
    text = (safe / "manifest.safe").read_text()
    coords = re.search(r"<gml:coordinates>([^<]+)<", text)
    assert coords is not None
    pairs = [tuple(map(float, p.split(","))) for p in coords.group(1).split()]
    return shapely.Polygon([(lon, lat) for lat, lon in pairs])


def test_dem_not_covering_the_scene(
    rome_dem: pathlib.Path, real_products: dict[str, pathlib.Path]
) -> None:
    footprint = _footprint_5371(real_products["5371"])
    with rasterio.open(rome_dem) as src:
        dem_box = shapely.box(*src.bounds)
    assert footprint.contains(dem_box)  # the DEM is a small part of the scene
    laea = pyproj.CRS.from_proj4("+proj=laea +lat_0=42 +lon_0=12.5 +ellps=WGS84")
    to_laea = pyproj.Transformer.from_crs("EPSG:4326", laea, always_xy=True).transform
    expected = (
        shapely.ops.transform(to_laea, shapely.segmentize(dem_box, 0.001)).area
        / shapely.ops.transform(to_laea, shapely.segmentize(footprint, 0.001)).area
    )
    assert check_coverage(rome_dem, footprint, min_fraction=1e-6) == pytest.approx(expected, 1e-3)
    with pytest.raises(DemError, match=rf"{rome_dem.name}.* covers {100 * expected:.2f}%"):
        check_coverage(rome_dem, footprint)
    with pytest.raises(DemError, match="uncovered part: lon 11.8657..15.3219"):
        load_dem(rome_dem, ROME_BOX, footprint=footprint)
    # half outside: equal latitude span, so the covered fraction is the longitude fraction
    half = (12.5, 41.96, 12.6, 42.04)
    with pytest.raises(DemError, match=r"covers 49\.86%"):
        check_coverage(rome_dem, half)
    assert check_coverage(rome_dem, half, min_fraction=0.4) == pytest.approx(0.0498611 / 0.1)
    assert check_coverage(rome_dem, ROME_BOX) == 1.0
    with pytest.raises(DemError, match="covers 0.00%.*DEM extent: lon 12.4499..12.5499"):
        check_coverage(rome_dem, (2.0, 48.0, 2.5, 48.5))
    with pytest.raises(DemError, match="no tile of DEM"):
        load_dem(rome_dem, aligned_grid((2.0, 48.0, 2.5, 48.5), resolution_m=20.0))


def _split_into_tiles(dem: pathlib.Path, folder: pathlib.Path, crs: str | None = None):
    with rasterio.open(dem) as src:
        data, profile = src.read(1), src.profile
    half = data.shape[1] // 2
    profile.update(driver="COG", width=half, compress="deflate")
    for key in ("blockxsize", "blockysize", "tiled", "interleave"):
        profile.pop(key, None)
    if crs is not None:
        profile["crs"] = crs
    paths = []
    for i, cols in enumerate((slice(0, half), slice(half, None))):
        transform = profile["transform"] * rasterio.Affine.translation(i * half, 0)
        path = folder / f"tile_{i}.tif"
        with rasterio.open(path, "w", **{**profile, "transform": transform}) as dst:
            dst.write(data[:, cols], 1)
        paths.append(path)
    return paths


def _catalog(tiles: list[pathlib.Path], root: pathlib.Path, *, proj: bool = True) -> pathlib.Path:
    catalog = pystac.Catalog("dems", "DEM tiles")
    extent = pystac.Extent(
        pystac.SpatialExtent([[-180, -90, 180, 90]]), pystac.TemporalExtent([[None, None]])
    )
    collection = pystac.Collection("cop-dem-glo-30", "Copernicus-style DEM tiles", extent)
    catalog.add_child(collection)
    for path in tiles:
        with rasterio.open(path) as src:
            bounds, shape, transform = src.bounds, src.shape, src.transform
        item = pystac.Item(
            path.stem,
            shapely.geometry.mapping(shapely.box(*bounds)),
            list(bounds),
            dt.datetime(2021, 4, 22, tzinfo=dt.UTC),
            {},
        )
        item.add_asset("data", pystac.Asset(href=str(path), media_type=pystac.MediaType.COG))
        if proj:
            ext = ProjectionExtension.ext(item, add_if_missing=True)
            ext.code, ext.shape, ext.transform = "EPSG:4326", list(shape), list(transform)[:6]
        collection.add_item(item)
    catalog.normalize_hrefs(str(root))
    catalog.make_all_asset_hrefs_relative()
    catalog.save(pystac.CatalogType.SELF_CONTAINED)
    return root / "catalog.json"


def test_stac_collection_of_tiles_equals_single_file(
    rome_dem: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    (tmp_path / "stac").mkdir()
    tiles = _split_into_tiles(rome_dem, tmp_path / "stac")
    catalog = _catalog(tiles, tmp_path / "stac")
    assert (
        '"href": "../../tile_0.tif"'
        in (tmp_path / "stac/cop-dem-glo-30/tile_0/tile_0.json").read_text()
    )
    source = DemCollection(str(catalog), collection="cop-dem-glo-30")
    target = aligned_grid(ROME_BOX, resolution_m=20.0)
    single = load_dem(rome_dem, target).values
    np.testing.assert_array_equal(load_dem(source, target).values, single)
    np.testing.assert_array_equal(load_dem(tiles, target).values, single)
    bare = _catalog(tiles, tmp_path / "bare", proj=False)  # grid read from the COG headers
    np.testing.assert_array_equal(load_dem(DemCollection(str(bare)), target).values, single)
    raw, _ = _raw(rome_dem)
    # native grid over lon 12.4..12.6, lat 41.9..42.1: the file's grid starts at 12.44986°
    # (=12.4 + 179.5 px) and 42.05014° (=42.1 - 179.5 px), hence 180 px of no data around it
    native = load_dem(source, (12.4, 41.9, 12.6, 42.1), geoid="none", margin=0).values
    assert native.shape == (721, 721)
    np.testing.assert_array_equal(native[180:540, 180:540], raw)
    assert np.isnan(native[:180]).all() and np.isnan(native[:, 540:]).all()
    with pytest.raises(DemError, match="no asset 'dem'"):
        load_dem(DemCollection(str(catalog), "cop-dem-glo-30", asset="dem"), target)


def test_dem_without_vertical_crs_is_taken_as_egm96(
    rome_dem: pathlib.Path, tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture
) -> None:
    tiles = _split_into_tiles(rome_dem, tmp_path, crs="EPSG:4326")
    target = aligned_grid(ROME_BOX, resolution_m=20.0)
    with caplog.at_level(logging.WARNING, logger="s1stac.dem"):
        auto = load_dem(tiles, target).values
    assert "no vertical CRS" in caplog.text
    np.testing.assert_array_equal(auto, load_dem(rome_dem, target, geoid="EGM96").values)


def test_bad_dem_inputs(rome_dem: pathlib.Path, tmp_path: pathlib.Path) -> None:
    missing = tmp_path / "nowhere.tif"
    with pytest.raises(DemError, match="nowhere.tif"):
        load_dem(missing, ROME_BOX)
    with pytest.raises(ParameterError, match="geoid"):
        load_dem(rome_dem, ROME_BOX, geoid="EGM84")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="margin"):
        load_dem(rome_dem, ROME_BOX, margin=-1)
