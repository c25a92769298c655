"""Orbit interpolation and range-Doppler geometry.

References: an analytic circular orbit (closed-form position and velocity, zero Doppler found
by ``scipy.optimize.brentq``), PROJ (``pyproj``) for the ellipsoid, and the geolocation grid
of every real product (ESA's own tie points: line, pixel, azimuth time, slant range time,
lat, lon, height).
"""

from __future__ import annotations

import dataclasses
import pathlib

import numpy as np
import pyproj
import pytest
import scipy.optimize  # type: ignore[import-untyped]

from s1stac import geometry
from s1stac.ellipsoid import ecef_to_geodetic, geodetic_to_ecef
from s1stac.errors import GeometryError
from s1stac.geometry import SPEED_OF_LIGHT, SarGeometry, ground_to_radar, radar_to_ground
from s1stac.orbit import Orbit
from s1stac.safe import Product, open_product
from s1stac.types import (
    Annotation,
    CoordinateConversion,
    GeolocationGrid,
    OrbitDirection,
    OrbitStateVectors,
    Polarisation,
)

KEYS = ["CEAB", "3768", "FEC3", "6D00", "5371", "ECC8"]
OLD_IPF = {"CEAB", "3768", "FEC3"}  # degree-4 slant/ground range polynomials
NS = np.timedelta64(1, "ns")
TO_ECEF = pyproj.Transformer.from_crs("EPSG:4979", "EPSG:4978")
TO_GEODETIC = pyproj.Transformer.from_crs("EPSG:4978", "EPSG:4979")


# --- analytic orbit and a synthetic annotation ---------------------------------------------

GM = 3.986004418e14
OMEGA_EARTH = 7.2921150e-5
RADIUS = 7_071_000.0
INCLINATION = np.radians(98.18)
MEAN_MOTION = np.sqrt(GM / RADIUS**3)
EPOCH = np.datetime64("2021-06-01T10:00:00", "ns")
U0 = np.radians(40.0)


