"""Radar geometry of a simulated GRD datatake: zero-Doppler timing, ground-range pixels, SRGR.

Lines are zero-Doppler azimuth times ``t = t0 + line * dt``; pixels are ground ranges measured
along the WGS84 ellipsoid (raised by the scene's reference height) from the near-range point,
``pixel = ground_range / 10 m``, as in ESA GRD products.  The slant/ground range conversion
polynomials (``coordinateConversionList``) are fitted to that ellipsoid, every second along
azimuth, in the ESA convention: ``ground_range = srgr(slant_range - sr0)`` and
``slant_range = grsr(ground_range - gr0)`` with ``gr0 = 0``.  One projection, fitted at the
scene centre, serves the whole datatake and is repeated in every record (ground ranges are exact
at the centre line and within 0.1 % elsewhere): whether a reader takes the nearest record or
interpolates between records, the image geometry is the same.

Reference: Sentinel-1 Product Specification S1-RS-MDA-52-7441 sections 6.2.2 (ground range
projection) and 6.3.1 (coordinateConversion), https://sentiwiki.copernicus.eu/web/s1-products
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from numpy.polynomial import Polynomial

from s1stac.ellipsoid import WGS84_A, WGS84_B, ecef_to_geodetic
from s1stac.errors import AoiError
from s1stac.simulate.orbit import CircularOrbit, ellipsoid_normal
from s1stac.types import FloatArray

SPEED_OF_LIGHT = 299_792_458.0
IW_INCIDENCE_RANGE = (29.1, 46.0)
"""Incidence angles (degrees) covered by the IW swath (IW1 near edge to IW3 far edge)."""
PIXEL_SPACING = 10.0
_TABLE_POINTS = 2001


def ground_points(
    orbit: CircularOrbit, tau: FloatArray, slant_range: FloatArray, height: float
) -> tuple[FloatArray, FloatArray]:
    """Right-looking zero-Doppler points at ``slant_range`` on the ellipsoid raised by ``height``.

    Returns the ECEF points ``(..., 3)`` and the sensor positions.  The raised ellipsoid has
    semi-axes ``a + h`` and ``b + h``.
    """
    tau, slant_range = np.broadcast_arrays(
        np.asarray(tau, dtype=np.float64), np.asarray(slant_range, dtype=np.float64)
    )
    position, velocity, _ = orbit.state(tau)
    nadir = -position / np.linalg.norm(position, axis=-1, keepdims=True)
    v_hat = velocity / np.linalg.norm(velocity, axis=-1, keepdims=True)
    e1 = nadir - np.sum(nadir * v_hat, axis=-1, keepdims=True) * v_hat
    e1 /= np.linalg.norm(e1, axis=-1, keepdims=True)
    e2 = np.cross(e1, v_hat)
    a2, b2 = (WGS84_A + height) ** 2, (WGS84_B + height) ** 2
    s_norm = np.linalg.norm(position, axis=-1)
    earth = WGS84_A + height - 10_000.0
    cos_beta = (s_norm**2 + slant_range**2 - earth**2) / (2.0 * s_norm * slant_range)
    beta = np.arccos(np.clip(cos_beta, -1.0, 1.0))
    r = slant_range[..., None]
    for _ in range(30):
        cb, sb = np.cos(beta)[..., None], np.sin(beta)[..., None]
        point = position + r * (cb * e1 + sb * e2)
        d_point = r * (-sb * e1 + cb * e2)
        f = (point[..., 0] ** 2 + point[..., 1] ** 2) / a2 + point[..., 2] ** 2 / b2 - 1.0
        df = 2.0 * (
            (point[..., 0] * d_point[..., 0] + point[..., 1] * d_point[..., 1]) / a2
            + point[..., 2] * d_point[..., 2] / b2
        )
        step = f / df
        beta = beta - step
        if np.all(np.abs(step) < 1e-13):
            break
    cb, sb = np.cos(beta)[..., None], np.sin(beta)[..., None]
    return position + r * (cb * e1 + sb * e2), position


def incidence_angle(point: FloatArray, sensor: FloatArray) -> FloatArray:
    """Incidence angle (degrees) at ``point`` w.r.t. the ellipsoid normal there."""
    lon, lat, _ = ecef_to_geodetic(point)
    look = sensor - point
    cos_inc = np.sum(look * ellipsoid_normal(lon, lat), axis=-1) / np.linalg.norm(look, axis=-1)
    return np.degrees(np.arccos(np.clip(cos_inc, -1.0, 1.0)))


def look_angle(point: FloatArray, sensor: FloatArray) -> FloatArray:
    """Off-nadir (elevation) angle at the sensor, degrees, from the geocentric nadir."""
    look = point - sensor
    cos_el = -np.sum(look * sensor, axis=-1) / (
        np.linalg.norm(look, axis=-1) * np.linalg.norm(sensor, axis=-1)
    )
    return np.degrees(np.arccos(np.clip(cos_el, -1.0, 1.0)))


def _arc_table(
    orbit: CircularOrbit, tau: float, r_start: float, r_stop: float, height: float
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Slant ranges, ground arc lengths from ``r_start`` and incidence angles along one line."""
    ranges = np.linspace(r_start, r_stop, _TABLE_POINTS)
    points, sensor = ground_points(orbit, np.full_like(ranges, tau), ranges, height)
    chords = np.linalg.norm(np.diff(points, axis=0), axis=-1)
    arc = np.concatenate([[0.0], np.cumsum(chords)])
    return ranges, arc, incidence_angle(points, sensor)


