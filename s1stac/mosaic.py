"""Mosaics of overlapping images on one aligned grid: gain harmonisation, feathering, AOI cut.

Reference: ``OST_SPEC.md`` §5 and §3.8 (OST ``ost/generic/mosaic.py`` running Orfeo Toolbox
``otbcli_Mosaic -comp.feather large -harmo.method band -harmo.cost rmse``, algorithm of
https://github.com/remicres/otb-mosaic; https://github.com/ESA-PhiLab/OpenSarToolkit).

Decisions taken where OST behaviour is accidental or OTB's does not fit:

* Inputs are linear power, NaN no-data (OST harmonised whatever its files held, so gains
  multiplied dB values or integer codes).  Images must lie on one aligned grid (same CRS and
  pixel size, origins a whole number of pixels apart, :func:`s1stac.grid.aligned_grid`): no
  resampling happens (OTB's bicubic interpolation is the identity there).
* Harmonisation: one multiplicative gain ``g_i`` per image and per band (every index of the
  non-spatial dimensions).  The statistic of a pair ``(i, j)`` is the mean ``m_ij`` of image
  ``i`` over the pixels valid in both; the gains minimise
  ``Σ_pairs A_ij ((g_i m_ij - g_j m_ji) / m̄_ij)²`` (``A_ij`` overlap pixels, ``m̄_ij`` the mean
  of ``m_ij`` and ``m_ji``).  OTB's ``rmse`` cost uses the second moments ``E[I_i²]`` and
  ``E[I_i I_j]`` instead; with the independent speckle of two tracks
  ``E[I_i I_j] / E[I_i²] = (m_ji / m_ij) / (1 + 1/L)``, so its gain ratios are biased by
  ``-10 log10(1 + 1/L)`` dB (-3 dB for single-look data), whereas means are unbiased.  The
  division by ``m̄_ij`` makes the cost relative: overlaps count by area, not by brightness.
* Constraint: OTB's energy conservation ``Σ g_i E_i = Σ E_i`` with ``E_i`` the sum of image
  ``i`` over its valid pixels, i.e. the mosaic keeps the total power of its inputs and large
  images move least; a geometric mean of 1 would weigh a small image as much as a whole track.
  With ``reference`` the gain of that image is 1 instead (the others are calibrated to it).
  The quadratic problem is solved exactly (KKT linear system) for each group of images
  connected by overlaps; an image without overlap keeps gain 1, and a group whose solution is
  not positive keeps gains 1 (logged; OTB did the same on failure).
* Feathering as OTB ``feather large``: ``out = Σ w_i g_i I_i / Σ w_i`` over the valid images,
  ``w_i = ε + min(d_i, feather_distance)`` with ``d_i`` the distance (pixels) to the nearest
  invalid pixel of image ``i`` (outside the image counts as invalid) and ``ε = 1e-3``, so that
  a pixel seen by one image keeps its value.  ``d_i`` comes from a valid mask shrunk by an
  integer factor (OTB: 10; here chosen so that the shrunk mask has at most 2048 pixels per
  side), a shrunk pixel being valid if all its pixels are valid in every band, and is
  interpolated bilinearly back: the weights are continuous.
* :func:`mosaic` reads the inputs once, eagerly, for small results (overlap sums, image sums,
  shrunk masks; one ``dask.compute``) and returns the blend lazily, chunk by chunk (computing
  it reads the inputs a second time).  Keeping the
  statistics inside the lazy graph would hold every input chunk in memory until the last
  statistic is known, since each blended chunk depends on all of them.
* AOI cut as ``rasterio.mask`` (``crop=True``, ``all_touched=False``): the default grid is cut
  to the AOI bounds and pixels whose centre lies outside the AOI are NaN.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import dask
import dask.array as da
import numpy as np
import pandas as pd
import xarray as xr
from odc.geo.geobox import GeoBox
from odc.geo.xr import xr_coords

from s1stac import _mosaic_core as core
from s1stac.aoi import AoiLike
from s1stac.errors import ParameterError

LOGGER = logging.getLogger(__name__)

SPATIAL_DIMS = core.SPATIAL_DIMS
DateLike: TypeAlias = dt.date | np.datetime64 | str | pd.Timestamp
FeatherUnit = core.FeatherUnit


def harmonisation_gains(
    images: Sequence[xr.DataArray], *, reference: int | str | None = None
) -> xr.DataArray:
    """Multiplicative gains that match the images' levels in their overlaps (computed now).

    Parameters
    ----------
    images
        Linear power on one aligned grid (see :func:`mosaic`).
    reference
        Index or name of the image whose gain is 1; default: total power is kept
        (``Σ g_i E_i = Σ E_i``, module docstring).

    Returns
    -------
    xarray.DataArray
        Gains, dims ``("image", <non-spatial dims of the images>)``, numpy-backed.
    """
    setup = core.prepare(images, None, None)
    ref = core.resolve_reference(reference, setup.names)
    totals, pairs = dask.compute(*core.statistics(setup))
    return core.gains_array(setup, totals, pairs, ref)


def _given_gains(gains: xr.DataArray, shape: tuple[int, ...]) -> Any:
    if "image" not in gains.dims:
        raise ParameterError(f"gains has dims {gains.dims}; expected ('image', ...).")
    values = np.asarray(gains.transpose("image", ...).values, dtype=np.float64)
    try:
        return np.broadcast_to(values, shape)
    except ValueError as exc:
        raise ParameterError(
            f"gains has shape {values.shape}, the images need {shape} (image, bands...)."
        ) from exc


def mosaic(
    images: Sequence[xr.DataArray],
    *,
    geobox: GeoBox | None = None,
    aoi: AoiLike | None = None,
    harmonise: bool = True,
    reference: int | str | None = None,
    gains: xr.DataArray | None = None,
    feather_distance: float | None = None,
    feather_unit: FeatherUnit = "pixel",
    distance_shrink: int | None = None,
) -> xr.DataArray:
    """Mosaic of images on one aligned grid, as OST/OTB ``Mosaic`` (``OST_SPEC.md`` §5.2-5.3).

    Parameters
    ----------
    images
        Linear power (float, NaN no-data), dims ``(..., "y", "x")`` with odc-geo coordinates on
        one aligned grid; the same non-spatial dims (e.g. ``band``) in every image.
    geobox
        Output grid, aligned with the images; default: union of the images (cut to the AOI).
    aoi
        Area of interest (anything :func:`s1stac.aoi.read_aoi` reads): NaN outside.
    harmonise
        Apply per-image gains (``gains``, or computed as :func:`harmonisation_gains`).
    reference
        Index or name of the image kept at gain 1 (default: total power kept).
    gains
        Precomputed gains (dims ``("image", ...)``), e.g. from :func:`harmonisation_gains`.
    feather_distance
        Distance over which weights ramp up from an image's valid-data edge; None: no cap
        (OTB ``feather large``); 0: plain mean of the valid images.
    feather_unit
        Unit of ``feather_distance``: output pixels or metres.
    distance_shrink
        Integer factor by which valid masks are shrunk for distances (default: automatic).

    Returns
    -------
    xarray.DataArray
        Lazy (dask) linear power on the output grid, dims ``(..., "y", "x")``.

    Raises
    ------
    ParameterError
        Images not on one aligned grid (naming the image), not linear power, or bad options.
    AoiError
        The AOI does not parse or does not overlap the images.
    """
    setup = core.prepare(images, geobox, aoi)
    ref = core.resolve_reference(reference, setup.names)
    cap = core.feather_cap(feather_distance, feather_unit, setup.geobox)
    shrink = core.auto_shrink(setup, distance_shrink)
    lazy_masks = [core.shrunk_valid(a, shrink) for a in setup.arrays]
    n = len(setup.arrays)
    extra_shape = tuple(setup.arrays[0].shape[:-2])
    if harmonise and gains is None:
        masks, (totals, pairs) = dask.compute(lazy_masks, core.statistics(setup))
        gain_values = core.gains_array(setup, totals, pairs, ref).values
    else:
        (masks,) = dask.compute(lazy_masks)
        gain_values = np.ones((n, *extra_shape))
        if harmonise and gains is not None:
            gain_values = _given_gains(gains, (n, *extra_shape))
    places = core.with_distances(setup, shrink, masks)
    embedded = [core.embed(setup, a, p) for a, p in zip(setup.arrays, places, strict=True)]
    used = [(i, e) for i, e in enumerate(embedded) if e is not None]
    if not used:
        raise ParameterError("no image overlaps the output grid (geobox / aoi).")
    data = da.map_blocks(
        core.blend_block,
        *(e for _, e in used),
        places=[places[i] for i, _ in used],
        gains=[gain_values[i] for i, _ in used],
        cap=cap,
        aoi=setup.aoi,
        affine=setup.geobox.affine,
        out_dtype=setup.dtype,
        dtype=setup.dtype,
        meta=np.empty((0,) * (len(extra_shape) + 2), dtype=setup.dtype),
    )
    names = {name for name in setup.names}
    result = xr.DataArray(
        data,
        dims=(*setup.extra_dims, *SPATIAL_DIMS),
        coords={**setup.extra_coords, **xr_coords(setup.geobox, dims=SPATIAL_DIMS)},
        name=names.pop() if len(names) == 1 else "mosaic",
    )
    return result.assign_attrs({"long_name": "mosaic", "units": "m2 m-2", **setup.attrs})


def feather_weights(
    images: Sequence[xr.DataArray],
    *,
    geobox: GeoBox | None = None,
    feather_distance: float | None = None,
    feather_unit: FeatherUnit = "pixel",
    distance_shrink: int | None = None,
) -> xr.DataArray:
    """Feathering weight of every image on the output grid, as :func:`mosaic` uses it.

    Returns
    -------
    xarray.DataArray
        Lazy float32 weights, dims ``("image", "y", "x")``; 0 where an image is not valid in
        every band.
    """
    setup = core.prepare(images, geobox, None)
    cap = core.feather_cap(feather_distance, feather_unit, setup.geobox)
    shrink = core.auto_shrink(setup, distance_shrink)
    (masks,) = dask.compute([core.shrunk_valid(a, shrink) for a in setup.arrays])
    places = core.with_distances(setup, shrink, masks)
    layers = []
    for array, place in zip(setup.arrays, places, strict=True):
        valid = da.isfinite(array)
        if array.ndim > 2:
            valid = valid.all(axis=tuple(range(array.ndim - 2)))
        embedded = core.embed(setup, da.where(valid, 1.0, np.nan), place)
        if embedded is None:
            embedded = da.full(setup.geobox.shape, np.nan, chunks=setup.chunks[-2:])
        layers.append(
            da.map_blocks(
                core.weight_block,
                embedded,
                place=place,
                cap=cap,
                dtype=np.float32,
                meta=np.empty((0, 0), dtype=np.float32),
            )
        )
    out = xr.DataArray(
        da.stack(layers),
        dims=("image", *SPATIAL_DIMS),
        coords={"image": np.arange(len(layers)), **xr_coords(setup.geobox, dims=SPATIAL_DIMS)},
        name="feather_weight",
    )
    return out.assign_attrs(long_name="feathering weight", units="1")


@dataclass(frozen=True)
class DateGroup:
    """Acquisitions of several tracks mosaicked together (one date of a time-series mosaic)."""

    start: dt.datetime
    """Earliest acquisition of the group (naive UTC)."""
    end: dt.datetime
    """Latest acquisition of the group (naive UTC)."""
    members: tuple[tuple[str, int], ...]
    """``(track, index)``: index into that track's sequence of acquisitions, by track order."""

    @property
    def tracks(self) -> tuple[str, ...]:
        """Tracks present in the group."""
        return tuple(track for track, _ in self.members)

    @property
    def label(self) -> str:
        """OST's date part of a mosaic name: ``YYMMDD`` or ``YYMMDD-YYMMDD`` (§5.1)."""
        first, last = self.start.strftime("%y%m%d"), self.end.strftime("%y%m%d")
        return first if first == last else f"{first}-{last}"


