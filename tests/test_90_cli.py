"""The ``s1stac`` command line, run through typer's CliRunner on real commands and data."""

from __future__ import annotations

import json
import pathlib

import pytest
from typer.testing import CliRunner

from s1stac.catalog import StaticCatalog
from s1stac.cli import app

runner = CliRunner()

COMMANDS = [
    "inventory",
    "ard",
    "simulate",
    "validate",
    "demo",
    "run",
    "processes",
    "serve",
    "version",
    "timeseries",
    "timescan",
    "download",
    "mosaic",
]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_inventory_real_products(
    grd_dir: pathlib.Path, schemas_dir: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    catalog = tmp_path / "catalog"
    png = tmp_path / "map.png"
    result = runner.invoke(
        app, ["inventory", str(grd_dir), "--catalog", str(catalog), "--plot", str(png)]
    )
    assert result.exit_code == 0, result.output
    assert "ASCENDING_VVVH" in result.output and "DESCENDING_VVVH" in result.output
    ids = StaticCatalog(catalog).item_ids("sentinel-1-grd")
    # six products, one an older processing of another: five items
    assert len(ids) == 5 and not any(i.endswith("FEC3") for i in ids)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    result = runner.invoke(
        app, ["validate", "--catalog", str(catalog), "--schemas", str(schemas_dir)]
    )
    assert result.exit_code == 0, result.output
    assert "11 STAC objects valid" in result.output  # catalog + 5 collections + 5 items


def test_inventory_bad_aoi_is_one_clear_line(grd_dir: pathlib.Path, tmp_path: pathlib.Path) -> None:
    bad = tmp_path / "aoi.geojson"
    bad.write_text("{not json")
    result = runner.invoke(
        app, ["inventory", str(grd_dir), "--catalog", str(tmp_path / "c"), "--aoi", str(bad)]
    )
    assert result.exit_code == 2
    assert "aoi.geojson" in result.output and "Traceback" not in result.output
    far = "POLYGON((-60 -10,-59 -10,-59 -9,-60 -9,-60 -10))"
    result = runner.invoke(
        app, ["inventory", str(grd_dir), "--catalog", str(tmp_path / "c"), "--aoi", far]
    )
    assert result.exit_code == 2
    assert "touches none" in result.output


def test_inventory_without_input_fails_cleanly(tmp_path: pathlib.Path) -> None:
    result = runner.invoke(app, ["inventory", "--catalog", str(tmp_path / "c")])
    assert result.exit_code == 2
    assert "PATH" in result.output


def test_validate_reports_a_broken_catalog(
    schemas_dir: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    catalog = tmp_path / "catalog"
    StaticCatalog(catalog)
    collection = catalog / "s1-ard" / "collection.json"
    data = json.loads(collection.read_text())
    del data["license"]
    collection.write_text(json.dumps(data))
    result = runner.invoke(
        app, ["validate", "--catalog", str(catalog), "--schemas", str(schemas_dir)]
    )
    assert result.exit_code == 2
    assert "s1-ard" in result.output


def test_demo_ends_in_a_valid_catalog(
    schemas_dir: pathlib.Path, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("S1STAC_STAC_SCHEMAS", str(schemas_dir))
    out = tmp_path / "demo"
    catalog = out / "catalog"  # the catalog of the run lives under --out
    args = ["demo", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    store = StaticCatalog(catalog)
    ids = store.item_ids("sentinel-1-grd")
    # two tracks x 3 dates x 2 slices, all registered; one ARD item per acquisition
    assert len(ids) == 12
    assert len(store.item_ids("s1-ard")) == 6
    for level in ("s1-timeseries", "s1-timescan", "s1-mosaic"):
        assert store.item_ids(level), level
    assert "STAC objects valid" in result.output
    # a re-run reuses the products, skips complete ones and leaves the same catalog
    before = {p: p.stat().st_mtime_ns for p in catalog.rglob("*.tif")}
    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    assert sorted(StaticCatalog(catalog).item_ids("sentinel-1-grd")) == sorted(ids)
    assert {p: p.stat().st_mtime_ns for p in catalog.rglob("*.tif")} == before


def test_user_add_reads_the_password_from_stdin(tmp_path: pathlib.Path) -> None:
    from s1stac.api import list_users

    catalog = tmp_path / "catalog"
    StaticCatalog(catalog)
    result = runner.invoke(
        app, ["user", "add", "alice", "--catalog", str(catalog)], input="correct horse\n"
    )
    assert result.exit_code == 0, result.output
    assert list_users(catalog) == ["alice"]
    again = runner.invoke(
        app, ["user", "add", "alice", "--catalog", str(catalog)], input="battery staple\n"
    )
    assert again.exit_code == 2  # exists: --replace is needed


def test_ard_command_on_simulated_slices(tmp_path: pathlib.Path) -> None:
    from s1stac.simulate import simulate

    sim = simulate(tmp_path / "products", dates=1, slices=2, tracks=None, seed=3)
    catalog = tmp_path / "catalog"
    slices = [str(p) for p in sim.products[:2]]  # the two slices of the first acquisition
    missing = runner.invoke(app, ["ard", *slices, "--catalog", str(catalog)])
    assert missing.exit_code == 2 and "--dem" in missing.output
    args = ["ard", *slices, "--catalog", str(catalog), "--dem", str(sim.dem), "--ls-mask"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    (item,) = StaticCatalog(catalog).items("s1-ard")
    assert {"vv", "vh", "ls_mask"} <= set(item.assets)
    assert len([link for link in item.links if link.rel == "derived_from"]) == 2
    bad = runner.invoke(app, [*args, "--resolution", "-1", "--overwrite"])
    assert bad.exit_code == 2 and "resolution" in bad.output
