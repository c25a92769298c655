"""Timescan metrics against independent numpy references (``OST_SPEC.md`` §4)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr

from s1stac import _timescan_kernel
from s1stac.errors import ParameterError
from s1stac.timescan import timescan

ALL = ("avg", "max", "min", "std", "cov", "median", "percentiles", "count")


def make_cube(n_t: int = 24, ny: int = 21, nx: int = 150, seed: int = 0) -> xr.DataArray:
    """Seeded dB stack with 20 % missing values, outliers, an empty and sparse pixels."""
    rng = np.random.default_rng(seed)
    x = rng.normal(-12.0, 3.0, (n_t, ny, nx)).astype(np.float32)
    x[rng.random(x.shape) < 0.02] += 15.0
    x[rng.random(x.shape) < 0.2] = np.nan
    x[:, 0, 0] = np.nan
    x[: n_t - 1, 0, 1] = np.nan
    x[-1, 0, 1] = -11.5
    x[: n_t - 4, 0, 2] = np.nan
    x[: n_t - 5, 0, 3] = np.nan
    times = np.datetime64("2020-01-05T17:00") + np.arange(n_t) * np.timedelta64(12, "D")
    return xr.DataArray(x, dims=("t", "y", "x"), coords={"t": times}, name="VV")


def ost_remove_outliers(x: np.ndarray, k: float = 2.0) -> np.ndarray:
    """OST ``remove_outliers`` (``OST_SPEC.md`` §11) with NaN as mask, pixels with >= 5 dates."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        p95 = np.nanpercentile(x, 95, axis=0)
        p5 = np.nanpercentile(x, 5, axis=0)
        y = np.where((x > p95) | (x < p5), np.nan, x)
        m, s = np.nanmean(y, axis=0), np.nanstd(y, axis=0)
        out = np.where((x > m + k * s) | (x < m - k * s), np.nan, x)
    return np.where(np.isfinite(x).sum(axis=0) >= 5, out, x)


def reference(x_db: np.ndarray, to_power: bool, outliers: bool) -> dict[str, np.ndarray]:
    x = 10 ** (x_db.astype(np.float64) / 10) if to_power else x_db.astype(np.float64)
    if outliers:
        x = ost_remove_outliers(x)

    def back(v: np.ndarray) -> np.ndarray:
        return 10 * np.log10(v) if to_power else v

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return {
            "avg": back(np.nanmean(x, 0)),
            "max": back(np.nanmax(x, 0)),
            "min": back(np.nanmin(x, 0)),
            "std": np.nanstd(x, 0),
            "cov": np.nanstd(x, 0) / np.nanmean(x, 0),
            "median": back(np.nanmedian(x, 0)),
            "p5": back(np.nanpercentile(x, 5, 0)),
            "p95": back(np.nanpercentile(x, 95, 0)),
            "p10": back(np.nanpercentile(x, 10, 0)),
            "count": np.isfinite(x_db).sum(0).astype(np.float64),
        }


@pytest.mark.parametrize("to_power", [True, False])
@pytest.mark.parametrize("remove_outliers", [True, False])
def test_metrics_equal_numpy_reference(to_power: bool, remove_outliers: bool) -> None:
    cube = make_cube()
    result = timescan(
        cube,
        (*ALL, "p10"),
        to_power=to_power,
        remove_outliers=remove_outliers,
    )
    expected = reference(cube.values, to_power, remove_outliers)
    assert list(result.metric.values) == [
        "avg", "max", "min", "std", "cov", "median", "p5", "p95", "count", "p10"
    ]  # fmt: skip
    assert result.dims == ("metric", "y", "x") and result.dtype == np.float32
    for name, ref in expected.items():
        np.testing.assert_allclose(result.sel(metric=name), ref, rtol=1e-5, err_msg=name)


