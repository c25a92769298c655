"""Search refinement of a Sentinel-1 GRD inventory: duplicates, tracks, acquisitions, coverage.

Re-implements the Open SAR Toolkit inventory refinement (``ost/s1/refine_inventory.py``
``search_refinement`` and ``ost/s1/grd_batch.py`` acquisition grouping, described in
``OST_SPEC.md`` §2.1, §7.2 and §7.3) as pure functions on the GeoDataFrame built by
:func:`s1stac.inventory.items_to_geodataframe`, with the OST defects fixed:

* reprocessed duplicates keep the newest *processing time* of the product (OST keeps the newest
  catalogue ingestion date);
* the AOI filter is an inner join (OST HEAD's left join removes nothing);
* marginal tracks are removed cumulatively (OST HEAD only removes the last one found);
* acquisitions are the consecutive slices of one datatake (OST groups frames by the UTC date
  of their start, which splits datatakes crossing midnight and merges non-consecutive frames);
* areas are measured on the ground in an equal-area projection and ``area_reduce`` is a
  *fraction of the AOI area* (OST uses square degrees, whose ground size depends on latitude);
* ascending passes crossing the equator keep one track number whatever the inventory holds
  (see the ``track`` column of :func:`s1stac.inventory.items_to_geodataframe`).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Iterable, Sequence
from typing import Literal, TypeAlias

import geopandas as gpd
import pandas as pd
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry

from s1stac.aoi import equal_area_crs, to_equal_area
from s1stac.errors import ParameterError

log = logging.getLogger(__name__)

MAX_SLICE_GAP_S = 2.0
"""Largest time gap (seconds) between the end of a slice and the start of the next one."""
CoverageGroup: TypeAlias = Literal["acquisition", "track", "key", "item"]
DUPLICATE_TOLERANCE_S = 1.0
"""Start and stop times of two processings of one acquisition differ by less than this."""


@dataclasses.dataclass(frozen=True)
class Acquisition:
    """Consecutive slices of one datatake on one track: what slice assembly joins into one scene."""

    acquisition_id: str
    """``{mission}_{track:03d}_{start:%Y%m%dT%H%M%S}``, e.g. ``S1A_117_20150222T170725``."""
    platform: str
    """STAC platform, e.g. ``sentinel-1a``."""
    orbit_direction: str
    """``ASCENDING`` or ``DESCENDING``."""
    track: int
    """Relative orbit of the pass (the equator-crossing-consistent ``track`` column)."""
    pol_key: str
    """Polarisation mode without spaces, e.g. ``VVVH``."""
    datatake_id: int | None
    start: pd.Timestamp
    end: pd.Timestamp
    item_ids: tuple[str, ...]
    """Item ids ordered along the flight direction (slice number, then start time)."""
    slice_numbers: tuple[int | None, ...]
    footprint: BaseGeometry
    """Union of the slice footprints (EPSG:4326)."""
    segment: int = 1
    """1, 2, ... when one datatake had to be split at a gap (non-consecutive slices)."""

    @property
    def key(self) -> str:
        """Track group key, e.g. ``ASCENDING_VVVH``."""
        return f"{self.orbit_direction}_{self.pol_key}"

    @property
    def date(self) -> str:
        """UTC date of the first slice, ``YYYYMMDD``."""
        return self.start.strftime("%Y%m%d")


@dataclasses.dataclass(frozen=True)
class MosaicWindow:
    """A time window whose acquisitions of several tracks cover the whole AOI (OST §7.2 step 8)."""

    start: pd.Timestamp
    end: pd.Timestamp
    acquisition_ids: tuple[str, ...]
    """Acquisitions kept by the backward search: the latest one of each track needed."""


@dataclasses.dataclass(frozen=True, eq=False)
class RefinedInventory:
    """Result of :func:`refine`, per track group key (``ASCENDING_VVVH``, ``DESCENDING_HH``...)."""

    groups: dict[str, gpd.GeoDataFrame]
    """Items kept, per key."""
    acquisitions: dict[str, tuple[Acquisition, ...]]
    """Acquisitions kept, per key, in time order."""
    coverage: dict[str, float]
    """Fraction of the AOI covered by the union of the items kept (NaN without AOI)."""
    removed: dict[str, str]
    """Why each item that was dropped was dropped, by item id."""
    skipped: dict[str, str]
    """Keys dropped entirely, with the reason."""
    mosaics: dict[str, tuple[MosaicWindow, ...]]
    """Full-coverage time windows per key (empty unless ``mosaic_refine``)."""


def mission_of(platform: str) -> str:
    """``sentinel-1a`` -> ``S1A``."""
    return "S1" + platform.strip()[-1].upper()


def find_duplicates(gdf: gpd.GeoDataFrame) -> dict[str, str]:
    """Find reprocessed duplicates of one acquisition.

    Two items are processings of the same acquisition when platform, instrument mode, product
    type, polarisation mode, absolute orbit, datatake id and slice number are equal and their
    start and stop times differ by less than :data:`DUPLICATE_TOLERANCE_S` (a reprocessing
    shifts them by fractions of a second, as the product name's first 63 characters that OST
    compares).

    Returns
    -------
    dict
        ``{dropped item id: kept item id}``; the kept item has the newest ``processing_time``
        (items without one lose; ties keep the greatest id).
    """
    dropped: dict[str, str] = {}
    keys = ["platform", "instrument_mode", "product_type", "pol_key", "absolute_orbit"]
    # NOTE: consecutive slices of one datatake are never duplicates of each other, however
    # close their times (short slices exist), so the slice number is part of the key.
    frame = gdf.assign(_dt=gdf["datatake_id"].fillna(-1), _slice=gdf["slice_number"].fillna(-1))
    tolerance = pd.Timedelta(seconds=DUPLICATE_TOLERANCE_S)
    for _, group in frame.groupby([*keys, "_dt", "_slice"], dropna=False, sort=False):
        if len(group) < 2:
            continue
        clusters: list[list[pd.Series]] = []
        for _, row in group.sort_values("start").iterrows():
            for cluster in clusters:
                first = cluster[0]
                if (
                    abs(row["start"] - first["start"]) < tolerance
                    and abs(row["end"] - first["end"]) < tolerance
                ):
                    cluster.append(row)
                    break
            else:
                clusters.append([row])
        for cluster in clusters:
            if len(cluster) < 2:
                continue
            ranked = sorted(
                cluster,
                key=lambda r: (
                    pd.notna(r["processing_time"]),
                    r["processing_time"] if pd.notna(r["processing_time"]) else pd.Timestamp(0),
                    r["id"],
                ),
            )
            keep = ranked[-1]
            for row in ranked[:-1]:
                dropped[row["id"]] = keep["id"]
    return dropped


def drop_duplicates(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Drop reprocessed duplicates of one acquisition, keeping the newest processing.

    See :func:`find_duplicates` for what counts as the same acquisition.  OST
    (``_remove_double_entries``) keeps the newest *ingestion date* of the catalogue, which is
    not a property of the product and is absent from local files.
    """
    dropped = find_duplicates(gdf)
    for old, new in dropped.items():
        log.info("duplicate %s dropped: %s is a newer processing of it", old, new)
    return gdf[~gdf["id"].isin(list(dropped))]


