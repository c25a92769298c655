"""Mosaics of simulated overlapping tracks (``OST_SPEC.md`` §5): harmonisation, feathering, AOI."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyproj
import pytest
import scipy.ndimage
import shapely
import xarray as xr
from affine import Affine
from odc.geo.geobox import GeoBox
from odc.geo.xr import xr_coords

from s1stac.errors import AoiError, ParameterError
from s1stac.mosaic import (
    feather_weights,
    harmonisation_gains,
    mosaic,
    mosaic_timeseries,
    pair_by_date_window,
)

ONE_DB = 10**0.1
GRID = GeoBox((160, 300), Affine(20.0, 0.0, 300000.0, 0.0, -20.0, 4650000.0), "EPSG:32633")


def smooth_field(shape: tuple[int, ...] = GRID.shape, seed: int = 0) -> np.ndarray:
    """Known gamma0 (linear): a smooth random field of -10 dB ± 3 dB."""
    noise = np.random.default_rng(seed).normal(size=shape)
    db = scipy.ndimage.gaussian_filter(noise, (0,) * (len(shape) - 2) + (6, 6))
    return 10 ** ((-10.0 + 3.0 * db / db.std()) / 10)


def track(values: np.ndarray, rows: slice, cols: slice, name: str, **dims: list) -> xr.DataArray:
    """Cut ``values`` (..., y, x on GRID) to a window: an image on the aligned grid."""
    coords = {**dims, **xr_coords(GRID[rows, cols], dims=("y", "x"))}
    return xr.DataArray(
        values[..., rows, cols].astype(np.float32),
        dims=(*dims, "y", "x"),
        coords=coords,
        name=name,
        attrs={"units": "m2 m-2"},
    )


def to_db(x: np.ndarray) -> np.ndarray:
    return 10 * np.log10(x)


def seam_steps(result: xr.DataArray, truth: np.ndarray, width: int = 10) -> tuple[float, float]:
    """Error step (dB) between strips left/right of the overlap, and the largest column jump."""
    err = (to_db(result.values) - to_db(truth)).mean(axis=0)
    step = err[200 : 200 + width].mean() - err[100 - width : 100].mean()
    return float(step), float(np.abs(np.diff(err)).max())


@pytest.fixture(scope="module")
def field() -> np.ndarray:
    return smooth_field()


@pytest.fixture(scope="module")
def pair(field: np.ndarray) -> tuple[xr.DataArray, xr.DataArray]:
    """Track A on columns 0-199, track B on 100-299 with a +1 dB calibration offset."""
    a = track(field, slice(None), slice(0, 200), "A")
    b = track(field * ONE_DB, slice(None), slice(100, 300), "B")
    return a, b


def test_harmonised_mosaic_removes_the_1db_seam(field: np.ndarray, pair: tuple) -> None:
    raw = mosaic(pair, harmonise=False)
    step, jump = seam_steps(raw, field)
    assert step == pytest.approx(1.0, abs=0.01)
    harmonised = mosaic(pair)
    step, jump = seam_steps(harmonised, field)
    assert abs(step) < 0.1 and jump < 0.1
    assert abs(step) < 1e-4  # noise-free data: exact
    # without feathering the seam is a hard step at the overlap edges (mean of A and B inside)
    raw_step, raw_jump = seam_steps(mosaic(pair, harmonise=False, feather_distance=0), field)
    assert raw_jump == pytest.approx(to_db((1 + ONE_DB) / 2), abs=0.01)
    assert seam_steps(mosaic(pair, feather_distance=0), field)[1] < 0.1


def test_gains_keep_total_energy_or_the_reference(pair: tuple) -> None:
    a, b = pair
    gains = harmonisation_gains(pair).values
    assert gains[0] / gains[1] == pytest.approx(ONE_DB, rel=1e-6)
    energy = np.nansum(a.values, dtype=np.float64), np.nansum(b.values, dtype=np.float64)
    assert gains[0] * energy[0] + gains[1] * energy[1] == pytest.approx(sum(energy), rel=1e-9)
    np.testing.assert_allclose(harmonisation_gains(pair, reference="A").values, [1, 1 / ONE_DB])
    np.testing.assert_allclose(harmonisation_gains(pair, reference=1).values, [ONE_DB, 1])
    with pytest.raises(ParameterError, match="reference='C'"):
        harmonisation_gains(pair, reference="C")
    given = mosaic(pair, gains=harmonisation_gains(pair, reference="A"))
    xr.testing.assert_allclose(given, mosaic(pair, reference=0))
    with pytest.raises(ParameterError, match="gains has shape"):
        mosaic(pair, gains=xr.DataArray([1.0, 1.0, 1.0], dims="image"))


def test_speckled_tracks_give_unbiased_gains(field: np.ndarray) -> None:
    """16-look speckle, independent per track; OTB's second-moment ratio would be biased."""
    rng = np.random.default_rng(7)
    looks = 16
    a_full = field * rng.gamma(looks, 1 / looks, field.shape)
    b_full = field * ONE_DB * rng.gamma(looks, 1 / looks, field.shape)
    a = track(a_full, slice(None), slice(0, 200), "A")
    b = track(b_full, slice(None), slice(100, 300), "B")
    gains = harmonisation_gains([a, b]).values
    assert to_db(gains[0] / gains[1]) == pytest.approx(1.0, abs=0.05)
    ia, ib = a_full[:, 100:200], b_full[:, 100:200]
    otb_ratio = (ia * ib).mean() / (ia * ia).mean()  # OTB "rmse": E[IaIb] / E[Ia²]
    assert to_db(otb_ratio) < 1.0 - 0.15  # expected 1 - 10 log10(1 + 1/16) = 0.74 dB
    assert seam_steps(mosaic([a, b], harmonise=False), field, width=100)[0] > 0.9
    assert abs(seam_steps(mosaic([a, b]), field, width=100)[0]) < 0.1


