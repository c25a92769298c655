"""Time series, timescan and mosaic products of the pipeline on simulated data.

The ARD input is built from the simulator's true gamma0 with speckle (``tests/_ard_like.py``);
references are the truth rasters and ``truth.json`` and plain numpy on the ARD files.
"""

from __future__ import annotations

import json
import pathlib
import shutil

import numpy as np
import odc.stac
import pystac
import pytest
import rasterio
from _ard_like import register_ard_like  # noqa: I001 - test helper next to this file

from s1stac import pipeline
from s1stac.catalog import StaticCatalog, load_collection
from s1stac.errors import ParameterError
from s1stac.products import is_complete
from s1stac.simulate import simulate

DATES = 3


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    out = tmp_path_factory.mktemp("sim")
    simulate(out, dates=DATES, size=(300, 300), seed=3)
    return out


@pytest.fixture(scope="module")
def ard(sim: pathlib.Path, tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """Build a catalog with ARD-like items of two overlapping tracks x 3 dates."""
    root = tmp_path_factory.mktemp("ard") / "catalog"
    register_ard_like(StaticCatalog(root), sorted(sim.glob("S1*.SAFE")), sim / "truth", seed=1)
    return root


@pytest.fixture(scope="module")
def chain(ard: pathlib.Path, tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """Run the full chain (boxcar Quegan filter, dB, float32) on a copy of the ARD catalog."""
    root = tmp_path_factory.mktemp("chain") / "catalog"
    shutil.copytree(ard, root)
    store = StaticCatalog(root)
    pipeline.timeseries(store)
    pipeline.timescan_products(store)
    pipeline.mosaic_products(store)
    return root


def _copy(ard: pathlib.Path, tmp_path: pathlib.Path) -> StaticCatalog:
    shutil.copytree(ard, tmp_path / "catalog")
    return StaticCatalog(tmp_path / "catalog")


def _read(href: str) -> tuple[np.ndarray, rasterio.Affine]:
    with rasterio.open(href) as src:
        return src.read(1, masked=True).astype(np.float64).filled(np.nan), src.transform


def test_chain_registers_valid_items(chain: pathlib.Path, schemas_dir: pathlib.Path) -> None:
    store = StaticCatalog(chain)
    assert len(store.item_ids("s1-timeseries")) == 4  # 2 tracks x VV, VH
    assert len(store.item_ids("s1-timescan")) == 2
    assert len(store.item_ids("s1-mosaic")) == 1
    assert store.validate(schemas_dir) == 1 + 5 + 6 + 4 + 2 + 1
    series = next(store.items("s1-timeseries"))
    assert len(series.properties["cube:dimensions"]["t"]["values"]) == DATES
    assert {link.rel for link in series.links} >= {"derived_from"}
    assert series.assets["animation"].roles == ["overview"]
    assert pathlib.Path(series.assets["animation"].get_absolute_href()).read_bytes()[:3] == b"GIF"
    scan = next(store.items("s1-timescan"))
    assert scan.assets["quicklook"].media_type == "image/png"
    assert {"vv_avg", "vh_cov"} <= set(scan.assets)


def test_timeseries_without_filter_is_db_of_the_ard_on_the_common_extent(
    ard: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    store = _copy(ard, tmp_path)
    items = pipeline.timeseries(store, track=117, polarisations=["VV"], mt_speckle_filter=None)
    (item,) = items
    ard_items = sorted(
        (i for i in store.items("s1-ard") if i.properties["sat:relative_orbit"] == 117),
        key=lambda i: i.datetime,
    )
    keys = [k for k, a in item.assets.items() if "data" in a.roles]
    loaded = odc.stac.load([item], bands=keys, chunks={})
    # independent reference: the ARD files; date k lacks k rows, so rows start at DATES - 1
    for key, source in zip(keys, ard_items, strict=True):
        values, transform = _read(source.assets["vv"].get_absolute_href())
        got = loaded[key].isel(time=0).values
        row0 = round((item.properties["proj:transform"][5] - transform.f) / transform.e)
        col0 = round((item.properties["proj:transform"][2] - transform.c) / transform.a)
        assert (row0, col0) == (DATES - 1 - ard_items.index(source), 0)
        expected = 10 * np.log10(values[row0 : row0 + got.shape[0], col0 : col0 + got.shape[1]])
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
    # the whole collection loads with odc-stac through the catalog
    dataset = load_collection(store.root, "s1-timeseries", bands=[keys[0]], chunks={})
    assert np.isfinite(dataset[keys[0]].values).all()


def test_uint16_codes_decode_to_the_float_series(ard: pathlib.Path, tmp_path: pathlib.Path) -> None:
    store = _copy(ard, tmp_path)
    (floats,) = pipeline.timeseries(store, track=95, polarisations=["VH"])
    keys = [k for k, a in floats.assets.items() if "data" in a.roles]
    references = [_read(floats.assets[k].get_absolute_href())[0] for k in keys]
    (codes,) = pipeline.timeseries(
        store, track=95, polarisations=["VH"], dtype="uint16", overwrite=True
    )
    step = 35 / 65534
    for key, reference in zip(keys, references, strict=True):
        asset = codes.assets[key]
        assert asset.extra_fields["data_type"] == "uint16"
        assert asset.extra_fields["nodata"] == 0
        assert asset.extra_fields["raster:scale"] == pytest.approx(step)
        with rasterio.open(asset.get_absolute_href()) as src:
            raw = src.read(1).astype(np.float64)
        decoded = np.where(raw == 0, np.nan, raw * step + asset.extra_fields["raster:offset"])
        inside = (reference > -30) & (reference < 5)
        assert np.abs(decoded - reference)[inside].max() <= step / 2 + 1e-5
        np.testing.assert_array_equal(np.isnan(decoded), np.isnan(reference))


def test_bad_options_are_refused(ard: pathlib.Path) -> None:
    with pytest.raises(ParameterError, match="to_db=True"):
        pipeline.timeseries(ard, dtype="uint8", to_db=False)
    with pytest.raises(ParameterError, match="ls_mask"):
        pipeline.timeseries(ard, ls_mask=True)
    with pytest.raises(ParameterError, match="tracks"):
        pipeline.timeseries(ard, track=1)


def _class_means(
    chain: pathlib.Path, sim: pathlib.Path, item_href: str, day_list: list[str], pol: str
):
    landcover, lc_transform = _read(str(sim / "truth" / "landcover.tif"))
    avg, transform = _read(item_href)
    row0 = round((transform.f - lc_transform.f) / lc_transform.e)
    col0 = round((transform.c - lc_transform.c) / lc_transform.a)
    window = (slice(row0, row0 + avg.shape[0]), slice(col0, col0 + avg.shape[1]))
    classes = landcover[window]
    truth = np.mean(
        [_read(str(sim / "truth" / f"gamma0_{d}_{pol}.tif"))[0][window] for d in day_list], axis=0
    )
    out = {}
    for code in (1, 2, 3, 4):
        mask = (classes == code) & np.isfinite(avg)
        got = 10 * np.log10(np.mean(10 ** (avg[mask] / 10)))
        out[code] = (got, 10 * np.log10(np.mean(truth[mask])), int(mask.sum()))
    return out


# OST's ranges of the metrics for integer output (OST_SPEC.md §4.2)
_RANGES = {"avg": (-30, 5), "p5": (-30, 5), "p95": (-30, 5), "std": (1e-5, 0.2), "cov": (1e-5, 1)}


@pytest.mark.parametrize("dtype", ["uint8", "uint16"])
def test_integer_timescan_decodes_to_the_float_one(
    chain: pathlib.Path, tmp_path: pathlib.Path, dtype: str
) -> None:
    store = _copy(chain, tmp_path)
    metrics = ["avg", "std", "cov", "count", "percentiles"]
    floats = pipeline.timescan_products(store, metrics=metrics, track=117, overwrite=True)[0]
    base = store.item_path("s1-timescan", floats.id).parent
    expected = {
        k: _read(str(base / a.href))[0] for k, a in floats.assets.items() if k != "quicklook"
    }
    codes = pipeline.timescan_products(
        store, metrics=metrics, track=117, dtype=dtype, overwrite=True
    )[0]
    assert codes.id == floats.id and set(codes.assets) == set(floats.assets)
    levels = {"uint8": 255, "uint16": 65535}[dtype]
    for key, want in expected.items():
        with rasterio.open(base / codes.assets[key].href) as src:
            assert src.dtypes[0] == dtype and src.nodata == 0
            raw = src.read(1)
            got = np.where(raw == 0, np.nan, raw * src.scales[0] + src.offsets[0])
        np.testing.assert_array_equal(raw == 0, np.isnan(want), err_msg=key)  # 0 = no data only
        metric = key.split("_")[1]
        if metric == "count":
            np.testing.assert_array_equal(got, want)  # exact
            continue
        low, high = _RANGES[metric]
        step = (high - low) / (levels - 1)
        assert codes.assets[key].extra_fields["raster:scale"] == pytest.approx(step)
        err = np.abs(got - np.clip(want, low, high))[np.isfinite(want)]
        assert err.max() <= step / 2 + 1e-6 * (high - low), (key, err.max(), step)
    store.validate()


def test_timescan_dtype_is_checked(chain: pathlib.Path, tmp_path: pathlib.Path) -> None:
    with pytest.raises(ParameterError, match="dtype='int8'"):
        pipeline.timescan_products(chain, dtype="int8")


def test_timescan_avg_recovers_the_class_means(chain: pathlib.Path, sim: pathlib.Path) -> None:
    store = StaticCatalog(chain)
    truth = json.loads((sim / "truth" / "truth.json").read_text())
    for scan in store.items("s1-timescan"):
        days = _dates(scan)
        for pol in ("VV", "VH"):
            means = _class_means(
                chain, sim, scan.assets[f"{pol.lower()}_avg"].get_absolute_href(), days, pol
            )
            for code, (got, expected, count) in means.items():
                assert count > 500
                assert abs(got - expected) < 0.3, (scan.id, pol, code, got, expected)
            # classes without texture: against the nominal values of truth.json
            for code, name in ((1, "water"), (2, "forest")):
                nominal = 10 * np.log10(
                    np.mean(
                        [
                            10 ** (truth["gamma0_db"][f"{d[:4]}-{d[4:6]}-{d[6:]}"][pol][name] / 10)
                            for d in days
                        ]
                    )
                )
                assert abs(means[code][0] - nominal) < 0.3


def _dates(scan: pystac.Item) -> list[str]:
    """Dates (YYYYMMDD) of the time series a timescan derives from."""
    link = next(link for link in scan.links if link.rel == "derived_from")
    series = json.loads(pathlib.Path(link.get_absolute_href()).read_text())
    return [v[:10].replace("-", "") for v in series["properties"]["cube:dimensions"]["t"]["values"]]


def test_mosaic_has_no_seam_and_covers_both_tracks(chain: pathlib.Path, sim: pathlib.Path) -> None:
    store = StaticCatalog(chain)
    (mosaic,) = store.items("s1-mosaic")
    scans = {s.properties["sat:orbit_state"]: s for s in store.items("s1-timescan")}
    values, transform = _read(mosaic.assets["vv_avg"].get_absolute_href())
    _, lc_transform = _read(str(sim / "truth" / "landcover.tif"))
    row0 = round((transform.f - lc_transform.f) / lc_transform.e)
    col0 = round((transform.c - lc_transform.c) / lc_transform.a)
    # union of the two tracks' extents, no gap
    edges = {}
    for direction, scan in scans.items():
        _, t = _read(scan.assets["vv_avg"].get_absolute_href())
        shape = scan.properties["proj:shape"]
        start = round((t.c - transform.c) / transform.a)
        edges[direction] = (start, start + shape[1])
    assert values.shape[1] == max(e[1] for e in edges.values()) - min(e[0] for e in edges.values())
    assert np.isfinite(values).mean() > 0.99
    # forest level in the west-only, overlap and east-only strips agree: no seam
    west, east = edges["ascending"], edges["descending"]
    strips = [slice(0, east[0]), slice(east[0], west[1]), slice(west[1], values.shape[1])]
    # level relative to the truth (mean of all dates) in the west-only, overlap and east-only
    # strips: a seam or a gain error would show as a step between strips
    days = sorted({d for scan in scans.values() for d in _dates(scan)})
    window = (slice(row0, row0 + values.shape[0]), slice(col0, col0 + values.shape[1]))
    truth = np.mean(
        [_read(str(sim / "truth" / f"gamma0_{d}_VV.tif"))[0][window] for d in days], axis=0
    )
    levels = []
    for cols in strips:
        ok = np.isfinite(values[:, cols])
        ratio = np.mean(10 ** (values[:, cols][ok] / 10)) / np.mean(truth[:, cols][ok])
        levels.append(10 * np.log10(ratio))
    assert max(np.abs(levels)) < 0.15, levels


def test_rerun_skips_complete_products(chain: pathlib.Path) -> None:
    store = StaticCatalog(chain)
    files = sorted(chain.glob("s1-*/*/*.tif")) + sorted(chain.glob("s1-*/*/*.json"))
    before = {f: f.stat().st_mtime_ns for f in files}
    ids = [i.id for i in pipeline.timeseries(store)]
    ids += [i.id for i in pipeline.timescan_products(store)]
    ids += [i.id for i in pipeline.mosaic_products(store)]
    assert len(ids) == 7
    assert {f: f.stat().st_mtime_ns for f in files} == before


def test_crash_mid_write_registers_nothing(
    ard: pathlib.Path, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _copy(ard, tmp_path)

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr("s1stac._pipeline_steps.write_timeseries_animation", crash)
    with pytest.raises(RuntimeError, match="disk full"):
        pipeline.timeseries(store, track=117)
    assert store.item_ids("s1-timeseries") == []
    assert not any((store.root / "s1-timeseries").glob("ts_*"))
    monkeypatch.undo()
    assert len(pipeline.timeseries(store, track=117)) == 2


def test_crash_while_overwriting_leaves_no_stale_item_listed(
    ard: pathlib.Path, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _copy(ard, tmp_path)
    first = pipeline.timeseries(store, track=117, polarisations=["VV"])
    assert [i.id for i in first] == store.item_ids("s1-timeseries")

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("killed")

    monkeypatch.setattr("s1stac._pipeline_steps.write_timeseries_animation", crash)
    with pytest.raises(RuntimeError, match="killed"):
        pipeline.timeseries(store, track=117, polarisations=["VV"], dtype="uint8", overwrite=True)
    # the old float32 item is not listed over the new uint8 files
    assert store.item_ids("s1-timeseries") == []
    store.validate()
    monkeypatch.undo()
    again = pipeline.timeseries(store, track=117, polarisations=["VV"], dtype="uint8")
    assert [i.id for i in again] == store.item_ids("s1-timeseries")
    assert is_complete(store, "s1-timeseries", again[0].id)


# ---------------------------------------------------------------------------------------------
# process graphs


GRAPHS = pathlib.Path(__file__).resolve().parents[1] / "process_graphs"


def _process_ids(value: object) -> set[str]:
    if isinstance(value, dict):
        ids = {value["process_id"]} if isinstance(value.get("process_id"), str) else set()
        return ids.union(*(_process_ids(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_process_ids(v) for v in value))
    return set()


@pytest.mark.parametrize("name", sorted(p.name for p in GRAPHS.glob("*.json")))
def test_process_graph_uses_only_registered_processes(name: str, tmp_path: pathlib.Path) -> None:
    from s1stac.openeo import validate_graph
    from s1stac.openeo.graph import load_process
    from s1stac.openeo.registry import PROCESSES

    process = load_process(GRAPHS / name)
    ids = _process_ids(process["process_graph"])
    if "sar_backscatter" in ids and "sar_backscatter" not in PROCESSES:
        pytest.skip("sar_backscatter lands with the ARD stage")
    assert ids and ids <= set(PROCESSES), ids - set(PROCESSES)
    StaticCatalog(tmp_path)
    required = {p["name"]: 1 for p in process.get("parameters", []) if "default" not in p}
    validate_graph(GRAPHS / name, catalog=tmp_path, parameters=required)


def test_graph_files_cover_the_chain() -> None:
    names = {p.stem for p in GRAPHS.glob("*.json")}
    assert {"ard", "timeseries", "timescan", "mosaic", "full_chain"} <= names


def test_mosaic_graph_equals_the_pipeline_mosaic(
    chain: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    from s1stac.openeo import run_graph

    root = tmp_path / "catalog"
    shutil.copytree(chain, root)
    (expected,) = StaticCatalog(root).items("s1-mosaic")
    item = run_graph(
        GRAPHS / "mosaic.json", catalog=root, parameters={"bands": ["vv_avg", "vh_avg"]}
    ).items[0]
    for key in ("vv_avg", "vh_avg"):
        got, t1 = _read(
            str(root / "s1-mosaic" / item["id"] / pathlib.Path(item["assets"][key]["href"]).name)
        )
        want, t2 = _read(expected.assets[key].get_absolute_href())
        assert t1 == t2
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)


def test_load_collection_of_geographic_items_has_y_x_dims(ard: pathlib.Path) -> None:
    from s1stac.openeo import run_graph

    graph = {
        "load": {
            "process_id": "load_collection",
            "arguments": {"id": "s1-ard", "spatial_extent": None, "temporal_extent": None},
            "result": True,
        }
    }
    cube = run_graph({"process_graph": graph}, catalog=ard).value
    assert cube.dims == ("t", "bands", "y", "x")
    assert cube.odc.geobox.crs.epsg == 4326
    first = min(StaticCatalog(ard).items("s1-ard"), key=lambda i: i.datetime)
    values, transform = _read(first.assets["vv"].get_absolute_href())
    col = round((transform.c - cube.odc.geobox.affine.c) / transform.a)
    row = round((transform.f - cube.odc.geobox.affine.f) / transform.e)
    layer = cube.isel(t=0).sel(bands="vv").values
    window = layer[row : row + values.shape[0], col : col + values.shape[1]]
    np.testing.assert_array_equal(window, values.astype(np.float32))


def test_demo_runs_the_chain_once_ard_exists(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With an ARD writer (here ARD-like items from the truth) the demo runs every level."""
    import s1stac.ard

    workdir = tmp_path / "demo"

    def ard_products(store: StaticCatalog) -> list[pystac.Item]:
        products = sorted((workdir / "products").glob("S1*.SAFE"))
        one_per_date = {p.name.split("_")[4][:8]: p for p in products}  # slices share a date
        return register_ard_like(store, list(one_per_date.values()), workdir / "products" / "truth")

    monkeypatch.setattr(s1stac.ard, "ard_products", ard_products, raising=False)
    result = pipeline.run_demo(workdir, catalog=tmp_path / "catalog")
    assert result.stopped is None
    assert result.levels == {"s1-ard": 6, "s1-timeseries": 4, "s1-timescan": 2, "s1-mosaic": 3}
    assert {p.suffix for p in result.pictures} == {".gif", ".png"}
    assert "s1-mosaic: 3 item(s)" in result.summary()


def test_ls_mask_excludes_pixels_flagged_at_any_date(
    ard: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    import xarray as xr
    from odc.geo.xr import xr_coords

    from s1stac.io import write_cogs
    from s1stac.products import item_grid

    store = _copy(ard, tmp_path)
    items = sorted(
        (i for i in store.items("s1-ard") if i.properties["sat:relative_orbit"] == 117),
        key=lambda i: i.datetime,
    )
    # date k flags rows 100 + 10 k ... 110 + 10 k, columns 50...80 of the truth grid
    for k, item in enumerate(items):
        grid = item_grid(item, "vv")
        mask = np.zeros(grid.shape, dtype=np.uint8)
        top = 100 + 10 * k - k  # item k starts k rows below the truth grid's top
        mask[top : top + 10, 50:80] = 2
        path = store.item_path("s1-ard", item.id).parent / f"{item.id}_ls.tif"
        layer = xr.DataArray(mask, dims=("y", "x"), coords=xr_coords(grid, dims=("y", "x")))
        write_cogs({path: layer.assign_attrs(_FillValue=255)})
        item.add_asset(
            "ls_mask",
            pystac.Asset(str(path), "layover/shadow", None, "image/tiff", ["data"]),
        )
    store.add_items("s1-ard", items)
    (series,) = pipeline.timeseries(
        store, track=117, polarisations=["VV"], mt_speckle_filter=None, ls_mask=True
    )
    keys = [k for k, a in series.assets.items() if "data" in a.roles]
    row0 = DATES - 1  # the common extent starts at truth row DATES - 1
    for key in keys:
        values, _ = _read(series.assets[key].get_absolute_href())
        flagged = np.zeros(values.shape, dtype=bool)
        flagged[100 - row0 : 130 - row0, 50:80] = True
        assert np.isnan(values[flagged]).all()
        assert np.isfinite(values[~flagged]).all()


def test_timeseries_mosaic_pairs_dates_and_keeps_single_track_pixels(
    chain: pathlib.Path, tmp_path: pathlib.Path, schemas_dir: pathlib.Path
) -> None:
    root = tmp_path / "catalog"
    shutil.copytree(chain, root)
    items = pipeline.mosaic_timeseries_products(root, window_days=6, harmonise=False)
    assert [i.properties["sar:polarizations"] for i in items] == [["VV"], ["VH"]]
    vv = items[0]
    keys = [k for k, a in vv.assets.items() if "data" in a.roles]
    assert len(keys) == DATES
    # each group: the descending pass one day before the ascending one
    spans = [
        (
            vv.assets[k].extra_fields["start_datetime"][:10],
            vv.assets[k].extra_fields["end_datetime"][:10],
        )
        for k in keys
    ]
    assert spans == [
        ("2021-03-09", "2021-03-10"),
        ("2021-03-21", "2021-03-22"),
        ("2021-04-02", "2021-04-03"),
    ]
    assert StaticCatalog(root).validate(schemas_dir) > 0
    # west of the descending track only the ascending track is seen: its value is kept
    store = StaticCatalog(root)
    asc = next(
        i
        for i in store.items("s1-timeseries")
        if i.properties["sat:orbit_state"] == "ascending"
        and i.properties["sar:polarizations"] == ["VV"]
    )
    desc_west = min(
        i.properties["proj:transform"][2]
        for i in store.items("s1-timeseries")
        if i.properties["sat:orbit_state"] == "descending"
    )
    asc_keys = [k for k, a in asc.assets.items() if "data" in a.roles]
    for key, asc_key in zip(keys, asc_keys, strict=True):
        mosaic, transform = _read(vv.assets[key].get_absolute_href())
        single, t_asc = _read(asc.assets[asc_key].get_absolute_href())
        col = round((desc_west - transform.c) / transform.a)
        row = round((t_asc.f - transform.f) / transform.e)
        west = mosaic[row : row + single.shape[0], : col - 1]
        np.testing.assert_allclose(west, single[:, : col - 1], rtol=0, atol=1e-4)


# ---------------------------------------------------------------------------------------------
# the same steps from the command line


def test_cli_steps_write_the_products_of_the_python_api(
    ard: pathlib.Path, chain: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    from typer.testing import CliRunner

    from s1stac.cli import app

    store = _copy(ard, tmp_path)
    runner = CliRunner()
    for command in (["timeseries"], ["timescan"], ["mosaic"]):
        result = runner.invoke(app, [*command, "--catalog", str(store.root)])
        assert result.exit_code == 0, result.output
    reference = StaticCatalog(chain)
    for collection in ("s1-timeseries", "s1-timescan", "s1-mosaic"):
        assert store.item_ids(collection) == reference.item_ids(collection)
        for item_id in store.item_ids(collection):
            ours = sorted((store.item_path(collection, item_id).parent).glob("*.tif"))
            theirs = sorted((reference.item_path(collection, item_id).parent).glob("*.tif"))
            assert [p.name for p in ours] == [p.name for p in theirs]
            for a, b in zip(ours, theirs, strict=True):
                np.testing.assert_array_equal(_read(str(a))[0], _read(str(b))[0])
    # complete products are skipped on a re-run
    files = sorted(store.root.glob("s1-timescan/*/*"))
    before = [f.stat().st_mtime_ns for f in files]
    result = runner.invoke(app, ["timescan", "--catalog", str(store.root)])
    assert result.exit_code == 0, result.output
    assert [f.stat().st_mtime_ns for f in files] == before
    result = runner.invoke(app, ["timescan", "--catalog", str(store.root), "--dtype", "int8"])
    assert result.exit_code == 2
    assert "dtype='int8'" in result.output and "Traceback" not in result.output
    result = runner.invoke(app, ["mosaic", "--catalog", str(tmp_path / "nothing")])
    assert result.exit_code == 2 and "error:" in result.output