def group_tracks(gdf: gpd.GeoDataFrame) -> dict[str, gpd.GeoDataFrame]:
    """Split an inventory by orbit direction and polarisation mode.

    Returns
    -------
    dict
        ``{"ASCENDING_VVVH": frame, "DESCENDING_VV": frame, ...}`` (OST's mosaic keys), keys
        sorted, each frame sorted by start time.
    """
    keys = gdf["orbit_direction"].astype(str) + "_" + gdf["pol_key"].astype(str)
    return {
        str(key): gdf[keys == key].sort_values(["start", "id"]) for key in sorted(keys.unique())
    }


def group_acquisitions(gdf: gpd.GeoDataFrame) -> list[Acquisition]:
    """Group items into acquisitions: consecutive slices of one datatake on one track.

    Items are grouped by platform, orbit direction, polarisation mode, track and datatake id
    (not by UTC date: a datatake crossing midnight stays one acquisition), ordered by slice
    number and start time, and split where slices are not consecutive: a jump in slice numbers,
    a time gap larger than :data:`MAX_SLICE_GAP_S` between the end of one slice and the start of
    the next, or overlapping slices (duplicates: run :func:`drop_duplicates` first).  Every
    split is logged as a warning; the parts get ``segment`` 1, 2, ...

    Returns
    -------
    list of Acquisition
        Sorted by start time.
    """
    acquisitions: list[Acquisition] = []
    frame = gdf.assign(_dt=gdf["datatake_id"].fillna(-1))
    keys = ["platform", "orbit_direction", "pol_key", "track", "_dt"]
    for _, group in frame.groupby(keys, sort=False):
        ordered = group.sort_values(["slice_number", "start", "id"], na_position="last")
        if ordered["slice_number"].isna().any():
            ordered = group.sort_values(["start", "id"])
        segments: list[list[pd.Series]] = [[]]
        for _, row in ordered.iterrows():
            current = segments[-1]
            if current:
                reason = _break_reason(current[-1], row)
                if reason:
                    log.warning(
                        "datatake %s of %s split before %s: %s (slice assembly needs "
                        "consecutive slices)",
                        row["datatake_id"],
                        row["platform"],
                        row["id"],
                        reason,
                    )
                    segments.append([])
            segments[-1].append(row)
        for number, rows in enumerate(segments, start=1):
            acquisitions.append(_acquisition(rows, number if len(segments) > 1 else 1))
    return sorted(acquisitions, key=lambda a: (a.start, a.acquisition_id))


