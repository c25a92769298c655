"""Time-series helpers: dB, integer codes, Quegan filter, common mask (``OST_SPEC.md`` §3)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from s1stac.errors import ParameterError
from s1stac.timeseries import (
    common_valid_mask,
    from_db,
    multitemporal_speckle_filter,
    rescale_to_float,
    scale_to_int,
    to_db,
)


def test_to_db_and_back() -> None:
    lin = xr.DataArray(np.array([1.0, 0.1, 0.0, -0.5, np.nan], dtype=np.float32), dims="x")
    db = to_db(lin.assign_attrs(units="m2 m-2"))
    assert db.dtype == np.float32 and db.attrs["units"] == "dB"
    np.testing.assert_allclose(db.values, [0.0, -10.0, -130.0, -130.0, np.nan], atol=1e-5)
    back = from_db(db)
    assert back.attrs["units"] == "m2 m-2" and back.dtype == np.float32
    np.testing.assert_allclose(back.values[:2], [1.0, 0.1], rtol=1e-6)
    assert np.isnan(back.values[-1])
    assert from_db(xr.DataArray([-np.inf])).values[0] == 0.0
    with pytest.raises(ParameterError, match="floor"):
        to_db(lin, floor=0.0)


def ost_scale_to_int(v: np.ndarray, lo: float, hi: float, dtype: str) -> np.ndarray:
    """OST ``raster.scale_to_int`` as written in ``OST_SPEC.md`` §11."""
    d = 255.0 if dtype == "uint8" else 65535.0
    v = np.clip(v, lo, hi)
    return np.round(np.nan_to_num((v - lo) * (d - 1) / (hi - lo) + 1)).astype(dtype)


@pytest.mark.parametrize(("dtype", "top"), [("uint8", 255), ("uint16", 65535)])
def test_integer_codes_round_trip(dtype: str, top: int) -> None:
    rng = np.random.default_rng(5)
    values = rng.uniform(-30, 5, 20000)
    values[:4] = [-30.0, 5.0, -40.0, 12.0]
    values[4] = np.nan
    db = xr.DataArray(values.astype(np.float32), dims="x", attrs={"units": "dB"})
    codes = scale_to_int(db, dtype)  # type: ignore[arg-type]
    assert codes.dtype == np.dtype(dtype)
    expected = ost_scale_to_int(db.values.astype(np.float64), -30, 5, dtype)
    np.testing.assert_array_equal(codes.values, expected)
    assert codes.values[0] == 1 and codes.values[1] == top and codes.values[4] == 0
    assert codes.values[2] == 1 and codes.values[3] == top
    step = 35.0 / (top - 1)
    back = rescale_to_float(codes, dtype)  # type: ignore[arg-type]
    assert back.dtype == np.float32 and back.attrs["units"] == "dB"
    assert np.isnan(back.values[4])
    err = np.abs(back.values[5:].astype(np.float64) - db.values[5:])
    assert err.max() <= step / 2 + 1e-5
    # the inverse is exact on the code grid: low + (q - 1) step, for both dtypes
    grid = -30 + (codes.values[5:].astype(np.float64) - 1) * step
    np.testing.assert_allclose(back.values[5:], grid, rtol=0, atol=1e-5)
    # CF attributes describe the same inverse
    cf = codes.values[5:] * codes.attrs["scale_factor"] + codes.attrs["add_offset"]
    np.testing.assert_allclose(cf, grid, atol=1e-9)


def test_integer_codes_bad_input() -> None:
    db = xr.DataArray(np.zeros(3, dtype=np.float32), dims="x")
    with pytest.raises(ParameterError, match="dtype='int8'"):
        scale_to_int(db, "int8")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="low < high"):
        scale_to_int(db, "uint8", low=5, high=-30)
    codes = scale_to_int(db, "uint16")
    with pytest.raises(ParameterError, match="pass dtype='uint16'"):
        rescale_to_float(codes, "uint8")
    with pytest.raises(ParameterError, match="integer"):
        rescale_to_float(db, "uint8")


def test_common_valid_mask() -> None:
    x = np.ones((3, 2, 2), dtype=np.float32)
    x[1, 0, 0] = np.nan
    x[:, 1, 1] = np.nan
    mask = common_valid_mask(xr.DataArray(x, dims=("t", "y", "x")).chunk({"y": 1}))
    assert mask.chunks is not None and mask.name == "common_valid_mask"
    np.testing.assert_array_equal(mask.values, [[False, True], [True, False]])


def brute_force_boxcar(img: np.ndarray, size: int) -> np.ndarray:
    h = size // 2
    out = np.full(img.shape, np.nan)
    for iy in range(img.shape[0]):
        for ix in range(img.shape[1]):
            win = img[max(iy - h, 0) : iy + h + 1, max(ix - h, 0) : ix + h + 1]
            if np.isfinite(win).any():
                out[iy, ix] = np.nanmean(win)
    return out


def quegan_reference(cube: np.ndarray, size: int) -> np.ndarray:
    """Apply the ``quegan`` formula of ``OST_SPEC.md`` §11 with a NaN-aware boxcar."""
    f = np.stack([brute_force_boxcar(i, size) for i in cube])
    ok = np.isfinite(cube) & np.isfinite(f) & (f != 0)
    s = np.where(ok, cube / np.where(ok, f, 1), 0).sum(0) / np.maximum(ok.sum(0), 1)
    s = np.where(ok.sum(0) > 0, s, np.nan)
    return np.where(np.isfinite(cube), f * s, np.nan)


def test_quegan_equals_reference_with_gaps() -> None:
    rng = np.random.default_rng(6)
    cube = rng.gamma(1.0, 0.1, (6, 23, 31))
    cube[rng.random(cube.shape) < 0.15] = np.nan
    cube[:, 3:12, 4:13] = np.nan  # a hole larger than the window
    da = xr.DataArray(cube, dims=("t", "y", "x"), name="VV", attrs={"units": "m2 m-2"})
    out = multitemporal_speckle_filter(da, window=5)
    assert out.name == "VV" and out.attrs == da.attrs and out.dtype == np.float64
    np.testing.assert_allclose(out.values, quegan_reference(cube, 5), rtol=1e-9)
    assert np.array_equal(np.isnan(out.values), np.isnan(cube))
    lazy = multitemporal_speckle_filter(da.chunk({"t": 2, "y": 10, "x": 12}), window=5)
    assert lazy.chunks is not None and lazy.chunksizes["y"] == (10, 10, 3)
    np.testing.assert_allclose(lazy.values, out.values, rtol=1e-9)


@pytest.mark.parametrize(("looks", "n_t"), [(1.0, 10), (4.4, 10), (1.0, 20)])
def test_quegan_raises_looks_and_keeps_mean(looks: float, n_t: int) -> None:
    rng = np.random.default_rng(7)
    mean = 0.05
    cube = rng.gamma(looks, mean / looks, (n_t, 160, 160)).astype(np.float32)
    da = xr.DataArray(cube, dims=("t", "y", "x"))
    size = 11 if n_t <= 10 else 15  # expected looks L w² T / (w² + T) > 0.8 L T
    out = multitemporal_speckle_filter(da, window=size).values[:, size:-size, size:-size]
    enl = out.mean(axis=(1, 2)) ** 2 / out.var(axis=(1, 2))
    assert (enl / looks).min() >= 0.8 * n_t
    assert abs(10 * np.log10(out.mean() / mean)) < 0.1


def test_quegan_preserves_temporal_change() -> None:
    rng = np.random.default_rng(8)
    n_t = 12
    truth = np.full((n_t, 120, 120), 0.02)
    truth[6:, 30:90, 30:90] = 0.2  # +10 dB from the 7th date on
    cube = rng.gamma(1.0, truth).astype(np.float32)
    out = multitemporal_speckle_filter(xr.DataArray(cube, dims=("t", "y", "x")), window=7)
    inner = out.values[:, 40:80, 40:80].mean(axis=(1, 2))
    outer = out.values[:, 0:20, :].mean(axis=(1, 2))
    change = 10 * np.log10(inner[6:].mean() / inner[:6].mean())
    assert abs(change - 10.0) < 0.3
    assert np.all(np.abs(10 * np.log10(outer / 0.02)) < 0.3)


def test_refined_lee_spatial_filter() -> None:
    speckle = pytest.importorskip("s1stac.speckle")
    rng = np.random.default_rng(9)
    cube = rng.gamma(1.0, 0.1, (4, 30, 40)).astype(np.float32)
    da = xr.DataArray(cube, dims=("t", "y", "x"))
    out = multitemporal_speckle_filter(da, "refined_lee")
    f = np.stack(
        [
            speckle.speckle_filter(xr.DataArray(i, dims=("line", "pixel")), "refined_lee").values
            for i in cube
        ]
    ).astype(np.float64)
    s = (cube / f).mean(axis=0)
    np.testing.assert_allclose(out.values, f * s, rtol=1e-5)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"spatial": "lee"}, "spatial='lee' is unknown"),
        ({"window": 4}, "odd positive integer"),
        ({"spatial": "refined_lee", "window": 5}, "fixed 7x7"),
        ({"dim": "time"}, "expected \\('time'"),
    ],
)
def test_quegan_bad_parameters(kwargs: dict[str, object], match: str) -> None:
    da = xr.DataArray(np.ones((3, 8, 8), dtype=np.float32), dims=("t", "y", "x"))
    with pytest.raises(ParameterError, match=match):
        multitemporal_speckle_filter(da, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="in dB"):
        multitemporal_speckle_filter(da.assign_attrs(units="dB"))
