"""Identity of a simulated product: ESA names, times, orbit and datatake numbers, annotation record.

Names follow the Sentinel-1 SAFE naming convention: product
``S1A_IW_GRDH_1SDV_<start>_<stop>_<absolute orbit>_<datatake id hex>_<unique id>`` and, inside
it, ``s1a-iw-grd-<pol>-<start>-<stop>-<orbit>-<datatake>-<image number>`` for every
polarisation's annotation, calibration, noise and measurement file.

Reference: Sentinel-1 Product Specification S1-RS-MDA-52-7441 section 3.3 (product naming) and
https://sentiwiki.copernicus.eu/web/s1-products (naming conventions).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from s1stac.ellipsoid import geodetic_to_ecef
from s1stac.geometry import SPEED_OF_LIGHT, SarGeometry
from s1stac.simulate.radar import RadarGeometry, incidence_angle, look_angle
from s1stac.types import (
    Annotation,
    CoordinateConversion,
    FloatArray,
    GeolocationGrid,
    OrbitDirection,
    Polarisation,
)

RADAR_FREQUENCY = 5.405000454334350e9
RANGE_SAMPLING_RATE = 6.434523812571428e7
INTERNATIONAL_DESIGNATOR = "2014-016A"
GRID_LINES, GRID_PIXELS = 10, 21


def _compact(time: np.datetime64, separator: str = "T") -> str:
    return (
        np.datetime_as_string(np.datetime64(time, "s"))
        .replace("-", "")
        .replace(":", "")
        .replace("T", separator)
    )


def esa_time(time: np.datetime64) -> str:
    """ISO time with microseconds, as in Sentinel-1 XML (``2021-04-03T17:05:26.655620``)."""
    return np.datetime_as_string(np.datetime64(time, "us"))


@dataclass(frozen=True)
class ProductSpec:
    """Everything that identifies one simulated GRD product (one slice of one acquisition)."""

    polarisations: tuple[Polarisation, ...]
    geometry: RadarGeometry
    datatake_id: int
    slice_number: int
    total_slices: int
    segment_start: np.datetime64
    direction: OrbitDirection
    ipf_version: str
    processing_stop: np.datetime64
    mission: str = "S1A"
    unique_id: str = "0000"
    """CRC-16 of ``manifest.safe``: known once the manifest is written."""

    @property
    def start(self) -> np.datetime64:
        return self.geometry.orbit.time(self.geometry.first_line_tau)

    @property
    def stop(self) -> np.datetime64:
        return self.geometry.orbit.time(self.geometry.last_line_tau)

    @property
    def absolute_orbit(self) -> int:
        return self.geometry.orbit.absolute_orbit

    @property
    def relative_orbit(self) -> int:
        return self.geometry.orbit.relative_orbit

    @property
    def product_class(self) -> str:
        """``1SDV``, ``1SSV``, ``1SDH`` or ``1SSH``."""
        dual = "D" if len(self.polarisations) == 2 else "S"
        first = self.polarisations[0].value[0]
        return f"1S{dual}{first}"

    @property
    def name(self) -> str:
        return (
            f"{self.mission}_IW_GRDH_{self.product_class}_{_compact(self.start)}_"
            f"{_compact(self.stop)}_{self.absolute_orbit:06d}_{self.datatake_id:06X}_"
            f"{self.unique_id}"
        )

    def image_number(self, polarisation: Polarisation) -> int:
        return self.polarisations.index(polarisation) + 1

    def stem(self, polarisation: Polarisation) -> str:
        """File stem of a polarisation's annotation, calibration, noise and measurement files."""
        return (
            f"{self.mission.lower()}-iw-grd-{polarisation.value.lower()}-"
            f"{_compact(self.start, 't')}-{_compact(self.stop, 't')}-"
            f"{self.absolute_orbit:06d}-{self.datatake_id:06x}-{self.image_number(polarisation):03d}"
        )


