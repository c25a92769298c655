"""Orbit of a Sentinel-1 product: position, velocity and acceleration at any azimuth time.

Reference: ESA "Sentinel-1 Product Specification" (S1-RS-MDA-52-7441), ``orbitList`` of the
product annotation: state vectors (time, position, velocity) in the Earth-fixed WGS84 frame,
every 1 s (early products) or 10 s, spanning the scene with a margin.  As in sarsen
(``orbit.OrbitPolyfitInterpolator``), the vectors are fitted with polynomials in a normalised
time; https://github.com/bopen/sarsen/blob/main/sarsen/orbit.py.

Positions and velocities are fitted separately: the annotated velocities of some products
differ from the time derivative of the annotated positions by up to 5 cm/s, and it is the
annotated velocity that the ESA processor used to place targets at zero Doppler (a direction
error of 5 cm/s moves a target by about 5 m in azimuth).  The acceleration is the derivative of
the velocity polynomial.

Times are ``numpy.datetime64[ns]`` at the interface; internally they are float seconds since
:attr:`Orbit.epoch` (the middle of the state vectors), which keeps 1e-14 s resolution.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .errors import GeometryError
from .types import FloatArray, OrbitStateVectors, TimeArray

__all__ = ["Orbit", "DEFAULT_DEGREE", "MIN_STATE_VECTORS"]

DEFAULT_DEGREE = 7
"""Polynomial degree of the fit (lowered to ``n - 1`` for ``n`` state vectors)."""
MIN_STATE_VECTORS = 4
"""Fewest state vectors an :class:`Orbit` accepts."""

_NS = np.timedelta64(1, "ns")


def _polyval(coefficients: FloatArray, x: FloatArray) -> FloatArray:
    """Evaluate ``sum(coefficients[i] * x**i)`` (Horner) for 3-vector coefficients.

    ``coefficients`` has shape ``(degree + 1, 3)``, ``x`` any shape; the result has shape
    ``x.shape + (3,)``.
    """
    x = x[..., np.newaxis]
    result = np.broadcast_to(coefficients[-1], x.shape[:-1] + (3,)).copy()
    for c in coefficients[-2::-1]:
        result *= x
        result += c
    return result


def _derivative(coefficients: FloatArray, scale: float) -> FloatArray:
    """Coefficients of the time derivative of a polynomial in ``x = t / scale``."""
    if len(coefficients) == 1:
        return np.zeros_like(coefficients)
    powers = np.arange(1, len(coefficients), dtype=np.float64)[:, np.newaxis]
    return np.asarray(coefficients[1:] * powers / scale, dtype=np.float64)


class Orbit:
    """Polynomial model of the annotation's orbit state vectors.

    Parameters
    ----------
    state_vectors
        The annotation's ``orbitList`` (ECEF metres and metres per second).
    degree
        Degree of the position and velocity polynomials; at most ``n - 1`` is used for ``n``
        vectors.  The default (7) reproduces the state vectors of real products to a few
        millimetres, also when one vector is left out of the fit.

    Raises
    ------
    GeometryError
        If there are fewer than :data:`MIN_STATE_VECTORS` vectors, their times do not
        increase, or the arrays have inconsistent shapes.

    Examples
    --------
    >>> orbit = Orbit(annotation.orbit)  # doctest: +SKIP
    >>> position, velocity, acceleration = orbit.state(orbit.seconds(annotation.first_line_time))
    ... # doctest: +SKIP
    """

    def __init__(self, state_vectors: OrbitStateVectors, *, degree: int = DEFAULT_DEGREE) -> None:
        time = np.asarray(state_vectors.time).astype("datetime64[ns]")
        position = np.asarray(state_vectors.position, dtype=np.float64)
        velocity = np.asarray(state_vectors.velocity, dtype=np.float64)
        n = time.shape[0] if time.ndim == 1 else -1
        if n < 0 or position.shape != (n, 3) or velocity.shape != (n, 3):
            raise GeometryError(
                f"orbit state vectors: time {time.shape}, position {position.shape} and velocity "
                f"{velocity.shape} must have shapes (n,), (n, 3), (n, 3)"
            )
        if n < MIN_STATE_VECTORS:
            raise GeometryError(
                f"orbit has {n} state vectors; at least {MIN_STATE_VECTORS} are needed to "
                "interpolate it (check the annotation's orbitList)"
            )
        if np.any(np.diff(time) <= np.timedelta64(0, "ns")):
            raise GeometryError("orbit state vector times must increase strictly (orbitList)")
        if not (np.all(np.isfinite(position)) and np.all(np.isfinite(velocity))):
            raise GeometryError("orbit state vectors contain non-finite positions or velocities")
        if degree < 1:
            raise GeometryError(f"{degree=} must be at least 1")

        self.epoch: np.datetime64 = time[0] + (time[-1] - time[0]) // 2
        """Reference time: :meth:`seconds` counts from it."""
        self.start: np.datetime64 = time[0]
        """Time of the first state vector."""
        self.stop: np.datetime64 = time[-1]
        """Time of the last state vector."""
        self.state_vectors = state_vectors
        t = self.seconds(time)
        self.interval = float(np.median(np.diff(t)))
        """Median time between two state vectors, seconds."""
        self._scale = float(max(abs(t[0]), abs(t[-1])))
        self.degree = min(degree, n - 1)
        """Degree actually used."""
        x = t / self._scale
        vander = np.vander(x, self.degree + 1, increasing=True)
        self._position: FloatArray = np.asarray(
            np.linalg.lstsq(vander, position, rcond=None)[0], dtype=np.float64
        )
        self._velocity: FloatArray = np.asarray(
            np.linalg.lstsq(vander, velocity, rcond=None)[0], dtype=np.float64
        )
        self._acceleration = _derivative(self._velocity, self._scale)

    def __repr__(self) -> str:
        return f"Orbit({self.start} .. {self.stop}, degree={self.degree})"

    @property
    def span(self) -> tuple[float, float]:
        """First and last state vector time, in seconds since :attr:`epoch`."""
        return float(self.seconds(self.start)), float(self.seconds(self.stop))

    def seconds(self, time: npt.ArrayLike) -> FloatArray:
        """Convert ``datetime64`` times to float seconds since :attr:`epoch`."""
        delta = np.asarray(time).astype("datetime64[ns]") - self.epoch
        return np.asarray(delta / _NS, dtype=np.float64) * 1e-9

    def datetime(self, seconds: npt.ArrayLike) -> TimeArray:
        """Convert float seconds since :attr:`epoch` to ``datetime64[ns]``."""
        ns = np.round(np.asarray(seconds, dtype=np.float64) * 1e9)
        return self.epoch + ns.astype("timedelta64[ns]")

    def position(self, t: npt.ArrayLike) -> FloatArray:
        """ECEF position (m) at ``t`` seconds since :attr:`epoch`; shape ``t.shape + (3,)``."""
        return _polyval(self._position, np.asarray(t, dtype=np.float64) / self._scale)

    def velocity(self, t: npt.ArrayLike) -> FloatArray:
        """ECEF velocity (m/s) at ``t`` seconds since :attr:`epoch`."""
        return _polyval(self._velocity, np.asarray(t, dtype=np.float64) / self._scale)

    def acceleration(self, t: npt.ArrayLike) -> FloatArray:
        """ECEF acceleration (m/s²) at ``t`` seconds since :attr:`epoch`."""
        return _polyval(self._acceleration, np.asarray(t, dtype=np.float64) / self._scale)

    def state(self, t: npt.ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Position, velocity and acceleration at ``t`` seconds since :attr:`epoch`."""
        x = np.asarray(t, dtype=np.float64) / self._scale
        return (
            _polyval(self._position, x),
            _polyval(self._velocity, x),
            _polyval(self._acceleration, x),
        )