def _break_reason(previous: pd.Series, row: pd.Series) -> str | None:
    a, b = previous["slice_number"], row["slice_number"]
    if pd.notna(a) and pd.notna(b) and int(b) != int(a) + 1:
        return f"slice {int(a)} is followed by slice {int(b)}"
    gap = (row["start"] - previous["end"]).total_seconds()
    if gap > MAX_SLICE_GAP_S:
        return f"{gap:.1f} s gap after {previous['id']}"
    overlap = (previous["end"] - row["start"]).total_seconds()
    if overlap > 0.5 * (row["end"] - row["start"]).total_seconds():
        return f"overlaps {previous['id']} (duplicate? use drop_duplicates first)"
    return None


def _acquisition(rows: Sequence[pd.Series], segment: int) -> Acquisition:
    first = rows[0]
    start = min(r["start"] for r in rows)
    datatake = first["datatake_id"]
    return Acquisition(
        acquisition_id=f"{mission_of(first['platform'])}_{int(first['track']):03d}_"
        f"{start:%Y%m%dT%H%M%S}",
        platform=str(first["platform"]),
        orbit_direction=str(first["orbit_direction"]),
        track=int(first["track"]),
        pol_key=str(first["pol_key"]),
        datatake_id=None if pd.isna(datatake) else int(datatake),
        start=start,
        end=max(r["end"] for r in rows),
        item_ids=tuple(str(r["id"]) for r in rows),
        slice_numbers=tuple(
            None if pd.isna(r["slice_number"]) else int(r["slice_number"]) for r in rows
        ),
        footprint=shapely.union_all([r.geometry for r in rows]),
        segment=segment,
    )


class _Coverage:
    """Fractions of one AOI covered by unions of footprints, areas on an equal-area plane."""

    def __init__(self, aoi: BaseGeometry, gdf: gpd.GeoDataFrame) -> None:
        self.crs: pyproj.CRS = equal_area_crs(aoi)
        self.aoi = to_equal_area(aoi, self.crs)
        self.area = self.aoi.area
        self.projected = {
            str(i): to_equal_area(g, self.crs) for i, g in zip(gdf["id"], gdf.geometry, strict=True)
        }

    def fraction(self, ids: Iterable[str]) -> float:
        shapes = [self.projected[i] for i in ids]
        if not shapes:
            return 0.0
        return float(shapely.union_all(shapes).intersection(self.aoi).area / self.area)


