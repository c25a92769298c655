"""Radiometric steps against hand numbers, numpy references and real annotation times."""

from __future__ import annotations

import pathlib
import warnings
import zipfile
from xml.etree import ElementTree

import dask.array
import numpy as np
import pytest
import xarray as xr

from s1stac import radiometry
from s1stac.errors import ParameterError
from s1stac.radiometry import AzimuthSlice, BorderNoiseOptions


def image(values: np.ndarray, chunks: tuple[int, int] | None = None) -> xr.DataArray:
    data = dask.array.from_array(values, chunks=chunks) if chunks else values
    return xr.DataArray(data, dims=("line", "pixel"))


# --- thermal noise and calibration -------------------------------------------------------


def test_remove_thermal_noise_hand_numbers() -> None:
    dn = image(np.array([[10.0, 3.0, 0.0], [np.nan, 200.0, 1.0]]), chunks=(1, 2))
    noise = image(np.array([[40.0, 10.0, 5.0], [1.0, 0.0, 1.0]]))
    out = radiometry.remove_thermal_noise(dn, noise)
    assert out.chunks == dn.chunks
    assert out.dtype == np.float32
    assert out.name == "intensity" and out.attrs["units"] == "1"
    expected = [[60.0, 0.0, 0.0], [np.nan, 40000.0, 0.0]]
    np.testing.assert_array_equal(out.values, expected)


def test_remove_thermal_noise_uint16_float64() -> None:
    dn = image(np.array([[65535, 2]], dtype=np.uint16))
    noise = image(np.array([[0.5, 1.5]]))
    out = radiometry.remove_thermal_noise(dn, noise, dtype=np.float64)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out.values, [[65535.0**2 - 0.5, 2.5]])
    with pytest.raises(ParameterError, match="floating"):
        radiometry.remove_thermal_noise(dn, noise, dtype=np.int32)


def test_lut_must_match_image() -> None:
    dn = image(np.ones((3, 4)))
    with pytest.raises(ParameterError, match="shape"):
        radiometry.remove_thermal_noise(dn, image(np.ones((3, 5))))
    with pytest.raises(ParameterError, match="dimensions"):
        radiometry.calibrate(dn, xr.DataArray(np.ones((3, 4)), dims=("y", "x")), kind="gamma")
    shifted = image(np.ones((3, 4))).assign_coords(line=np.arange(1, 4))
    with pytest.raises(ParameterError, match="coordinates"):
        radiometry.remove_thermal_noise(dn.assign_coords(line=np.arange(3)), shifted)


def test_calibrate_hand_numbers() -> None:
    intensity = image(np.array([[100.0, 50.0], [0.0, np.nan]], dtype=np.float32), chunks=(1, 1))
    lut = image(np.array([[10.0, 5.0], [700.0, 2.0]]))
    out = radiometry.calibrate(intensity, lut, kind="sigmaNought")
    assert out.chunks == intensity.chunks and out.dtype == np.float32
    assert (out.name, out.attrs["units"]) == ("sigma0", "m2 m-2")
    assert "sigma" in out.attrs["long_name"]
    np.testing.assert_array_equal(out.values, [[1.0, 2.0], [0.0, np.nan]])
    assert radiometry.calibrate(intensity, lut, kind="gamma").name == "gamma0"
    assert radiometry.calibrate(intensity, lut, kind="betaNought").name == "beta0"
    with pytest.raises(ParameterError, match="dn"):
        radiometry.calibrate(intensity, lut, kind="dn")


# --- multilook ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resolution", "looks"),
    [(10, 1), (19.9, 1), (20, 2), (25, 2), (30, 3), (50, 5), (100, 10), (4999, 499)],
)
def test_looks_for_resolution(resolution: float, looks: int) -> None:
    assert radiometry.looks_for_resolution(resolution) == looks


def test_looks_for_resolution_rejects_nonsense() -> None:
    for bad in (0, -20, float("nan")):
        with pytest.raises(ParameterError, match="resolution"):
            radiometry.looks_for_resolution(bad)


