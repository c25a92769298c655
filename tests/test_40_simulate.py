"""Scene simulator: products that s1stac and xarray-sentinel read, right geometry and radiometry."""

from __future__ import annotations

import binascii
import json
import pathlib
import re

import numpy as np
import pytest
import rasterio
import xarray as xr

from s1stac.ellipsoid import WGS84_A
from s1stac.errors import AoiError, ParameterError
from s1stac.esa_safe import manifest_crc
from s1stac.geometry import SarGeometry, ground_to_radar, radar_to_ground
from s1stac.safe import open_product
from s1stac.simulate import SimulationResult, TrackSpec, simulate
from s1stac.simulate.orbit import ALTITUDE
from s1stac.types import OrbitDirection

xmlschema = pytest.importorskip("xmlschema")
xarray_sentinel = pytest.importorskip("xarray_sentinel")

NAME = re.compile(
    r"S1A_IW_GRDH_1S(?P<dual>[DS])V_(?P<start>\d{8}T\d{6})_(?P<stop>\d{8}T\d{6})_"
    r"(?P<orbit>\d{6})_(?P<datatake>[0-9A-F]{6})_(?P<uid>[0-9A-F]{4})\.(SAFE|zip)"
)
SCHEMAS = pathlib.Path(xarray_sentinel.__file__).parent / "resources" / "sentinel1"


@pytest.fixture(scope="module")
def main_run(tmp_path_factory: pytest.TempPathFactory) -> SimulationResult:
    """Default scene (two tracks), two dates, with the radar-geometry truth."""
    return simulate(tmp_path_factory.mktemp("sim"), dates=2, start="2021-05-01", radar_truth=True)


@pytest.fixture(scope="module")
def steep_run(tmp_path_factory: pytest.TempPathFactory) -> SimulationResult:
    """Steep hills (65 deg), two slices, legacy noise, zipped, VV only."""
    return simulate(
        tmp_path_factory.mktemp("steep"),
        size=(600, 500),
        dates=1,
        slices=2,
        max_slope_deg=65.0,
        noise_format="legacy",
        zip=True,
        polarisations=("VV",),
        radar_truth=True,
        seed=3,
    )


def _radar(result: SimulationResult, name: str, kind: str) -> np.ndarray:
    path = result.truth_dir / "radar" / f"{name}_{kind}.tif"
    with rasterio.open(path) as src:
        return src.read(1)


def _image(product_path: pathlib.Path, pol: str) -> tuple[np.ndarray, object]:
    product = open_product(product_path)
    with rasterio.open(product.measurement_href(pol)) as src:
        dn = src.read(1).astype(np.float64)
    return dn, product


def test_names_orbits_and_files_follow_esa(main_run: SimulationResult) -> None:
    assert len(main_run.products) == 4
    directions = set()
    for path in main_run.products:
        match = NAME.fullmatch(path.name)
        assert match, path.name
        product = open_product(path)
        info = product.manifest
        assert int(match["orbit"]) == info.absolute_orbit
        assert info.relative_orbit == (info.absolute_orbit - 73) % 175 + 1
        assert int(match["datatake"], 16) == info.datatake_id
        manifest = (path / "manifest.safe").read_bytes()
        assert match["uid"] == manifest_crc(manifest) == f"{binascii.crc_hqx(manifest, 0xFFFF):04X}"
        assert info.start_time.astype("datetime64[s]") == np.datetime64(
            f"{match['start'][:4]}-{match['start'][4:6]}-{match['start'][6:8]}T"
            f"{match['start'][9:11]}:{match['start'][11:13]}:{match['start'][13:15]}"
        )
        stem = (
            f"s1a-iw-grd-vv-{match['start'].lower()}-{match['stop'].lower()}-"
            f"{match['orbit']}-{match['datatake'].lower()}-001"
        )
        for rel in (
            f"annotation/{stem}.xml",
            f"annotation/calibration/calibration-{stem}.xml",
            f"annotation/calibration/noise-{stem}.xml",
            f"measurement/{stem}.tiff",
            "preview/quick-look.png",
            "preview/map-overlay.kml",
        ):
            assert (path / rel).is_file(), rel
        assert (path / f"measurement/{stem.replace('-vv-', '-vh-')[:-3]}002.tiff").is_file()
        directions.add(info.orbit_direction)
        assert info.footprint.contains(__import__("shapely").Point(12.5, 41.9))
    assert directions == {OrbitDirection.ASCENDING, OrbitDirection.DESCENDING}
    dates = sorted({open_product(p).manifest.start_time for p in main_run.products[:2]})
    assert dates[1] - dates[0] == np.timedelta64(12 * 86400 * 10**9, "ns")