def _timestamp(value: DateLike, where: str) -> dt.datetime:
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise ParameterError(f"{where}={value!r} is not a date or time.") from exc
    if pd.isna(stamp):
        raise ParameterError(f"{where} is missing (NaT); give every acquisition time.")
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    result: dt.datetime = stamp.to_pydatetime()
    return result


def pair_by_date_window(
    acquisitions: Mapping[str, Sequence[DateLike]],
    window_days: float,
    *,
    require_all: bool = False,
) -> list[DateGroup]:
    """Group the acquisitions of several tracks into time windows, for time-series mosaics.

    OST mosaicked the i-th acquisition of every track together (``OST_SPEC.md`` §5.1), which
    assumes equally long, already paired series.  Here groups are formed in time order: a group
    starts at the earliest acquisition not yet used and takes, from every track, its earliest
    unused acquisition at most ``window_days`` later (at most one per track).

    Parameters
    ----------
    acquisitions
        Acquisition times per track (any order; dates, datetimes, ``datetime64``, ISO strings;
        aware times are converted to UTC).
    window_days
        Longest time span of one group, in days (e.g. 6 for a 12-day repeat and two tracks).
    require_all
        Keep only groups in which every track is present (complete coverage).

    Returns
    -------
    list[DateGroup]
        Groups in time order.

    Examples
    --------
    >>> groups = pair_by_date_window(
    ...     {"117": ["2020-01-01", "2020-01-13"], "44": ["2020-01-03", "2020-01-15"]}, 6
    ... )
    >>> [(g.label, g.members) for g in groups]
    [('200101-200103', (('117', 0), ('44', 0))), ('200113-200115', (('117', 1), ('44', 1)))]
    """
    if not (isinstance(window_days, int | float) and math.isfinite(window_days)) or (
        window_days < 0
    ):
        raise ParameterError(f"window_days={window_days!r} must be a number of days >= 0.")
    window = dt.timedelta(days=float(window_days))
    queues: dict[str, list[tuple[dt.datetime, int]]] = {}
    for track, dates in acquisitions.items():
        if isinstance(dates, str):
            raise ParameterError(f"acquisitions[{track!r}] must be a sequence of dates.")
        stamps = [_timestamp(d, f"acquisitions[{track!r}][{k}]") for k, d in enumerate(dates)]
        queues[track] = sorted((s, k) for k, s in enumerate(stamps))
    heads = dict.fromkeys(queues, 0)
    groups = []
    while any(heads[t] < len(q) for t, q in queues.items()):
        start = min(q[heads[t]][0] for t, q in queues.items() if heads[t] < len(q))
        members = []
        for track, queue in queues.items():
            if heads[track] < len(queue) and queue[heads[track]][0] - start <= window:
                members.append((track, queue[heads[track]]))
                heads[track] += 1
        times = [stamp for _, (stamp, _) in members]
        groups.append(DateGroup(start, max(times), tuple((t, k) for t, (_, k) in members)))
    if require_all:
        kept = [g for g in groups if len(g.members) == len(queues)]
        LOGGER.info("%d of %d date groups cover every track", len(kept), len(groups))
        groups = kept
    return groups