def reference_multilook(a: np.ndarray, fl: int, fp: int) -> np.ndarray:
    rows, cols = a.shape[0] // fl * fl, a.shape[1] // fp * fp
    blocks = a[:rows, :cols].reshape(rows // fl, fl, cols // fp, fp)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN blocks
        return np.nanmean(blocks, axis=(1, 3))


@pytest.mark.parametrize(("fl", "fp"), [(2, 2), (3, 5), (1, 4)])
def test_multilook_matches_numpy_reshape(fl: int, fp: int) -> None:
    rng = np.random.default_rng(1)
    a = rng.gamma(1.0, 1.0, (61, 47)).astype(np.float32)
    a[rng.random(a.shape) < 0.3] = np.nan
    a[:6, :10] = np.nan  # whole blocks without valid data
    da_ = image(a, chunks=(13, 11)).assign_coords(line=np.arange(61), pixel=np.arange(47))
    out = radiometry.multilook(da_, fl, fp)
    assert isinstance(out.data, dask.array.Array)
    expected = reference_multilook(a, fl, fp)
    np.testing.assert_allclose(out.values, expected, rtol=1e-6)
    assert np.isnan(out.values[0, 0]) and np.isnan(expected[0, 0])
    np.testing.assert_allclose(out.line.values[:2], [(fl - 1) / 2, (fl - 1) / 2 + fl])
    assert out.chunks[0][0] == -(-13 // fl) and out.chunks[1][0] == -(-11 // fp)


def test_multilook_numpy_and_errors() -> None:
    a = np.arange(16.0).reshape(4, 4)
    out = radiometry.multilook(image(a), 2, 2)
    np.testing.assert_array_equal(out.values, [[2.5, 4.5], [10.5, 12.5]])
    assert radiometry.multilook(image(a), 1, 1).identical(image(a))
    for bad in (0, 2.0, True):
        with pytest.raises(ParameterError, match="factor_line"):
            radiometry.multilook(image(a), bad, 2)  # type: ignore[arg-type]


# --- slice assembly ----------------------------------------------------------------------

T0 = np.datetime64("2020-01-01T00:00:00", "ns")
DT = 0.002


def at(lines: float) -> np.datetime64:
    return T0 + np.timedelta64(round(lines * DT * 1e9), "ns")


def test_slice_assembly_drops_overlap_and_pads() -> None:
    a = np.arange(10 * 4, dtype=float).reshape(10, 4)
    b = 1000 + np.arange(8 * 5, dtype=float).reshape(8, 5)
    c = 2000 + np.arange(6 * 5, dtype=float).reshape(6, 5)
    slices = [
        AzimuthSlice(image(c, chunks=(3, 5)), at(13.3), DT, "C"),  # 2 lines overlap B
        AzimuthSlice(image(a, chunks=(5, 4)), at(0.0), DT, "A"),
        AzimuthSlice(image(b, chunks=(4, 5)), at(7.0 + 0.3), DT, "B"),  # 3 lines overlap A
    ]
    out, offsets = radiometry.slice_assembly(slices)
    assert isinstance(out.data, dask.array.Array)
    expected = np.full((10 + 5 + 4, 5), np.nan)
    expected[:10, :4] = a
    expected[10:15] = b[3:]
    expected[15:] = c[2:]
    np.testing.assert_array_equal(out.values, expected)
    assert [(o.name, o.first_line, o.skipped_lines, o.number_of_lines) for o in offsets] == [
        ("A", 0, 0, 10),
        ("B", 10, 3, 5),
        ("C", 15, 2, 4),
    ]


def test_slice_assembly_tuples_and_coords() -> None:
    a = image(np.zeros((4, 3))).assign_coords(line=np.arange(4), pixel=np.arange(3))
    b = image(np.ones((4, 3))).assign_coords(line=np.arange(4), pixel=np.arange(3))
    out, offsets = radiometry.slice_assembly([(a, at(0), DT), (b, at(4), DT)])
    np.testing.assert_array_equal(out.line.values, np.arange(8))
    np.testing.assert_array_equal(out.values[:, 0], [0, 0, 0, 0, 1, 1, 1, 1])
    assert offsets[1].name == "slice 1" and offsets[1].skipped_lines == 0


def test_slice_assembly_errors_name_products() -> None:
    a = image(np.zeros((10, 3)))
    with pytest.raises(ParameterError, match=r"A and B are not consecutive.*1\.6 lines"):
        radiometry.slice_assembly(
            [AzimuthSlice(a, at(0), DT, "A"), AzimuthSlice(a, at(11.6), DT, "B")]
        )
    # 1.5 lines of gap is accepted: 0.5 missing line is jitter
    radiometry.slice_assembly([AzimuthSlice(a, at(0), DT, "A"), AzimuthSlice(a, at(10.5), DT, "B")])
    with pytest.raises(ParameterError, match="B lies entirely within A"):
        radiometry.slice_assembly(
            [AzimuthSlice(a, at(0), DT, "A"), AzimuthSlice(a, at(0), DT, "B")]
        )
    with pytest.raises(ParameterError, match="azimuth time interval"):
        radiometry.slice_assembly(
            [AzimuthSlice(a, at(0), DT, "A"), AzimuthSlice(a, at(10), DT * 1.01, "B")]
        )
    with pytest.raises(ParameterError, match="at least one"):
        radiometry.slice_assembly([])


def annotation_times(zip_path: pathlib.Path) -> tuple[np.datetime64, float, int, int]:
    with zipfile.ZipFile(zip_path) as z:
        name = next(n for n in z.namelist() if "/annotation/s1" in n and "-vv-" in n)
        root = ElementTree.fromstring(z.read(name))
    info = root.find("imageAnnotation/imageInformation")
    assert info is not None
    return (
        np.datetime64(info.findtext("productFirstLineUtcTime"), "ns"),
        float(info.findtext("azimuthTimeInterval", "")),
        int(info.findtext("numberOfLines", "")),
        int(info.findtext("numberOfSamples", "")),
    )


def test_slice_assembly_real_consecutive_slices(real_products: dict[str, pathlib.Path]) -> None:
    parts = []
    for key in ("3768", "CEAB"):  # given in reverse order on purpose
        t0, dt, lines, samples = annotation_times(real_products[key])
        data = dask.array.zeros((lines, samples), dtype=np.float32, chunks=(4096, 4096))
        parts.append(AzimuthSlice(image(data), t0, dt, real_products[key].stem))
    out, offsets = radiometry.slice_assembly(parts)
    n1, n2 = parts[1].data.sizes["line"], parts[0].data.sizes["line"]
    assert out.shape == (n1 + n2, max(p.data.sizes["pixel"] for p in parts))
    assert [o.name[-4:] for o in offsets] == ["CEAB", "3768"]
    assert [(o.first_line, o.skipped_lines) for o in offsets] == [(0, 0), (n1, 0)]
    # the 3768 slice, 11 samples wider, leaves NaN at the far range of the CEAB lines
    assert np.isnan(out[:n1:5000, -11:].values).all()


# --- border noise ------------------------------------------------------------------------


def reference_limits(a: np.ndarray, threshold: float, window: int, margin: int) -> tuple[int, int]:
    """Loop port of OST grd_remove_border with its off-by-ones corrected (OST_SPEC.md §2.5)."""
    cols = a.shape[1]
    w = min(window, cols)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        means = np.nanmean(a, axis=0)
    start = w
    for x in range(w):
        if means[x] > threshold:
            start = min(x + margin, w)
            break
    means = np.where(np.arange(cols) < start, 0.0, means)  # the left edge is written first
    stop = cols - w
    for x in range(cols - 1, cols - w - 1, -1):
        if means[x] > threshold:
            stop = max(x - margin + 1, cols - w)
            break
    return start, stop


def test_border_noise_synthetic_columns_and_rows() -> None:
    rng = np.random.default_rng(2)
    a = rng.gamma(1.0, 1000.0, (200, 1000)).astype(np.float32)
    a[:, :120] = 50.0  # low left columns
    a[:, 930:] = 0.0  # zeroed right columns
    a[:15] = 30.0  # low first lines
    a[185:] = 0.0  # zeroed last lines
    opts = BorderNoiseOptions(threshold=100.0, window=300, margin=20)
    da_ = image(a, chunks=(64, 128))
    limits = radiometry.border_noise_limits(da_, options=opts)
    assert isinstance(limits["pixel_start"].data, dask.array.Array)  # lazy
    assert {k: int(v) for k, v in limits.compute().items()} == {
        "pixel_start": 140,
        "pixel_stop": 910,
        "line_start": 0,
        "line_stop": 200,
    }
    assert (int(limits.pixel_start), int(limits.pixel_stop)) == reference_limits(a, 100, 300, 20)
    out = radiometry.remove_border_noise(da_, options=opts)
    assert out.chunks == da_.chunks
    v = out.values
    assert np.isnan(v[:, :140]).all() and np.isnan(v[:, 910:]).all()
    np.testing.assert_array_equal(v[:, 140:910], a[:, 140:910])
    # azimuth edges as well (not done by OST)
    limits = radiometry.border_noise_limits(da_, azimuth=True, options=opts).compute()
    assert (int(limits.line_start), int(limits.line_stop)) == (35, 165)
    out = radiometry.remove_border_noise(da_, limits=limits, fill_value=0.0).values
    assert (out[:35] == 0).all() and (out[165:] == 0).all() and (out[:, :140] == 0).all()
    np.testing.assert_array_equal(out[35:165, 140:910], a[35:165, 140:910])


@pytest.mark.parametrize("seed", range(6))
def test_border_noise_matches_loop_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    cols = int(rng.integers(40, 160))
    a = rng.gamma(1.0, 60.0, (30, cols))
    a[:, rng.random(cols) < 0.5] = 5.0
    if seed == 0:
        a[:] = 1.0  # no signal at all
    if seed == 1:
        a[:, :] = np.nan
        a[3, cols - 2] = 500.0  # signal in the outermost column only, NaN elsewhere
    window, margin = int(rng.integers(5, 80)), int(rng.integers(1, 30))
    opts = BorderNoiseOptions(threshold=55.0, window=window, margin=margin)
    limits = radiometry.border_noise_limits(image(a, chunks=(7, 9)), options=opts).compute()
    got = (int(limits.pixel_start), int(limits.pixel_stop))
    assert got == reference_limits(a, 55.0, window, margin)


def test_border_noise_fixes_ost_left_off_by_one() -> None:
    """OST keeps column x+199 on the left; both edges lose exactly ``margin`` signal columns."""
    a = np.full((4, 7000), 1000.0)
    a[:, :50] = 0.0
    a[:, 6900:] = 0.0
    limits = radiometry.border_noise_limits(image(a)).compute()
    assert int(limits.pixel_start) == 50 + 200  # OST: 50 + 199
    assert int(limits.pixel_stop) == 6900 - 200


def test_border_noise_scan_reads_only_the_edge_windows() -> None:
    a = np.full((20, 8000), 1000.0)
    a[:, :50] = 0.0
    a[:, 7900:] = 0.0
    read: list[int] = []

    def source(block: np.ndarray, block_info: dict | None = None) -> np.ndarray:  # type: ignore[type-arg]
        read.append(block_info[0]["chunk-location"][1])  # type: ignore[index]
        return block

    lazy = dask.array.from_array(a, chunks=(10, 1000)).map_blocks(source, dtype=a.dtype)
    limits = radiometry.border_noise_limits(image(a).copy(data=lazy)).compute()
    assert (int(limits.pixel_start), int(limits.pixel_stop)) == (250, 7700)
    assert (int(limits.pixel_start), int(limits.pixel_stop)) == reference_limits(a, 100, 3000, 200)
    assert sorted(set(read)) == [0, 1, 2, 5, 6, 7]  # columns 3000-5000 are never read


# --- with the reader on a real product ---------------------------------------------------


def calibration_nodes(safe: pathlib.Path, kind: str) -> dict[tuple[int, int], float]:
    """Calibration LUT values at the vector nodes, read straight from the XML."""
    xml = next((safe / "annotation" / "calibration").glob("calibration-*-vv-*.xml"))
    nodes = {}
    for vector in ElementTree.parse(xml).getroot().iter("calibrationVector"):
        line = int(vector.findtext("line", ""))
        pixels = vector.findtext("pixel", "").split()
        values = vector.findtext(kind, "").split()
        nodes.update({(line, int(p)): float(v) for p, v in zip(pixels, values, strict=True)})
    return nodes


def test_real_product_lazy_chain(real_products: dict[str, pathlib.Path]) -> None:
    """DN -> intensity -> sigma0 with the reader's lazy LUTs, checked at calibration nodes."""
    from s1stac.safe import open_product

    product = open_product(real_products["5371"])
    blank = product.open_measurement("VV").isel(line=slice(600, 1400), pixel=slice(4000, 6000))
    dn = (xr.ones_like(blank) * 150).astype(np.uint16)  # the blanked TIFF holds zeros only
    intensity = radiometry.remove_thermal_noise(dn, product.noise_lut_dataarray("VV", dn))
    sigma0 = radiometry.calibrate(
        intensity, product.calibration_lut_dataarray("VV", "sigmaNought", dn), kind="sigmaNought"
    )
    assert sigma0.chunks == dn.chunks and sigma0.dtype == np.float32
    nodes = calibration_nodes(real_products["5371"], "sigmaNought")
    checked = 0
    for (line, pixel), a in nodes.items():
        if 600 <= line < 1400 and 4000 <= pixel < 6000 and pixel % 400 == 0:
            noise = float(product.noise_lut("VV", line, pixel))
            expected = max(150.0**2 - noise, 0.0) / a**2
            got = float(sigma0.sel(line=line, pixel=pixel))
            assert got == pytest.approx(expected, rel=1e-5)
            checked += 1
    assert checked >= 5