def analytic_state(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ECEF position and velocity of a circular orbit, ``t`` seconds after EPOCH."""
    t = np.asarray(t, dtype=np.float64)
    u = U0 + MEAN_MOTION * t
    eci = RADIUS * np.stack(
        [np.cos(u), np.sin(u) * np.cos(INCLINATION), np.sin(u) * np.sin(INCLINATION)], -1
    )
    veci = (RADIUS * MEAN_MOTION) * np.stack(
        [-np.sin(u), np.cos(u) * np.cos(INCLINATION), np.cos(u) * np.sin(INCLINATION)], -1
    )
    theta = OMEGA_EARTH * t
    c, s = np.cos(theta), np.sin(theta)

    def rotate(v: np.ndarray) -> np.ndarray:
        return np.stack(
            [c * v[..., 0] + s * v[..., 1], -s * v[..., 0] + c * v[..., 1], v[..., 2]], -1
        )

    pos = rotate(eci)
    vel = rotate(veci) + OMEGA_EARTH * np.stack([pos[..., 1], -pos[..., 0], np.zeros_like(t)], -1)
    return pos, vel


def analytic_vectors(step: float = 10.0, count: int = 16) -> OrbitStateVectors:
    t = np.arange(count) * step
    pos, vel = analytic_state(t)
    return OrbitStateVectors(
        time=EPOCH + (t * 1e9).astype("timedelta64[ns]"), position=pos, velocity=vel
    )


SYN_FIRST_LINE = 50.0  # s after EPOCH
SYN_DT = 1.5e-3
SYN_LINES = 20000
SYN_SR0 = 800_000.0
SYN_SPACING = 10.0


def empty_grid() -> GeolocationGrid:
    f = np.array([], dtype=np.float64)
    return GeolocationGrid(np.array([], dtype="datetime64[ns]"), f, f, f, f, f, f, f, f)


def synthetic_annotation(grid: GeolocationGrid | None = None) -> Annotation:
    """Annotation of an image of the analytic orbit: gr = 2 (sr - sr0), sr = sr0 + gr / 2."""
    record_times = EPOCH + np.array([40_000_000_000, 80_000_000_000], dtype="timedelta64[ns]")
    conversion = CoordinateConversion(
        azimuth_time=record_times,
        slant_range_time=np.full(2, 2 * SYN_SR0 / SPEED_OF_LIGHT),
        sr0=np.full(2, SYN_SR0),
        srgr_coefficients=np.array([[0.0, 2.0], [0.0, 2.0]]),
        gr0=np.zeros(2),
        grsr_coefficients=np.array([[SYN_SR0, 0.5], [SYN_SR0, 0.5]]),
    )
    first = EPOCH + np.timedelta64(int(SYN_FIRST_LINE * 1e9), "ns")
    return Annotation(
        polarisation=Polarisation.VV,
        swath="IW",
        number_of_lines=SYN_LINES,
        number_of_samples=25000,
        range_pixel_spacing=SYN_SPACING,
        azimuth_pixel_spacing=10.0,
        azimuth_time_interval=SYN_DT,
        first_line_time=first,
        last_line_time=first + np.timedelta64(int(SYN_LINES * SYN_DT * 1e9), "ns"),
        slant_range_time=2 * SYN_SR0 / SPEED_OF_LIGHT,
        radar_frequency=5.405e9,
        range_sampling_rate=6.4e7,
        incidence_angle_mid_swath=39.0,
        platform_heading=-170.0,
        pass_direction=OrbitDirection.DESCENDING,
        range_looks=5.0,
        azimuth_looks=1.0,
        orbit=analytic_vectors(),
        geolocation_grid=empty_grid() if grid is None else grid,
        coordinate_conversion=conversion,
    )


def reference_zero_doppler(xyz: np.ndarray) -> tuple[float, float]:
    """Zero-Doppler time (s after EPOCH) and slant range of one point, by bracketing root."""

    def doppler(t: float) -> float:
        pos, vel = analytic_state(np.array(t))
        return float(np.dot(vel, xyz - pos))

    t = scipy.optimize.brentq(doppler, 0.0, 150.0, xtol=1e-12)
    return t, float(np.linalg.norm(xyz - analytic_state(np.array(t))[0]))


def targets(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """WGS84 points right of the analytic ground track, seen between lines 0 and SYN_LINES."""
    t = SYN_FIRST_LINE + rng.uniform(0.05, 0.95, n) * SYN_LINES * SYN_DT
    pos, vel = analytic_state(t)
    up = pos / np.linalg.norm(pos, axis=-1, keepdims=True)
    right = np.cross(vel / np.linalg.norm(vel, axis=-1, keepdims=True), up)
    ground = pos - 700e3 * up + rng.uniform(250e3, 450e3, (n, 1)) * right
    lat, lon, _ = TO_GEODETIC.transform(ground[:, 0], ground[:, 1], ground[:, 2])
    return np.asarray(lon), np.asarray(lat), rng.uniform(-100.0, 4000.0, n)


# --- ellipsoid ---------------------------------------------------------------------------


def test_ellipsoid_matches_proj() -> None:
    rng = np.random.default_rng(1)
    lon, lat = rng.uniform(-180, 180, 2000), rng.uniform(-89.9, 89.9, 2000)
    h = rng.uniform(-500.0, 9000.0, 2000)
    xyz = geodetic_to_ecef(lon, lat, h)
    np.testing.assert_allclose(xyz, np.stack(TO_ECEF.transform(lat, lon, h), -1), rtol=0, atol=1e-6)
    lon2, lat2, h2 = ecef_to_geodetic(xyz)
    np.testing.assert_allclose(lon2, lon, rtol=0, atol=1e-10)
    np.testing.assert_allclose(lat2, lat, rtol=0, atol=1e-10)
    np.testing.assert_allclose(h2, h, rtol=0, atol=1e-6)


# --- orbit ---------------------------------------------------------------------------------


def test_orbit_reproduces_analytic_orbit() -> None:
    orbit = Orbit(analytic_vectors())
    t = np.linspace(0.0, 150.0, 1001)
    pos, vel = analytic_state(t)
    s = orbit.seconds(EPOCH + (t * 1e9).astype("timedelta64[ns]"))
    p, v, a = orbit.state(s)
    assert np.abs(p - pos).max() < 1e-3
    assert np.abs(v - vel).max() < 1e-5
    # acceleration against a central difference of the analytic velocity
    dv = (analytic_state(t + 1e-3)[1] - analytic_state(t - 1e-3)[1]) / 2e-3
    assert np.abs(a - dv).max() < 1e-4
    assert orbit.datetime(orbit.seconds(EPOCH)) == EPOCH


@pytest.mark.parametrize("key", KEYS)
def test_orbit_leave_one_out(key: str, real_annotations: dict[str, Annotation]) -> None:
    """Each state vector from a fit of the others (interior vectors: interpolation)."""
    vectors = real_annotations[key].orbit
    n = len(vectors.time)
    errors = []
    for i in range(1, n - 1):
        keep = np.arange(n) != i
        orbit = Orbit(
            OrbitStateVectors(vectors.time[keep], vectors.position[keep], vectors.velocity[keep])
        )
        errors.append(
            np.linalg.norm(orbit.position(orbit.seconds(vectors.time[i])) - vectors.position[i])
        )
    # measured: at most 5.5 mm (1 s vectors of 2015) and 1.1 mm (10 s vectors)
    assert max(errors) < 0.05


def test_orbit_rejects_bad_vectors() -> None:
    good = analytic_vectors()
    with pytest.raises(GeometryError, match="at least 4"):
        Orbit(analytic_vectors(count=3))
    with pytest.raises(GeometryError, match="increase"):
        Orbit(dataclasses.replace(good, time=good.time[::-1]))
    with pytest.raises(GeometryError, match="shapes"):
        Orbit(dataclasses.replace(good, velocity=good.velocity[:, :2]))


# --- geometry on the analytic orbit ---------------------------------------------------------


def test_ground_to_radar_against_brentq_reference() -> None:
    rng = np.random.default_rng(2)
    lon, lat, h = targets(rng, 40)
    line, pixel = ground_to_radar(synthetic_annotation(), lon, lat, h)
    xyz = np.stack(TO_ECEF.transform(lat, lon, h), -1)
    reference = np.array([reference_zero_doppler(p) for p in xyz])
    np.testing.assert_allclose(line, (reference[:, 0] - SYN_FIRST_LINE) / SYN_DT, rtol=0, atol=1e-5)
    np.testing.assert_allclose(
        pixel, 2 * (reference[:, 1] - SYN_SR0) / SYN_SPACING, rtol=0, atol=1e-5
    )


def test_radar_to_ground_solves_the_range_doppler_equations() -> None:
    rng = np.random.default_rng(3)
    line = rng.uniform(0, SYN_LINES, 500)
    pixel = rng.uniform(0, 25000, 500)
    h = rng.uniform(-100.0, 8000.0, 500)
    lon, lat = radar_to_ground(synthetic_annotation(), line, pixel, h)
    xyz = np.stack(TO_ECEF.transform(lat, lon, h), -1)
    pos, vel = analytic_state(SYN_FIRST_LINE + line * SYN_DT)
    look = xyz - pos
    slant_range = np.linalg.norm(look, axis=-1)
    np.testing.assert_allclose(slant_range, SYN_SR0 + pixel * SYN_SPACING / 2, rtol=0, atol=1e-3)
    cos_doppler = np.einsum("ij,ij->i", vel, look) / slant_range / np.linalg.norm(vel, axis=-1)
    assert np.abs(cos_doppler).max() < 1e-9
    assert np.all(np.einsum("ij,ij->i", np.cross(vel, look), pos) < 0)  # right-looking


def test_calibration_recovers_a_known_grid_model() -> None:
    """A grid with a bistatic-like azimuth offset and a range residual: honoured between points."""
    truth = SarGeometry(synthetic_annotation())
    c0, c1 = -0.0029, 0.5
    truth.azimuth_offset = (c0, c1)

    def residual(pixel: np.ndarray) -> np.ndarray:
        return 3.0 * np.sin(np.pi * pixel / 25000.0) - 1e-4 * pixel

    lattice = np.meshgrid(np.linspace(0, SYN_LINES, 10), np.linspace(0, 25000, 21), indexing="ij")
    lines, pixels = lattice[0].ravel(), lattice[1].ravel()
    lon, lat = truth.radar_to_ground(lines, pixels - residual(pixels), 0.0)
    t_line = SYN_FIRST_LINE + lines * SYN_DT
    tau = 2 * truth._slant_range(pixels - residual(pixels), truth.orbit.seconds(EPOCH) + t_line)
    tau /= SPEED_OF_LIGHT
    seconds = t_line + c0 + c1 * tau
    grid = GeolocationGrid(
        azimuth_time=EPOCH + (seconds * 1e9).astype("timedelta64[ns]"),
        slant_range_time=tau,
        line=lines,
        pixel=pixels,
        latitude=lat,
        longitude=lon,
        height=np.zeros_like(lat),
        incidence_angle=np.zeros_like(lat),
        elevation_angle=np.zeros_like(lat),
    )
    model = SarGeometry(synthetic_annotation(grid))
    assert model.azimuth_offset == pytest.approx((c0, c1), abs=1e-6)
    rng = np.random.default_rng(4)
    line = rng.uniform(0, SYN_LINES, 300)
    pixel = rng.uniform(0, 25000, 300)
    lon, lat = truth.radar_to_ground(line, pixel - residual(pixel), 500.0)
    line2, pixel2 = model.ground_to_radar(lon, lat, 500.0)
    np.testing.assert_allclose(line2, line, rtol=0, atol=1e-4)
    np.testing.assert_allclose(pixel2, pixel, rtol=0, atol=1e-3)


# --- input handling ----------------------------------------------------------------------


def test_bad_inputs_name_the_parameter() -> None:
    ann = synthetic_annotation()
    with pytest.raises(GeometryError, match="lat has shape"):
        ground_to_radar(ann, np.zeros(3), np.zeros(4), 0.0)
    with pytest.raises(GeometryError, match="height has shape"):
        ground_to_radar(ann, np.zeros(3), np.zeros(3), np.zeros(2))
    with pytest.raises(GeometryError, match="pixel has shape"):
        radar_to_ground(ann, np.zeros((2, 3)), np.zeros(2), 0.0)
    with pytest.raises(GeometryError, match="lon must be numeric"):
        ground_to_radar(ann, "east", 0.0, 0.0)
    with pytest.raises(GeometryError, match="lat must be within"):
        ground_to_radar(ann, 0.0, 91.0, 0.0)
    with pytest.raises(GeometryError, match="errors="):
        ground_to_radar(ann, 0.0, 0.0, 0.0, errors="ignore")  # type: ignore[arg-type]
    with pytest.raises(GeometryError, match="polarisation='VH'"):
        ground_to_radar(ann, 0.0, 0.0, 0.0, polarisation="VH")


def test_points_not_seen() -> None:
    ann = synthetic_annotation()
    lon, lat, h = targets(np.random.default_rng(5), 3)
    # below the satellite 20 minutes later: outside the 150 s of state vectors
    later = analytic_state(np.array([1200.0, 1300.0, 1400.0]))[0]
    x, y, z = (0.9 * later).T
    late_lat, late_lon, _ = TO_GEODETIC.transform(x, y, z)
    # left of the track: the mirror image of the targets about the ground track
    pos, vel = analytic_state(np.full(3, SYN_FIRST_LINE + 15.0))
    xyz = np.stack(TO_ECEF.transform(lat, lon, h), -1)
    normal = np.cross(vel, pos)
    normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
    mirror = xyz - 2 * np.einsum("ij,ij->i", xyz, normal)[:, None] * normal
    left_lat, left_lon, left_h = TO_GEODETIC.transform(mirror[:, 0], mirror[:, 1], mirror[:, 2])
    for unseen_lon, unseen_lat, unseen_h in [
        (late_lon, late_lat, 0.0),
        (left_lon, left_lat, left_h),
    ]:
        with pytest.raises(GeometryError, match="outside this product"):
            ground_to_radar(ann, unseen_lon, unseen_lat, unseen_h)
        line, pixel = ground_to_radar(ann, unseen_lon, unseen_lat, unseen_h, errors="nan")
        assert np.isnan(line).all() and np.isnan(pixel).all()
    # the antipodes lie in the zero-Doppler plane, on the far side of the Earth
    line, pixel = ground_to_radar(ann, lon + 180.0, -lat, h, errors="nan")
    assert np.isnan(line).all()
    line, pixel = ground_to_radar(
        ann, np.r_[lon, late_lon[:1], np.nan], np.r_[lat, late_lat[:1], 0], 0.0
    )
    assert np.isfinite(line[:3]).all() and np.isnan(line[3:]).all() and np.isnan(pixel[3:]).all()
    with pytest.raises(GeometryError, match="outside this product"):
        radar_to_ground(ann, -1e6, 100.0, 0.0)
    lon2, lat2 = radar_to_ground(ann, [-1e6, 100.0], 100.0, 0.0, errors="nan")
    assert np.isnan(lon2[0]) and np.isfinite(lat2[1])
    # all-NaN input is not an error
    assert np.isnan(ground_to_radar(ann, np.nan, np.nan, 0.0)[0])


def test_absurd_inputs_give_nan_without_warnings() -> None:
    ann = synthetic_annotation()
    line, pixel = ground_to_radar(
        ann, [1e6, np.inf, 0.0, 0.0], [0.0, 0.0, 0.0, 89.0], [0.0, 0.0, 1e30, -6e6], errors="nan"
    )
    assert np.isnan(line).all() and np.isnan(pixel).all()
    lon, lat = radar_to_ground(
        ann, [1e12, np.inf, 100.0, 100.0], [5.0, 5.0, 1e30, 5.0], [0, 0, 0, 1e9], errors="nan"
    )
    assert np.isnan(lon).all() and np.isnan(lat).all()


def test_scalars_and_shapes() -> None:
    ann = synthetic_annotation()
    lon, lat = radar_to_ground(ann, 1000.0, 2000.0, 0.0)
    assert lon.shape == () and lat.shape == ()
    line, pixel = ground_to_radar(ann, np.full((2, 3), lon), np.full((2, 3), lat), 0.0)
    assert line.shape == (2, 3) and line.dtype == np.float64
    np.testing.assert_allclose(line, 1000.0, atol=1e-6)
    np.testing.assert_allclose(pixel, 2000.0, atol=1e-6)


# --- real products: ESA's geolocation grid as reference --------------------------------------


@pytest.fixture(scope="module")
def real_annotations(real_products: dict[str, pathlib.Path]) -> dict[str, Annotation]:
    out = {}
    for key in KEYS:
        product = open_product(real_products[key])
        out[key] = product.annotation(product.polarisations[0])
    return out


def subset(annotation: Annotation, keep: np.ndarray) -> Annotation:
    grid = annotation.geolocation_grid
    fields = {f.name: getattr(grid, f.name)[keep] for f in dataclasses.fields(grid)}
    return dataclasses.replace(annotation, geolocation_grid=GeolocationGrid(**fields))


@pytest.mark.parametrize("key", KEYS)
def test_grid_timing_and_range(key: str, real_annotations: dict[str, Annotation]) -> None:
    """Facts of the annotation that the model relies on, from the raw (uncalibrated) model."""
    ann = real_annotations[key]
    grid = ann.geolocation_grid
    geo = SarGeometry(ann, calibrate=False)
    # slant range of pixel 0 is the image slant range time
    assert np.all(
        grid.slant_range_time[grid.pixel == 0] == pytest.approx(ann.slant_range_time, abs=1e-12)
    )
    # orbit + zero Doppler + ellipsoid reproduce the grid's slant range to millimetres
    t, slant_range = geo.zero_doppler(geodetic_to_ecef(grid.longitude, grid.latitude, grid.height))
    assert np.abs(slant_range - grid.slant_range_time * SPEED_OF_LIGHT / 2).max() < 5e-3
    # grid azimuth time = line time + (tau - tau_ref) / 2: the bistatic residual (< 0.002 lines)
    offset = (
        grid.azimuth_time - ann.first_line_time
    ) / NS * 1e-9 - grid.line * ann.azimuth_time_interval
    fit = np.polynomial.polynomial.Polynomial.fit(grid.slant_range_time, offset, 1).convert()
    assert fit.coef[1] == pytest.approx(0.5, abs=1e-3)
    assert np.abs(offset - fit(grid.slant_range_time)).max() / ann.azimuth_time_interval < 2e-3
    assert np.ptp(offset) / ann.azimuth_time_interval > 0.3  # ±0.18 lines across the swath
    # the nearest coordinateConversion record gives the grid pixel (9-coefficient products)
    line, pixel = geo.ground_to_radar(grid.longitude, grid.latitude, grid.height)
    if key not in OLD_IPF:
        assert np.abs(pixel - grid.pixel).max() < 0.01
    else:  # degree-4 polynomials of the 2015 processor: metres of misfit
        assert 3.0 < np.abs(pixel - grid.pixel).max() < 5.0


@pytest.mark.parametrize("key", KEYS)
def test_accuracy_against_geolocation_grid(
    key: str, real_annotations: dict[str, Annotation]
) -> None:
    ann = real_annotations[key]
    grid = ann.geolocation_grid
    line, pixel = ground_to_radar(ann, grid.longitude, grid.latitude, grid.height)
    assert np.abs(line - grid.line).max() < 0.05  # measured < 0.006
    assert np.abs(pixel - grid.pixel).max() < 0.05  # measured < 1e-4
    lon, lat = radar_to_ground(ann, grid.line, grid.pixel, grid.height)
    assert np.abs(lon - grid.longitude).max() < 1e-6
    assert np.abs(lat - grid.latitude).max() < 1e-6


@pytest.mark.parametrize("key", KEYS)
def test_accuracy_on_held_out_grid_points(
    key: str, real_annotations: dict[str, Annotation]
) -> None:
    """Calibrate on part of the grid, measure on the rest (columns, then lines)."""
    ann = real_annotations[key]
    grid = ann.geolocation_grid
    cols = np.searchsorted(np.unique(grid.pixel), grid.pixel)
    held = (cols % 2 == 1) & (cols != cols.max())
    line, pixel = SarGeometry(subset(ann, ~held)).ground_to_radar(
        grid.longitude[held], grid.latitude[held], grid.height[held]
    )
    assert np.abs(line - grid.line[held]).max() < 0.05
    assert np.abs(pixel - grid.pixel[held]).max() < 0.05
    # lines: every other interior grid line; the last two lines of the 2015 products lie
    # beyond the last coordinateConversion record and are kept
    rows = np.searchsorted(np.unique(grid.line), grid.line)
    held = (rows % 2 == 1) & (rows < rows.max() - 1)
    line, pixel = SarGeometry(subset(ann, ~held)).ground_to_radar(
        grid.longitude[held], grid.latitude[held], grid.height[held]
    )
    assert np.abs(line - grid.line[held]).max() < 0.05
    assert np.abs(pixel - grid.pixel[held]).max() < 0.05


@pytest.mark.parametrize("key", ["CEAB", "5371"])
def test_round_trips(key: str, real_annotations: dict[str, Annotation]) -> None:
    geo = SarGeometry(real_annotations[key])
    rng = np.random.default_rng(6)
    n = 20000
    line = rng.uniform(-100, real_annotations[key].number_of_lines + 100, n)
    pixel = rng.uniform(-100, real_annotations[key].number_of_samples + 100, n)
    h = rng.uniform(-50.0, 4000.0, n)
    lon, lat = geo.radar_to_ground(line, pixel, h)
    line2, pixel2 = geo.ground_to_radar(lon, lat, h)
    assert np.abs(line2 - line).max() < 1e-6
    assert np.abs(pixel2 - pixel).max() < 1e-6
    lon3, lat3 = geo.radar_to_ground(line2, pixel2, h)
    assert np.abs(lon3 - lon).max() < 1e-9
    assert np.abs(lat3 - lat).max() < 1e-9


def test_product_forms_agree(real_products: dict[str, pathlib.Path]) -> None:
    path = real_products["CEAB"]
    product = open_product(path)
    assert isinstance(product, Product)
    grid = product.annotation("VV").geolocation_grid
    args = (grid.longitude[:5], grid.latitude[:5], grid.height[:5])
    expected = ground_to_radar(product.annotation("VV"), *args)
    for form in (str(path), path, product, SarGeometry(product.annotation("VV"))):
        np.testing.assert_array_equal(ground_to_radar(form, *args), expected)
    np.testing.assert_array_equal(ground_to_radar(path, *args, polarisation="VV"), expected)
    vh = ground_to_radar(product, *args, polarisation="VH")
    np.testing.assert_allclose(vh, expected, atol=0.01)  # same geometry, own annotation
    lon, lat = radar_to_ground(str(path), 100.0, 200.0, 0.0)
    assert np.isfinite(lon) and np.isfinite(lat)


def test_module_exports() -> None:
    assert set(geometry.__all__) >= {"ground_to_radar", "radar_to_ground", "SarGeometry"}