def test_outlier_removal_changes_metrics_and_matches_hand_example() -> None:
    cube = make_cube()
    with_, without = (timescan(cube, ("max",), remove_outliers=r) for r in (True, False))
    assert (with_ < without).sum() > 50  # injected +15 dB outliers are removed
    # nine 1s and a 100: p5 = 1, p95 = 55.45, mean/std of the trimmed set 1/0 -> 100 removed
    series = np.array([1.0] * 9 + [100.0], dtype=np.float32)
    da = xr.DataArray(series[:, None, None], dims=("t", "y", "x"))
    out = timescan(da, ("max", "avg", "count"), to_power=False)
    np.testing.assert_array_equal(out.values[:, 0, 0], [1.0, 1.0, 10.0])
    # four valid dates: too few for outlier removal, the 100 stays
    out = timescan(da[6:], ("max",), to_power=False)
    assert out.values[0, 0, 0] == 100.0


def test_empty_and_sparse_pixels() -> None:
    cube = make_cube()
    result = timescan(cube, (*ALL, "harmonics"))
    empty = result.isel(y=0, x=0)
    assert empty.sel(metric="count") == 0
    assert np.isnan(empty.drop_sel(metric="count")).all()
    single = result.isel(y=0, x=1)
    assert single.sel(metric="count") == 1
    assert single.sel(metric="std") == 0
    value = cube.values[-1, 0, 1]
    for name in ("avg", "max", "min", "median", "p5", "p95"):
        np.testing.assert_allclose(single.sel(metric=name), value, rtol=1e-6)
    assert np.isnan(single.sel(metric="amplitude"))  # harmonics need 5 dates


def test_dask_chunked_equals_in_memory() -> None:
    cube = make_cube(seed=1)
    metrics = (*ALL, "harmonics")
    expected = timescan(cube, metrics)
    chunked = cube.chunk({"t": 5, "y": 8, "x": 64})
    lazy = timescan(chunked, metrics)
    assert lazy.chunks is not None
    assert lazy.chunksizes["y"] == chunked.chunksizes["y"]
    assert lazy.chunksizes["x"] == chunked.chunksizes["x"]
    xr.testing.assert_identical(lazy.compute(), expected)


def test_float64_and_other_dims_order() -> None:
    cube = make_cube(n_t=9, seed=2).astype(np.float64)
    result = timescan(cube.transpose("y", "t", "x"), ("avg", "p95"))
    assert result.dtype == np.float64 and result.dims == ("metric", "y", "x")
    expected = reference(cube.values, True, True)
    np.testing.assert_allclose(result.sel(metric="avg"), expected["avg"], rtol=1e-10)
    np.testing.assert_allclose(result.sel(metric="p95"), expected["p95"], rtol=1e-10)


def decimal_years(times: np.ndarray) -> np.ndarray:
    out = []
    for t in times.astype("datetime64[s]").tolist():
        start = np.datetime64(f"{t.year}-01-01T00:00:00")
        end = np.datetime64(f"{t.year + 1}-01-01T00:00:00")
        out.append(t.year + (np.datetime64(t) - start) / (end - start))
    return np.array(out)


