"""RGB composites, thumbnails, animations and timescan quick-looks (``OST_SPEC.md`` §6)."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest
import xarray as xr
from PIL import Image, ImageSequence

from s1stac.errors import ParameterError
from s1stac.pictures import (
    ANIMATION_RGB,
    SCENE_RGB,
    QuicklookChannel,
    date_label,
    draw_label,
    rgb_composite,
    write_thumbnail,
    write_timescan_quicklook,
    write_timeseries_animation,
)
from s1stac.timescan import timescan

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def code(value_db: float, low: float, high: float) -> int:
    """OST ``scale_to_int`` to uint8 written out (``OST_SPEC.md`` §3.7)."""
    if np.isnan(value_db):
        return 0
    v = min(max(value_db, low), high)
    return int(np.round((v - low) * 254 / (high - low))) + 1


def power(db: np.ndarray | float) -> np.ndarray:
    return 10 ** (np.asarray(db, dtype=np.float64) / 10)


def test_rgb_composite_hand_values() -> None:
    vv_db = np.array([[-10.0, -20.0, 0.0, -30.0, 3.0, np.nan, -7.3]])
    vh_db = np.array([[-20.0, -25.0, -5.0, -40.0, -2.0, -18.0, -19.9]])
    vv, vh = (
        xr.DataArray(power(vv_db), dims=("y", "x")),
        xr.DataArray(power(vh_db), dims=("y", "x")),
    )
    scene = rgb_composite(vv, vh).values
    anim = rgb_composite(vv, vh, stretch=ANIMATION_RGB).values
    assert scene.dtype == np.uint8 and scene.shape == (3, 1, 7)
    assert scene[:, 0, 0].tolist() == [128, 65, 164]  # -10 dB, -20 dB, ratio 10
    assert scene[:, 0, 1].tolist() == [1, 1, code(10**0.5, 1, 15)]
    assert scene[:, 0, 2].tolist() == [255, 255, code(10**0.5, 1, 15)]
    assert scene[:, 0, 5].tolist() == [0, code(-18, -25, -5), 0]  # NaN -> 0
    for k in range(7):
        ratio_db = vv_db[0, k] - vh_db[0, k]
        assert scene[0, 0, k] == code(vv_db[0, k], -20, 0)
        assert scene[1, 0, k] == code(vh_db[0, k], -25, -5)
        assert scene[2, 0, k] == code(10 ** (ratio_db / 10), 1, 15)
        assert anim[2, 0, k] == code(ratio_db, 1, 15)
    in_db = rgb_composite(
        xr.DataArray(vv_db, dims=("y", "x"), attrs={"units": "dB"}),
        xr.DataArray(vh_db, dims=("y", "x"), attrs={"units": "dB"}),
    )
    np.testing.assert_array_equal(in_db.values, scene)
    assert SCENE_RGB.cross == ANIMATION_RGB.cross == (-25.0, -5.0)
    with pytest.raises(ParameterError, match="shape"):
        rgb_composite(vv, vh[:, :3])


def test_rgb_composite_is_lazy_on_dask() -> None:
    rng = np.random.default_rng(1)
    vv = xr.DataArray(rng.gamma(4, 0.025, (40, 30)), dims=("y", "x")).chunk(16)
    vh = vv * 0.1
    out = rgb_composite(vv, vh)
    assert out.chunks is not None
    np.testing.assert_array_equal(out.values, rgb_composite(vv.compute(), vh.compute()).values)


def scene(ny: int = 90, nx: int = 130, seed: int = 0) -> tuple[xr.DataArray, xr.DataArray]:
    rng = np.random.default_rng(seed)
    vv = rng.gamma(4.0, 0.1 / 4.0, (ny, nx))
    vv[:10, :20] = np.nan
    vh = vv * rng.uniform(0.05, 0.3, (ny, nx))
    return xr.DataArray(vv, dims=("y", "x")), xr.DataArray(vh, dims=("y", "x"))


def test_thumbnail_is_a_png_of_the_block_means(tmp_path: pathlib.Path) -> None:
    vv, vh = scene()
    path = write_thumbnail(vv, vh, tmp_path / "sub" / "thumb.png", max_size=40)
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    with Image.open(path) as image:
        assert image.format == "PNG" and image.mode == "RGBA"
        assert image.size == (33, 23)  # shrink 4: ceil(130 / 4), ceil(90 / 4)
        pixels = np.asarray(image)
    block_vv = np.nanmean(vv.values[12:16, 40:44])
    block_vh = np.nanmean(vh.values[12:16, 40:44])
    expected = [
        code(10 * np.log10(block_vv), -20, 0),
        code(10 * np.log10(block_vh), -25, -5),
        code(block_vv / block_vh, 1, 15),
    ]
    assert pixels[3, 10, :3].tolist() == expected
    assert pixels[3, 10, 3] == 255
    assert (pixels[:2, :5, 3] == 0).all()  # no data: transparent
    assert (pixels[2:, :, 3] == 255).all()


def test_pillow_round_trip(tmp_path: pathlib.Path) -> None:
    vv, vh = scene(20, 24)
    write_thumbnail(vv, vh, tmp_path / "full.png", max_size=512)
    with Image.open(tmp_path / "full.png") as image:
        pixels = np.asarray(image)
    np.testing.assert_array_equal(np.moveaxis(pixels[..., :3], -1, 0), rgb_composite(vv, vh))


def cube(n_t: int = 3) -> xr.DataArray:
    """Time series (t, band, y, x), the same image on every date."""
    vv, vh = scene(60, 80)
    data = np.stack([np.stack([vv.values, vh.values])] * n_t)
    times = np.array(["2020-01-05T17:00", "2020-01-17T17:00", "2020-01-29T17:00"], "M8[ns]")
    return xr.DataArray(
        data,
        dims=("t", "band", "y", "x"),
        coords={"t": times[:n_t], "band": ["VV", "VH"]},
        attrs={"units": "m2 m-2"},
    )


def test_animation_frames_sizes_and_labels(tmp_path: pathlib.Path) -> None:
    path = write_timeseries_animation(cube(), tmp_path / "ts.gif", shrink=2, duration_ms=250)
    with Image.open(path) as gif:
        assert gif.format == "GIF"
        assert gif.n_frames == 3
        assert gif.info["duration"] == 250
        frames = [np.asarray(f.convert("RGB")).astype(int) for f in ImageSequence.Iterator(gif)]
    assert all(f.shape == (30, 40, 3) for f in frames)
    band = 10  # max(30 // 15, 10) pixels of label on top
    # same image, different dates: only the label band differs
    assert np.abs(frames[0][:band] - frames[1][:band]).sum() > 0
    assert np.abs(frames[1][:band] - frames[2][:band]).sum() > 0
    below = np.abs(frames[0][band:] - frames[1][band:]).mean()
    assert below < 2.0  # palette quantisation only
    bright = (frames[0][:band].min(axis=-1) > 200).sum()
    assert bright > 0  # white text is drawn


def test_animation_of_a_dataset_and_a_single_polarisation(tmp_path: pathlib.Path) -> None:
    data = cube(2)
    ds = data.to_dataset(dim="band")
    write_timeseries_animation(ds, tmp_path / "ds.gif", max_size=40)
    with Image.open(tmp_path / "ds.gif") as gif:
        assert gif.n_frames == 2 and gif.size == (40, 30)
    write_timeseries_animation(ds[["VH"]], tmp_path / "vh.gif", shrink=1, dates=["2020-02-01"] * 2)
    with Image.open(tmp_path / "vh.gif") as gif:
        frame = np.asarray(gif.convert("RGB"))
    assert (frame[..., 0] == frame[..., 1]).all()  # grey
    with pytest.raises(ParameterError, match="2 dates for 3 time steps"):
        write_timeseries_animation(cube(), tmp_path / "x.gif", dates=["2020-01-01"] * 2)
    with pytest.raises(ParameterError, match="no time dimension"):
        write_timeseries_animation(cube().isel(t=0), tmp_path / "x.gif")


def test_date_labels_and_label_band() -> None:
    assert date_label(np.datetime64("2020-01-05T17:00")) == "Image from: 05.01.2020"
    span = (np.datetime64("2020-01-05T17:00"), np.datetime64("2020-01-07T05:00"))
    assert date_label(span) == "Mosaic: 05.01.2020-07.01.2020"
    same_day = (np.datetime64("2020-01-05T05:00"), np.datetime64("2020-01-05T17:00"))
    assert date_label(same_day) == "Image from: 05.01.2020"
    grey = Image.new("RGB", (300, 150), (100, 100, 100))
    labelled = np.asarray(draw_label(grey, "Image from: 05.01.2020")).astype(int)
    assert labelled.shape == (150, 300, 3)
    changed = np.flatnonzero((labelled != 100).any(axis=(1, 2)))
    assert changed.tolist() == list(range(len(changed))) and 10 <= len(changed) <= 14
    top = labelled[: len(changed)]
    assert (top > 200).any() and (top[:, :5] == round(100 * (1 - 0x88 / 255))).all()
    narrow = np.asarray(draw_label(Image.new("RGB", (80, 60)), "Image from: 05.01.2020"))
    other = np.asarray(draw_label(Image.new("RGB", (80, 60)), "Image from: 17.01.2020"))
    assert (narrow != other).any() and (narrow[12:] == 0).all()


def test_timescan_quicklook(tmp_path: pathlib.Path) -> None:
    rng = np.random.default_rng(5)
    vv = rng.gamma(4.0, 0.1 / 4.0, (12, 20, 30))
    vh = vv * 0.1
    vv[:, :4, :4] = np.nan
    times = np.datetime64("2020-01-01") + np.arange(12) * np.timedelta64(12, "D")
    series = {
        pol: xr.DataArray(10 * np.log10(x), dims=("t", "y", "x"), coords={"t": times})
        for pol, x in (("VV", vv), ("VH", vh))
    }
    metrics = {pol: timescan(s, ("avg", "cov", "max")) for pol, s in series.items()}
    path = write_timescan_quicklook(metrics, tmp_path / "tscan.png")
    with Image.open(path) as image:
        assert image.mode == "RGBA" and image.size == (30, 20)
        pixels = np.asarray(image)
    assert float(metrics["VV"].sel(metric="avg")[7, 9]) == pytest.approx(
        10 * np.log10(vv[:, 7, 9].mean()), abs=1e-4
    )
    expected = [
        code(float(metrics["VV"].sel(metric="avg")[7, 9]), -20, 0),
        code(float(metrics["VH"].sel(metric="avg")[7, 9]), -25, -5),
        code(float(metrics["VV"].sel(metric="cov")[7, 9]), 1e-5, 1),
    ]
    assert pixels[7, 9].tolist() == [*expected, 255]
    vh_only = code(float(metrics["VH"].sel(metric="avg")[0, 0]), -25, -5)
    assert pixels[0, 0].tolist() == [0, vh_only, 0, 255]  # VV missing: red and blue 0
    stacked = xr.concat([metrics["VV"], metrics["VH"]], dim="band").assign_coords(band=["VV", "VH"])
    channels = (
        QuicklookChannel("VV", "max", -20, 0),
        QuicklookChannel("VH", "max", -25, -5),
        QuicklookChannel("VV", "avg", -20, 0),
    )
    write_timescan_quicklook(stacked, tmp_path / "max.png", channels=channels)
    vv_max = float(stacked.sel(band="VV", metric="max")[7, 9])
    with Image.open(tmp_path / "max.png") as image:
        assert np.asarray(image)[7, 9, 0] == code(vv_max, -20, 0)
    p95 = (QuicklookChannel("VV", "p95", -20, 0), *channels[1:])
    with pytest.raises(ParameterError, match="no metric 'p95'"):
        write_timescan_quicklook(metrics, tmp_path / "x.png", channels=p95)
    hh = (QuicklookChannel("HH", "avg", -20, 0), *channels[1:])
    with pytest.raises(ParameterError, match="no polarisation 'HH'"):
        write_timescan_quicklook(metrics, tmp_path / "x.png", channels=hh)
