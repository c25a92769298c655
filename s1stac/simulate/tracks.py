"""Tracks of the simulation: which relative orbits see a point, and their acquisition orbits.

Reference: Sentinel-1 mission description (12-day repeat, 175 relative orbits; IW incidence
29.1 to 46.0 degrees), https://sentiwiki.copernicus.eu/web/s1-mission.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from s1stac.errors import AoiError, ParameterError
from s1stac.simulate import orbit
from s1stac.simulate.radar import IW_INCIDENCE_RANGE
from s1stac.types import OrbitDirection

_MID_INCIDENCE = 37.5


@dataclass(frozen=True)
class TrackSpec:
    """A track: pass direction and relative orbit number (1 to 175)."""

    direction: OrbitDirection
    relative_orbit: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "direction", OrbitDirection(str(self.direction).upper()))
        if not 1 <= int(self.relative_orbit) <= orbit.ORBITS_PER_CYCLE:
            raise ParameterError(f"relative_orbit={self.relative_orbit} must be within 1..175")

    @property
    def label(self) -> str:
        return f"{self.direction.value.lower()}_{self.relative_orbit:03d}"


def parse_tracks(text: str | None) -> tuple[TrackSpec, ...] | None:
    """Tracks from ``"ASCENDING:117,DESCENDING:95"``; ``None``, ``""`` or ``"auto"``: choose."""
    if text is None or text.strip().lower() in ("", "auto"):
        return None
    specs = []
    for item in text.split(","):
        direction, _, number = item.strip().partition(":")
        try:
            specs.append(TrackSpec(OrbitDirection(direction.strip().upper()), int(number)))
        except ValueError as error:
            raise ParameterError(
                f"track {item.strip()!r} is not DIRECTION:RELATIVE_ORBIT, e.g. ASCENDING:117"
            ) from error
    return tuple(specs)


def to_day(value: str | dt.date | dt.datetime | np.datetime64, name: str) -> np.datetime64:
    try:
        return np.datetime64(value, "D").astype("datetime64[ns]")
    except (ValueError, TypeError) as error:
        raise ParameterError(f"{name}={value!r} is not a date (YYYY-MM-DD)") from error


def visible_passes(centre: tuple[float, float]) -> list[orbit.Pass]:
    low, high = IW_INCIDENCE_RANGE
    return [
        p
        for p in orbit.passes(*centre)
        if p.right_looking and low + 0.5 <= p.incidence_angle <= high - 0.5
    ]


def choose_passes(
    tracks: Sequence[TrackSpec] | None, centre: tuple[float, float]
) -> list[orbit.Pass]:
    visible = visible_passes(centre)
    if not visible:
        raise AoiError(f"no Sentinel-1 track sees aoi_center={centre} at IW incidence angles")
    if tracks is None:
        chosen = []
        for direction in OrbitDirection:
            candidates = [p for p in visible if p.direction == direction]
            if candidates:
                chosen.append(
                    min(candidates, key=lambda p: abs(p.incidence_angle - _MID_INCIDENCE))
                )
        return chosen
    chosen = []
    for track in tracks:
        match = [
            p
            for p in visible
            if (p.direction, p.relative_orbit) == (track.direction, track.relative_orbit)
        ]
        if not match:
            names = ", ".join(
                f"{p.direction.value}:{p.relative_orbit} ({p.incidence_angle:.1f} deg)"
                for p in visible
            )
            raise AoiError(
                f"track {track.direction.value}:{track.relative_orbit} does not see "
                f"aoi_center={centre} in the IW swath; tracks that do: {names}"
            )
        chosen.extend(match)
    return chosen


def acquisition_orbits(
    pass_: orbit.Pass, dates: int | Sequence[str | dt.date | np.datetime64], start: np.datetime64
) -> list[orbit.CircularOrbit]:
    if isinstance(dates, int):
        if dates < 1:
            raise ParameterError(f"dates={dates} must be at least 1")
        first = orbit.next_orbit(pass_.relative_orbit, pass_.direction, pass_.tau, start)
        return [
            orbit.orbit(first.absolute_orbit + orbit.ORBITS_PER_CYCLE * k) for k in range(dates)
        ]
    half_cycle = np.timedelta64(6 * 86400, "s")
    found = [
        orbit.next_orbit(
            pass_.relative_orbit, pass_.direction, pass_.tau, to_day(d, "dates") - half_cycle
        )
        for d in dates
    ]
    if len({o.absolute_orbit for o in found}) != len(found):
        raise ParameterError(
            f"dates={list(dates)} select one acquisition twice: keep them 12 days apart"
        )
    return sorted(found, key=lambda o: o.absolute_orbit)
