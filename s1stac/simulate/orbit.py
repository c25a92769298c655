"""Synthetic Sentinel-1A orbit: circular, sun-synchronous, 12-day repeat, in Earth-fixed WGS84.

The orbit follows the Sentinel-1 reference orbit (693 km altitude, 98.18 deg inclination,
175 orbits in 12 days, ascending node at 18:00 local solar time), simplified to a circle:
positions, velocities and accelerations are analytic, so state vectors and zero-Doppler times
are exact.  Absolute and relative orbit numbers follow the ESA convention for Sentinel-1A,
``relative = (absolute - 73) % 175 + 1``, anchored on absolute orbit 4739 (ascending node
2015-02-22T16:54:07.266587 UTC).

Reference: Sentinel-1 mission and orbit description,
https://sentiwiki.copernicus.eu/web/s1-mission (Orbit; Relative orbit numbering).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from s1stac.ellipsoid import WGS84_A, WGS84_F, geodetic_to_ecef
from s1stac.types import FloatArray, OrbitDirection, OrbitStateVectors

WGS84_E2 = WGS84_F * (2.0 - WGS84_F)

ALTITUDE = 693_000.0
ORBIT_RADIUS = WGS84_A + ALTITUDE
INCLINATION = math.radians(98.18)
REPEAT_DAYS = 12
ORBITS_PER_CYCLE = 175
NODAL_PERIOD = REPEAT_DAYS * 86400.0 / ORBITS_PER_CYCLE
MEAN_MOTION = 2.0 * math.pi / NODAL_PERIOD
# NOTE: a sun-synchronous orbit plane turns with the Sun, so the Earth turns under it once per
# solar day; this also makes the ground track repeat exactly after 175 orbits.
PLANE_ROTATION_RATE = 2.0 * math.pi / 86400.0
LOCAL_TIME_ASCENDING_NODE = 18.0

MISSION = "S1A"
REFERENCE_ABSOLUTE_ORBIT = 4739
REFERENCE_ANX = np.datetime64("2015-02-22T16:54:07.266587", "ns")
RELATIVE_ORBIT_OFFSET = 73

_NS = np.timedelta64(1, "ns")


def relative_orbit(absolute_orbit: int) -> int:
    """Relative orbit (track) number of a Sentinel-1A absolute orbit."""
    return (absolute_orbit - RELATIVE_ORBIT_OFFSET) % ORBITS_PER_CYCLE + 1


def seconds_between(start: np.datetime64, stop: np.datetime64) -> float:
    """``stop - start`` in seconds (float)."""
    return float((np.datetime64(stop, "ns") - np.datetime64(start, "ns")) / _NS) * 1e-9


def add_seconds(time: np.datetime64, seconds: float) -> np.datetime64:
    """``time + seconds``, rounded to the nanosecond."""
    return np.datetime64(time, "ns") + np.timedelta64(int(round(seconds * 1e9)), "ns")


@dataclass(frozen=True)
class CircularOrbit:
    """One revolution of the synthetic orbit, from its ascending node crossing."""

    absolute_orbit: int
    anx_time: np.datetime64
    """UTC time of the ascending node crossing (``ascendingNodeTime``)."""
    node_longitude: float
    """Earth-fixed longitude of the ascending node at ``anx_time``, radians."""

    @property
    def relative_orbit(self) -> int:
        return relative_orbit(self.absolute_orbit)

    @property
    def params(self) -> FloatArray:
        """Orbit parameters in the order the compiled kernels expect."""
        return np.array(
            [
                ORBIT_RADIUS,
                MEAN_MOTION,
                math.cos(INCLINATION),
                math.sin(INCLINATION),
                PLANE_ROTATION_RATE,
                self.node_longitude,
            ]
        )

    def state(self, tau: FloatArray | float) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Position, velocity and acceleration (ECEF, shape ``(..., 3)``) at ``tau`` s after ANX."""
        tau_arr = np.asarray(tau, dtype=np.float64)
        out = np.empty((*tau_arr.shape, 9))
        _state_many(tau_arr.ravel(), self.params, out.reshape(-1, 9))
        return out[..., 0:3], out[..., 3:6], out[..., 6:9]

    def time(self, tau: float) -> np.datetime64:
        """UTC time ``tau`` seconds after the ascending node."""
        return add_seconds(self.anx_time, tau)

    def tau(self, time: np.datetime64) -> float:
        """Seconds from the ascending node to ``time``."""
        return seconds_between(self.anx_time, time)

    def state_vectors(
        self, start: np.datetime64, stop: np.datetime64, *, step: float = 10.0
    ) -> OrbitStateVectors:
        """State vectors every ``step`` s on whole seconds, covering ``[start, stop]``."""
        first = np.datetime64(start, "s")
        count = int(math.ceil(seconds_between(first, stop) / step)) + 1
        times = first.astype("datetime64[ns]") + (
            np.arange(count) * np.timedelta64(int(step * 1e9), "ns")
        )
        taus = np.array([self.tau(t) for t in times])
        position, velocity, _ = self.state(taus)
        return OrbitStateVectors(time=times, position=position, velocity=velocity)


