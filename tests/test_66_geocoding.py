"""Backward geocoding: radar lookup, resampling kernels, lazy geocoding and incidence angles.

References: the geolocation grid of every real product (ESA's own tie points: lon, lat,
height -> line, pixel, incidence angle), the exact range-Doppler solution of
:class:`s1stac.geometry.SarGeometry` at every pixel, and analytic functions sampled into
synthetic radar images.
"""

from __future__ import annotations

import pathlib

import dask
import dask.array as da
import numpy as np
import pytest
import xarray as xr
from affine import Affine
from odc.geo.geobox import GeoBox
from odc.geo.xr import xr_coords

from s1stac.ellipsoid import geodetic_to_ecef
from s1stac.errors import ParameterError
from s1stac.geocoding import (
    GeocodingPlan,
    WindowReader,
    assemble_window,
    geocode,
    geocode_layers,
    plan_geocoding,
    resample,
)
from s1stac.geometry import SarGeometry
from s1stac.grid import aligned_grid
from s1stac.radar_model import RadarModel, pixel_centres_lonlat, radar_lookup
from s1stac.safe import open_product
from s1stac.terrain import _angles_block, incidence_angle_layer
from s1stac.types import Annotation

KEYS = ["CEAB", "3768", "FEC3", "6D00", "5371", "ECC8"]


@pytest.fixture(scope="module")
def annotations(real_products: dict[str, pathlib.Path]) -> dict[str, Annotation]:
    out = {}
    for key, path in real_products.items():
        product = open_product(path)
        out[key] = product.annotation(product.polarisations[0])
    return out


def point_box(lon: float, lat: float, size: int = 3, step: float = 1e-4) -> GeoBox:
    """Make a small EPSG:4326 grid whose centre pixel is centred on (lon, lat)."""
    half = size // 2
    affine = Affine(step, 0.0, lon - (half + 0.5) * step, 0.0, -step, lat + (half + 0.5) * step)
    return GeoBox((size, size), affine, "EPSG:4326")


def heights_on(geobox: GeoBox, values: np.ndarray, chunks: int) -> xr.DataArray:
    data = da.from_array(values.astype(np.float32), chunks=chunks)
    return xr.DataArray(data, coords=xr_coords(geobox, dims=("y", "x")), dims=("y", "x"))


def incidence_angles(plan: GeocodingPlan, kind: str) -> xr.DataArray:
    layer = incidence_angle_layer(plan, kind=kind)
    return geocode_layers(plan, [layer])[layer.name]


def rough_heights(shape: tuple[int, int], seed: int = 1) -> np.ndarray:
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    rng = np.random.default_rng(seed)
    hills = 1000.0 + 900.0 * np.sin(xx / 150.0) * np.cos(yy / 97.0)
    return hills + rng.uniform(0.0, 60.0, shape)


# --- real products: the annotation's geolocation grid -------------------------------------


@pytest.mark.parametrize("key", KEYS)
def test_grid_points_geocode_to_their_line_and_pixel(
    key: str, annotations: dict[str, Annotation]
) -> None:
    """Analytic images ``line`` and ``pixel`` geocoded at the grid points give the grid's own."""
    ann = annotations[key]
    grid = ann.geolocation_grid
    model = RadarModel.from_annotations([ann])
    n_lines, n_pixels = ann.number_of_lines, ann.number_of_samples
    line_image = np.broadcast_to(np.arange(n_lines, dtype=np.float32)[:, None], (n_lines, 8))
    lines, pixels = [], []
    for lon, lat, h in zip(grid.longitude, grid.latitude, grid.height, strict=True):
        coords = radar_lookup(model, point_box(lon, lat), np.full((3, 3), h))[:, 1, 1]
        lines.append(coords[0])
        pixels.append(coords[1])
    line, pixel = np.array(lines), np.array(pixels)
    # the resampling kernel reproduces linear images exactly (here: line, and pixel offsets)
    sampled = resample(line_image, line, np.full_like(line, 3.0), method="bicubic")
    ok = (line >= 1) & (line <= n_lines - 3)
    np.testing.assert_allclose(sampled[ok], line[ok], atol=2e-3)
    err_line, err_pixel = line - grid.line, pixel - grid.pixel
    assert np.abs(err_line).max() < 0.05  # measured <= 0.006
    assert np.sqrt(np.mean(err_line**2)) < 0.02
    assert np.abs(err_pixel).max() < 0.05  # measured <= 0.003
    assert pixel.max() <= n_pixels