@pytest.mark.parametrize("remove_outliers", [True, False])
def test_harmonics_equal_lstsq(remove_outliers: bool) -> None:
    rng = np.random.default_rng(3)
    n_t = 30
    hours = np.sort(rng.choice(3 * 365 * 24, n_t, replace=False))
    times = np.datetime64("2019-01-03T05:00") + hours * np.timedelta64(1, "h")
    years = decimal_years(times)
    signal = -12 + 2 * np.cos(2 * np.pi * years - 1.0) + 0.3 * (years - years.mean())
    x = (signal[:, None, None] + rng.normal(0, 1, (n_t, 6, 40))).astype(np.float32)
    x[rng.random(x.shape) < 0.3] = np.nan
    cube = xr.DataArray(x, dims=("t", "y", "x"), coords={"t": times})
    result = timescan(cube, ("harmonics",), remove_outliers=remove_outliers)
    power = 10 ** (x.astype(np.float64) / 10)
    kept = np.isfinite(ost_remove_outliers(power) if remove_outliers else power)
    design = np.stack(
        [years - years.mean(), np.cos(2 * np.pi * years), np.sin(2 * np.pi * years), np.ones(n_t)],
        axis=1,
    )
    expected = np.full((5, 6, 40), np.nan)
    for iy in range(6):
        for ix in range(40):
            k = kept[:, iy, ix]
            if k.sum() < 5:
                continue
            b, *_ = np.linalg.lstsq(design[k], x[k, iy, ix].astype(np.float64), rcond=None)
            ssr = ((x[k, iy, ix] - design[k] @ b) ** 2).sum()
            expected[:, iy, ix] = [
                np.hypot(b[1], b[2]), np.arctan2(b[2], b[1]), np.sqrt(ssr / k.sum()), b[0], b[3]
            ]  # fmt: skip
    assert list(result.metric.values) == ["amplitude", "phase", "residuals", "trend", "model_mean"]
    np.testing.assert_allclose(result.values, expected, rtol=1e-5, atol=1e-5)
    mean = result.mean(("y", "x"))
    assert abs(mean.sel(metric="trend") - 0.3) < 0.1
    assert abs(mean.sel(metric="phase") - 1.0) < 0.1
    assert list(result.metric_units.values) == ["dB", "rad", "dB", "dB a-1", "dB"]


def test_rank_deficient_harmonics_are_nan() -> None:
    times = np.datetime64("2021-03-01") + np.zeros(6, dtype="timedelta64[D]")
    cube = xr.DataArray(
        np.linspace(-10, -5, 6, dtype=np.float32)[:, None, None],
        dims=("t", "y", "x"),
        coords={"t": times},
    )
    out = timescan(cube, ("harmonics", "avg"), remove_outliers=False)
    assert np.isnan(out.sel(metric="amplitude")).all()
    assert np.isfinite(out.sel(metric="avg")).all()


@pytest.mark.parametrize("n", [1, 2, 3, 5, 17, 32, 33, 60, 64, 70])
def test_sorting_network_sorts(n: int) -> None:
    lower, upper = _timescan_kernel.merge_sort_network(n)
    values = np.random.default_rng(n).random((n, 50))
    for i, j in zip(lower, upper, strict=True):
        values[[i, j]] = np.sort(values[[i, j]], axis=0)
    assert (np.diff(values, axis=0) >= 0).all()


def test_attributes_and_units() -> None:
    cube = make_cube(n_t=6)
    out = timescan(cube, ("avg", "std", "cov", "count", "p95"))
    assert out.name == "timescan"
    assert list(out.metric_units.values) == ["dB", "1", "1", "1", "dB"]
    assert out.attrs["units"] == "see coordinate metric_units"
    lin = timescan(cube.assign_attrs(units="m2 m-2"), ("avg", "std"), to_power=False)
    assert lin.attrs["units"] == "m2 m-2"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"metrics": ("avg", "mean")}, "'mean' is unknown"),
        ({"metrics": ()}, "metrics is empty"),
        ({"metrics": ("p120",)}, "outside 0..100"),
        ({"metrics": ("harmonics",)}, "harmonics need acquisition times"),
        ({"dim": "time"}, "dimension 'time'"),
        ({"outlier_sigma": 0.0}, "outlier_sigma"),
    ],
)
def test_bad_parameters(kwargs: dict[str, object], match: str) -> None:
    cube = xr.DataArray(np.zeros((5, 2, 2), dtype=np.float32), dims=("t", "y", "x"))
    with pytest.raises(ParameterError, match=match):
        timescan(cube, **kwargs)  # type: ignore[arg-type]


def test_integer_cube_is_refused() -> None:
    codes = xr.DataArray(np.ones((5, 2, 2), dtype=np.uint8), dims=("t", "y", "x"))
    with pytest.raises(ParameterError, match="rescale_to_float"):
        timescan(codes)
