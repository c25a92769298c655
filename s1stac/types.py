"""Typed records shared by the stages: product metadata, annotation, LUTs.

All times are ``numpy.datetime64[ns]`` in UTC (naive, as Sentinel-1 annotations give them);
all arrays are ``numpy`` arrays.  Records are frozen: stages never mutate them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt
import shapely

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
TimeArray = npt.NDArray[np.datetime64]

CalibrationKind = Literal["sigmaNought", "betaNought", "gamma", "dn"]


class Polarisation(enum.StrEnum):
    """Polarisation channel of a Sentinel-1 measurement."""

    VV = "VV"
    VH = "VH"
    HH = "HH"
    HV = "HV"


class OrbitDirection(enum.StrEnum):
    """Pass direction of the acquisition, as the manifest spells it."""

    ASCENDING = "ASCENDING"
    DESCENDING = "DESCENDING"


@dataclass(frozen=True)
class ManifestInfo:
    """What ``manifest.safe`` (and the product name) say of a product."""

    product_name: str
    """Product name without ``.SAFE`` / ``.zip``, e.g. ``S1A_IW_GRDH_1SDV_..._CEAB``."""
    mission: str
    """``S1A``, ``S1B``, ``S1C``..."""
    platform: str
    """STAC platform name, e.g. ``sentinel-1a``."""
    international_designator: str
    """COSPAR id of the satellite, e.g. ``2014-016A``."""
    mode: str
    """Instrument mode: ``IW``, ``EW``, ``SM``."""
    product_type: str
    """``GRD`` (``SLC`` is refused)."""
    resolution_class: str
    """``H`` (high), ``M`` (medium) or ``F`` (full)."""
    polarisations: tuple[Polarisation, ...]
    orbit_direction: OrbitDirection
    absolute_orbit: int
    relative_orbit: int
    datatake_id: int
    slice_number: int | None
    total_slices: int | None
    footprint: shapely.Polygon
    """Footprint in lon/lat (EPSG:4326), as ``gml:coordinates`` of the manifest."""
    start_time: np.datetime64
    stop_time: np.datetime64
    ipf_version: str
    """Version of the ESA processor (``Sentinel-1 IPF``), e.g. ``002.36``."""
    facility: str
    """Processing facility, e.g. ``Sentinel-1 IPF`` site name from the manifest."""
    processing_time: np.datetime64
    """Stop time of the processing (distinguishes reprocessings of one acquisition)."""
    product_unique_id: str
    """Last four characters of the product name (e.g. ``CEAB``)."""
    ascending_node_time: np.datetime64 | None = None
    """Last ascending node crossing before the acquisition (``s1:ascendingNodeTime``)."""


@dataclass(frozen=True)
class OrbitStateVectors:
    """Orbit state vectors of the annotation, in ECEF (WGS84) metres and metres per second."""

    time: TimeArray
    position: FloatArray
    """Shape ``(n, 3)``."""
    velocity: FloatArray
    """Shape ``(n, 3)``."""


@dataclass(frozen=True)
class GeolocationGrid:
    """Tie points of the annotation's ``geolocationGrid``: flat arrays of equal length."""

    azimuth_time: TimeArray
    slant_range_time: FloatArray
    """Two-way slant range time in seconds."""
    line: FloatArray
    pixel: FloatArray
    latitude: FloatArray
    longitude: FloatArray
    height: FloatArray
    """Height above the WGS84 ellipsoid, metres."""
    incidence_angle: FloatArray
    elevation_angle: FloatArray


@dataclass(frozen=True)
class CoordinateConversion:
    """Slant-range <-> ground-range polynomials (``coordinateConversionList``).

    As ESA defines them (and the geolocation grids confirm): ``srgrCoefficients`` convert slant
    to ground range, ``ground_range(R) = sum(srgr[k, i] * (R - sr0[k]) ** i)``, and
    ``grsrCoefficients`` convert back, ``R(gr) = sum(grsr[k, i] * (gr - gr0[k]) ** i)``, in
    metres, one record ``k`` per azimuth time.  Each record holds for the ellipsoid raised to
    that record's height: :mod:`s1stac.geometry` uses the nearest record, not a linear
    interpolation between records (which misses the geolocation grid by up to 1.5 px).
    """

    azimuth_time: TimeArray
    slant_range_time: FloatArray
    sr0: FloatArray
    srgr_coefficients: FloatArray
    """Shape ``(k, n)``."""
    gr0: FloatArray
    grsr_coefficients: FloatArray
    """Shape ``(k, n)``."""


@dataclass(frozen=True)
class Annotation:
    """The product annotation of one polarisation (``annotation/s1?-*-grd-<pol>-*.xml``)."""

    polarisation: Polarisation
    swath: str
    """``IW``/``EW`` for GRD products."""
    number_of_lines: int
    number_of_samples: int
    range_pixel_spacing: float
    azimuth_pixel_spacing: float
    azimuth_time_interval: float
    """Seconds between two lines."""
    first_line_time: np.datetime64
    last_line_time: np.datetime64
    slant_range_time: float
    """Two-way slant range time of the first sample, seconds (``imageInformation``)."""
    radar_frequency: float
    """Hz."""
    range_sampling_rate: float
    """Hz."""
    incidence_angle_mid_swath: float
    platform_heading: float
    """Degrees."""
    pass_direction: OrbitDirection
    range_looks: float
    azimuth_looks: float
    orbit: OrbitStateVectors
    geolocation_grid: GeolocationGrid
    coordinate_conversion: CoordinateConversion


@dataclass(frozen=True)
class CalibrationVectors:
    """Calibration vectors of one polarisation; the LUTs are amplitude factors.

    ``pixel`` and the LUTs have shape ``(k, m)``: all vectors of a GRD calibration file share
    the same number of points.
    """

    azimuth_time: TimeArray
    line: IntArray
    pixel: IntArray
    sigma_nought: FloatArray
    beta_nought: FloatArray
    gamma: FloatArray
    dn: FloatArray
    absolute_calibration_constant: float = 1.0


@dataclass(frozen=True)
class NoiseRangeVector:
    """One range noise vector (``noiseRangeVector`` or, before IPF 2.9, ``noiseVector``)."""

    azimuth_time: np.datetime64
    line: int
    pixel: IntArray
    values: FloatArray
    """Noise power in DN**2 (``noiseRangeLut`` / ``noiseLut``)."""


@dataclass(frozen=True)
class NoiseAzimuthBlock:
    """One azimuth noise block (``noiseAzimuthVector``, IPF >= 2.9)."""

    swath: str
    first_line: int
    last_line: int
    first_pixel: int
    last_pixel: int
    line: IntArray
    values: FloatArray


@dataclass(frozen=True)
class NoiseVectors:
    """Thermal noise of one polarisation: range vectors and (IPF >= 2.9) azimuth blocks.

    Products older than IPF 2.9 carry only ``noiseVector`` records (the ``noiseLut``): then
    ``azimuth`` is empty and the azimuth factor is 1.
    """

    range: tuple[NoiseRangeVector, ...]
    azimuth: tuple[NoiseAzimuthBlock, ...] = field(default_factory=tuple)