@pytest.mark.parametrize("key", KEYS)
def test_ellipsoid_incidence_angle_matches_annotation(
    key: str, annotations: dict[str, Annotation]
) -> None:
    ann = annotations[key]
    grid = ann.geolocation_grid
    model = RadarModel.from_annotations([ann])
    angles = []
    for lon, lat, h in zip(grid.longitude[::3], grid.latitude[::3], grid.height[::3], strict=True):
        box = point_box(lon, lat)
        heights = heights_on(box, np.full((3, 3), h), 3)
        plan = plan_geocoding(model, heights, np.array([[[h, h]]]))
        angle = incidence_angles(plan, "ellipsoid")
        angles.append(float(angle.values[1, 1]))
    error = np.array(angles) - grid.incidence_angle[::3]
    assert np.abs(error).max() < 0.01  # measured < 3e-6


def test_local_incidence_angle_of_a_plane(annotations: dict[str, Annotation]) -> None:
    """On a tilted plane the local angle follows from the plane's normal and the look vector."""
    ann = annotations["5371"]
    model = RadarModel.from_annotations([ann])
    box = aligned_grid((12.60, 41.90, 12.62, 41.92), resolution_m=20.0)
    lon, lat = pixel_centres_lonlat(box, np.arange(box.shape[0]), np.arange(box.shape[1]))
    # a plane rising 0.3 m per metre to the east: heights from the local east distance
    prime_vertical = 6378137.0 / np.sqrt(1.0 - 6.69437999014e-3 * np.sin(np.radians(lat)) ** 2)
    east = np.radians(lon - lon.mean()) * prime_vertical * np.cos(np.radians(lat))
    h = 200.0 + 0.3 * east
    heights = heights_on(box, h, 64)
    ranges = np.full((1, 1, 2), [h.min(), h.max()])
    plan = plan_geocoding(model, heights.chunk(-1), ranges)
    local = incidence_angles(plan, "local").values
    ellipsoid = incidence_angles(plan, "ellipsoid").values
    # chunks (with their halo) and row strips give the same angles
    chunked = plan_geocoding(model, heights.chunk(40), np.full((3, 3, 2), [h.min(), h.max()]))
    np.testing.assert_allclose(incidence_angles(chunked, "local").values, local, atol=1e-4)
    coords = radar_lookup(model, box, h).astype(np.float32)
    window = (slice(0, box.shape[0]), slice(0, box.shape[1]))
    strips = _angles_block(coords, h, window, model, box, True, strip=7)
    np.testing.assert_allclose(strips, local, atol=1e-4)
    # independent look vector: zero-Doppler sensor position of the centre pixel, in ENU
    k = (box.shape[0] // 2, box.shape[1] // 2)
    point = geodetic_to_ecef(lon[k], lat[k], h[k])
    geometry = SarGeometry(ann)
    t, _ = geometry.zero_doppler(point[None])
    look = geometry.orbit.position(t)[0] - point
    phi, lam = np.radians(lat[k]), np.radians(lon[k])
    enu = np.array(
        [
            [-np.sin(lam), np.cos(lam), 0.0],
            [-np.sin(phi) * np.cos(lam), -np.sin(phi) * np.sin(lam), np.cos(phi)],
            [np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)],
        ]
    ) @ (look / np.linalg.norm(look))
    normal = np.array([-0.3, 0.0, 1.0]) / np.sqrt(1.09)
    assert local[k] == pytest.approx(np.degrees(np.arccos(normal @ enu)), abs=0.02)
    assert ellipsoid[k] == pytest.approx(np.degrees(np.arccos(enu[2])), abs=0.05)
    # descending, right-looking: the sensor is to the east, the slope faces away from it
    assert enu[0] > 0.9 * np.hypot(enu[0], enu[1])
    assert (local - ellipsoid)[2:-2, 2:-2].min() > 15.0
    assert np.isnan(local[0]).all()  # no neighbour beyond the grid edge


# --- lattice interpolation against the exact solution ----------------------------------------