def _fit(x: FloatArray, y: FloatArray, tolerance: float, max_degree: int) -> FloatArray:
    """Power-series coefficients (in raw ``x``) of the lowest-degree fit within ``tolerance``."""
    for degree in range(4, max_degree + 1):
        coefficients = np.asarray(Polynomial.fit(x, y, degree).convert().coef, dtype=np.float64)
        residual = np.max(np.abs(np.polynomial.polynomial.polyval(x, coefficients) - y))
        if residual < tolerance:
            break
    return coefficients


@dataclass(frozen=True)
class RadarGeometry:
    """Image geometry of one datatake (or one slice of it) in radar coordinates."""

    orbit: CircularOrbit
    first_line_tau: float
    """Zero-Doppler time of line 0, seconds after the ascending node (whole microseconds)."""
    line_interval: float
    lines: int
    samples: int
    near_range: float
    """Slant range of pixel 0 (``sr0``), metres."""
    conversion_tau: FloatArray
    srgr: FloatArray
    """``(k, n)``: ground range = sum(srgr[k, i] * (slant_range - near_range) ** i)."""
    grsr: FloatArray
    """``(k, n)``: slant range = sum(grsr[k, i] * ground_range ** i)."""
    reference_height: float
    heading: float
    """Platform heading at the scene centre, degrees from north."""
    first_line_offset: int = 0
    """Line of this geometry's line 0 in the datatake (non-zero for the second slice)."""
    range_spacing: float = PIXEL_SPACING
    azimuth_spacing: float = PIXEL_SPACING

    @property
    def kernel_timing(self) -> FloatArray:
        """First line time, line interval, near range, range spacing for the kernels."""
        return np.array(
            [self.first_line_tau, self.line_interval, self.near_range, self.range_spacing]
        )

    @property
    def last_line_tau(self) -> float:
        return self.first_line_tau + (self.lines - 1) * self.line_interval

    def line_tau(self, line: FloatArray | float) -> FloatArray:
        return self.first_line_tau + np.asarray(line, dtype=np.float64) * self.line_interval

    def _coefficients(self, table: FloatArray, tau: FloatArray) -> FloatArray:
        tau = np.asarray(tau, dtype=np.float64)
        return np.stack(
            [np.interp(tau, self.conversion_tau, table[:, i]) for i in range(table.shape[1])],
            axis=-1,
        )

    def ground_range(self, slant_range: FloatArray, tau: FloatArray) -> FloatArray:
        coefficients = self._coefficients(self.srgr, tau)
        x = np.asarray(slant_range, dtype=np.float64) - self.near_range
        return np.sum(coefficients * x[..., None] ** np.arange(coefficients.shape[-1]), axis=-1)

    def slant_range(self, pixel: FloatArray, tau: FloatArray) -> FloatArray:
        coefficients = self._coefficients(self.grsr, tau)
        x = np.asarray(pixel, dtype=np.float64) * self.range_spacing
        return np.sum(coefficients * x[..., None] ** np.arange(coefficients.shape[-1]), axis=-1)

    def slant_spacing(self, pixel: FloatArray) -> FloatArray:
        """Slant-range distance between neighbouring pixels (d slant / d pixel), metres."""
        coefficients = self._coefficients(self.grsr, np.asarray(self.line_tau(self.lines / 2)))
        x = np.asarray(pixel, dtype=np.float64) * self.range_spacing
        powers = np.arange(1, coefficients.shape[-1])
        derivative = np.sum(coefficients[1:] * powers * x[..., None] ** (powers - 1), axis=-1)
        return derivative * self.range_spacing

    def ground(
        self, line: FloatArray, pixel: FloatArray, height: float | None = None
    ) -> tuple[FloatArray, FloatArray]:
        """ECEF points on the raised ellipsoid and sensor positions at image coordinates."""
        tau = self.line_tau(line)
        h = self.reference_height if height is None else height
        return ground_points(self.orbit, tau, self.slant_range(pixel, tau), h)

    def ellipsoid_incidence(self, line: FloatArray, pixel: FloatArray) -> FloatArray:
        point, sensor = self.ground(*np.broadcast_arrays(line, pixel))
        return incidence_angle(point, sensor)

    def footprint(self) -> FloatArray:
        """Corners ``(4, 2)`` lon/lat in the manifest order (last/near, last/far, 0/far, 0/near)."""
        line = np.array([self.lines - 1, self.lines - 1, 0, 0], dtype=np.float64)
        pixel = np.array([0, self.samples - 1, self.samples - 1, 0], dtype=np.float64)
        lon, lat, _ = ecef_to_geodetic(self.ground(line, pixel)[0])
        return np.stack([lon, lat], axis=-1)

    def crop_lines(self, first_line: int, lines: int) -> RadarGeometry:
        """Return the geometry of lines ``[first_line, first_line + lines)`` (a slice)."""
        return replace(
            self,
            first_line_tau=float(self.line_tau(first_line)),
            lines=lines,
            first_line_offset=self.first_line_offset + first_line,
        )


