"""Parameters and result of the ARD stage (:mod:`s1stac.ard`): what users set and get back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np
import xarray as xr
from odc.geo.geobox import GeoBox

from s1stac.dem import GeoidChoice
from s1stac.errors import ParameterError
from s1stac.geocoding import Resampling
from s1stac.grid import GeometryLike
from s1stac.types import CalibrationKind, Polarisation

__all__ = ["ArdOptions", "ArdProduct", "ExtraBand", "ProductType", "SpeckleMethod"]

ProductType = Literal["GTC-sigma0", "GTC-gamma0", "RTC-gamma0"]
ExtraBand = Literal[
    "mask", "local_incidence_angle", "ellipsoid_incidence_angle", "contributing_area"
]
SpeckleMethod = Literal["boxcar", "lee", "refined_lee"]

CALIBRATION_OF: dict[str, CalibrationKind] = {
    "GTC-sigma0": "sigmaNought",
    "GTC-gamma0": "gamma",
    "RTC-gamma0": "betaNought",
}
"""Calibration LUT of each product type (RTC flattens beta0, OST_SPEC.md §2.3)."""
LONG_NAME_OF = {
    "GTC-sigma0": "sigma nought (ellipsoid area)",
    "GTC-gamma0": "gamma nought (ellipsoid area)",
    "RTC-gamma0": "terrain-flattened gamma nought",
}
"""``long_name`` of the backscatter variables of each product type."""


@dataclass(frozen=True)
class ArdOptions:
    """Parameters of the ARD stage (OST ``single_ARD``, ``OST_SPEC.md`` §1.2)."""

    product_type: ProductType = "RTC-gamma0"
    """GTC-sigma0, GTC-gamma0 (ellipsoid) or RTC-gamma0 (terrain flattened)."""
    resolution: float = 20.0
    """Output pixel spacing in metres (degrees = metres / 6378137 * 180 / pi for EPSG:4326)."""
    crs: str = "EPSG:4326"
    """Output CRS: EPSG:4326, any EPSG code in metres, or AUTO:42001 (UTM zone)."""
    polarisations: tuple[Polarisation, ...] | None = None
    """Polarisations to process; all of the product when None."""
    speckle_filter: SpeckleMethod | None = None
    """Spatial speckle filter applied after multilooking (``refined_lee`` as OST)."""
    extra_bands: tuple[ExtraBand, ...] = ()
    """Also produce these bands (mask, incidence angles, contributing area)."""
    noise_removal: bool = True
    """Remove the annotated thermal noise."""
    border_noise: bool = True
    """Blank the GRD border noise (OST algorithm)."""
    resampling: Resampling = "bicubic"
    """Interpolation of the radar images onto the map grid."""
    dem_geoid: GeoidChoice = "auto"
    """Height reference of the DEM (see :func:`s1stac.dem.load_dem`)."""
    aoi: GeometryLike | None = None
    """Process only this lon/lat area (subset); the whole scene when None."""
    chunk_size: int = 2048
    """Output chunk size in pixels (y and x)."""
    terrain_oversampling: int = 2
    """DEM samples per multilooked radar pixel (per axis) of the terrain simulation."""

    def __post_init__(self) -> None:
        checks: list[tuple[str, Any, tuple[Any, ...]]] = [
            ("product_type", self.product_type, get_args(ProductType)),
            ("resampling", self.resampling, get_args(Resampling)),
            ("speckle_filter", self.speckle_filter, (None, *get_args(SpeckleMethod))),
        ]
        for name, value, allowed in checks:
            if value not in allowed:
                raise ParameterError(f"{name}={value!r} unknown: choose one of {list(allowed)}")
        for band in self.extra_bands:
            if band not in get_args(ExtraBand):
                raise ParameterError(
                    f"extra band {band!r} unknown: choose among {list(get_args(ExtraBand))}"
                )
        res = self.resolution
        if isinstance(res, bool) or not isinstance(res, int | float) or not np.isfinite(res):
            raise ParameterError(f"resolution={res!r} must be a positive number of metres")
        if res <= 0:
            raise ParameterError(f"resolution={res!r} must be a positive number of metres")
        if not isinstance(self.chunk_size, int) or self.chunk_size < 64:
            raise ParameterError(f"chunk_size={self.chunk_size!r} must be an integer >= 64")
        if not isinstance(self.terrain_oversampling, int) or self.terrain_oversampling < 1:
            raise ParameterError(f"terrain_oversampling={self.terrain_oversampling!r} must be >= 1")
        if self.polarisations is not None:
            pols = []
            for pol in self.polarisations:
                try:
                    pols.append(Polarisation(str(pol).upper()))
                except ValueError as err:
                    choices = [p.value for p in Polarisation]
                    raise ParameterError(
                        f"polarisation {pol!r} unknown: choose among {choices}"
                    ) from err
            object.__setattr__(self, "polarisations", tuple(pols))


@dataclass(frozen=True, eq=False)
class ArdProduct:
    """The lazy ARD of one acquisition and what a STAC item needs to describe it."""

    dataset: xr.Dataset
    """One float32 variable per polarisation (linear, NaN no-data) plus the extra bands."""
    sources: tuple[str, ...]
    """Names of the GRD products (slices in azimuth order)."""
    options: ArdOptions
    geobox: GeoBox
    """Output grid (aligned to multiples of the pixel size)."""
    polarisations: tuple[Polarisation, ...]
    start_time: np.datetime64
    stop_time: np.datetime64
    platform: str
    orbit_direction: str
    relative_orbit: int
    absolute_orbit: int
    looks: int
    """Multilook factor applied along azimuth and range."""
    lineage: str
    """Human-readable processing history (for ``processing:lineage``)."""
    extra: dict[str, str] = field(default_factory=dict)
    """Long names of the variables of ``dataset``."""