@pytest.mark.parametrize("key", ["5371", "FEC3"])
def test_lookup_lattice_matches_exact_solution(
    key: str, annotations: dict[str, Annotation]
) -> None:
    ann = annotations[key]
    grid = ann.geolocation_grid
    centre = (float(np.median(grid.longitude)), float(np.median(grid.latitude)))
    box = aligned_grid(
        (centre[0] - 0.15, centre[1] - 0.15, centre[0] + 0.15, centre[1] + 0.15),
        resolution_m=20.0,
    )[:1024, :1024]
    h = rough_heights(box.shape)
    for looks in [(1, 1), (2, 2)]:
        model = RadarModel.from_annotations([ann], looks=looks)
        coords = radar_lookup(model, box, h, step=16, reference_height=300.0)
        sub = (slice(None, None, 7), slice(None, None, 5))
        rows, cols = np.arange(box.shape[0])[sub[0]], np.arange(box.shape[1])[sub[1]]
        lon, lat = pixel_centres_lonlat(box, rows, cols)
        line, pixel = model.to_radar(lon, lat, h[sub])
        assert np.isfinite(line).all()
        assert np.abs(coords[0][sub] - line).max() < 0.005  # measured 1e-4
        assert np.abs(coords[1][sub] - pixel).max() < 0.005  # measured 9e-4
        line, pixel = model.to_radar(lon, lat, 300.0)
        assert np.abs(coords[2][sub] - line).max() < 0.005
        assert np.abs(coords[3][sub] - pixel).max() < 0.005


def test_lookup_nan_heights_and_unseen_points(annotations: dict[str, Annotation]) -> None:
    model = RadarModel.from_annotations([annotations["5371"]])
    box = point_box(0.0, 0.0, size=5)  # far from the scene: not seen at zero Doppler
    assert np.isnan(radar_lookup(model, box, np.zeros((5, 5)))).all()
    grid = annotations["5371"].geolocation_grid
    box = point_box(float(grid.longitude[50]), float(grid.latitude[50]), size=5)
    h = np.full((5, 5), 10.0)
    h[2, 3] = np.nan
    coords = radar_lookup(model, box, h)
    assert np.isnan(coords[:, 2, 3]).all() and np.isfinite(coords[:, 2, 2]).all()


def test_slice_model_joins_the_two_geometries(annotations: dict[str, Annotation]) -> None:
    """An assembled model maps each slice's grid points to its lines after the first slice."""
    first, second = annotations["CEAB"], annotations["3768"]
    gap = (second.first_line_time - first.first_line_time) / np.timedelta64(1, "ns") * 1e-9
    offset = int(round(gap / first.azimuth_time_interval))
    skipped = first.number_of_lines - offset
    model = RadarModel.from_annotations(
        [first, second], first_lines=[0, first.number_of_lines], skipped=[0, skipped]
    )
    for ann, shift in ((first, 0), (second, first.number_of_lines - skipped)):
        grid = ann.geolocation_grid
        inner = (grid.line > 2) & (grid.line < ann.number_of_lines - 3)
        line, pixel = model.to_radar(grid.longitude, grid.latitude, grid.height)
        assert np.abs(line[inner] - grid.line[inner] - shift).max() < 0.05
        assert np.abs(pixel[inner] - grid.pixel[inner]).max() < 0.05
        lon, lat = model.to_ground(grid.line[inner] + shift, grid.pixel[inner], grid.height[inner])
        assert np.abs(lon - grid.longitude[inner]).max() < 1e-6
        assert np.abs(lat - grid.latitude[inner]).max() < 1e-6


# --- resampling kernels ------------------------------------------------------------------------


def analytic(line: np.ndarray, pixel: np.ndarray) -> np.ndarray:
    return 2.0 + np.sin(line / 7.0) * np.cos(pixel / 11.0)


def test_resampling_of_an_analytic_image() -> None:
    lines, pixels = np.mgrid[0:200, 0:300].astype(np.float64)
    image = analytic(lines, pixels).astype(np.float32)
    rng = np.random.default_rng(7)
    y, x = rng.uniform(2, 196, (50, 40)), rng.uniform(2, 296, (50, 40))
    truth = analytic(y, x)
    bilinear = resample(image, y, x, method="bilinear")
    bicubic = resample(image, y, x, method="bicubic")
    nearest = resample(image, y, x, method="nearest")
    # bilinear: error <= h^2/8 max|f''| (~0.013 here); cubic convolution: third order
    assert np.abs(bilinear - truth).max() < 0.015
    assert np.abs(bicubic - truth).max() < 2e-3
    assert np.abs(bicubic - truth).mean() < 0.25 * np.abs(bilinear - truth).mean()
    np.testing.assert_array_equal(nearest, image[np.round(y).astype(int), np.round(x).astype(int)])
    # both are exact at sample centres and for quadratics (cubic convolution, a = -0.5)
    quad = (0.3 * lines**2 - 0.2 * lines * pixels + pixels).astype(np.float64)
    exact = 0.3 * y**2 - 0.2 * y * x + x
    np.testing.assert_allclose(resample(quad, y, x, method="bicubic"), exact, rtol=2e-6)
    np.testing.assert_array_equal(resample(image, lines[:5, :5], pixels[:5, :5]), image[:5, :5])


