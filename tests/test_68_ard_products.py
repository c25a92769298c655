"""Writing and registering the ARD (``s1-ard``), and the openEO ``sar_backscatter`` process.

References: :func:`s1stac.ard.process_ard` computed in memory on the same products (the
written COGs must hold its values), the simulator's products (one track, two dates of two
slices), the offline STAC schemas, and the real ECC8 product of ``../shared`` (no calibration
XML) for the error path.
"""

from __future__ import annotations

import pathlib
import shutil

import numpy as np
import pytest
import rasterio

from s1stac.ard import ArdOptions, process_ard
from s1stac.ard_products import ard_products
from s1stac.catalog import StaticCatalog, load_collection
from s1stac.errors import AcquisitionErrors, MissingComponentError, ParameterError
from s1stac.inventory import inventory
from s1stac.openeo import run_graph
from s1stac.simulate import simulate
from s1stac.simulate.tracks import TrackSpec
from s1stac.stac_items import product_path
from s1stac.validation import validate_object


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> tuple[pathlib.Path, pathlib.Path, list]:
    """Catalog with the ARD of one simulated track (2 dates x 2 slices)."""
    folder = tmp_path_factory.mktemp("ard_products")
    result = simulate(
        folder / "products",
        size="small",
        dates=2,
        seed=3,
        slices=2,
        tracks=[TrackSpec("ascending", 117)],
    )
    catalog = folder / "catalog"
    inventory(list(result.products), catalog=catalog)
    items = ard_products(catalog, dem=result.dem, ls_mask=True, resolution=20)
    return catalog, result.dem, items


def test_items_are_valid_and_complete(scene, schemas_dir: pathlib.Path) -> None:
    catalog, _, items = scene
    store = StaticCatalog(catalog)
    assert [i.id for i in items] == [
        "S1A_117_20210310T170526_RTC-gamma0_20m",
        "S1A_117_20210322T170526_RTC-gamma0_20m",
    ]
    assert sorted(store.item_ids("s1-ard")) == [i.id for i in items]
    for item in items:
        validate_object(item, schemas_dir=schemas_dir)
        props = item.properties
        assert props["sat:orbit_state"] == "ascending" and props["sat:relative_orbit"] == 117
        assert props["sar:polarizations"] == ["VV", "VH"]
        assert props["sar:product_type"] == "RTC-gamma0"
        assert props["processing:level"] == "L2" and "s1stac" in props["processing:software"]
        assert props["proj:code"] == "EPSG:4326"
        assert set(item.assets) == {"vv", "vh", "ls_mask", "thumbnail"}
        assert item.assets["vv"].extra_fields["sar:polarizations"] == ["VV"]
        assert item.assets["vv"].extra_fields["nodata"] == "nan"
        assert "thumbnail" in item.assets["thumbnail"].roles
        sources = [link for link in item.links if link.rel == "derived_from"]
        assert len(sources) == 2  # the two slices of the acquisition
    assert store.validate(schemas_dir=schemas_dir) > 0


def test_cogs_hold_the_ard_values(scene) -> None:
    catalog, dem, items = scene
    store = StaticCatalog(catalog)
    item = items[0]
    grd = [store.get_item("sentinel-1-grd", link.title) for link in item.links if link.title]
    reference = process_ard(
        [product_path(g) for g in grd], ArdOptions(extra_bands=("mask",)), dem=dem
    ).dataset.compute()
    for key, band in (("vv", "VV"), ("vh", "VH"), ("ls_mask", "mask")):
        path = pathlib.Path(item.assets[key].get_absolute_href())
        with rasterio.open(path) as src:
            assert src.profile["tiled"] and src.overviews(1), key  # a real COG
            assert src.dtypes[0] == "float32"
            values = src.read(1)
        expected = reference[band].values
        assert values.shape == expected.shape
        np.testing.assert_array_equal(np.isnan(values), np.isnan(expected))
        np.testing.assert_allclose(values, expected, rtol=1e-6, equal_nan=True)
        assert np.isfinite(values).mean() > 0.3  # the swath is a tilted strip of the box
    mask = reference["mask"].values
    assert set(np.unique(mask[np.isfinite(mask)])) <= {0, 1, 2, 3}


def test_odc_stac_loads_the_written_values(scene) -> None:
    catalog, _, items = scene
    loaded = load_collection(catalog, "s1-ard", bands=["vv"], groupby="id")
    with rasterio.open(items[0].assets["vv"].get_absolute_href()) as src:
        first = src.read(1)
    assert loaded.sizes["time"] == 2
    values = loaded["vv"].isel(time=0).values
    np.testing.assert_array_equal(values, first)


def test_rerun_skips_complete_items(scene) -> None:
    catalog, dem, items = scene
    files = [pathlib.Path(a.get_absolute_href()) for i in items for a in i.assets.values()]
    before = [f.stat().st_mtime_ns for f in files]
    again = ard_products(catalog, dem=dem, ls_mask=True, resolution=20)
    assert [i.id for i in again] == [i.id for i in items]
    assert [f.stat().st_mtime_ns for f in files] == before


def test_bad_parameters(scene) -> None:
    catalog, dem, _ = scene
    with pytest.raises(ParameterError, match="--dem FILE"):
        ard_products(catalog)
    with pytest.raises(ParameterError, match="resolution"):
        ard_products(catalog, dem=dem, resolution=0)
    with pytest.raises(ParameterError, match="not an item"):
        ard_products(catalog, dem=dem, items=["S1A_nothing"])