def coverage(
    gdf: gpd.GeoDataFrame, aoi: BaseGeometry, *, by: CoverageGroup = "acquisition"
) -> pd.Series:
    """Fraction of the AOI area covered by the union of the footprints of each group.

    Parameters
    ----------
    gdf
        Inventory (see :func:`s1stac.inventory.items_to_geodataframe`).
    aoi
        Area of interest in EPSG:4326 (see :func:`s1stac.aoi.read_aoi`).
    by
        ``"acquisition"`` (index: acquisition ids of :func:`group_acquisitions`), ``"track"``
        (index ``ASCENDING_117``...), ``"key"`` (index ``ASCENDING_VVVH``...) or ``"item"``.

    Returns
    -------
    pandas.Series
        Fractions in [0, 1], areas measured in a Lambert azimuthal equal-area projection
        centred on the AOI.
    """
    cover = _Coverage(aoi, gdf)
    if by == "acquisition":
        groups = {a.acquisition_id: a.item_ids for a in group_acquisitions(gdf)}
    elif by == "item":
        groups = {str(i): (str(i),) for i in gdf["id"]}
    elif by in ("track", "key"):
        labels = (
            gdf["orbit_direction"].astype(str)
            + "_"
            + (gdf["track"].map("{:03d}".format) if by == "track" else gdf["pol_key"].astype(str))
        )
        groups = {str(k): tuple(gdf["id"][labels == k]) for k in sorted(labels.unique())}
    else:
        raise ParameterError(
            f"coverage: invalid by={by!r}; use 'acquisition', 'track', 'key' or 'item'"
        )
    return pd.Series(
        {k: cover.fraction(v) for k, v in groups.items()}, name="coverage", dtype=float
    )


def refine(
    gdf: gpd.GeoDataFrame,
    aoi: BaseGeometry | None,
    *,
    area_reduce: float = 0.05,
    exclude_marginal: bool = True,
    full_aoi_crossing: bool = True,
    complete_coverage: bool = True,
    mosaic_refine: bool = False,
) -> RefinedInventory:
    """Refine an inventory as OST's ``search_refinement`` (``OST_SPEC.md`` §7.2), bugs fixed.

    Steps: drop reprocessed duplicates; keep items touching the AOI; then per key
    (``ASCENDING_VVVH``...): skip the key if all its items cover less than
    ``1 - area_reduce`` of the AOI (``complete_coverage``); remove marginal tracks, i.e. tracks
    without which the other tracks still cover ``1 - area_reduce`` of the AOI, least covering
    first and cumulatively (``exclude_marginal``); keep only acquisitions covering at least the
    track's coverage minus ``area_reduce`` (``full_aoi_crossing``); optionally keep only the
    acquisitions of full-coverage time windows (``mosaic_refine``, OST's forward and backward
    search).  Acquisitions are datatake-based (:func:`group_acquisitions`), so OST's
    non-continuous swath renaming (``117.1``, ``117.2``) becomes acquisition segments.

    Parameters
    ----------
    gdf
        Inventory (see :func:`s1stac.inventory.items_to_geodataframe`).
    aoi
        Area of interest (EPSG:4326) or ``None``: without AOI only duplicates are dropped and
        items grouped.
    area_reduce
        Tolerated uncovered part, as a **fraction of the AOI area** (OST: square degrees).
    exclude_marginal, full_aoi_crossing, complete_coverage, mosaic_refine
        Switch the steps above on or off (OST defaults, except ``mosaic_refine`` which OST
        switches on and which drops every acquisition outside the full-coverage windows).

    Returns
    -------
    RefinedInventory
    """
    if not 0.0 <= area_reduce < 1.0:
        raise ParameterError(f"area_reduce={area_reduce} must be a fraction of the AOI in [0, 1)")
    removed: dict[str, str] = {
        old: f"duplicate of the newer processing {new}" for old, new in find_duplicates(gdf).items()
    }
    frame = gdf[~gdf["id"].isin(list(removed))]
    if aoi is not None:
        outside = frame[~frame.geometry.intersects(aoi)]
        removed.update({str(i): "does not touch the AOI" for i in outside["id"]})
        frame = frame[frame.geometry.intersects(aoi)]
    cover = _Coverage(aoi, frame) if aoi is not None else None
    result = RefinedInventory({}, {}, {}, removed, {}, {})
    for key, sub in group_tracks(frame).items():
        _refine_key(
            key,
            sub,
            cover,
            result,
            area_reduce=area_reduce,
            exclude_marginal=exclude_marginal,
            full_aoi_crossing=full_aoi_crossing,
            complete_coverage=complete_coverage,
            mosaic_refine=mosaic_refine,
        )
    return result