def test_three_tracks_and_an_isolated_one() -> None:
    field = smooth_field((160, 400), seed=3)
    grid = GeoBox((160, 400), GRID.affine, GRID.crs)
    offsets = [0.0, 1.0, -0.5, 2.0]  # dB
    windows = [slice(0, 150), slice(100, 250), slice(200, 330), slice(350, 400)]
    images = []
    for k, (off, cols) in enumerate(zip(offsets, windows, strict=True)):
        coords = xr_coords(grid[:, cols], dims=("y", "x"))
        values = (field[:, cols] * 10 ** (off / 10)).astype(np.float32)
        images.append(xr.DataArray(values, dims=("y", "x"), coords=coords, name=f"T{k}"))
    gains = harmonisation_gains(images, reference=0).values
    np.testing.assert_allclose(to_db(gains[:3]), [0.0, -1.0, 0.5], atol=1e-4)
    assert gains[3] == 1.0  # no overlap: untouched
    out = mosaic(images, reference=0).values
    np.testing.assert_allclose(to_db(out[:, :330]), to_db(field[:, :330]), atol=1e-4)
    assert np.isnan(out[:, 330:350]).all()
    np.testing.assert_allclose(out[:, 350:], images[3].values, rtol=1e-6)


def test_bands_get_their_own_gains_and_dask_matches_numpy(field: np.ndarray) -> None:
    cube = np.stack([field, field[::-1] * 0.2])
    off = np.array([ONE_DB, 10**-0.2])[:, None, None]
    band = {"band": ["VV", "VH"]}
    a = track(cube, slice(None), slice(0, 200), "A", **band)
    b = track(cube * off, slice(None), slice(100, 300), "B", **band)
    gains = harmonisation_gains([a, b])
    assert gains.dims == ("image", "band")
    np.testing.assert_allclose(gains.sel(band="VV")[0] / gains.sel(band="VV")[1], ONE_DB)
    np.testing.assert_allclose(gains.sel(band="VH")[0] / gains.sel(band="VH")[1], 10**-0.2)
    eager = mosaic([a, b], feather_distance=30)
    lazy = mosaic([a.chunk(64), b.transpose("y", "band", "x").chunk(50)], feather_distance=30)
    assert lazy.dims == ("band", "y", "x") and lazy.data.chunksize == (2, 64, 64)
    xr.testing.assert_allclose(eager.compute(), lazy.compute())
    ratio = eager.values / (cube * gains.values[0][:, None, None])
    np.testing.assert_allclose(ratio, 1.0, rtol=1e-5)


def test_feather_weights_are_continuous(pair: tuple) -> None:
    for shrink in (1, 4):
        w = feather_weights(pair, distance_shrink=shrink).values
        share = w[0] / w.sum(axis=0)
        row = share[80]
        assert row[:100] == pytest.approx(1.0, abs=1e-4)
        assert row[200:] == pytest.approx(0.0, abs=1e-4)
        assert np.abs(np.diff(row)).max() < 2.5 / 100  # a 100-pixel ramp, no step
        assert row[150] == pytest.approx(0.5, abs=0.03)
    capped = feather_weights(pair, feather_distance=10).values
    share = capped[0, 80] / capped[:, 80].sum(axis=0)
    assert share[115:185] == pytest.approx(0.5, abs=1e-3)  # both at the cap: plain mean
    assert np.abs(np.diff(share)).max() < 1 / 10 + 1e-3  # 10-pixel ramp
    metres = feather_weights(pair, feather_distance=200.0, feather_unit="metre").values
    np.testing.assert_allclose(metres, capped, rtol=1e-6)


def test_hole_is_filled_from_the_other_track(field: np.ndarray, pair: tuple) -> None:
    a, b = pair
    a = a.copy()
    a.values[60:90, 140:160] = np.nan
    out = mosaic([a, b], harmonise=False).values
    np.testing.assert_allclose(out[60:90, 140:160], b.values[60:90, 40:60], rtol=1e-6)
    w = feather_weights([a, b]).values[0]
    assert w[60:90, 140:160].max() == 0.0
    assert w[59, 150] < w[50, 150] < w[40, 150]  # ramps up away from the hole
    # a pixel seen by one track keeps its value, even at that track's edge
    np.testing.assert_allclose(out[:, :100], a.values[:, :100], rtol=1e-6)
    np.testing.assert_allclose(out[:, 299], b.values[:, 199], rtol=1e-6)