def orbit(absolute_orbit: int) -> CircularOrbit:
    """Return the synthetic orbit of a Sentinel-1A absolute orbit number."""
    offset = absolute_orbit - REFERENCE_ABSOLUTE_ORBIT
    anx = add_seconds(REFERENCE_ANX, offset * NODAL_PERIOD)
    day_start = anx.astype("datetime64[D]").astype("datetime64[ns]")
    utc_hours = seconds_between(day_start, anx) / 3600.0
    node_longitude = math.radians(((LOCAL_TIME_ASCENDING_NODE - utc_hours) * 15.0) % 360.0)
    return CircularOrbit(absolute_orbit, anx, node_longitude)


def ellipsoid_normal(lon_deg: FloatArray | float, lat_deg: FloatArray | float) -> FloatArray:
    """Return the unit outward normal of the WGS84 ellipsoid, shape ``(..., 3)``."""
    lon = np.radians(lon_deg)
    lat = np.radians(lat_deg)
    return np.stack(
        [np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat) * np.ones_like(lon)],
        axis=-1,
    )


@numba.njit(cache=True, nogil=True, inline="always")
def geodetic_ecef(
    lon: float, lat: float, h: float
) -> tuple[float, float, float]:  # pragma: no cover
    """ECEF of a geodetic point (compiled)."""
    la, lo = math.radians(lat), math.radians(lon)
    n = WGS84_A / math.sqrt(1.0 - WGS84_E2 * math.sin(la) ** 2)
    return (
        (n + h) * math.cos(la) * math.cos(lo),
        (n + h) * math.cos(la) * math.sin(lo),
        (n * (1.0 - WGS84_E2) + h) * math.sin(la),
    )


@numba.njit(cache=True, nogil=True)
def orbit_state(tau: float, params: FloatArray) -> tuple[float, ...]:  # pragma: no cover
    """Position, velocity, acceleration components at ``tau`` (compiled)."""
    radius, n, cos_i, sin_i, wr, lam = (
        params[0],
        params[1],
        params[2],
        params[3],
        params[4],
        params[5],
    )
    u = n * tau
    cu, su = math.cos(u), math.sin(u)
    qx, qy, qz = radius * cu, radius * su * cos_i, radius * su * sin_i
    dqx, dqy, dqz = -n * radius * su, n * radius * cu * cos_i, n * radius * cu * sin_i
    th = lam - wr * tau
    c, s = math.cos(th), math.sin(th)
    px, py, pz = c * qx - s * qy, s * qx + c * qy, qz
    rx, ry = c * dqx - s * dqy, s * dqx + c * dqy
    vx, vy, vz = rx + wr * py, ry - wr * px, dqz
    ax = -n * n * px + 2.0 * wr * ry - wr * wr * px
    ay = -n * n * py - 2.0 * wr * rx - wr * wr * py
    az = -n * n * pz
    return px, py, pz, vx, vy, vz, ax, ay, az


@numba.njit(cache=True, nogil=True)
def _state_many(tau: FloatArray, params: FloatArray, out: FloatArray) -> None:  # pragma: no cover
    for k in range(tau.shape[0]):
        state = orbit_state(tau[k], params)
        for j in range(9):
            out[k, j] = state[j]