def test_reader_reads_every_field(main_run: SimulationResult) -> None:
    truth = json.loads(main_run.truth_json.read_text())
    for path in main_run.products:
        product = open_product(path)
        info = product.manifest
        assert info.polarisations == ("VV", "VH") and info.product_type == "GRD"
        assert info.mode == "IW" and info.resolution_class == "H" and info.mission == "S1A"
        assert info.slice_number is not None and info.total_slices >= info.slice_number
        assert info.ipf_version == "003.52"
        track = f"{info.orbit_direction.value.lower()}_{info.relative_orbit:03d}"
        assert track in {t["label"] for t in truth["tracks"]}
        for pol in ("VV", "VH"):
            ann = product.annotation(pol)
            assert (ann.number_of_lines, ann.number_of_samples) == (800, 800)
            assert ann.range_pixel_spacing == ann.azimuth_pixel_spacing == 10.0
            duration = (ann.last_line_time - ann.first_line_time) / np.timedelta64(1, "ns") * 1e-9
            assert duration == pytest.approx(799 * ann.azimuth_time_interval, abs=2e-6)
            assert 29.0 < ann.incidence_angle_mid_swath < 46.0
            assert ann.geolocation_grid.line.size == 210
            cal = product.calibration(pol)
            theta = np.radians(np.interp(cal.pixel[0], *_grid_incidence(ann)))
            np.testing.assert_allclose(cal.beta_nought, 237.0)
            np.testing.assert_allclose(
                cal.sigma_nought[0], 237.0 / np.sqrt(np.sin(theta)), rtol=1e-3
            )
            np.testing.assert_allclose(cal.gamma[0], 237.0 / np.sqrt(np.tan(theta)), rtol=2e-3)
            noise = product.noise(pol)
            assert len(noise.range) == len(cal.line) and noise.azimuth
            assert product.noise_lut(pol, np.array([0]), np.array([0])).item() > 0


def _grid_incidence(ann: object) -> tuple[np.ndarray, np.ndarray]:
    grid = ann.geolocation_grid  # type: ignore[attr-defined]
    first = grid.line == 0
    return grid.pixel[first], grid.incidence_angle[first]


def test_xml_validates_against_esa_schemas(main_run: SimulationResult) -> None:
    path = main_run.products[0]
    for xsd, pattern in (
        ("s1-level-1-product.xsd", "annotation/s1a-*.xml"),
        ("s1-level-1-calibration.xsd", "annotation/calibration/calibration-*.xml"),
        ("s1-level-1-noise.xsd", "annotation/calibration/noise-*.xml"),
    ):
        schema = xmlschema.XMLSchema(str(SCHEMAS / xsd))
        files = sorted(path.glob(pattern))
        assert len(files) == 2
        for file in files:
            errors = [str(e).splitlines()[0] for e in schema.iter_errors(str(file))]
            assert not errors, (file.name, errors[:3])