def test_aoi_cut(pair: tuple) -> None:
    to_lonlat = pyproj.Transformer.from_crs(32633, 4326, always_xy=True)
    corners = [(300500.0, 4648000.0), (305500.0, 4647500.0), (302000.0, 4647000.0)]
    triangle = shapely.Polygon([to_lonlat.transform(x, y) for x, y in corners])
    out = mosaic(pair, aoi=triangle)
    gbox = out.odc.geobox
    xx, yy = np.meshgrid(out.x.values, out.y.values)
    inside = shapely.contains_xy(triangle, *to_lonlat.transform(xx, yy))
    assert inside.any() and (~inside).any()
    assert np.isfinite(out.values[inside]).all() and np.isnan(out.values[~inside]).all()
    assert gbox.shape[1] < GRID.shape[1] and gbox.shape[0] < GRID.shape[0]  # cropped to bounds
    full = mosaic(pair, aoi=triangle, geobox=GRID)
    assert full.shape == GRID.shape and int(np.isfinite(full.values).sum()) == inside.sum()
    with pytest.raises(AoiError, match="does not overlap"):
        mosaic(pair, aoi="20,10,21,11")


def test_inputs_must_share_one_aligned_grid(field: np.ndarray, pair: tuple) -> None:
    a, b = pair
    shifted = b.assign_coords(x=b.x + 10.0)  # half a pixel
    with pytest.raises(ParameterError, match=r"images\[1\] \('B'\) is not aligned"):
        mosaic([a, shifted])
    coarse = track(field, slice(None), slice(100, 300), "C").isel(x=slice(None, None, 2))
    with pytest.raises(ParameterError, match=r"images\[1\] \('C'\) has pixel size"):
        mosaic([a, coarse])
    other = b.odc.assign_crs("EPSG:32632")
    with pytest.raises(ParameterError, match=r"images\[1\] \('B'\) is in"):
        mosaic([a, other])
    with pytest.raises(ParameterError, match="in dB"):
        mosaic([a, b.assign_attrs(units="dB")])
    with pytest.raises(ParameterError, match="dtype uint8"):
        mosaic([a, b.astype(np.uint8)])
    with pytest.raises(ParameterError, match="non-spatial dimensions"):
        mosaic([a, b.expand_dims(band=["VV"])])
    with pytest.raises(ParameterError, match="feather_distance"):
        mosaic(pair, feather_distance=-1)
    offset_grid = GeoBox(GRID.shape, GRID.affine * Affine.translation(0.5, 0), GRID.crs)
    with pytest.raises(ParameterError, match="not aligned with geobox"):
        mosaic(pair, geobox=offset_grid)


def test_pair_by_date_window() -> None:
    day = dt.datetime(2020, 1, 1, 5, 30)
    acq = {
        "117": [day, day + dt.timedelta(days=12), day + dt.timedelta(days=24)],
        "44": [day + dt.timedelta(days=14, hours=12), "2020-01-03T17:00:00+01:00"],
    }
    groups = pair_by_date_window(acq, 6)
    assert [g.members for g in groups] == [
        (("117", 0), ("44", 1)),
        (("117", 1), ("44", 0)),
        (("117", 2),),
    ]
    assert groups[0].end == dt.datetime(2020, 1, 3, 16, 0)  # converted to UTC
    assert [g.label for g in groups] == ["200101-200103", "200113-200115", "200125"]
    assert [g.members for g in pair_by_date_window(acq, 6, require_all=True)] == [
        (("117", 0), ("44", 1)),
        (("117", 1), ("44", 0)),
    ]
    assert len(pair_by_date_window(acq, 1)) == 5  # nothing within a day of another track
    with pytest.raises(ParameterError, match="window_days"):
        pair_by_date_window(acq, -1)
    with pytest.raises(ParameterError, match=r"acquisitions\['44'\]\[0\]"):
        pair_by_date_window({"44": ["not a date"]}, 6)


def test_mosaic_timeseries(field: np.ndarray, pair: tuple) -> None:
    a, b = pair
    t_a = np.array(["2020-01-01T05:00", "2020-01-13T05:00"], dtype="datetime64[ns]")
    t_b = np.array(["2020-01-03T17:00", "2020-01-15T17:00"], dtype="datetime64[ns]")
    cube_a = xr.concat([a, a * 2], dim="t").assign_coords(t=t_a)
    cube_b = xr.concat([b, b * 2], dim="t").assign_coords(t=t_b)
    out = mosaic_timeseries({"117": cube_a, "44": cube_b}, window_days=6)
    assert out.dims == ("t", "y", "x") and out.sizes["t"] == 2
    np.testing.assert_array_equal(out.t.values, t_a)
    np.testing.assert_array_equal(out.end_datetime.values, t_b)
    first = out.isel(t=0).drop_vars(["t", "start_datetime", "end_datetime"])
    xr.testing.assert_allclose(first, mosaic(pair).compute())
    np.testing.assert_allclose(out.isel(t=1).values, 2 * out.isel(t=0).values, rtol=1e-6)