def test_missing_calibration_registers_nothing(
    tmp_path: pathlib.Path, real_products: dict[str, pathlib.Path], rome_dem: pathlib.Path
) -> None:
    catalog = tmp_path / "catalog"
    inventory([real_products["ECC8"]], catalog=catalog, refine=False)
    with pytest.raises(MissingComponentError, match="calibration"):
        ard_products(catalog, dem=rome_dem, items=[real_products["ECC8"]])
    store = StaticCatalog(catalog)
    assert store.item_ids("s1-ard") == []
    assert not any((catalog / "s1-ard").glob("*/*.tif"))


def test_a_failing_acquisition_does_not_stop_the_batch(
    scene, tmp_path: pathlib.Path, real_products: dict[str, pathlib.Path]
) -> None:
    catalog, dem, items = scene
    copy = tmp_path / "catalog"
    shutil.copytree(catalog, copy)
    inventory([real_products["ECC8"]], catalog=copy, refine=False)  # no calibration XML
    with pytest.raises(
        AcquisitionErrors, match=r"1 of 3 acquisition\(s\) failed.*calibration"
    ) as err:
        ard_products(copy, dem=dem, ls_mask=True, resolution=20, on_error="continue")
    (failed,) = err.value.failures
    assert "20210401" in failed and isinstance(err.value.failures[failed], MissingComponentError)
    assert sorted(StaticCatalog(copy).item_ids("s1-ard")) == sorted(i.id for i in items)
    with pytest.raises(MissingComponentError):  # the default stops at the first failure
        ard_products(copy, dem=dem, ls_mask=True, resolution=20)


def test_openeo_sar_backscatter_equals_ard_products(scene, tmp_path: pathlib.Path) -> None:
    catalog, dem, items = scene
    graph = {
        "process_graph": {
            "load": {
                "process_id": "load_collection",
                "arguments": {
                    "id": "SENTINEL1_GRD",
                    "spatial_extent": None,
                    "temporal_extent": None,
                },
            },
            "bs": {
                "process_id": "sar_backscatter",
                "arguments": {
                    "data": {"from_node": "load"},
                    "coefficient": "gamma0-terrain",
                    "mask": True,
                    "options": {"resolution": 20, "dem": str(dem)},
                },
            },
            "save": {
                "process_id": "save_result",
                "arguments": {
                    "data": {"from_node": "bs"},
                    "format": "GTiff",
                    "options": {"collection": "s1-ard"},
                },
                "result": True,
            },
        }
    }
    result = run_graph(graph, catalog=catalog).value
    features = result["features"]
    assert len(features) == 2
    for feature, item in zip(features, items, strict=True):
        props = feature["properties"]
        assert props["sar:product_type"] == "RTC-gamma0"
        assert props["sat:relative_orbit"] == 117
        assert props["sar:polarizations"] == ["VV", "VH"]
        for key, band in (("vv", "VV"), ("ls_mask", "mask")):
            with rasterio.open(item.assets[key].get_absolute_href()) as src:
                ours, box = src.read(1), src.bounds
            saved = StaticCatalog(catalog).get_item("s1-ard", feature["id"])
            with rasterio.open(saved.assets[band].get_absolute_href()) as src:
                window = src.window(*box)
                theirs = src.read(1, window=window.round_offsets().round_lengths())
            np.testing.assert_allclose(theirs, ours, rtol=1e-6, equal_nan=True)
    with pytest.raises(Exception, match="coefficient"):
        graph["process_graph"]["bs"]["arguments"]["coefficient"] = "beta0"
        run_graph(graph, catalog=catalog)


def test_openeo_ard_normalized_radar_backscatter(scene) -> None:
    catalog, dem, items = scene
    graph = {
        "load": {
            "process_id": "load_collection",
            "arguments": {"id": "sentinel-1-grd", "spatial_extent": None, "temporal_extent": None},
        },
        "nrb": {
            "process_id": "ard_normalized_radar_backscatter",
            "arguments": {
                "data": {"from_node": "load"},
                "elevation_model": str(dem),
                "options": {"resolution": 20},
            },
            "result": True,
        },
    }
    cube = run_graph({"process_graph": graph}, catalog=catalog).value.compute()
    assert list(cube["bands"].values) == ["VV", "VH", "mask", "local_incidence_angle"]
    vv = cube.sel(bands="VV").values
    mask = cube.sel(bands="mask").values
    # the data mask is 1 where the backscatter is valid and not in layover/shadow, NaN off-data
    assert set(np.unique(mask[np.isfinite(mask)])) <= {0.0, 1.0}
    np.testing.assert_array_equal(np.isnan(mask), np.isnan(vv))
    assert (mask == 1).mean() > 0.3
    with rasterio.open(items[0].assets["ls_mask"].get_absolute_href()) as src:
        codes = src.read(1)
    assert (mask[0] == 0).sum() == pytest.approx(((codes > 0) & np.isfinite(vv[0])).sum(), rel=0.05)
    lia = cube.sel(bands="local_incidence_angle").values
    assert np.nanmin(lia) >= 0 and np.nanmax(lia) <= 90