def test_xarray_sentinel_calibrates_to_simulated_beta0(main_run: SimulationResult) -> None:
    for path in main_run.products[::2]:  # first date of each track
        for pol in ("VV", "VH"):
            ds = xr.open_dataset(path, engine="sentinel-1", group=f"IW/{pol}")
            cal = xr.open_dataset(path, engine="sentinel-1", group=f"IW/{pol}/calibration")
            noise = xr.open_dataset(path, engine="sentinel-1", group=f"IW/{pol}/noise_range")
            azimuth = xr.open_dataset(path, engine="sentinel-1", group=f"IW/{pol}/noise_azimuth")
            for group in ("orbit", "gcp", "coordinate_conversion", "attitude", "dc_estimate"):
                assert xr.open_dataset(path, engine="sentinel-1", group=f"IW/{pol}/{group}").sizes
            beta = xarray_sentinel.calibrate_intensity(ds.measurement, cal.betaNought).values
            sigma = xarray_sentinel.calibrate_intensity(ds.measurement, cal.sigmaNought).values
            lut = noise.noiseRangeLut.interp(line=ds.line, pixel=ds.pixel).values
            lut *= np.interp(ds.line.values, azimuth.line.values, azimuth.noiseAzimuthLut.values)[
                :, None
            ]
            true_beta0 = _radar(main_run, path.stem, f"beta0_{pol}").astype(np.float64)
            mean_power = true_beta0 + lut / 237.0**2
            # NOTE: mean of n independent gamma(ENL) intensities: relative std 1/sqrt(ENL n)
            bound = 5.0 * np.sqrt(np.sum(mean_power**2) / 4.4) / mean_power.size
            quantisation = 1.0 / 12.0 / 237.0**2
            assert abs(beta.mean() - mean_power.mean() - quantisation) < bound
            sin_theta = (cal.betaNought / cal.sigmaNought).interp(
                line=ds.line, pixel=ds.pixel
            ).values ** 2
            expected_sigma = (mean_power * sin_theta).mean()
            assert abs(sigma.mean() - expected_sigma) < bound


def test_flat_lake_gives_gamma0_over_tan_incidence(main_run: SimulationResult) -> None:
    """Independent of the facet model: a flat lake has beta0 = gamma0 / tan(theta)."""
    truth = json.loads(main_run.truth_json.read_text())
    with rasterio.open(main_run.landcover) as src:
        water = src.read(1) == 1
        transform = src.transform
    with rasterio.open(main_run.dem) as src:
        lake_height = float(np.median(src.read(1)[water]))
    for path in main_run.products[:1] + main_run.products[2:3]:
        dn, product = _image(path, "VV")
        ann = product.annotation("VV")
        lines, pixels = np.mgrid[0:800:2, 0:800:2]
        lon, lat = radar_to_ground(product, lines, pixels, lake_height)
        col = np.floor((lon - transform.c) / transform.a).astype(int)
        row = np.floor((lat - transform.f) / transform.e).astype(int)
        inside = np.zeros(water.shape, dtype=bool)
        inside[3:-3, 3:-3] = water[3:-3, 3:-3] & water[:-6, 3:-3] & water[6:, 3:-3]
        inside[3:-3, 3:-3] &= water[3:-3, :-6] & water[3:-3, 6:]
        lake = inside[row, col]
        assert lake.sum() > 2000
        line, pixel = lines[lake], pixels[lake]
        intensity = dn[line, pixel] ** 2
        noise = product.noise_lut("VV", line, pixel)
        beta_lut = product.calibration_lut("VV", "betaNought", line, pixel)
        sigma_lut = product.calibration_lut("VV", "sigmaNought", line, pixel)
        tan_theta = np.tan(np.arcsin((beta_lut / sigma_lut) ** 2))
        date = np.datetime_as_string(ann.first_line_time, unit="D")
        gamma0 = 10 ** (truth["gamma0_db"][date]["VV"]["water"] / 10)
        expected = gamma0 / tan_theta * beta_lut**2 + noise
        bound = 5.0 * np.sqrt(np.sum(expected**2) / 4.4) / expected.size
        assert abs(intensity.mean() - expected.mean()) < bound + 0.1


def test_geolocation_grid_matches_ground_to_radar(main_run: SimulationResult) -> None:
    for path in main_run.products:
        product = open_product(path)
        ann = product.annotation("VV")
        grid = ann.geolocation_grid
        line, pixel = ground_to_radar(product, grid.longitude, grid.latitude, grid.height)
        assert np.abs(line - grid.line).max() < 0.01
        assert np.abs(pixel - grid.pixel).max() < 0.01
        model = SarGeometry(ann)
        assert abs(model.azimuth_offset[0]) < 1e-6 and abs(model.azimuth_offset[1]) < 1e-3


