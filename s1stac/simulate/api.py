"""Scene simulator: Sentinel-1A IW GRDH SAFE products over a DEM, with their ground truth.

:func:`simulate` places one or more tracks (ascending / descending relative orbits that see the
area at IW incidence angles) over a generated or given DEM, renders every acquisition (12-day
repeat) through the facet model of :mod:`s1stac.simulate.scene` with speckle, thermal noise and
DN quantisation, and writes ESA-format SAFE folders (or zips) plus ``truth/``.

Reference: Sentinel-1 Product Specification S1-RS-MDA-52-7441; Small (2011), IEEE TGRS 49(8).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import pathlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import rasterio
import rasterio.warp

from s1stac.ellipsoid import ecef_to_geodetic, geodetic_to_ecef
from s1stac.errors import AoiError, ParameterError
from s1stac.simulate import backscatter, instrument, orbit, truth
from s1stac.simulate.radar import RadarGeometry, design_geometry
from s1stac.simulate.render import Acquisition, render_track
from s1stac.simulate.terrain import Terrain, generate_terrain, load_terrain
from s1stac.simulate.tracks import (
    TrackSpec,
    acquisition_orbits,
    choose_passes,
    to_day,
)
from s1stac.types import Polarisation

LOGGER = logging.getLogger(__name__)

DEFAULT_CENTER = (12.5, 41.9)
SIZES = {"small": (800, 800), "full": (16700, 25000)}
"""Image sizes (lines, samples): small (8 km x 8 km, seconds) and a full IW GRDH slice."""
_POLARISATIONS = {("VV",), ("VV", "VH"), ("HH",), ("HH", "HV")}
_SLICE_SECONDS = 25.0


@dataclass(frozen=True)
class SimulationResult:
    """Paths written by :func:`simulate`."""

    products: tuple[pathlib.Path, ...]
    """SAFE folders (or zips), ordered by track, date and slice."""
    truth_dir: pathlib.Path
    dem: pathlib.Path
    landcover: pathlib.Path
    gamma0: tuple[pathlib.Path, ...]
    """``gamma0_<YYYYMMDD>_<pol>.tif`` of every acquisition date."""
    layover_shadow: tuple[pathlib.Path, ...]
    """One map per track."""
    truth_json: pathlib.Path
    radar_truth: tuple[pathlib.Path, ...] = ()
    """Noise-free beta0 and layover/shadow in radar geometry (``radar_truth=True``)."""

    def gamma0_path(self, date: str | dt.date | np.datetime64, polarisation: str) -> pathlib.Path:
        """Return the path of the true gamma0 raster of one date (YYYY-MM-DD) and polarisation."""
        stamp = np.datetime_as_string(np.datetime64(date, "D")).replace("-", "")
        return self.truth_dir / f"gamma0_{stamp}_{polarisation.upper()}.tif"


def _shape(size: str | float | tuple[int, int]) -> tuple[int, int]:
    if isinstance(size, str):
        if size not in SIZES:
            raise ParameterError(f"size={size!r}: choose 'small', 'full', km or (lines, samples)")
        return SIZES[size]
    if isinstance(size, int | float):
        if not 0.5 <= size <= 250.0:
            raise ParameterError(f"size={size} km must be within 0.5..250")
        return (int(round(size * 100)),) * 2
    lines, samples = (int(v) for v in size)
    if not (50 <= lines <= 60000 and 50 <= samples <= 30000):
        raise ParameterError(f"size={size}: lines within 50..60000, samples within 50..30000")
    return lines, samples


def _design(
    pass_: orbit.Pass,
    first: orbit.CircularOrbit,
    centre: tuple[float, float],
    height: float,
    shape: tuple[int, int],
) -> RadarGeometry:
    target = geodetic_to_ecef(centre[0], centre[1], height)
    tau, slant = orbit.zero_doppler_times(first, target[None, :], pass_.tau)
    geometry, _ = design_geometry(
        first,
        float(tau[0]),
        float(slant[0]),
        lines=shape[0],
        samples=shape[1],
        reference_height=height,
    )
    return geometry


def _bounds(
    geometries: Sequence[RadarGeometry], margin_m: float
) -> tuple[float, float, float, float]:
    corners = np.concatenate([g.footprint() for g in geometries])
    lat = float(np.mean(corners[:, 1]))
    d_lat = margin_m / 111_000.0
    d_lon = d_lat / max(math.cos(math.radians(lat)), 0.05)
    bounds = (
        float(corners[:, 0].min()) - d_lon,
        float(corners[:, 1].min()) - d_lat,
        float(corners[:, 0].max()) + d_lon,
        float(corners[:, 1].max()) + d_lat,
    )
    if bounds[2] - bounds[0] > 180.0 or bounds[0] < -180.0 or bounds[2] > 180.0:
        raise AoiError(
            f"the scenes around lon {np.mean(corners[:, 0]):.3f} cross the antimeridian, which "
            "the simulator's geographic grid does not support: move aoi_center"
        )
    return bounds


def _terrain(
    dem: str | pathlib.Path | None,
    geometries: list[RadarGeometry],
    centre: tuple[float, float],
    shape: tuple[int, int],
    resolution: float | None,
    max_slope_deg: float,
    seed: int,
) -> Terrain:
    scale = min(6000.0, 5.0 * min(shape))
    if dem is None:
        relief = 650.0 * math.tan(math.radians(max_slope_deg)) / math.tan(math.radians(30.0))
        bounds = _bounds(geometries, 500.0 + relief / math.tan(math.radians(29.0)))
        res = resolution or (10.0 if shape[0] * shape[1] <= 4e6 else 30.0)
        return generate_terrain(
            bounds, centre, scale=scale, resolution=res, max_slope_deg=max_slope_deg, seed=seed
        )
    return load_terrain(str(dem), _bounds(geometries, 300.0), centre, scale=scale, seed=seed)


def _mean_height(terrain: Terrain, geometry: RadarGeometry) -> float:
    lines = np.linspace(0, geometry.lines - 1, 9)
    pixels = np.linspace(0, geometry.samples - 1, 9)
    points, _ = geometry.ground(lines[:, None], pixels[None, :])
    lon, lat, _ = ecef_to_geodetic(points)
    return float(np.mean(terrain.sample_height(lon, lat)))


def _dem_bounds(dem: str | pathlib.Path) -> tuple[float, float, float, float]:
    try:
        with rasterio.open(dem) as src:
            if src.crs is None:
                raise ParameterError(
                    f"dem={str(dem)!r} has no CRS; write one (e.g. EPSG:4326) first"
                )
            bounds = rasterio.warp.transform_bounds(src.crs, "EPSG:4326", *src.bounds)
    except (rasterio.RasterioIOError, rasterio.errors.CRSError) as error:
        raise ParameterError(f"dem={str(dem)!r} cannot be read: {error}") from error
    return (float(bounds[0]), float(bounds[1]), float(bounds[2]), float(bounds[3]))


def _dem_centre(dem: str | pathlib.Path) -> tuple[float, float]:
    west, south, east, north = _dem_bounds(dem)
    return (0.5 * (west + east), 0.5 * (south + north))


def _fit_in_dem(
    dem: str | pathlib.Path,
    chosen: list[orbit.Pass],
    orbits: list[list[orbit.CircularOrbit]],
    centre: tuple[float, float],
    shape: tuple[int, int],
) -> tuple[int, int]:
    """Largest shape (at most ``shape``) whose scenes fit in the DEM with a 300 m margin."""
    west, south, east, north = _dem_bounds(dem)
    for _ in range(30):
        geometries = [
            _design(p, o[0], centre, 0.0, shape) for p, o in zip(chosen, orbits, strict=True)
        ]
        w, s, e, n = _bounds(geometries, 300.0)
        if w >= west and s >= south and e <= east and n <= north or min(shape) <= 60:
            break
        shape = (max(50, int(shape[0] * 0.9)), max(50, int(shape[1] * 0.9)))
    return shape


def simulate(
    out_dir: str | pathlib.Path,
    *,
    dem: str | pathlib.Path | None = None,
    aoi_center: tuple[float, float] | None = None,
    size: Literal["small", "full"] | float | tuple[int, int] = "small",
    dates: int | Sequence[str | dt.date | np.datetime64] = 4,
    start: str | dt.date | dt.datetime | np.datetime64 = "2021-03-01",
    tracks: Sequence[TrackSpec] | None = None,
    slices: int = 1,
    polarisations: Sequence[str] = ("VV", "VH"),
    seed: int = 0,
    zip: bool = False,
    noise_format: Literal["ipf3", "legacy"] = "ipf3",
    max_slope_deg: float = 30.0,
    dem_resolution: float | None = None,
    radar_truth: bool = False,
    block_lines: int | None = None,
) -> SimulationResult:
    """Write simulated Sentinel-1A IW GRDH products (SAFE or zip) and their ground truth.

    Parameters
    ----------
    out_dir
        Folder for the products and ``truth/``.
    dem
        DEM raster (any CRS; heights above the ellipsoid, or a compound CRS with EGM96 /
        EGM2008 heights, converted); ``None``: a generated DEM with hills and a lake.
    aoi_center
        ``(lon, lat)`` of the scene centre; default the DEM centre or (12.5, 41.9).
    size
        ``"small"`` (800 x 800 pixels of 10 m), ``"full"`` (16700 lines x 25000 samples, the
        size of an IW GRDH slice), a square size in km, or ``(lines, samples)``.
    dates, start
        Number of acquisitions per track from ``start`` on (12-day repeat), or a list of
        dates (the pass of each track nearest to each date).
    tracks
        :class:`TrackSpec` list; ``None``: the ascending and the descending track that see the
        centre nearest to mid-swath.
    slices
        1, or 2 consecutive slices of one datatake per acquisition (the image cut in azimuth).
    polarisations
        ``("VV", "VH")`` (1SDV), ``("VV",)``, ``("HH", "HV")`` or ``("HH",)``.
    seed
        Seed of terrain, land cover, texture, water wind and speckle: same seed, same output.
    zip
        Write ``<name>.zip`` instead of ``<name>.SAFE``.
    noise_format
        ``"ipf3"``: range and azimuth noise vectors (IPF >= 2.9); ``"legacy"``: ``noiseVector``
        range LUTs of IPF 2.x.
    max_slope_deg
        Steepest slope of the generated DEM (layover and shadow appear above about 40 deg).
    dem_resolution
        Grid spacing in metres of the generated DEM and the truth (10 m small, 30 m full).
    radar_truth
        Also write noise-free beta0 and layover/shadow in radar geometry per product.
    block_lines
        Azimuth block size of the rendering (memory); default about 300 MB of class maps.

    Returns
    -------
    SimulationResult
    """
    out = pathlib.Path(out_dir)
    pols = tuple(Polarisation(str(p).upper()) for p in polarisations)
    if tuple(p.value for p in pols) not in _POLARISATIONS:
        raise ParameterError(
            f"polarisations={list(polarisations)}: choose one of {sorted(_POLARISATIONS)}"
        )
    if slices not in (1, 2):
        raise ParameterError(f"slices={slices} must be 1 or 2")
    if noise_format not in ("ipf3", "legacy"):
        raise ParameterError(f"noise_format={noise_format!r}: choose 'ipf3' or 'legacy'")
    shape = _shape(size)
    centre = aoi_center or (_dem_centre(dem) if dem is not None else DEFAULT_CENTER)
    centre = (float(centre[0]), float(centre[1]))
    start_day = to_day(start, "start")
    return _run(
        out,
        dem=dem,
        centre=centre,
        shape=shape,
        dates=dates,
        start_day=start_day,
        tracks=tracks,
        slices=slices,
        pols=pols,
        seed=seed,
        zip_products=bool(zip),
        noise_format=noise_format,
        fit_dem=isinstance(size, str) and size == "small",
        max_slope_deg=max_slope_deg,
        dem_resolution=dem_resolution,
        radar_truth=radar_truth,
        block_lines=block_lines,
    )


def _run(
    out: pathlib.Path,
    *,
    dem: str | pathlib.Path | None,
    centre: tuple[float, float],
    shape: tuple[int, int],
    dates: int | Sequence[str | dt.date | np.datetime64],
    start_day: np.datetime64,
    tracks: Sequence[TrackSpec] | None,
    slices: int,
    pols: tuple[Polarisation, ...],
    seed: int,
    zip_products: bool,
    noise_format: str,
    fit_dem: bool,
    max_slope_deg: float,
    dem_resolution: float | None,
    radar_truth: bool,
    block_lines: int | None,
) -> SimulationResult:
    chosen = choose_passes(tracks, centre)
    orbits = [acquisition_orbits(p, dates, start_day) for p in chosen]
    if dem is not None and fit_dem:
        shape = _fit_in_dem(dem, chosen, orbits, centre, shape)

    geometries = [_design(p, o[0], centre, 0.0, shape) for p, o in zip(chosen, orbits, strict=True)]
    terrain = _terrain(dem, geometries, centre, shape, dem_resolution, max_slope_deg, seed)
    geometries = [
        _design(p, o[0], centre, _mean_height(terrain, g), shape)
        for p, o, g in zip(chosen, orbits, geometries, strict=True)
    ]
    LOGGER.info(
        "terrain %s at %.1f m, %d track(s)", terrain.shape, terrain.spacing * 111_000, len(chosen)
    )

    truth_dir = out / "truth"
    truth_dir.mkdir(parents=True, exist_ok=True)
    dem_path = truth.write_dem(truth_dir / "dem.tif", terrain)
    landcover_path = truth.write_landcover(truth_dir / "landcover.tif", terrain)

    products: list[pathlib.Path] = []
    radar_paths: list[pathlib.Path] = []
    ls_paths: list[pathlib.Path] = []
    product_records: list[dict[str, object]] = []
    days: dict[np.datetime64, None] = {}
    for index, (pass_, track_orbits, geometry) in enumerate(
        zip(chosen, orbits, geometries, strict=True)
    ):
        track = TrackSpec(pass_.direction, pass_.relative_orbit)
        acquisitions = [
            Acquisition(
                orb,
                backscatter.class_table(
                    [orb.time(geometry.first_line_tau)], [p.value for p in pols], seed
                )[0],
            )
            for orb in track_orbits
        ]
        for orb in track_orbits:
            days[np.datetime64(orb.time(geometry.first_line_tau), "D")] = None
        written = render_track(
            out,
            terrain,
            geometry,
            acquisitions,
            direction=pass_.direction,
            track_index=index,
            polarisations=pols,
            slices=slices,
            seed=seed,
            legacy_noise=noise_format == "legacy",
            zip_products=zip_products,
            radar_truth=radar_truth,
            block_lines=block_lines,
            slice_seconds=_SLICE_SECONDS,
        )
        products += written.products
        radar_paths += written.radar_truth
        ls_paths.append(
            truth.write_layover_shadow(
                truth_dir / f"layover_shadow_{track.label}.tif", terrain, written.layover_shadow
            )
        )
        days_of_products = [
            np.datetime_as_string(np.datetime64(orb.time(geometry.first_line_tau), "D"))
            for orb in track_orbits
            for _ in range(slices)
        ]
        product_records += [
            {"name": p.name.rsplit(".", 1)[0], "track": track.label, "date": day, "path": str(p)}
            for p, day in zip(written.products, days_of_products, strict=True)
        ]

    day_list = sorted(days)
    table = backscatter.class_table(day_list, [p.value for p in pols], seed)
    gamma_paths = []
    for d, day in enumerate(day_list):
        stamp = np.datetime_as_string(day).replace("-", "")
        for p, pol in enumerate(pols):
            gamma_paths.append(
                truth.write_gamma0(
                    truth_dir / f"gamma0_{stamp}_{pol.value}.tif", terrain, table[d, p]
                )
            )
    json_path = truth.write_json(
        truth_dir / "truth.json",
        terrain=terrain,
        dates=day_list,
        polarisations=[p.value for p in pols],
        table=table,
        tracks=[
            {
                "direction": p.direction.value,
                "relative_orbit": p.relative_orbit,
                "incidence_angle_centre": round(p.incidence_angle, 3),
                "label": TrackSpec(p.direction, p.relative_orbit).label,
            }
            for p in chosen
        ],
        products=product_records,
        settings={
            "aoi_center": centre,
            "size": shape,
            "seed": seed,
            "slices": slices,
            "noise_format": noise_format,
            "max_slope_deg": max_slope_deg,
            "dem": str(dem) if dem else "generated",
            "enl": instrument.ENL,
            "beta_lut": instrument.BETA_LUT,
        },
    )
    return SimulationResult(
        products=tuple(products),
        truth_dir=truth_dir,
        dem=dem_path,
        landcover=landcover_path,
        gamma0=tuple(gamma_paths),
        layover_shadow=tuple(ls_paths),
        truth_json=json_path,
        radar_truth=tuple(radar_paths),
    )