def mosaic_timeseries(
    cubes: Mapping[str, xr.DataArray],
    *,
    window_days: float,
    require_all: bool = False,
    dim: str = "t",
    aoi: AoiLike | None = None,
    **options: Any,
) -> xr.DataArray:
    """Time-series mosaic: one :func:`mosaic` per group of :func:`pair_by_date_window`.

    Parameters
    ----------
    cubes
        Time series per track, linear power, dims ``(dim, ..., "y", "x")`` with datetime64
        coordinate ``dim``, all on one aligned grid.
    window_days, require_all
        Grouping of the dates (:func:`pair_by_date_window`).
    dim
        Time dimension.
    aoi
        Area of interest, as in :func:`mosaic`.
    **options
        Further keywords of :func:`mosaic` (``harmonise``, ``feather_distance``, ...).

    Returns
    -------
    xarray.DataArray
        Dims ``(dim, ..., "y", "x")`` on the union grid of all cubes; ``dim`` holds each group's
        start, coordinates ``start_datetime`` and ``end_datetime`` its time span.
    """
    if not cubes:
        raise ParameterError("cubes is empty; give at least one time series.")
    for track, cube in cubes.items():
        if dim not in cube.dims:
            raise ParameterError(f"cubes[{track!r}] has dims {cube.dims}, no {dim!r} dimension.")
    groups = pair_by_date_window(
        {t: list(c[dim].values) for t, c in cubes.items()}, window_days, require_all=require_all
    )
    if not groups:
        raise ParameterError(f"no date group covers every track within {window_days} days.")
    firsts = [c.isel({dim: 0}, drop=True) for c in cubes.values()]
    grid = core.prepare(firsts, options.pop("geobox", None), aoi).geobox
    layers = [
        mosaic(
            [cubes[t].isel({dim: k}, drop=True) for t, k in g.members],
            geobox=grid,
            aoi=aoi,
            **options,
        )
        for g in groups
    ]
    starts = pd.DatetimeIndex([g.start for g in groups], name=dim)
    out = xr.concat(layers, dim=starts, coords="minimal", compat="override")
    return out.assign_coords(
        start_datetime=(dim, starts.values),
        end_datetime=(dim, pd.DatetimeIndex([g.end for g in groups]).values),
    )