def test_facets_sit_where_ground_to_radar_puts_them(tmp_path: pathlib.Path) -> None:
    from s1stac.ellipsoid import geodetic_to_ecef
    from s1stac.simulate import orbit
    from s1stac.simulate.product import ProductSpec, annotation_record
    from s1stac.simulate.radar import design_geometry
    from s1stac.simulate.scene import scene_model
    from s1stac.simulate.terrain import generate_terrain
    from s1stac.types import Polarisation

    pass_ = next(p for p in orbit.passes(12.5, 41.9) if p.relative_orbit == 117 and p.right_looking)
    orb = orbit.next_orbit(117, pass_.direction, pass_.tau, np.datetime64("2021-03-01"))
    tau, slant = orbit.zero_doppler_times(orb, geodetic_to_ecef(12.5, 41.9, 200.0)[None], pass_.tau)
    geometry, _ = design_geometry(
        orb, tau[0], slant[0], lines=300, samples=300, reference_height=200.0
    )
    terrain = generate_terrain((12.46, 41.87, 12.54, 41.93), (12.5, 41.9), scale=1500.0, seed=1)
    model = scene_model(terrain, geometry)
    spec = ProductSpec(
        polarisations=(Polarisation.VV,),
        geometry=geometry,
        datatake_id=1,
        slice_number=1,
        total_slices=1,
        segment_start=orb.anx_time,
        direction=OrbitDirection.ASCENDING,
        ipf_version="003.52",
        processing_stop=orb.anx_time,
    )
    ann = annotation_record(spec, Polarisation.VV, terrain.sample_height)
    rng = np.random.default_rng(0)
    rows = rng.integers(0, terrain.shape[0] - 1, 2000)
    cols = rng.integers(0, terrain.shape[1] - 1, 2000)
    lon, lat = terrain.node_lonlat(rows + 0.5, cols + 0.5)
    h = terrain.height
    height = 0.25 * (h[rows, cols] + h[rows + 1, cols] + h[rows, cols + 1] + h[rows + 1, cols + 1])
    line, pixel = ground_to_radar(ann, lon, lat, height)
    assert np.abs(line - model.corner_line[rows, cols]).max() < 0.01
    assert np.abs(pixel - model.corner_pixel[rows, cols]).max() < 0.01


def test_orbit_state_vectors(main_run: SimulationResult) -> None:
    ann = open_product(main_run.products[0]).annotation("VV")
    orbit = ann.orbit
    radius = np.linalg.norm(orbit.position, axis=1)
    speed = np.linalg.norm(orbit.velocity, axis=1)
    np.testing.assert_allclose(radius, WGS84_A + ALTITUDE, rtol=1e-9)
    assert np.all((speed > 7400.0) & (speed < 7700.0))
    seconds = np.diff(orbit.time) / np.timedelta64(1, "s")
    np.testing.assert_allclose(seconds, 10.0)
    assert orbit.time[0] <= ann.first_line_time - np.timedelta64(50, "s")
    assert orbit.time[-1] >= ann.last_line_time + np.timedelta64(50, "s")
    # the velocity is the derivative of the position (central differences over 10 s)
    centred = (orbit.position[2:] - orbit.position[:-2]) / 20.0
    assert np.abs(centred - orbit.velocity[1:-1]).max() < 1.0


