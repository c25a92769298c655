"""Range-Doppler geometry of Sentinel-1 GRD products: ground (lon, lat, h) <-> radar (line, pixel).

References: ESA "Sentinel-1 Product Specification" (S1-RS-MDA-52-7441) for the annotation
(``orbitList``, ``coordinateConversionList``, ``geolocationGrid``); ESA "Sentinel-1 Level 1
Detailed Algorithm Definition" (S1-TN-MDA-52-7445) for zero-Doppler geometry and the bistatic
delay; SNAP ``RangeDopplerGeocodingOp`` / sarsen ``geocoding.py`` for the backward geocoding
scheme (https://github.com/bopen/sarsen/blob/main/sarsen/geocoding.py).

Conventions (checked against the geolocation grid of every real test product):

* ``line`` and ``pixel`` are 0-based sample coordinates: pixel 0 is the first range sample,
  whose two-way slant range time is the annotation's ``slantRangeTime``; line 0 is the line
  at ``productFirstLineUtcTime``; integers are sample centres.
* Range: slant range ``R = c * tau / 2`` and ground range ``gr = pixel * rangePixelSpacing``;
  ``srgrCoefficients`` convert *slant to ground* range, ``gr = sum(srgr[i] * (R - sr0)**i)``,
  and ``grsrCoefficients`` convert back, ``R = sum(grsr[i] * (gr - gr0)**i)``.  Each record
  is the ground range on the ellipsoid raised by the processor's projection height of that
  record (reproduced to 0.007 px), and it applies to the lines nearest its azimuth time: the
  geolocation grid matches the nearest record to 0.01 px, whereas interpolating the
  polynomials linearly in azimuth misses it by up to 1.5 px (the projection height jumps from
  record to record).  Every grid line lies 0.09 s (0.32 s in 2015) before a record, so the
  grid cannot tell "nearest" from "the next record"; the two differ by up to 19 px at far
  range, between grid lines, over high relief.
* Azimuth: a target is at zero Doppler, ``v(t) . (P - S(t)) = 0``, at time ``t``.  The image
  line of that target is at ``t - (c0 + c1 * tau)``: the ESA processor corrects the bistatic
  delay of the image at one reference range only, so the grid's azimuth times exceed the line
  times by ``(tau - tau_ref) / 2`` (up to ±0.18 lines); products of 2015 add a constant offset
  (up to 0.3 lines) between the annotated orbit and the one the processor used.
  ``c0`` and ``c1`` are fitted to the grid's own tie points (:class:`SarGeometry`).
* Products of early processor versions (2015) annotate degree-4 slant/ground range
  polynomials that deviate from the grid by up to 4.5 px; the residual, a smooth function of
  range, is fitted on each grid line (Chebyshev polynomial of degree up to 10, interpolated
  linearly between grid lines) and added to the polynomial pixel.  On current products the
  residual is below 0.01 px.
* The radar sees a point when its zero-Doppler time is within the orbit state vectors
  (extended by half their interval), it lies right of the flight direction and on the near
  side of the Earth; other points get NaN.

Measured against the geolocation grids of the six real test products
(``benchmarks/bench_geometry.py``): line error < 0.006 px, pixel error < 0.013 px, also on
grid points left out of the calibration.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from .ellipsoid import WGS84_A, WGS84_B, ecef_to_geodetic, ellipsoid_height, geodetic_to_ecef
from .errors import GeometryError
from .orbit import Orbit
from .safe import Product, open_product
from .types import Annotation, FloatArray, IntArray

__all__ = [
    "SPEED_OF_LIGHT",
    "SarGeometry",
    "ground_to_radar",
    "radar_to_ground",
]

LOGGER = logging.getLogger(__name__)

SPEED_OF_LIGHT = 299_792_458.0
"""m/s; slant range ``R = SPEED_OF_LIGHT * tau / 2`` for two-way time ``tau``."""
_MAX_ITERATIONS = 12
_TIME_TOLERANCE = 1e-9  # s; 1 ns of azimuth time is 7.5 micrometres along the orbit
_HEIGHT_TOLERANCE = 1e-6  # m
_CALIBRATION_LIMIT = 0.5  # lines; a grid further from the model is not used to calibrate it
_RESIDUAL_DEGREE = 10  # of the range residual along a grid line (fewer for short lines)

Errors = Literal["raise", "nan"]
ProductLike = str | os.PathLike[str] | Product | Annotation


def _horner(table: FloatArray, k: IntArray, x: FloatArray) -> FloatArray:
    """``sum(table[k, i] * x**i)``: polynomial of record ``k`` (one per element of ``x``)."""
    columns = np.ascontiguousarray(table.T)
    result = np.take(columns[-1], k)
    for column in columns[-2::-1]:
        result *= x
        result += np.take(column, k)
    return np.asarray(result, dtype=np.float64)


def _derivative_table(table: FloatArray) -> FloatArray:
    """Coefficients of the derivatives of the polynomials in the rows of ``table``."""
    return np.asarray(table[:, 1:] * np.arange(1, table.shape[1], dtype=np.float64))


@dataclass(frozen=True)
class _RangeResidual:
    """Grid pixel minus polynomial pixel: a polynomial in pixel per grid line, linear in line."""

    lines: FloatArray
    coefficients: FloatArray
    """Power-series coefficients in the normalised pixel, shape ``(lines, degree + 1)``."""
    pixel_range: tuple[float, float]

    def __call__(self, line: FloatArray, pixel: FloatArray) -> FloatArray:
        low, high = self.pixel_range
        x = (np.clip(pixel, low, high) - 0.5 * (low + high)) / (0.5 * (high - low))
        lin = np.clip(line, self.lines[0], self.lines[-1])
        i = np.clip(np.searchsorted(self.lines, lin, side="right") - 1, 0, len(self.lines) - 2)
        w = (lin - self.lines[i]) / (self.lines[i + 1] - self.lines[i])
        below = _horner(self.coefficients, i, x)
        above = _horner(self.coefficients, i + 1, x)
        return np.asarray(below + w * (above - below), dtype=np.float64)


class SarGeometry:
    """Zero-Doppler model of one GRD image, built from its :class:`~s1stac.types.Annotation`.

    Build it once with :meth:`from_annotation` and call :meth:`ground_to_radar` /
    :meth:`radar_to_ground` on many blocks of points.  With ``calibrate=True`` (the default)
    the azimuth offset ``c0 + c1 * tau`` and the range residual are fitted to the annotation's
    geolocation grid (see the module documentation); ``calibrate=False`` keeps the plain
    annotation model: ``line = (t - first_line_time) / azimuth_time_interval``, polynomial
    pixel.
    """

    def __init__(self, annotation: Annotation, *, calibrate: bool = True) -> None:
        if not annotation.azimuth_time_interval > 0.0:
            raise GeometryError(
                f"azimuth_time_interval={annotation.azimuth_time_interval} must be positive"
            )
        if not annotation.range_pixel_spacing > 0.0:
            raise GeometryError(
                f"range_pixel_spacing={annotation.range_pixel_spacing} must be positive"
            )
        conversion = annotation.coordinate_conversion
        if len(conversion.sr0) == 0:
            raise GeometryError("the annotation has no coordinateConversion record (GRD only)")
        self.annotation = annotation
        self.orbit = Orbit(annotation.orbit)
        self.first_line = float(self.orbit.seconds(annotation.first_line_time))
        self.azimuth_time_interval = float(annotation.azimuth_time_interval)
        self.range_pixel_spacing = float(annotation.range_pixel_spacing)
        self._record_time = self.orbit.seconds(conversion.azimuth_time)
        order = np.argsort(self._record_time, kind="stable")
        self._record_time = self._record_time[order]
        self._sr0 = np.asarray(conversion.sr0, dtype=np.float64)[order]
        self._srgr = np.asarray(conversion.srgr_coefficients, dtype=np.float64)[order]
        self._gr0 = np.asarray(conversion.gr0, dtype=np.float64)[order]
        self._grsr = np.asarray(conversion.grsr_coefficients, dtype=np.float64)[order]
        self._srgr_derivative = _derivative_table(self._srgr)
        self.azimuth_offset: tuple[float, float] = (0.0, 0.0)
        """``(c0, c1)``: line time = zero-Doppler time - (c0 + c1 * tau), seconds."""
        self._residual: _RangeResidual | None = None
        if calibrate:
            self._calibrate()

    @classmethod
    def from_annotation(cls, annotation: Annotation, *, calibrate: bool = True) -> SarGeometry:
        """Build the model of the image that ``annotation`` describes."""
        return cls(annotation, calibrate=calibrate)

    def __repr__(self) -> str:
        ann = self.annotation
        return f"SarGeometry({ann.polarisation}, first line {ann.first_line_time}, {self.orbit})"

    # -- building blocks -------------------------------------------------------------------

    def _record(self, t_line: FloatArray) -> IntArray:
        """Index of the coordinateConversion record nearest to each line time."""
        times = self._record_time
        if len(times) == 1:
            return np.zeros(t_line.shape, dtype=np.int64)
        i = np.clip(np.searchsorted(times, t_line), 1, len(times) - 1)
        before = np.abs(t_line - times[i - 1]) <= np.abs(times[i] - t_line)
        return np.asarray(np.where(before, i - 1, i), dtype=np.int64)

    def polynomial_pixel(self, slant_range: FloatArray, t_line: FloatArray) -> FloatArray:
        """GRD pixel of a slant range with the conversion record nearest to each line time.

        This is the annotation's polynomial model alone, without the range residual fitted on
        the geolocation grid; GRD pixels jump where the nearest record changes.
        """
        k = self._record(t_line)
        ground_range = _horner(self._srgr, k, slant_range - self._sr0[k])
        return ground_range / self.range_pixel_spacing

    def _slant_range(self, pixel: FloatArray, t_line: FloatArray) -> FloatArray:
        """Inverse of :meth:`polynomial_pixel`: grsr polynomial, refined by Newton on srgr."""
        k = self._record(t_line)
        ground_range = pixel * self.range_pixel_spacing
        sr0 = self._sr0[k]
        slant_range = _horner(self._grsr, k, ground_range - self._gr0[k])
        for _ in range(2):
            x = slant_range - sr0
            error = _horner(self._srgr, k, x) - ground_range
            slant_range = slant_range - error / _horner(self._srgr_derivative, k, x)
        return slant_range

    @property
    def span(self) -> tuple[float, float]:
        """Times (s since ``orbit.epoch``) where the orbit model is used.

        The span of the state vectors, extended by half their interval: the orbit of the 2015
        products ends at the last line.
        """
        start, stop = self.orbit.span
        return start - 0.5 * self.orbit.interval, stop + 0.5 * self.orbit.interval

    def zero_doppler(self, xyz: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Zero-Doppler time (s since ``orbit.epoch``) and slant range (m) of ECEF points.

        Newton iterations on ``f(t) = v(t) . (P - S(t))``.  Points that the radar does not see
        get NaN: zero-Doppler time outside :attr:`span`, left of the flight
        direction (Sentinel-1 looks right) or on the far side of the ellipsoid.
        """
        shape = xyz.shape[:-1]
        xyz = np.asarray(xyz, dtype=np.float64).reshape(-1, 3)
        start, stop = self.span
        margin = 0.1 * (stop - start)
        n_lines = self.annotation.number_of_lines
        middle = self.first_line + 0.5 * n_lines * self.azimuth_time_interval
        t = np.full(xyz.shape[:-1], np.clip(middle, start, stop))
        step = np.full_like(t, np.inf)
        for _ in range(_MAX_ITERATIONS):
            position, velocity, acceleration = self.orbit.state(t)
            delta = xyz - position
            f = _dot(velocity, delta)
            step = f / (_dot(acceleration, delta) - _dot(velocity, velocity))
            t = np.clip(t - step, start - margin, stop + margin)
            if not np.any(np.abs(step) > _TIME_TOLERANCE):
                break
        position, velocity, _ = self.orbit.state(t)
        look = xyz - position
        slant_range = np.linalg.norm(look, axis=-1)
        right = _dot(np.cross(velocity, look), position) < 0.0
        # NOTE: the geocentric direction stands in for the ellipsoid normal (< 0.2 deg apart)
        facing = _dot(look, xyz) < 0.0
        seen = (np.abs(step) <= 1e3 * _TIME_TOLERANCE) & (t >= start) & (t <= stop)
        bad = ~(seen & right & facing)
        t[bad] = np.nan
        slant_range[bad] = np.nan
        return t.reshape(shape), slant_range.reshape(shape)

    def _calibrate(self) -> None:
        grid = self.annotation.geolocation_grid
        if len(grid.line) == 0:
            return
        line_time = self.first_line + grid.line * self.azimuth_time_interval
        xyz = geodetic_to_ecef(grid.longitude, grid.latitude, grid.height)
        t, slant_range = self.zero_doppler(xyz)
        tau = 2.0 * slant_range / SPEED_OF_LIGHT
        offset = t - line_time
        ok = np.isfinite(offset)
        if ok.sum() < 2:
            LOGGER.warning("geolocation grid outside the orbit span: azimuth not calibrated")
            return
        if np.ptp(tau[ok]) > 0.0:
            design = np.stack([np.ones(ok.sum()), tau[ok]], axis=-1)
            c0, c1 = np.linalg.lstsq(design, offset[ok], rcond=None)[0]
        else:
            c0, c1 = float(np.mean(offset[ok])), 0.0
        misfit = np.abs(offset[ok] - c0 - c1 * tau[ok]).max() / self.azimuth_time_interval
        if misfit > _CALIBRATION_LIMIT:
            LOGGER.warning(
                "geolocation grid deviates %.2f lines from a linear azimuth offset: "
                "grid not used to calibrate the geometry",
                misfit,
            )
            return
        self.azimuth_offset = (float(c0), float(c1))
        self._residual = self._range_residual()

    def _range_residual(self) -> _RangeResidual | None:
        grid = self.annotation.geolocation_grid
        lines = np.unique(grid.line)
        low, high = float(np.min(grid.pixel)), float(np.max(grid.pixel))
        if len(lines) < 2 or not high > low:
            LOGGER.info("geolocation grid spans one line or one pixel: no range residual")
            return None
        slant_range = 0.5 * SPEED_OF_LIGHT * np.asarray(grid.slant_range_time, dtype=np.float64)
        t_line = self.first_line + grid.line * self.azimuth_time_interval
        residual = grid.pixel - self.polynomial_pixel(slant_range, t_line)
        x = (grid.pixel - 0.5 * (low + high)) / (0.5 * (high - low))
        table = np.zeros((len(lines), _RESIDUAL_DEGREE + 1))
        for row, line in enumerate(lines):
            on_line = grid.line == line
            count = int(on_line.sum())
            degree = min(_RESIDUAL_DEGREE, max(count - 3, count // 2))
            if degree < 1:
                LOGGER.info("geolocation grid line %s has too few points: no range residual", line)
                return None
            fit = np.polynomial.chebyshev.chebfit(x[on_line], residual[on_line], degree)
            table[row, : degree + 1] = np.polynomial.chebyshev.cheb2poly(fit)
        return _RangeResidual(lines, table, (low, high))

    def _pixel(self, slant_range: FloatArray, line: FloatArray, t_line: FloatArray) -> FloatArray:
        pixel = self.polynomial_pixel(slant_range, t_line)
        if self._residual is None:
            return pixel
        corrected = pixel
        for _ in range(3):  # the residual varies by < 1e-3 px per px: fixed point
            corrected = pixel + self._residual(line, corrected)
        return corrected

    # -- public transforms ---------------------------------------------------------------

    def ground_to_radar(
        self,
        lon: npt.ArrayLike,
        lat: npt.ArrayLike,
        height: npt.ArrayLike,
        *,
        errors: Errors = "raise",
    ) -> tuple[FloatArray, FloatArray]:
        """Image ``(line, pixel)`` of WGS84 points; see :func:`ground_to_radar`."""
        _check_errors(errors)
        (lon_, lat_, h_), shape = _broadcast({"lon": lon, "lat": lat, "height": height})
        if np.any(np.abs(lat_) > 90.0):
            raise GeometryError("lat must be within [-90, 90] degrees")
        with np.errstate(all="ignore"):  # absurd inputs (inf, 1e30 m...) end as NaN
            xyz = geodetic_to_ecef(lon_, lat_, h_)
            t, slant_range = self.zero_doppler(xyz)
            tau = 2.0 * slant_range / SPEED_OF_LIGHT
            t_line = t - (self.azimuth_offset[0] + self.azimuth_offset[1] * tau)
            line = (t_line - self.first_line) / self.azimuth_time_interval
            pixel = self._pixel(slant_range, line, t_line)
            line, pixel = _finite_or_nan(line, pixel)
        _check_seen(errors, np.isfinite(lon_ + lat_ + h_), np.isfinite(line), "(lon, lat, height)")
        return line.reshape(shape), pixel.reshape(shape)

    def radar_to_ground(
        self,
        line: npt.ArrayLike,
        pixel: npt.ArrayLike,
        height: npt.ArrayLike,
        *,
        errors: Errors = "raise",
    ) -> tuple[FloatArray, FloatArray]:
        """WGS84 ``(lon, lat)`` of image points at a height; see :func:`radar_to_ground`."""
        _check_errors(errors)
        (line_, pixel_, h_), shape = _broadcast({"line": line, "pixel": pixel, "height": height})
        with np.errstate(all="ignore"):
            t_line = self.first_line + line_ * self.azimuth_time_interval
            ground_pixel = pixel_
            if self._residual is not None:
                ground_pixel = pixel_ - self._residual(line_, pixel_)
            slant_range = self._slant_range(ground_pixel, t_line)
            tau = 2.0 * slant_range / SPEED_OF_LIGHT
            t = t_line + self.azimuth_offset[0] + self.azimuth_offset[1] * tau
            start, stop = self.span
            inside = (t >= start) & (t <= stop)
            position, velocity, _ = self.orbit.state(np.where(inside, t, 0.5 * (start + stop)))
            lon_out, lat_out = _intersect(position, velocity, slant_range, h_)
            lon_out[~inside] = np.nan
            lat_out[~inside] = np.nan
            lon_out, lat_out = _finite_or_nan(lon_out, lat_out)
        _check_seen(
            errors, np.isfinite(line_ + pixel_ + h_), np.isfinite(lat_out), "(line, pixel, height)"
        )
        return lon_out.reshape(shape), lat_out.reshape(shape)


def _intersect(
    position: FloatArray, velocity: FloatArray, slant_range: FloatArray, height: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Right-looking point at ``slant_range`` in the zero-Doppler plane, ``height`` above WGS84.

    The point is ``S + R (cos(a) d + sin(a) r)`` with ``d`` pointing down and ``r`` to the
    right of the flight direction (both normal to the velocity); Newton on the look angle ``a``
    solves ``h(P) = height``, using that the gradient of the geodetic height is the ellipsoid
    normal.
    """
    v_hat = velocity / np.linalg.norm(velocity, axis=-1, keepdims=True)
    radius = np.linalg.norm(position, axis=-1)
    up = position / radius[..., np.newaxis]
    down = _dot(up, v_hat)[..., np.newaxis] * v_hat - up
    down /= np.linalg.norm(down, axis=-1, keepdims=True)
    right = np.cross(down, v_hat)
    # NOTE: spherical first guess with the ellipsoid radius under the satellite
    sin_psi2 = (position[..., 2] / radius) ** 2
    earth = WGS84_A * WGS84_B / np.sqrt(WGS84_B**2 * (1.0 - sin_psi2) + WGS84_A**2 * sin_psi2)
    cos_a = (radius**2 + slant_range**2 - (earth + height) ** 2) / (2.0 * radius * slant_range)
    angle = np.where(np.abs(cos_a) <= 1.0, np.arccos(np.clip(cos_a, -1.0, 1.0)), np.nan)
    misfit = np.full_like(angle, np.inf)
    point = np.full_like(position, np.nan)
    axes = np.array([WGS84_B**2, WGS84_B**2, WGS84_A**2])
    for _ in range(_MAX_ITERATIONS):
        c, s = np.cos(angle)[..., np.newaxis], np.sin(angle)[..., np.newaxis]
        point = position + slant_range[..., np.newaxis] * (c * down + s * right)
        misfit = ellipsoid_height(point) - height
        if not np.any(np.abs(misfit) > _HEIGHT_TOLERANCE):
            break
        # NOTE: gradient of x²/a² + y²/a² + z²/b² ~ ellipsoid normal, to 1e-6 rad near the surface
        normal = point * axes
        normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
        tangent = slant_range[..., np.newaxis] * (c * right - s * down)
        angle = angle - misfit / _dot(normal, tangent)
    lon, lat, _ = ecef_to_geodetic(point)
    bad = ~(np.abs(misfit) <= 1e3 * _HEIGHT_TOLERANCE)
    lon[bad] = np.nan
    lat[bad] = np.nan
    return lon, lat


def _broadcast(arrays: dict[str, npt.ArrayLike]) -> tuple[list[FloatArray], tuple[int, ...]]:
    """Flat float64 copies of arrays broadcast together, and their shape.

    Raises :class:`GeometryError` naming the parameter that does not broadcast.
    """
    out: dict[str, FloatArray] = {}
    shape: tuple[int, ...] = ()
    for name, value in arrays.items():
        try:
            array = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise GeometryError(f"{name} must be numeric (array-like of float): {e}") from e
        try:
            shape = np.broadcast_shapes(shape, array.shape)
        except ValueError as e:
            others = ", ".join(f"{k} {v.shape}" for k, v in out.items())
            raise GeometryError(
                f"{name} has shape {array.shape}, which does not broadcast with {others}; "
                "pass arrays of one shape (or a scalar)"
            ) from e
        out[name] = array
    return [np.broadcast_to(a, shape).astype(np.float64).ravel() for a in out.values()], shape


def _dot(a: FloatArray, b: FloatArray) -> FloatArray:
    return np.asarray(np.einsum("...i,...i->...", a, b), dtype=np.float64)


def _finite_or_nan(*arrays: FloatArray) -> list[FloatArray]:
    """Return the arrays with NaN wherever any of them is not finite."""
    finite = np.logical_and.reduce([np.isfinite(a) for a in arrays])
    return [np.where(finite, a, np.nan) for a in arrays]


def _check_errors(errors: Errors) -> None:
    if errors not in ("raise", "nan"):
        raise GeometryError(f"{errors=} is not one of 'raise', 'nan'")


def _check_seen(
    errors: Errors, finite_input: npt.NDArray[np.bool_], solved: npt.NDArray[np.bool_], what: str
) -> None:
    if errors == "raise" and np.any(finite_input) and not np.any(solved & finite_input):
        raise GeometryError(
            f"no {what} point is seen at zero Doppler within the orbit state vectors: the "
            "points are outside this product's acquisition (pass errors='nan' to get NaN)"
        )


def _geometry(product: ProductLike | SarGeometry, polarisation: str | None) -> SarGeometry:
    if isinstance(product, SarGeometry):
        annotation = product.annotation
    elif isinstance(product, Annotation):
        annotation = product
    else:
        opened = product if isinstance(product, Product) else open_product(product)
        pol = opened.polarisations[0] if polarisation is None else polarisation
        return SarGeometry(opened.annotation(pol))
    if polarisation is not None and str(polarisation).upper() != annotation.polarisation:
        raise GeometryError(
            f"polarisation={polarisation!r} but the annotation is {annotation.polarisation}; "
            "pass polarisation=None or the matching annotation"
        )
    return product if isinstance(product, SarGeometry) else SarGeometry(annotation)


def ground_to_radar(
    product: ProductLike | SarGeometry,
    lon: npt.ArrayLike,
    lat: npt.ArrayLike,
    height: npt.ArrayLike,
    *,
    polarisation: str | None = None,
    errors: Errors = "raise",
) -> tuple[FloatArray, FloatArray]:
    """Image coordinates ``(line, pixel)`` of points given in WGS84 coordinates.

    Parameters
    ----------
    product
        A SAFE folder or zip path, an opened :class:`~s1stac.safe.Product`, an
        :class:`~s1stac.types.Annotation` or a prebuilt :class:`SarGeometry`.
    lon, lat
        Degrees (WGS84, EPSG:4979); broadcast together with ``height``.
    height
        Height above the WGS84 ellipsoid, metres (not above the geoid).
    polarisation
        Annotation to use for a product; the first polarisation when None.
    errors
        ``"raise"``: :class:`~s1stac.errors.GeometryError` if no point at all is seen at zero
        Doppler within the orbit state vectors; ``"nan"``: return NaN.  Either way, single
        unseen points (and NaN inputs) give NaN.

    Returns
    -------
    tuple of numpy.ndarray
        Fractional ``line`` and ``pixel`` (0-based sample coordinates, integer = sample
        centre), float64, of the broadcast shape; points outside the image are returned as
        they are (negative or beyond the image size).
    """
    return _geometry(product, polarisation).ground_to_radar(lon, lat, height, errors=errors)


def radar_to_ground(
    product: ProductLike | SarGeometry,
    line: npt.ArrayLike,
    pixel: npt.ArrayLike,
    height: npt.ArrayLike,
    *,
    polarisation: str | None = None,
    errors: Errors = "raise",
) -> tuple[FloatArray, FloatArray]:
    """WGS84 ``(lon, lat)`` in degrees of image points at a given ellipsoidal height.

    Parameters
    ----------
    product
        As for :func:`ground_to_radar`.
    line, pixel
        Fractional image coordinates (0-based, integer = sample centre).
    height
        Height of the points above the WGS84 ellipsoid, metres.
    polarisation, errors
        As for :func:`ground_to_radar`.

    Returns
    -------
    tuple of numpy.ndarray
        ``lon`` and ``lat`` of the right-looking point at the zero-Doppler time of ``line``
        and the slant range of ``pixel``, float64 of the broadcast shape.
    """
    return _geometry(product, polarisation).radar_to_ground(line, pixel, height, errors=errors)