def coordinate_conversion(geometry: RadarGeometry) -> CoordinateConversion:
    """Return the ``coordinateConversionList`` records covering the image and 1 s around it."""
    keep = (geometry.conversion_tau >= geometry.first_line_tau - 1.5) & (
        geometry.conversion_tau <= geometry.last_line_tau + 1.5
    )
    keep[np.argsort(np.abs(geometry.conversion_tau - geometry.first_line_tau))[:2]] = True
    tau = geometry.conversion_tau[keep]
    count = len(tau)
    return CoordinateConversion(
        azimuth_time=np.array([geometry.orbit.time(float(t)) for t in tau]),
        slant_range_time=np.full(count, 2.0 * geometry.near_range / SPEED_OF_LIGHT),
        sr0=np.full(count, geometry.near_range),
        srgr_coefficients=geometry.srgr[keep],
        gr0=np.zeros(count),
        grsr_coefficients=geometry.grsr[keep],
    )


def annotation_record(
    spec: ProductSpec,
    polarisation: Polarisation,
    sample_height: Callable[[FloatArray, FloatArray], FloatArray],
) -> Annotation:
    """Build the :class:`~s1stac.types.Annotation` of one polarisation, with geolocation grid.

    The grid points are placed with :class:`s1stac.geometry.SarGeometry` (plain annotation
    model) at the DEM height of the point, iterated until the height converges.
    """
    g = spec.geometry
    margin = 60.0
    orbit = g.orbit.state_vectors(
        g.orbit.time(g.first_line_tau - margin), g.orbit.time(g.last_line_tau + margin)
    )
    empty = np.zeros(0)
    empty_time = np.zeros(0, dtype="datetime64[ns]")
    record = Annotation(
        polarisation=polarisation,
        swath="IW",
        number_of_lines=g.lines,
        number_of_samples=g.samples,
        range_pixel_spacing=g.range_spacing,
        azimuth_pixel_spacing=g.azimuth_spacing,
        azimuth_time_interval=g.line_interval,
        first_line_time=spec.start,
        last_line_time=spec.stop,
        slant_range_time=2.0 * g.near_range / SPEED_OF_LIGHT,
        radar_frequency=RADAR_FREQUENCY,
        range_sampling_rate=RANGE_SAMPLING_RATE,
        incidence_angle_mid_swath=float(
            g.ellipsoid_incidence(np.array(g.lines / 2.0), np.array(g.samples / 2.0))
        ),
        platform_heading=g.heading,
        pass_direction=spec.direction,
        range_looks=5.0,
        azimuth_looks=1.0,
        orbit=orbit,
        geolocation_grid=GeolocationGrid(
            empty_time, empty, empty, empty, empty, empty, empty, empty, empty
        ),
        coordinate_conversion=coordinate_conversion(g),
    )
    lines = np.round(np.linspace(0, g.lines - 1, GRID_LINES))
    pixels = np.round(np.linspace(0, g.samples - 1, GRID_PIXELS))
    line, pixel = (a.ravel() for a in np.meshgrid(lines, pixels, indexing="ij"))
    model = SarGeometry(record, calibrate=False)
    height = np.full(line.shape, g.reference_height)
    for iteration in range(20):
        lon, lat = model.radar_to_ground(line, pixel, height)
        target = sample_height(lon, lat)
        step = target - height
        height = height + (step if iteration < 10 else 0.5 * step)
        if np.max(np.abs(step)) < 1e-3:
            break
    lon, lat = model.radar_to_ground(line, pixel, height)
    point = geodetic_to_ecef(lon, lat, height)
    tau = g.line_tau(line)
    sensor, _, _ = g.orbit.state(tau)
    grid = GeolocationGrid(
        azimuth_time=np.array([g.orbit.time(float(t)) for t in tau]),
        slant_range_time=2.0 * g.slant_range(pixel, tau) / SPEED_OF_LIGHT,
        line=line,
        pixel=pixel,
        latitude=lat,
        longitude=lon,
        height=height,
        incidence_angle=incidence_angle(point, sensor),
        elevation_angle=look_angle(point, sensor),
    )
    return replace(record, geolocation_grid=grid)