@numba.njit(cache=True, nogil=True)
def zero_doppler(
    x: float, y: float, z: float, tau: float, params: FloatArray
) -> tuple[float, float]:  # pragma: no cover
    """Zero-Doppler time (s after ANX) and slant range of one ECEF point, by Newton steps."""
    rng = 0.0
    for _ in range(12):
        px, py, pz, vx, vy, vz, ax, ay, az = orbit_state(tau, params)
        dx, dy, dz = x - px, y - py, z - pz
        g = dx * vx + dy * vy + dz * vz
        dg = -(vx * vx + vy * vy + vz * vz) + dx * ax + dy * ay + dz * az
        step = g / dg
        tau -= step
        if abs(step) < 1e-10:
            break
    px, py, pz, vx, vy, vz, ax, ay, az = orbit_state(tau, params)
    rng = math.sqrt((x - px) ** 2 + (y - py) ** 2 + (z - pz) ** 2)
    return tau, rng


@numba.njit(cache=True, nogil=True)
def _zero_doppler_many(
    xyz: FloatArray, tau0: float, params: FloatArray, tau: FloatArray, rng: FloatArray
) -> None:  # pragma: no cover
    guess = tau0
    for k in range(xyz.shape[0]):
        tau[k], rng[k] = zero_doppler(xyz[k, 0], xyz[k, 1], xyz[k, 2], guess, params)
        guess = tau[k]


def zero_doppler_times(
    orbit_: CircularOrbit, xyz: FloatArray, tau0: float
) -> tuple[FloatArray, FloatArray]:
    """Zero-Doppler times (s after ANX) and slant ranges of ECEF points ``(..., 3)``."""
    flat = np.ascontiguousarray(xyz.reshape(-1, 3), dtype=np.float64)
    tau = np.empty(flat.shape[0])
    rng = np.empty(flat.shape[0])
    _zero_doppler_many(flat, float(tau0), orbit_.params, tau, rng)
    return tau.reshape(xyz.shape[:-1]), rng.reshape(xyz.shape[:-1])


@dataclass(frozen=True)
class Pass:
    """One pass of a relative orbit over a point: when and under which incidence it is seen."""

    direction: OrbitDirection
    relative_orbit: int
    tau: float
    """Zero-Doppler time of the point, seconds after the ascending node."""
    incidence_angle: float
    """Ellipsoid incidence angle at the point, degrees."""
    right_looking: bool


def passes(lon: float, lat: float, height: float = 0.0) -> list[Pass]:
    """List the ascending and descending passes of the 175 tracks over a point, with geometry.

    Each relative orbit passes a point once northbound and once southbound; both are returned
    with their incidence angle and whether the point is on the (right-looking) radar side.
    """
    target = geodetic_to_ecef(lon, lat, height)
    normal = ellipsoid_normal(lon, lat)
    geocentric = math.asin(target[2] / float(np.linalg.norm(target)))
    u0 = math.asin(max(-1.0, min(1.0, math.sin(geocentric) / math.sin(INCLINATION))))
    result = []
    for rel in range(1, ORBITS_PER_CYCLE + 1):
        orb = orbit(RELATIVE_ORBIT_OFFSET + rel - 1 + ORBITS_PER_CYCLE * 30)
        # NOTE: south of the equator the northbound pass comes just before the next ANX
        for direction, u in (
            (OrbitDirection.ASCENDING, u0 if u0 >= 0.0 else u0 + 2.0 * math.pi),
            (OrbitDirection.DESCENDING, math.pi - u0),
        ):
            tau, _ = zero_doppler_times(orb, target[None, :], u / MEAN_MOTION)
            position, velocity, _ = orb.state(tau[0])
            northward = float(velocity[2]) > 0.0
            if northward != (direction == OrbitDirection.ASCENDING) or not (
                0.0 <= tau[0] < NODAL_PERIOD
            ):
                continue  # Newton went to the other half of the orbit: no such pass
            look = target - position
            right = float(np.dot(look, np.cross(velocity, position))) > 0.0
            cos_inc = float(np.dot(-look, normal)) / float(np.linalg.norm(look))
            result.append(
                Pass(direction, rel, float(tau[0]), math.degrees(math.acos(cos_inc)), right)
            )
    return result


def next_orbit(
    relative: int, direction: OrbitDirection, tau: float, after: np.datetime64
) -> CircularOrbit:
    """Return the first orbit of a track whose pass (``tau`` after ANX) is at or after ``after``."""
    first = RELATIVE_ORBIT_OFFSET + relative - 1
    reference = orbit(first)
    cycles = math.ceil((seconds_between(reference.anx_time, after) - tau) / (REPEAT_DAYS * 86400.0))
    return orbit(first + ORBITS_PER_CYCLE * cycles)
