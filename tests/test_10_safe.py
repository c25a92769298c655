"""Reader of Sentinel-1 SAFE folders and zips, against the real products of the shared data.

References: values read by hand from the XML files, numpy/scipy reference interpolations and
xarray-sentinel (an independent reader) where it can read the same product.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import shutil
import warnings
import zipfile

import numpy as np
import pytest
import rasterio
import shapely
import xarray as xr
from scipy.interpolate import RegularGridInterpolator

from s1stac import esa_safe, luts
from s1stac.errors import MissingComponentError, ParameterError, ProductError
from s1stac.safe import Component, Product, open_product
from s1stac.types import CalibrationVectors, OrbitDirection, Polarisation


@pytest.fixture(scope="module")
def products(real_products: dict[str, pathlib.Path]) -> dict[str, Product]:
    return {key: open_product(path) for key, path in real_products.items()}


def _xs_open(url: str, group: str) -> xr.Dataset:
    pytest.importorskip("xarray_sentinel")
    return xr.open_dataset(url, engine="sentinel-1", group=group)


def _zip_url(path: pathlib.Path) -> str:
    return f"zip://{path.stem}.SAFE/manifest.safe::{path}"


# -- manifest ----------------------------------------------------------------------------------
def test_manifest_fields_as_written(products: dict[str, Product]) -> None:
    ceab = products["CEAB"].manifest
    assert ceab.product_name == (
        "S1A_IW_GRDH_1SDV_20150222T170725_20150222T170750_004739_005DD8_CEAB"
    )
    assert (ceab.mission, ceab.platform, ceab.mode, ceab.product_type) == (
        "S1A",
        "sentinel-1a",
        "IW",
        "GRD",
    )
    assert ceab.resolution_class == "H"
    assert ceab.polarisations == (Polarisation.VV, Polarisation.VH)
    assert ceab.orbit_direction is OrbitDirection.ASCENDING
    assert (ceab.absolute_orbit, ceab.relative_orbit, ceab.datatake_id) == (4739, 117, 24024)
    assert (ceab.slice_number, ceab.total_slices) == (2, 4)
    assert ceab.start_time == np.datetime64("2015-02-22T17:07:25.054739")
    assert ceab.stop_time == np.datetime64("2015-02-22T17:07:50.053070")
    assert ceab.processing_time == np.datetime64("2015-02-22T19:26:16")
    assert (ceab.ipf_version, ceab.facility, ceab.product_unique_id) == ("002.36", "DPA_", "CEAB")
    # the 2015 manifests carry the placeholder 0000-000A: the table answers
    assert ceab.international_designator == "2014-016A"

    second = products["3768"].manifest
    assert (second.slice_number, second.total_slices, second.datatake_id) == (3, 4, 24024)
    assert second.start_time == np.datetime64("2015-02-22T17:07:50.054569")

    fec3, d600 = products["FEC3"].manifest, products["6D00"].manifest
    assert (fec3.ipf_version, d600.ipf_version) == ("002.36", "002.70")
    assert fec3.processing_time == np.datetime64("2015-02-03T08:04:33")
    assert d600.processing_time == np.datetime64("2016-04-18T08:30:57")
    assert fec3.relative_orbit == d600.relative_orbit == 7
    assert fec3.datatake_id == d600.datatake_id == 0x00574F
    assert fec3.orbit_direction is OrbitDirection.DESCENDING

    s1b = products["5371"].manifest
    assert (s1b.mission, s1b.platform, s1b.international_designator) == (
        "S1B",
        "sentinel-1b",
        "2016-025A",
    )
    assert (s1b.relative_orbit, s1b.absolute_orbit, s1b.datatake_id) == (22, 30148, 235923)
    assert (s1b.slice_number, s1b.total_slices, s1b.ipf_version) == (9, 21, "003.40")
    assert s1b.facility == "Copernicus S1 Core Ground Segment - TLS"
    assert products["ECC8"].manifest.ipf_version == "003.31"
    assert products["ECC8"].manifest.relative_orbit == 168


def test_footprint_is_lonlat_of_manifest(products: dict[str, Product]) -> None:
    # gml:coordinates of CEAB, "lat,lon" pairs copied from the manifest
    gml = "50.295170,8.505673 50.688644,12.025283 49.192501,12.384684 48.800495,8.971268"
    expected = {(float(lon), float(lat)) for lat, lon in (p.split(",") for p in gml.split())}
    footprint = products["CEAB"].manifest.footprint
    assert isinstance(footprint, shapely.Polygon)
    assert set(footprint.exterior.coords) == expected
    assert footprint.exterior.is_ccw
    assert footprint.bounds == pytest.approx((8.505673, 48.800495, 12.384684, 50.688644))
    # consecutive slices of one datatake meet along an edge (to ~0.002 degrees)
    following = products["3768"].manifest.footprint
    assert footprint.intersection(following).area < 1e-3 * footprint.area
    assert footprint.buffer(0.002).intersection(following).length > 7.0
    # 5371 covers Rome
    assert products["5371"].manifest.footprint.contains(shapely.Point(12.4964, 41.9028))


def test_product_name_rebuilt_from_manifest(
    products: dict[str, Product], real_products: dict[str, pathlib.Path]
) -> None:
    for key, product in products.items():
        path = real_products[key]
        if product.is_zip:
            with zipfile.ZipFile(path) as archive:
                data = archive.read(f"{path.stem}.SAFE/manifest.safe")
        else:
            data = (path / "manifest.safe").read_bytes()
        assert esa_safe.manifest_crc(data) == key
        root = esa_safe.parse_xml(data, "manifest.safe")
        assert esa_safe.synthesise_product_name(root, data, "H", "m") == product.name


def test_polarisations_present(products: dict[str, Product]) -> None:
    assert products["5371"].manifest.polarisations == (Polarisation.VV, Polarisation.VH)
    assert products["5371"].polarisations == (Polarisation.VV,)
    assert products["ECC8"].polarisations == (Polarisation.VV, Polarisation.VH)
    assert products["CEAB"].is_zip and not products["5371"].is_zip


# -- annotation --------------------------------------------------------------------------------
def test_annotation_sizes_and_spacing(products: dict[str, Product]) -> None:
    ann = products["5371"].annotation("VV")
    assert (ann.number_of_lines, ann.number_of_samples) == (16705, 26102)
    assert (ann.range_pixel_spacing, ann.azimuth_pixel_spacing) == (10.0, 10.0)
    assert ann.azimuth_time_interval == 1.496569996245720e-03
    assert ann.slant_range_time == 5.332632114118834e-03
    assert ann.radar_frequency == 5.405000454334350e09
    assert ann.range_sampling_rate == 6.434523812571428e07
    assert ann.platform_heading == -1.663128724205746e02
    assert ann.pass_direction is OrbitDirection.DESCENDING
    assert (ann.range_looks, ann.azimuth_looks) == (5.0, 1.0)
    assert ann.swath == "IW" and ann.polarisation is Polarisation.VV
    assert ann.orbit.position.shape == (16, 3) and ann.orbit.time.size == 16
    assert ann.geolocation_grid.line.size == 210
    assert ann.coordinate_conversion.srgr_coefficients.shape == (28, 9)
    # the line times are consistent with the azimuth time interval (to 1 microsecond)
    span = (ann.last_line_time - ann.first_line_time) / np.timedelta64(1, "s")
    assert span == pytest.approx((ann.number_of_lines - 1) * ann.azimuth_time_interval, abs=1e-6)

    old = products["CEAB"].annotation("VH")
    assert (old.number_of_lines, old.number_of_samples) == (16685, 25357)
    assert old.polarisation is Polarisation.VH
    assert old.orbit.time.size == 28
    assert old.coordinate_conversion.srgr_coefficients.shape == (26, 5)
    # orbit speed of a 700 km LEO
    speed = np.linalg.norm(old.orbit.velocity, axis=1)
    assert np.all((speed > 7000) & (speed < 8000))


def test_annotation_matches_xarray_sentinel(
    products: dict[str, Product], real_products: dict[str, pathlib.Path]
) -> None:
    ann = products["5371"].annotation("VV")
    orbit = _xs_open(str(real_products["5371"]), "IW/VV/orbit")
    np.testing.assert_array_equal(orbit.azimuth_time.values, ann.orbit.time)
    np.testing.assert_array_equal(orbit.position.values.T, ann.orbit.position)
    np.testing.assert_array_equal(orbit.velocity.values.T, ann.orbit.velocity)

    gcp = _xs_open(str(real_products["5371"]), "IW/VV/gcp")
    grid = ann.geolocation_grid
    shape = (gcp.sizes["azimuth_time"], gcp.sizes["slant_range_time"])
    np.testing.assert_array_equal(gcp.latitude.values, grid.latitude.reshape(shape))
    np.testing.assert_array_equal(gcp.longitude.values, grid.longitude.reshape(shape))
    np.testing.assert_array_equal(gcp.height.values, grid.height.reshape(shape))

    conversion = _xs_open(str(real_products["5371"]), "IW/VV/coordinate_conversion")
    cc = ann.coordinate_conversion
    np.testing.assert_array_equal(conversion.srgrCoefficients.values, cc.srgr_coefficients)
    np.testing.assert_array_equal(conversion.grsrCoefficients.values, cc.grsr_coefficients)
    np.testing.assert_array_equal(conversion.sr0.values, cc.sr0)

    zipped = _xs_open(_zip_url(real_products["FEC3"]), "IW/VV/orbit")
    np.testing.assert_array_equal(
        zipped.position.values.T, products["FEC3"].annotation("VV").orbit.position
    )


# -- calibration -------------------------------------------------------------------------------
def _varied(cal: CalibrationVectors) -> CalibrationVectors:
    """Scale the real vectors differently per line (real GRD LUTs repeat one vector)."""
    scale = (1.0 + 0.05 * np.arange(cal.line.size) + 0.01 * np.arange(cal.line.size) ** 2)[:, None]
    return dataclasses.replace(
        cal, sigma_nought=cal.sigma_nought * scale, beta_nought=cal.beta_nought / scale
    )


@pytest.mark.parametrize("key", ["5371", "CEAB"])
def test_calibration_lut_at_tie_points_and_between(products: dict[str, Product], key: str) -> None:
    product = products[key]
    cal = product.calibration("VV")
    assert cal.pixel.shape == cal.sigma_nought.shape == (27, cal.pixel.shape[1])
    for kind, table in (("sigmaNought", cal.sigma_nought), ("gamma", cal.gamma)):
        at_ties = product.calibration_lut("VV", kind, cal.line[:, None], cal.pixel)
        np.testing.assert_array_equal(at_ties, table)
    # the annotated GRD LUTs repeat one vector on every line: line interpolation is checked on
    # a copy whose vectors differ from line to line
    assert not np.diff(cal.sigma_nought, axis=0).any()
    varied = _varied(cal)
    at_ties = luts.calibration_at(varied, "sigmaNought", cal.line[:, None], cal.pixel)
    np.testing.assert_array_equal(at_ties, varied.sigma_nought)

    # between tie points: by hand, linear in pixel along both vectors, then linear in line
    rng = np.random.default_rng(1)
    k = rng.integers(0, cal.line.size - 1, 200)
    j = rng.integers(0, cal.pixel.shape[1] - 1, 200)
    fl, fp = rng.uniform(size=200), rng.uniform(size=200)
    table = varied.beta_nought
    line = cal.line[k] + fl * (cal.line[k + 1] - cal.line[k])
    pixel = cal.pixel[k, j] + fp * (cal.pixel[k, j + 1] - cal.pixel[k, j])
    upper = table[k, j] + fp * (table[k, j + 1] - table[k, j])
    lower = table[k + 1, j] + fp * (table[k + 1, j + 1] - table[k + 1, j])
    expected = upper + fl * (lower - upper)
    np.testing.assert_allclose(
        luts.calibration_at(varied, "betaNought", line, pixel), expected, rtol=1e-12
    )
    # the same points through the separable path (a small grid holding them on its diagonal)
    diagonal = np.diagonal(luts.calibration_grid(varied, "betaNought", line[:50], pixel[:50]))
    np.testing.assert_allclose(diagonal, expected[:50], rtol=1e-12)
    # and the real product, for which only the pixel interpolation matters
    got = product.calibration_lut("VV", "betaNought", line, pixel)
    real = cal.beta_nought
    np.testing.assert_allclose(got, real[k, j] + fp * (real[k, j + 1] - real[k, j]), rtol=1e-12)

    # scipy's bilinear interpolator on the (line, pixel) grid gives the same everywhere
    reference = RegularGridInterpolator((cal.line, cal.pixel[0]), varied.sigma_nought)
    ann = product.annotation("VV")
    lines = rng.uniform(0, ann.number_of_lines - 1, 500)
    pixels = rng.uniform(0, ann.number_of_samples - 1, 500)
    got = luts.calibration_at(varied, "sigmaNought", lines, pixels)
    np.testing.assert_allclose(got, reference(np.stack([lines, pixels], -1)), rtol=1e-12)
    grid = luts.calibration_grid(varied, "sigmaNought", np.sort(lines), np.sort(pixels))
    mesh = np.stack(np.meshgrid(np.sort(lines), np.sort(pixels), indexing="ij"), -1)
    np.testing.assert_allclose(grid, reference(mesh), rtol=1e-12)
    # a scalar
    scalar = product.calibration_lut("VV", "sigmaNought", lines[0], pixels[0])
    assert scalar.shape == ()
    assert scalar == pytest.approx(product.calibration_lut("VV", "sigmaNought", lines, pixels)[0])


def test_calibration_grid_paths_agree(products: dict[str, Product]) -> None:
    product = products["5371"]
    varied = _varied(product.calibration("VV"))
    lines, pixels = np.arange(0, 16705, 97), np.arange(0, 26102, 53)
    grid = luts.calibration_grid(varied, "sigmaNought", lines, pixels)
    assert grid.shape == (lines.size, pixels.size)
    mesh_l, mesh_p = np.meshgrid(lines, pixels, indexing="ij")
    np.testing.assert_array_equal(luts.calibration_at(varied, "sigmaNought", mesh_l, mesh_p), grid)
    np.testing.assert_array_equal(
        luts.calibration_at(varied, "sigmaNought", lines[:, None], pixels), grid
    )
    # unsorted axes and the point-by-point path give the same numbers
    shuffled = np.random.default_rng(2).permutation(lines.size)
    np.testing.assert_array_equal(
        luts.calibration_grid(varied, "sigmaNought", lines[shuffled], pixels), grid[shuffled]
    )
    table = luts.VectorTable.from_calibration(varied, "sigmaNought")
    np.testing.assert_allclose(
        table.points(mesh_l.ravel() * 1.0, mesh_p.ravel() * 1.0), grid.ravel(), rtol=1e-14
    )
    np.testing.assert_array_equal(
        product.lut_grid("VV", "gamma", lines, pixels),
        luts.calibration_grid(product.calibration("VV"), "gamma", lines, pixels),
    )
    # edges are held, not extrapolated
    edge = product.calibration_lut("VV", "gamma", [-50.0, 0.0], [-10.0, 0.0])
    assert edge[0] == edge[1] == product.calibration("VV").gamma[0, 0]
    last = luts.calibration_at(varied, "sigmaNought", [17373.0, 90000.0], [26101.0, 99999.0])
    assert last[0] == last[1] == varied.sigma_nought[-1, -1]


def test_calibration_matches_xarray_sentinel(
    products: dict[str, Product], real_products: dict[str, pathlib.Path]
) -> None:
    rng = np.random.default_rng(3)
    for key, url in (
        ("5371", str(real_products["5371"])),
        ("CEAB", _zip_url(real_products["CEAB"])),
    ):
        reference = _xs_open(url, "IW/VV/calibration")
        ann = products[key].annotation("VV")
        line = rng.uniform(0, ann.number_of_lines - 1, 1000)
        pixel = rng.uniform(0, ann.number_of_samples - 1, 1000)
        expected = reference.sigmaNought.interp(line=xr.DataArray(line), pixel=xr.DataArray(pixel))
        got = products[key].calibration_lut("VV", "sigmaNought", line, pixel)
        # xarray-sentinel stores the LUTs as float32
        np.testing.assert_allclose(got, expected.values, rtol=1e-6)
        constant = products[key].calibration("VV").absolute_calibration_constant
        assert constant == reference.attrs["absoluteCalibrationConstant"]
    assert products["5371"].calibration("VV").absolute_calibration_constant == 1.393


def test_calibration_dataarray_is_lazy_and_exact(products: dict[str, Product]) -> None:
    product = products["5371"]
    dn = product.open_measurement("VV", chunks={"line": 4096, "pixel": 8192})
    lut = product.calibration_lut_dataarray("VV", "sigmaNought", dn)
    assert lut.chunks == dn.chunks and lut.dims == ("line", "pixel") and lut.dtype == np.float32
    window = dn.isel(line=slice(3000, 3300), pixel=slice(7000, 9500))
    got = product.calibration_lut_dataarray("VV", "betaNought", window, dtype=np.float64)
    assert got.chunks is not None
    expected = product.lut_grid("VV", "betaNought", np.arange(3000, 3300), np.arange(7000, 9500))
    np.testing.assert_array_equal(got.values, expected)
    np.testing.assert_array_equal(got.line.values, np.arange(3000, 3300))
    # numpy-backed input gives the same numbers eagerly
    eager = product.calibration_lut_dataarray(
        "VV", "betaNought", window.compute(), dtype=np.float64
    )
    assert eager.chunks is None
    xr.testing.assert_equal(eager, got.compute())
    with pytest.raises(ParameterError, match="dims"):
        product.calibration_lut_dataarray(
            "VV", "gamma", xr.DataArray(np.zeros((2, 2)), dims=("y", "x"))
        )


# -- noise -------------------------------------------------------------------------------------
def test_noise_old_ipf_from_zip(products: dict[str, Product]) -> None:
    for key in ("CEAB", "3768", "FEC3", "6D00"):
        noise = products[key].noise("VH")
        assert noise.azimuth == ()
        assert len(noise.range) == 27
    noise = products["CEAB"].noise("VV")
    first = noise.range[0]
    assert (first.line, first.pixel[:3].tolist(), first.pixel[-1]) == (0, [0, 40, 80], 25356)
    # at the tie points the LUT is the tabulated noiseLut, the azimuth factor is 1
    for vector in noise.range[3:6]:
        got = products["CEAB"].noise_lut("VV", vector.line, vector.pixel)
        np.testing.assert_array_equal(got, vector.values)
    # between two vectors: linear in line of the two pixel-interpolated vectors
    a, b = noise.range[10], noise.range[11]
    pixel = np.array([1234.5, 20000.25])
    line = a.line + 0.3 * (b.line - a.line)
    expected = 0.7 * np.interp(pixel, a.pixel, a.values) + 0.3 * np.interp(pixel, b.pixel, b.values)
    np.testing.assert_allclose(products["CEAB"].noise_lut("VV", line, pixel), expected, rtol=1e-12)


def test_noise_new_ipf_range_times_azimuth(products: dict[str, Product]) -> None:
    product = products["5371"]
    noise = product.noise("VV")
    assert len(noise.range) == 27 and noise.range[0].pixel.size == 657
    blocks = noise.azimuth
    assert [b.swath for b in blocks] == ["IW1", "IW2", "IW3"]
    assert [(b.first_pixel, b.last_pixel) for b in blocks] == [
        (0, 8889),
        (8890, 17700),
        (17701, 26101),
    ]
    assert [b.line.size for b in blocks] == [1689, 1688, 1686]
    assert blocks[0].values[0] == 1.091791

    lines = np.array([0.0, 5.0, 158.0, 158.5, 9000.0, 16704.0])
    for block, pixel in zip(blocks, (100.0, 12000.0, 26101.0), strict=True):
        vec = luts.VectorTable.from_noise(noise).points(lines, np.full(lines.shape, pixel))
        factor = np.interp(lines, block.line, block.values)
        np.testing.assert_allclose(product.noise_lut("VV", lines, pixel), vec * factor, rtol=1e-12)
    # scattered points (point-by-point path): range vectors x the factor of the pixel's block
    rng = np.random.default_rng(5)
    line, pixel = rng.uniform(0, 16704, 3000), rng.uniform(0, 26101, 3000)
    block = np.searchsorted([b.first_pixel - 0.5 for b in blocks], pixel, side="right") - 1
    factor = np.array(
        [np.interp(li, blocks[b].line, blocks[b].values) for li, b in zip(line, block, strict=True)]
    )
    table = luts.VectorTable.from_noise(noise)
    np.testing.assert_allclose(
        product.noise_lut("VV", line, pixel), table.points(line, pixel) * factor, rtol=1e-12
    )
    # the blocks tile the swath: the factor changes at the first pixel of IW2
    boundary = product.noise_lut("VV", 5000.0, [8889.0, 8890.0]) / luts.VectorTable.from_noise(
        noise
    ).points(np.array([5000.0, 5000.0]), np.array([8889.0, 8890.0]))
    np.testing.assert_allclose(
        boundary,
        [np.interp(5000.0, b.line, b.values) for b in blocks[:2]],
        rtol=1e-12,
    )


def test_noise_outside_blocks_is_range_only(products: dict[str, Product]) -> None:
    noise = products["5371"].noise("VV")
    only_iw2 = dataclasses.replace(noise, azimuth=noise.azimuth[1:2])
    lines, pixels = np.arange(0, 16705, 211), np.arange(0, 26102, 97)
    rng_only = luts.noise_grid(dataclasses.replace(noise, azimuth=()), lines, pixels)
    got = luts.noise_grid(only_iw2, lines, pixels)
    outside = (pixels < 8890) | (pixels > 17700)
    np.testing.assert_array_equal(got[:, outside], rng_only[:, outside])
    factor = np.interp(lines, noise.azimuth[1].line, noise.azimuth[1].values)
    np.testing.assert_allclose(
        got[:, ~outside], rng_only[:, ~outside] * factor[:, None], rtol=1e-12
    )
    # exactly at the block edges (inclusive first/last pixel and line)
    edges = luts.azimuth_noise_grid(
        only_iw2, np.array([0.0, 16704.0, 16705.0]), np.array([8889.0, 8890.0, 17700.0, 17701.0])
    )
    iw2 = noise.azimuth[1]
    np.testing.assert_array_equal(edges[:, [0, 3]], 1.0)
    np.testing.assert_array_equal(edges[:2, 1], [iw2.values[0], iw2.values[-1]])
    np.testing.assert_array_equal(edges[2, :], 1.0)
    # grid and point-by-point evaluation agree
    mesh_l, mesh_p = (m.ravel() * 1.0 for m in np.meshgrid(lines, pixels, indexing="ij"))
    np.testing.assert_allclose(
        luts.azimuth_noise_points(only_iw2, mesh_l, mesh_p),
        luts.azimuth_noise_grid(only_iw2, lines * 1.0, pixels * 1.0).ravel(),
        rtol=0,
    )


def test_noise_matches_xarray_sentinel(
    products: dict[str, Product], real_products: dict[str, pathlib.Path]
) -> None:
    product = products["5371"]
    noise = product.noise("VV")
    reference = _xs_open(str(real_products["5371"]), "IW/VV/noise_range")
    rng = np.random.default_rng(4)
    line, pixel = rng.uniform(0, 16704, 1000), rng.uniform(0, 26101, 1000)
    expected = reference.noiseRangeLut.interp(line=xr.DataArray(line), pixel=xr.DataArray(pixel))
    got = luts.VectorTable.from_noise(noise).points(line, pixel)
    np.testing.assert_allclose(got, expected.values, rtol=1e-6)
    # xarray-sentinel reads the first azimuth block only (IW1): compare there
    first = _xs_open(str(real_products["5371"]), "IW/VV/noise_azimuth")
    np.testing.assert_allclose(first.noiseAzimuthLut.values, noise.azimuth[0].values, rtol=1e-7)
    lut = product.noise_lut_dataarray("VV", product.open_measurement("VV"))
    assert lut.chunks is not None and lut.dtype == np.float32
    np.testing.assert_allclose(
        lut.isel(line=slice(100, 140), pixel=slice(8880, 8900)).values,
        product.noise_lut("VV", np.arange(100, 140)[:, None], np.arange(8880, 8900)),
        rtol=1e-6,
    )


# -- measurement and components ----------------------------------------------------------------
def test_open_measurement(
    products: dict[str, Product], real_products: dict[str, pathlib.Path]
) -> None:
    product = products["5371"]
    dn = product.open_measurement("vv")
    assert dn.dims == ("line", "pixel") and dn.dtype == np.uint16
    assert dn.shape == (16705, 26102) and dn.chunks is not None
    assert set(dn.coords) == {"line", "pixel"} and dn.attrs["long_name"] == "digital number"
    href = product.measurement_href("VV")
    assert href is not None and href.startswith(str(real_products["5371"]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        with rasterio.open(href) as dataset:
            window = dataset.read(1, window=((10, 20), (30, 50)))
    np.testing.assert_array_equal(dn.isel(line=slice(10, 20), pixel=slice(30, 50)).values, window)
    assert products["CEAB"].measurement_href("VV") is None
    with pytest.raises(MissingComponentError, match=r"measurement/s1a-iw-grd-vv-.*\.tiff"):
        products["CEAB"].open_measurement("VV")


def test_components(products: dict[str, Product], real_products: dict[str, pathlib.Path]) -> None:
    ceab = products["CEAB"].components()
    assert all(isinstance(c, Component) for c in ceab)
    assert [c.kind for c in ceab] == [
        "manifest",
        "annotation",
        "annotation",
        "calibration",
        "calibration",
        "noise",
        "noise",
        "quicklook",
    ]
    with zipfile.ZipFile(real_products["CEAB"]) as archive:
        sizes = {i.filename: i.file_size for i in archive.infolist()}
    prefix = f"{real_products['CEAB'].stem}.SAFE/"
    for component in ceab:
        assert component.size == sizes[prefix + component.relpath]
        assert component.href == f"/vsizip/{real_products['CEAB']}/{prefix}{component.relpath}"
    assert {c.polarisation for c in ceab if c.kind == "noise"} == {Polarisation.VV, Polarisation.VH}

    quicklook = next(c for c in ceab if c.kind == "quicklook")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        with rasterio.open(quicklook.href) as dataset:
            assert dataset.driver == "PNG" and dataset.count == 3
            assert dataset.read(1).std() > 0
    assert products["CEAB"].member_href("./preview/quick-look.png") == quicklook.href

    s1b = products["5371"].components()
    assert [(c.kind, c.polarisation) for c in s1b] == [
        ("manifest", None),
        ("annotation", Polarisation.VV),
        ("calibration", Polarisation.VV),
        ("noise", Polarisation.VV),
        ("measurement", Polarisation.VV),
    ]
    assert all(os.path.getsize(c.href) == c.size for c in s1b)
    with pytest.raises(MissingComponentError, match="quick-look.png"):
        products["5371"].member_href("preview/quick-look.png")


# -- missing parts and bad inputs --------------------------------------------------------------
def test_missing_calibration_and_noise(real_products: dict[str, pathlib.Path]) -> None:
    product = open_product(real_products["ECC8"])  # opening works
    assert product.annotation("VV").number_of_lines == 16685
    assert product.open_measurement("VV").shape == (16685, 25788)
    cal = r"calibration-s1b-iw-grd-vv-20210401t052623-20210401t052648-026269-032297-001\.xml"
    with pytest.raises(MissingComponentError, match=cal):
        product.calibration("VV")
    with pytest.raises(MissingComponentError, match=cal):
        product.calibration_lut("VV", "sigmaNought", 0, 0)
    with pytest.raises(MissingComponentError, match=r"noise-s1b-iw-grd-vh-.*-002\.xml"):
        product.noise_lut("VH", 0, 0)
    with pytest.raises(MissingComponentError, match=r"measurement/s1b-iw-grd-vh-.*\.tiff"):
        product.open_measurement("VH")
    with pytest.raises(ProductError, match="'HH' is not in this product; available: VV, VH"):
        product.annotation("HH")
    with pytest.raises(MissingComponentError, match="s1b-iw-grd-vh"):
        open_product(real_products["5371"]).annotation("VH")


def _copy_members(
    source: pathlib.Path, target: pathlib.Path, folder: str, keep: tuple[str, ...]
) -> None:
    with zipfile.ZipFile(source) as archive, zipfile.ZipFile(target, "w") as out:
        for info in archive.infolist():
            relpath = info.filename.split("/", 1)[1]
            if relpath and any(relpath.startswith(k) for k in keep):
                out.writestr(f"{folder}/{relpath}", archive.read(info))


def test_zip_with_renamed_safe_folder(
    real_products: dict[str, pathlib.Path], tmp_path: pathlib.Path
) -> None:
    source = real_products["CEAB"]
    keep = (
        "manifest.safe",
        "annotation/s1a-iw-grd-vv",
        "annotation/calibration/calibration-s1a-iw-grd-vv",
    )
    named = tmp_path / source.name
    _copy_members(source, named, "renamed.SAFE", keep)
    product = open_product(named)
    assert product.name == source.stem and product.polarisations == (Polarisation.VV,)
    assert product.calibration("VV").line.size == 27
    assert product.member_href("manifest.safe").endswith(".zip/renamed.SAFE/manifest.safe")
    # neither the zip nor the folder carry the name: it is rebuilt from the manifest
    anonymous = tmp_path / "download.zip"
    _copy_members(source, anonymous, "x.SAFE", keep)
    assert open_product(anonymous).name == source.stem
    assert open_product(anonymous).manifest.resolution_class == "H"


def test_bad_inputs(real_products: dict[str, pathlib.Path], tmp_path: pathlib.Path) -> None:
    with pytest.raises(ProductError, match="does not exist"):
        open_product(tmp_path / "S1A_nothing.zip")

    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(real_products["CEAB"].read_bytes()[:600_000])
    with pytest.raises(ProductError, match=r"truncated\.zip: not a readable zip archive"):
        open_product(truncated)

    corrupt = tmp_path / real_products["FEC3"].name
    data = bytearray(real_products["FEC3"].read_bytes())
    with zipfile.ZipFile(real_products["FEC3"]) as archive:
        info = next(
            i
            for i in archive.infolist()
            if i.filename.endswith("-001.xml") and "/noise-" in i.filename
        )
    middle = info.header_offset + 200 + info.compress_size // 2
    data[middle : middle + 64] = bytes(64)
    corrupt.write_bytes(bytes(data))
    product = open_product(corrupt)  # the manifest is intact
    with pytest.raises(
        ProductError, match=r"noise-s1a-iw-grd-vv-.*cannot be read.*download it again"
    ):
        product.noise("VV")

    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("readme.txt", "not a product")
    with pytest.raises(ProductError, match=r"other\.zip.*not a Sentinel-1 SAFE product"):
        open_product(other)

    no_manifest = tmp_path / "S1B_no_manifest.SAFE"
    (no_manifest / "annotation").mkdir(parents=True)
    with pytest.raises(ProductError, match=r"S1B_no_manifest\.SAFE: no manifest\.safe"):
        open_product(no_manifest)

    text = tmp_path / "product.txt"
    text.write_text("hello")
    with pytest.raises(ProductError, match="not a readable zip archive"):
        open_product(text)

    manifest = (real_products["5371"] / "manifest.safe").read_text()
    slc = tmp_path / "S1B_IW_SLC__1SDV_20211223T051121_20211223T051150_030148_039993_34E6.SAFE"
    slc.mkdir()
    (slc / "manifest.safe").write_text(manifest.replace(">GRD<", ">SLC<"))
    with pytest.raises(ProductError, match=r"product type 'SLC' is not supported; only GRD"):
        open_product(slc)

    broken = tmp_path / "broken.SAFE"
    broken.mkdir()
    (broken / "manifest.safe").write_text(manifest[:5000])
    with pytest.raises(ProductError, match=r"broken\.SAFE/manifest\.safe: not well-formed XML"):
        open_product(broken)

    lacking = tmp_path / "lacking" / real_products["5371"].name
    lacking.mkdir(parents=True)
    (lacking / "manifest.safe").write_text(manifest.replace("<s1:pass>DESCENDING</s1:pass>", ""))
    with pytest.raises(ProductError, match=r"manifest\.safe: element '.*s1:pass' is missing"):
        open_product(lacking)


def test_open_from_manifest_path_and_copy(
    real_products: dict[str, pathlib.Path], tmp_path: pathlib.Path
) -> None:
    product = open_product(real_products["5371"] / "manifest.safe")
    assert product.path == real_products["5371"].resolve()
    copy = tmp_path / real_products["ECC8"].name
    shutil.copytree(real_products["ECC8"] / "annotation", copy / "annotation")
    shutil.copy(real_products["ECC8"] / "manifest.safe", copy)
    assert open_product(copy).annotation("VH").polarisation is Polarisation.VH
    with pytest.raises(ParameterError, match="calibration kind 'sigma'"):
        open_product(real_products["5371"]).calibration_lut("VV", "sigma", 0, 0)  # type: ignore[arg-type]


def test_ascending_node_time_read_from_manifest(real_products: dict[str, pathlib.Path]) -> None:
    # values read by hand from the manifests (s1:ascendingNodeTime)
    expected = {
        "CEAB": "2015-02-22T16:54:07.266587",
        "FEC3": "2015-02-03T03:52:25.094154",
        "5371": "2021-12-23T04:33:35.556206",
    }
    for key, text in expected.items():
        manifest = open_product(real_products[key]).manifest
        assert manifest.ascending_node_time == np.datetime64(text)


def test_archive_layout_with_short_member_names_reads_the_same(
    grd_dir: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    from _layouts import archive_copy

    safe = grd_dir / "S1B_IW_GRDH_1SDV_20211223T051122_20211223T051147_030148_039993_5371.SAFE"
    copy = archive_copy(safe, tmp_path)
    assert (copy / "annotation" / "iw-vv.xml").is_file()
    assert (copy / "annotation" / "calibration" / "noise-iw-vv.xml").is_file()
    esa, archive = open_product(safe), open_product(copy)
    assert archive.name == esa.name and archive.polarisations == esa.polarisations
    assert archive.manifest == esa.manifest
    np.testing.assert_equal(
        dataclasses.asdict(archive.annotation("VV")), dataclasses.asdict(esa.annotation("VV"))
    )
    line, pixel = np.meshgrid(np.arange(0, 16000, 997), np.arange(0, 25000, 1499), indexing="ij")
    np.testing.assert_array_equal(
        archive.calibration_lut("VV", "sigmaNought", line, pixel),
        esa.calibration_lut("VV", "sigmaNought", line, pixel),
    )
    np.testing.assert_array_equal(
        archive.noise_lut("VV", line, pixel), esa.noise_lut("VV", line, pixel)
    )
    assert archive.measurement_href("VV") == str(copy / "measurement" / "iw-vv.tiff")
    kinds = sorted((c.kind, str(c.polarisation)) for c in archive.components())
    assert kinds == sorted((c.kind, str(c.polarisation)) for c in esa.components())