def design_geometry(
    orbit: CircularOrbit,
    centre_tau: float,
    centre_range: float,
    *,
    lines: int,
    samples: int,
    reference_height: float,
) -> tuple[RadarGeometry, tuple[float, float]]:
    """Image geometry of ``lines x samples`` GRD pixels centred on a target, inside the IW swath.

    ``centre_tau``/``centre_range`` are the zero-Doppler time and slant range of the target.
    The image is centred on it in azimuth; in range it is centred too unless that would leave
    the IW incidence range, in which case it is shifted inside (or covers the whole swath).
    Returns the geometry and the target's (line, pixel).
    """
    h = reference_height
    p0, _ = ground_points(orbit, np.array([centre_tau]), np.array([centre_range]), h)
    p1, _ = ground_points(orbit, np.array([centre_tau + 0.5]), np.array([centre_range]), h)
    line_interval = PIXEL_SPACING / (float(np.linalg.norm(p1 - p0)) / 0.5)
    first_tau = centre_tau - 0.5 * (lines - 1) * line_interval
    absolute = orbit.time(first_tau)
    first_tau = orbit.tau(absolute.astype("datetime64[us]").astype("datetime64[ns]"))

    position, _, _ = orbit.state(centre_tau)
    altitude = float(np.linalg.norm(position)) - WGS84_A
    r_lo, r_hi = altitude / math.cos(math.radians(20.0)), altitude / math.cos(math.radians(52.0))
    ranges, arc, incidence = _arc_table(orbit, centre_tau, r_lo, r_hi, h)
    if not (incidence[0] < IW_INCIDENCE_RANGE[0] and incidence[-1] > IW_INCIDENCE_RANGE[1]):
        raise AoiError("the synthetic orbit does not see the IW incidence range")
    g_near, g_far = np.interp(IW_INCIDENCE_RANGE, incidence, arc)
    g_centre = float(np.interp(centre_range, ranges, arc))
    width = (samples - 1) * PIXEL_SPACING
    start = g_centre - width / 2.0
    if width >= g_far - g_near:
        start = (g_near + g_far - width) / 2.0
    else:
        start = min(max(start, g_near), g_far - width)
    near_range = float(np.interp(start, arc, ranges))

    last_tau = first_tau + (lines - 1) * line_interval
    count = max(3, int(math.ceil(last_tau - first_tau + 2.0)) + 1)
    conversion_tau = np.linspace(first_tau - 1.0, last_tau + 1.0, count)
    far = float(np.interp(start + width + 2000.0, arc, ranges))
    r, arc_near, _ = _arc_table(orbit, centre_tau, near_range, far, h)
    grsr = _fit(arc_near, r, 1e-5, 8)
    # NOTE: srgr inverts the fitted grsr (not the arc), so both directions agree to 0.2 mm;
    # it needs more terms than grsr as ground range bends faster with slant range.
    srgr = _fit(np.polynomial.polynomial.polyval(arc_near, grsr) - near_range, arc_near, 2e-4, 11)
    degree = max(len(srgr), len(grsr))
    srgr_arr = np.tile(np.pad(srgr, (0, degree - len(srgr))), (count, 1))
    grsr_arr = np.tile(np.pad(grsr, (0, degree - len(grsr))), (count, 1))

    geometry = RadarGeometry(
        orbit=orbit,
        first_line_tau=first_tau,
        line_interval=line_interval,
        lines=lines,
        samples=samples,
        near_range=near_range,
        conversion_tau=conversion_tau,
        srgr=srgr_arr,
        grsr=grsr_arr,
        reference_height=h,
        heading=_heading(orbit, centre_tau),
    )
    target_line = (centre_tau - first_tau) / line_interval
    target_pixel = float(geometry.ground_range(np.array(centre_range), np.array(centre_tau)))
    return geometry, (target_line, target_pixel / PIXEL_SPACING)


def _heading(orbit: CircularOrbit, tau: float) -> float:
    position, velocity, _ = orbit.state(tau)
    lon, lat, _ = ecef_to_geodetic(position)
    lon_r, lat_r = math.radians(float(lon)), math.radians(float(lat))
    east = np.array([-math.sin(lon_r), math.cos(lon_r), 0.0])
    north = np.array(
        [-math.sin(lat_r) * math.cos(lon_r), -math.sin(lat_r) * math.sin(lon_r), math.cos(lat_r)]
    )
    return math.degrees(math.atan2(float(velocity @ east), float(velocity @ north)))