def test_terrain_effect_foreslopes_brighter(main_run: SimulationResult) -> None:
    with rasterio.open(main_run.dem) as src:
        height = src.read(1).astype(np.float64)
        transform = src.transform
    with rasterio.open(main_run.landcover) as src:
        forest = src.read(1) == 2
    rows, cols = np.nonzero(forest[1:-1, 1:-1])
    rows, cols = rows + 1, cols + 1
    lat = transform.f + (rows + 0.5) * transform.e
    dx = np.radians(transform.a) * WGS84_A * np.cos(np.radians(lat))
    dy = np.radians(-transform.e) * WGS84_A
    east = (height[rows, cols + 1] - height[rows, cols - 1]) / (2 * dx)
    north = (height[rows - 1, cols] - height[rows + 1, cols]) / (2 * dy)
    lon = transform.c + (cols + 0.5) * transform.a
    for path in (main_run.products[0], main_run.products[2]):
        dn, product = _image(path, "VV")
        heading = np.radians(product.annotation("VV").platform_heading)
        # right-looking: the sensor is to the left of the flight direction, seen from the ground
        towards_sensor = np.array([-np.cos(heading), np.sin(heading)])
        uphill_towards_sensor = east * towards_sensor[0] + north * towards_sensor[1]
        line, pixel = ground_to_radar(product, lon, lat, height[rows, cols])
        ok = (line >= 0) & (line <= 799) & (pixel >= 0) & (pixel <= 799)
        power = dn[np.rint(line[ok]).astype(int), np.rint(pixel[ok]).astype(int)] ** 2
        slope = uphill_towards_sensor[ok]
        facing, away = power[slope < -0.2].mean(), power[slope > 0.2].mean()
        assert facing > 1.5 * away


def test_layover_and_shadow_on_steep_terrain(steep_run: SimulationResult) -> None:
    codes = set()
    for path in steep_run.layover_shadow:
        with rasterio.open(path) as src:
            codes |= set(np.unique(src.read(1)).tolist())
    assert {0, 1, 2} <= codes
    shadow_pixels = 0
    for path in steep_run.products:
        name = path.name.removesuffix(".zip")
        mask = _radar(steep_run, name, "layover_shadow")
        beta0 = _radar(steep_run, name, "beta0_VV")
        shadow = mask == 2
        shadow_pixels += int(shadow.sum())
        if shadow.any():  # no echo from shadow (edge pixels get some from lit neighbours)
            assert np.median(beta0[shadow]) < 1e-3 * np.median(beta0[mask == 0])
        if (mask == 1).any():
            assert np.median(beta0[mask == 1]) > 2 * np.median(beta0[mask == 0])
    assert shadow_pixels > 500


def test_noise_lut_is_the_added_noise(steep_run: SimulationResult) -> None:
    """Radar shadow has no signal: the mean intensity there is the annotated noise."""
    measured, expected, squares = 0.0, 0.0, 0.0
    for path in steep_run.products:
        product = open_product(path)
        assert product.is_zip and not product.noise("VV").azimuth
        mask = _radar(steep_run, product.name, "layover_shadow")
        line, pixel = np.nonzero(mask == 2)
        if line.size == 0:
            continue
        dn, _ = _image(path, "VV")
        noise = product.noise_lut("VV", line, pixel)
        signal = _radar(steep_run, product.name, "beta0_VV")[line, pixel] * 237.0**2
        assert np.sum(signal) < 0.05 * np.sum(noise)
        measured += float(np.sum(dn[line, pixel] ** 2))
        expected += float(np.sum(noise + signal)) + line.size / 12.0
        squares += float(np.sum((noise + signal) ** 2))
    bound = 5.0 * np.sqrt(squares / 4.4)
    assert expected > 0 and abs(measured - expected) < bound


def test_two_slices_of_one_datatake(steep_run: SimulationResult) -> None:
    by_datatake: dict[int, list[object]] = {}
    for path in steep_run.products:
        product = open_product(path)
        by_datatake.setdefault(product.manifest.datatake_id, []).append(product)
    assert len(by_datatake) == 2
    for products in by_datatake.values():
        first, second = sorted(products, key=lambda p: p.manifest.slice_number)  # type: ignore[attr-defined]
        assert second.manifest.slice_number == first.manifest.slice_number + 1
        assert first.manifest.total_slices == second.manifest.total_slices
        a, b = first.annotation("VV"), second.annotation("VV")
        gap = (b.first_line_time - a.last_line_time) / np.timedelta64(1, "ns") * 1e-9
        assert gap == pytest.approx(a.azimuth_time_interval, abs=2e-6)
        assert a.number_of_lines + b.number_of_lines == 600
        assert first.manifest.ipf_version < "002.90"


