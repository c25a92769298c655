"""``sar_backscatter``: Sentinel-1 GRD items -> analysis-ready backscatter cube (t, bands, y, x).

GRD products are in radar geometry: ``load_collection`` of ``sentinel-1-grd`` (alias
``SENTINEL1_GRD``) therefore returns a :class:`GrdSelection` (the selected items, bands and
spatial extent) instead of a cube, and ``sar_backscatter`` computes the ARD of every
acquisition (consecutive slices together, :func:`s1stac.ard.process_ard`, ``OST_SPEC.md`` §2)
and stacks them on the union of their aligned grids; ``t`` labels are acquisition start times.
Values are linear float32 with NaN no-data.

References
----------
openEO sar_backscatter (proposal), https://processes.openeo.org/proposals.html#sar_backscatter
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

import numpy as np
import pystac
import xarray as xr
from affine import Affine
from odc.geo.geobox import GeoBox
from odc.geo.geom import Geometry
from odc.geo.xr import xr_coords

from s1stac.ard import ArdOptions, ExtraBand, ProductType, process_ard
from s1stac.errors import ParameterError
from s1stac.inventory import items_to_geodataframe
from s1stac.refinement import group_acquisitions
from s1stac.stac_items import product_path

from ..context import BANDS, DIMS, T, X, Y
from ..errors import ProcessParameterInvalid

__all__ = [
    "COEFFICIENTS",
    "GRD_COLLECTIONS",
    "GrdSelection",
    "ard_normalized_radar_backscatter",
    "sar_backscatter",
]

GRD_COLLECTIONS: Final = ("sentinel-1-grd", "SENTINEL1_GRD")
"""Collection ids that ``load_collection`` answers with a :class:`GrdSelection`."""
COEFFICIENTS: Final[dict[str, ProductType]] = {
    "sigma0-ellipsoid": "GTC-sigma0",
    "gamma0-ellipsoid": "GTC-gamma0",
    "gamma0-terrain": "RTC-gamma0",
}
"""openEO coefficient -> OST product type."""
_OPTIONS: Final = (
    "resolution",
    "crs",
    "speckle_filter",
    "border_noise",
    "remove_border_noise",
    "dem",
    "resampling",
)
_NO_OPTIONS: Final[Mapping[str, Any]] = MappingProxyType({})


@dataclass(frozen=True)
class GrdSelection:
    """GRD items chosen by ``load_collection``: not geocoded, input of ``sar_backscatter``."""

    items: tuple[pystac.Item, ...]
    bands: tuple[str, ...] | None
    """Polarisations asked for (``None``: all of the products)."""
    geometry: Geometry | None
    """Spatial extent (the ARD is cut to it), ``None`` for whole scenes."""


def grd_selection(
    items: Sequence[pystac.Item], bands: Sequence[str] | None, geometry: Geometry | None
) -> GrdSelection:
    """Select GRD items for ``sar_backscatter`` (``bands`` are polarisations: ``VV``...)."""
    if bands is not None:
        known = {"VV", "VH", "HH", "HV"}
        unknown = [b for b in bands if str(b).upper() not in known]
        if unknown:
            raise ProcessParameterInvalid(
                f"bands {unknown} of a GRD collection are not polarisations; choose among "
                f"{sorted(known)}",
                parameter="bands",
            )
        bands = tuple(str(b).upper() for b in bands)
    return GrdSelection(tuple(items), None if bands is None else tuple(bands), geometry)


def _ard_options(
    selection: GrdSelection,
    coefficient: str | None,
    extra: tuple[ExtraBand, ...],
    noise_removal: bool,
    options: Mapping[str, Any],
) -> ArdOptions:
    if coefficient not in COEFFICIENTS:
        raise ProcessParameterInvalid(
            f"coefficient={coefficient!r} is not supported; choose one of {list(COEFFICIENTS)}",
            parameter="coefficient",
        )
    unknown = sorted(set(options) - set(_OPTIONS))
    if unknown:
        raise ProcessParameterInvalid(
            f"options {unknown} unknown; supported: {list(_OPTIONS)}", parameter="options"
        )
    speckle = options.get("speckle_filter")
    border = options.get("border_noise", options.get("remove_border_noise", True))
    try:
        return ArdOptions(
            product_type=COEFFICIENTS[coefficient],
            resolution=options.get("resolution", 20.0),
            crs=options.get("crs", "EPSG:4326"),
            polarisations=selection.bands,  # type: ignore[arg-type]
            speckle_filter=None if speckle in (None, "none") else speckle,
            extra_bands=extra,
            noise_removal=bool(noise_removal),
            border_noise=bool(border),
            resampling=options.get("resampling", "bicubic"),
            aoi=selection.geometry,
        )
    except ParameterError as error:
        raise ProcessParameterInvalid(str(error), parameter="options") from error


def _union(grids: Sequence[GeoBox]) -> tuple[GeoBox, list[tuple[int, int]]]:
    """Union of aligned grids and the (row, column) offset of each in it."""
    ref = grids[0].affine
    for grid in grids[1:]:
        if grid.crs != grids[0].crs or not math.isclose(grid.affine.a, ref.a):
            raise ProcessParameterInvalid(
                "the acquisitions are on different grids; give options.crs", parameter="data"
            )
    offsets = [
        (round((g.affine.f - ref.f) / ref.e), round((g.affine.c - ref.c) / ref.a)) for g in grids
    ]
    row0 = min(r for r, _ in offsets)
    col0 = min(c for _, c in offsets)
    rows = max(r + g.shape[0] for (r, _), g in zip(offsets, grids, strict=True)) - row0
    cols = max(c + g.shape[1] for (_, c), g in zip(offsets, grids, strict=True)) - col0
    affine = ref * Affine.translation(col0, row0)
    union = GeoBox((rows, cols), affine, grids[0].crs)
    return union, [(r - row0, c - col0) for r, c in offsets]


def sar_backscatter(
    data: Any,
    coefficient: str | None = "gamma0-terrain",
    elevation_model: str | None = None,
    mask: bool = False,
    contributing_area: bool = False,
    local_incidence_angle: bool = False,
    ellipsoid_incidence_angle: bool = False,
    noise_removal: bool = True,
    options: Mapping[str, Any] = _NO_OPTIONS,
) -> xr.DataArray:
    """ARD backscatter of every acquisition of a GRD selection as a cube (t, bands, y, x)."""
    if not isinstance(data, GrdSelection):
        raise ProcessParameterInvalid(
            "sar_backscatter needs Sentinel-1 GRD data: load_collection('sentinel-1-grd')",
            parameter="data",
        )
    options = dict(options or {})
    dem = options.get("dem") or elevation_model
    if not dem:
        raise ProcessParameterInvalid(
            "a DEM is required: give a DEM file as elevation_model or options.dem",
            parameter="elevation_model",
        )
    flags = {
        "mask": mask,
        "contributing_area": contributing_area,
        "local_incidence_angle": local_incidence_angle,
        "ellipsoid_incidence_angle": ellipsoid_incidence_angle,
    }
    extra: tuple[ExtraBand, ...] = tuple(k for k, v in flags.items() if v)  # type: ignore[misc]
    ard_options = _ard_options(data, coefficient, extra, noise_removal, options)
    by_id = {item.id: item for item in data.items}
    products = []
    for acquisition in group_acquisitions(items_to_geodataframe(list(data.items))):
        paths = [product_path(by_id[i]) for i in acquisition.item_ids]
        products.append(process_ard(paths, ard_options, dem=dem))
    pols = [p.value for p in products[0].polarisations]
    if any([p.value for p in ard.polarisations] != pols for ard in products):
        raise ProcessParameterInvalid(
            "the acquisitions have different polarisations; choose bands in load_collection",
            parameter="data",
        )
    bands = [*pols, *extra]
    union, offsets = _union([ard.geobox for ard in products])
    coords = xr_coords(union, dims=(Y, X))
    layers = []
    for ard, (row, col) in zip(products, offsets, strict=True):
        height, width = ard.geobox.shape
        stack = xr.concat([ard.dataset[b].drop_vars("spatial_ref") for b in bands], dim=BANDS)
        stack = stack.astype(np.float32).pad(
            {Y: (row, union.shape[0] - row - height), X: (col, union.shape[1] - col - width)},
            constant_values=np.nan,
        )
        layers.append(stack.drop_vars([Y, X], errors="ignore"))
    times = [np.asarray(ard.start_time, dtype="datetime64[ns]") for ard in products]
    cube = xr.concat(layers, dim=T).assign_coords({T: times, BANDS: bands, **coords})
    cube = cube.sortby(T).transpose(*DIMS)
    cube.name = "data"
    return cube.drop_attrs(deep=False).assign_attrs({"sar:product_type": ard_options.product_type})


def ard_normalized_radar_backscatter(
    data: Any,
    elevation_model: str | None = None,
    contributing_area: bool = False,
    ellipsoid_incidence_angle: bool = False,
    noise_removal: bool = True,
    options: Mapping[str, Any] = _NO_OPTIONS,
) -> xr.DataArray:
    """CARD4L normalised radar backscatter: gamma0-terrain plus ``mask`` and local incidence.

    As https://processes.openeo.org/#ard_normalized_radar_backscatter: the bands ``mask``
    (1 valid, 0 invalid, i.e. layover or shadow, NaN no-data) and ``local_incidence_angle``
    are always added; resampling is bilinear unless ``options.resampling`` says otherwise.
    """
    cube = sar_backscatter(
        data,
        coefficient="gamma0-terrain",
        elevation_model=elevation_model,
        mask=True,
        contributing_area=contributing_area,
        local_incidence_angle=True,
        ellipsoid_incidence_angle=ellipsoid_incidence_angle,
        noise_removal=noise_removal,
        options={"resampling": "bilinear", **dict(options or {})},
    )
    codes = cube.sel({BANDS: "mask"})
    backscatter = cube.isel({BANDS: 0})
    valid = xr.where(codes == 0, 1.0, 0.0).where(codes.notnull() & backscatter.notnull())
    return xr.concat(
        [cube.where(cube[BANDS] != "mask", valid.astype(np.float32))], dim=BANDS
    ).transpose(*DIMS)