def test_resampling_edges_and_nodata() -> None:
    image = np.arange(36, dtype=np.float32).reshape(6, 6)
    # half a pixel outside the image: clamped; further: NaN
    out = resample(image, np.array([-0.5, -0.51, 5.5, 2.0]), np.array([2.0, 2.0, 2.0, 6.0]))
    assert out[0] == image[0, 2] and np.isnan(out[1]) and out[2] == image[5, 2]
    assert np.isnan(out[3])
    holed = image.copy()
    holed[0, 0] = np.nan
    # bicubic next to a NaN falls back to bilinear; bilinear touching it is NaN
    b = resample(holed, np.array([1.5, 2.5]), np.array([1.5, 2.5]), method="bicubic")
    assert b[0] == pytest.approx(1.5 * 6 + 1.5) and b[1] == pytest.approx(2.5 * 6 + 2.5)
    assert np.isnan(resample(holed, np.array([0.5]), np.array([0.5]), method="bilinear"))[0]
    # a window of the image gives the same values as the whole image
    window = resample(
        image[2:6, 1:5],
        np.array([3.3]),
        np.array([2.6]),
        origin=(2, 1),
        shape=(6, 6),
        method="bilinear",
    )
    assert window[0] == pytest.approx(
        resample(image, np.array([3.3]), np.array([2.6]), method="bilinear")[0]
    )
    with pytest.raises(ParameterError, match="method"):
        resample(image, np.zeros(1), np.zeros(1), method="cubic")  # type: ignore[arg-type]


# --- lazy geocoding: windows, chunks, graph -------------------------------------------------------


def test_lazy_geocoding_equals_direct_resampling(annotations: dict[str, Annotation]) -> None:
    ann = annotations["5371"]
    model = RadarModel.from_annotations([ann], looks=(2, 2))
    grid = ann.geolocation_grid
    lon0, lat0 = float(np.median(grid.longitude)), float(np.median(grid.latitude))
    box = aligned_grid((lon0, lat0, lon0 + 0.08, lat0 + 0.06), resolution_m=20.0)
    h = rough_heights(box.shape, seed=3)
    heights = heights_on(box, h, 128)
    ny, nx = heights.data.numblocks
    blocks = [
        [h[i * 128 : (i + 1) * 128, j * 128 : (j + 1) * 128] for j in range(nx)] for i in range(ny)
    ]
    ranges = np.array([[[b.min(), b.max()] for b in row] for row in blocks])
    plan = plan_geocoding(model, heights, ranges)
    lines, pixels = np.mgrid[0 : model.shape[0], 0 : model.shape[1]].astype(np.float32)
    image = xr.DataArray(
        da.from_array(analytic(lines, pixels).astype(np.float32), chunks=(512, 4096)),
        dims=("line", "pixel"),
    )
    out = geocode(image, plan, method="bicubic")
    assert out.chunks == heights.chunks and out.dtype == np.float32
    assert out.odc.geobox == box
    values = out.values
    coords = radar_lookup(model, box, h)
    direct = resample(image.values, coords[0], coords[1], method="bicubic")
    np.testing.assert_allclose(values, direct, atol=2e-4)  # float32 lookup
    assert np.abs(values - analytic(coords[0], coords[1])).max() < 2e-3
    # every output chunk depends on the few radar chunks its window overlaps
    graph = dict(out.data.blocks[0, 0].__dask_graph__())
    radar = [k for k in graph if isinstance(k, tuple) and k[0] == image.data.name]
    assert 0 < len(radar) < image.data.npartitions


def test_window_reader_computes_each_chunk_once() -> None:
    calls = []

    def count(block: np.ndarray) -> np.ndarray:
        calls.append(1)
        return block + 1

    source = da.zeros((100, 100), chunks=50).map_blocks(count, meta=np.empty((0, 0)))
    reader = WindowReader(source)
    tasks = []
    for start in range(0, 90, 10):
        parts, cuts = reader.parts((slice(start, start + 20), slice(40, 60)))
        task = dask.delayed(lambda p, c: assemble_window(p, c).sum(), pure=True)(parts, cuts)
        tasks.append(da.from_delayed(task, (), dtype=float))
    values = da.stack(tasks).compute()
    np.testing.assert_array_equal(values, 400.0)
    assert len(calls) == 4  # each of the four chunks once