def _refine_key(
    key: str,
    sub: gpd.GeoDataFrame,
    cover: _Coverage | None,
    result: RefinedInventory,
    *,
    area_reduce: float,
    exclude_marginal: bool,
    full_aoi_crossing: bool,
    complete_coverage: bool,
    mosaic_refine: bool,
) -> None:
    def drop(ids: Iterable[str], reason: str) -> None:
        result.removed.update({i: reason for i in ids})

    need = 1.0 - area_reduce
    ids = [str(i) for i in sub["id"]]
    if cover is not None and complete_coverage:
        total = cover.fraction(ids)
        if total < need:
            reason = f"{key} covers {total:.1%} of the AOI only (< {need:.0%}, complete_coverage)"
            log.warning("%s: skipped", reason)
            result.skipped[key] = reason
            drop(ids, reason)
            return
    if cover is not None and exclude_marginal:
        tracks = {
            int(t): [str(i) for i in sub["id"][sub["track"] == t]] for t in sub["track"].unique()
        }
        for track in sorted(tracks, key=lambda t: (cover.fraction(tracks[t]), t)):
            others = [i for t, members in tracks.items() if t != track for i in members]
            if len(tracks) > 1 and cover.fraction(others) >= need:
                reason = f"marginal track {track} of {key}: the other tracks cover the AOI"
                log.info("%s", reason)
                drop(tracks.pop(track), reason)
        sub = sub[sub["track"].isin(list(tracks))]
    acquisitions = group_acquisitions(sub)
    if cover is not None and full_aoi_crossing:
        track_cover = {
            t: cover.fraction(sub["id"][sub["track"] == t]) for t in sub["track"].unique()
        }
        kept = []
        for acq in acquisitions:
            own = cover.fraction(acq.item_ids)
            if own >= track_cover[acq.track] - area_reduce:
                kept.append(acq)
            else:
                drop(
                    acq.item_ids,
                    f"acquisition {acq.acquisition_id} covers {own:.1%} of the "
                    f"AOI, its track {track_cover[acq.track]:.1%} (full_aoi_crossing)",
                )
        acquisitions = kept
    windows: tuple[MosaicWindow, ...] = ()
    if cover is not None and mosaic_refine:
        windows = _mosaic_windows(acquisitions, cover, area_reduce)
        chosen = {a for w in windows for a in w.acquisition_ids}
        for acq in acquisitions:
            if acq.acquisition_id not in chosen:
                drop(
                    acq.item_ids,
                    f"acquisition {acq.acquisition_id} not needed by any "
                    "full-coverage mosaic window (mosaic_refine)",
                )
        acquisitions = [a for a in acquisitions if a.acquisition_id in chosen]
    kept_ids = [i for a in acquisitions for i in a.item_ids]
    result.groups[key] = sub[sub["id"].isin(kept_ids)]
    result.acquisitions[key] = tuple(acquisitions)
    result.coverage[key] = cover.fraction(kept_ids) if cover is not None else math.nan
    result.mosaics[key] = windows


def _mosaic_windows(
    acquisitions: Sequence[Acquisition], cover: _Coverage, area_reduce: float
) -> tuple[MosaicWindow, ...]:
    """OST's forward and backward search (``_forward_search``/``_backward_search``).

    Forward: walk the acquisitions in time, uniting footprints, and close a window as soon as
    the union covers ``1 - area_reduce`` of the AOI.  Backward: within each window, walk back in
    time taking the latest acquisition of each track until the AOI is covered, which keeps the
    time spread of one mosaic minimal.  Acquisitions after the last complete window are left out.
    """
    need = 1.0 - area_reduce
    windows: list[MosaicWindow] = []
    pending: list[Acquisition] = []
    for acq in sorted(acquisitions, key=lambda a: a.start):
        pending.append(acq)
        if cover.fraction([i for a in pending for i in a.item_ids]) < need:
            continue
        chosen: list[Acquisition] = []
        for candidate in sorted(pending, key=lambda a: a.start, reverse=True):
            if any(c.track == candidate.track for c in chosen):
                continue
            chosen.append(candidate)
            if cover.fraction([i for a in chosen for i in a.item_ids]) >= need:
                break
        windows.append(
            MosaicWindow(
                start=pending[0].start,
                end=pending[-1].end,
                acquisition_ids=tuple(
                    a.acquisition_id for a in sorted(chosen, key=lambda a: a.start)
                ),
            )
        )
        pending = []
    if pending:
        log.info("%d acquisition(s) after the last full-coverage window left out", len(pending))
    return tuple(windows)