def test_same_seed_same_products(tmp_path: pathlib.Path) -> None:
    kwargs = {
        "size": (120, 100),
        "dates": 1,
        "tracks": [TrackSpec("ASCENDING", 117)],
        "polarisations": ("VV",),
    }
    a = simulate(tmp_path / "a", seed=5, **kwargs)  # type: ignore[arg-type]
    b = simulate(tmp_path / "b", seed=5, **kwargs)  # type: ignore[arg-type]
    c = simulate(tmp_path / "c", seed=6, **kwargs)  # type: ignore[arg-type]
    assert a.products[0].name == b.products[0].name
    images = [_image(r.products[0], "VV")[0] for r in (a, b, c)]
    np.testing.assert_array_equal(images[0], images[1])
    assert not np.array_equal(images[0], images[2])


def test_rome_dem_heights_become_ellipsoidal(
    tmp_path: pathlib.Path, rome_dem: pathlib.Path
) -> None:
    result = simulate(
        tmp_path, dem=rome_dem, dates=1, tracks=[TrackSpec("DESCENDING", 95)], polarisations=("VV",)
    )
    with rasterio.open(result.dem) as src, rasterio.open(rome_dem) as original:
        assert src.crs.to_epsg() == 4979
        window = rasterio.windows.from_bounds(*src.bounds, transform=original.transform)
        orthometric = original.read(1, window=window.round_offsets().round_lengths())
        difference = float(np.median(src.read(1))) - float(np.median(orthometric))
    assert 45.0 < difference < 52.0  # EGM96 undulation at Rome: about 48.6 m
    product = open_product(result.products[0])
    assert product.annotation("VV").number_of_lines >= 200


def test_bad_parameters_are_refused(tmp_path: pathlib.Path) -> None:
    with pytest.raises(AoiError, match="ASCENDING:117"):
        simulate(tmp_path, tracks=[TrackSpec("ASCENDING", 1)])
    with pytest.raises(ParameterError, match="slices"):
        simulate(tmp_path, slices=3)
    with pytest.raises(ParameterError, match="polarisations"):
        simulate(tmp_path, polarisations=("VH", "VV"))
    with pytest.raises(ParameterError, match="relative_orbit"):
        TrackSpec("ASCENDING", 176)


def test_synthetic_orbit_matches_real_tracks(real_products: dict[str, pathlib.Path]) -> None:
    """Relative orbit, pass time and incidence of the synthetic orbit match real products."""
    from s1stac.simulate import orbit

    for key in ("FEC3", "CEAB", "5371"):
        product = open_product(real_products[key])
        info = product.manifest
        centre = info.footprint.centroid
        (pass_,) = [
            p
            for p in orbit.passes(centre.x, centre.y)
            if (p.relative_orbit, p.direction) == (info.relative_orbit, info.orbit_direction)
        ]
        assert pass_.right_looking
        mid_swath = product.annotation(product.polarisations[0]).incidence_angle_mid_swath
        assert abs(pass_.incidence_angle - mid_swath) < 1.5
        if info.mission == "S1A":
            model = orbit.orbit(info.absolute_orbit)
            assert abs(orbit.seconds_between(info.ascending_node_time, model.anx_time)) < 2.0
            middle = info.start_time + (info.stop_time - info.start_time) / 2
            assert abs(orbit.seconds_between(middle, model.time(pass_.tau))) < 10.0


def test_passes_in_the_southern_hemisphere() -> None:
    from s1stac.simulate import orbit

    found = {p.direction for p in orbit.passes(-60.0, -10.0) if p.right_looking}
    assert found == {OrbitDirection.ASCENDING, OrbitDirection.DESCENDING}
    for p in orbit.passes(-60.0, -10.0):
        _, velocity, _ = orbit.orbit(73 + p.relative_orbit - 1).state(p.tau)
        assert (velocity[2] > 0) == (p.direction == OrbitDirection.ASCENDING)
