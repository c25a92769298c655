"""Range-Doppler model of a GRD image and lookup of the radar coordinates of map pixels.

Reference: ``OST_SPEC.md`` §2.3 (SNAP ``Terrain-Correction``: DEM height -> ECEF ->
zero-Doppler time -> slant range -> ground range (SRGR) -> radar pixel); the range-Doppler
equations are solved by :class:`s1stac.geometry.SarGeometry` (ESA S1-TN-MDA-52-7445).

* :class:`RadarModel` describes one image: a product, or consecutive slices assembled along
  azimuth, possibly multilooked.  A multilooked pixel ``i`` is the block mean of the
  full-resolution samples ``i*n .. i*n+n-1``: it is centred at sample ``i*n + (n-1)/2``.
* :func:`radar_lookup` gives the radar coordinates of every pixel of a map grid at its DEM
  height.  The exact solution is evaluated on a coarse lattice (every ``step`` pixels) at three
  heights spanning the grid's DEM heights; the zero-Doppler line, the slant range and the
  (smooth) range residual of the geometry model are interpolated bilinearly over the lattice
  and quadratically in height.  The slant range becomes a pixel through the slant/ground range
  record of the pixel's own line: the GRD image is resampled record by record, so its pixel
  coordinate jumps (by up to several pixels) where the record changes, and interpolating the
  pixel itself across that line would misplace the neighbouring pixels.  The lattice adds
  less than 0.001 px to the error of the exact solution (0.003 px next to the grid lines of
  early products, where the geometry's range residual is piecewise linear in azimuth).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
import numpy.typing as npt
import pyproj
from odc.geo.geobox import GeoBox

from s1stac.ellipsoid import geodetic_to_ecef
from s1stac.errors import ParameterError
from s1stac.geometry import SarGeometry
from s1stac.types import Annotation, FloatArray

__all__ = [
    "HeightLattice",
    "RadarModel",
    "RadarSlice",
    "axis_weights",
    "lattice_positions",
    "pixel_centres_lonlat",
    "radar_lookup",
]

_RANGE_TABLE_STEP = 5.0  # m; linear interpolation of the range polynomials: < 1e-4 px


@dataclass(frozen=True, eq=False)
class RadarSlice:
    """One product of a (possibly slice-assembled) image."""

    geometry: SarGeometry
    first_line: int
    """Line of the assembled full-resolution image holding line ``skipped`` of this slice."""
    skipped: int = 0
    """Leading lines of the slice left out of the assembly."""


class RadarModel:
    """Range-Doppler model of a GRD image, possibly slice-assembled and multilooked.

    Parameters
    ----------
    slices
        One :class:`RadarSlice` per product, in azimuth order.
    shape
        ``(lines, pixels)`` of the full-resolution (assembled) image, or of the part of it
        starting at ``origin``.
    looks
        Multilook factors ``(line, pixel)``; coordinates are on the multilooked grid.
    origin
        Full-resolution ``(line, pixel)`` of the first sample of the image part.
    """

    def __init__(
        self,
        slices: Sequence[RadarSlice],
        *,
        shape: tuple[int, int],
        looks: tuple[int, int],
        origin: tuple[int, int] = (0, 0),
    ) -> None:
        if not slices:
            raise ParameterError("a radar model needs at least one slice")
        if min(looks) < 1:
            raise ParameterError(f"{looks=} must be positive integers")
        self.slices = tuple(slices)
        self.full_shape = (int(shape[0]), int(shape[1]))
        self.origin = (int(origin[0]), int(origin[1]))
        self.looks = (int(looks[0]), int(looks[1]))
        self.shape = (self.full_shape[0] // self.looks[0], self.full_shape[1] // self.looks[1])
        """Shape ``(lines, pixels)`` of the multilooked image (incomplete blocks dropped)."""
        annotation = self.slices[0].geometry.annotation
        self.azimuth_spacing = float(annotation.azimuth_pixel_spacing) * self.looks[0]
        """Azimuth pixel spacing of the multilooked image, metres."""
        self.range_spacing = float(annotation.range_pixel_spacing) * self.looks[1]
        """Ground-range pixel spacing of the multilooked image, metres."""

    @classmethod
    def from_annotations(
        cls,
        annotations: Sequence[Annotation],
        *,
        first_lines: Sequence[int] | None = None,
        skipped: Sequence[int] | None = None,
        looks: tuple[int, int] = (1, 1),
    ) -> RadarModel:
        """Model of one product, or of assembled slices (``first_lines``/``skipped`` per slice)."""
        n = len(annotations)
        first = list(first_lines) if first_lines is not None else [0] * n
        skip = list(skipped) if skipped is not None else [0] * n
        if len(first) != n or len(skip) != n:
            raise ParameterError("first_lines and skipped need one value per annotation")
        slices = [
            RadarSlice(SarGeometry(a), int(f), int(s))
            for a, f, s in zip(annotations, first, skip, strict=True)
        ]
        last = annotations[-1]
        lines = first[-1] + last.number_of_lines - skip[-1]
        width = max(a.number_of_samples for a in annotations)
        return cls(slices, shape=(lines, width), looks=looks)

    def __repr__(self) -> str:
        return (
            f"RadarModel({len(self.slices)} slice(s), shape={self.shape}, looks={self.looks}, "
            f"origin={self.origin})"
        )

    def crop(self, lines: slice, pixels: slice) -> RadarModel:
        """Model of the full-resolution part ``[lines, pixels]`` of this model's image."""
        (l0, l1, _), (p0, p1, _) = (
            lines.indices(self.full_shape[0]),
            pixels.indices(self.full_shape[1]),
        )
        origin = (self.origin[0] + l0, self.origin[1] + p0)
        return RadarModel(self.slices, shape=(l1 - l0, p1 - p0), looks=self.looks, origin=origin)

    # -- coordinates of the multilooked grid -------------------------------------------------

    @property
    def conversion(self) -> FloatArray:
        """``(offset line, offset pixel, looks line, looks pixel)``.

        Multilooked coordinates are ``(full resolution - offset) / looks``.
        """
        (nl, npx), (o_l, o_p) = self.looks, self.origin
        return np.array([o_l + 0.5 * (nl - 1), o_p + 0.5 * (npx - 1), nl, npx], dtype=np.float64)

    def _to_multilooked(self, line: FloatArray, pixel: FloatArray) -> tuple[FloatArray, FloatArray]:
        c = self.conversion
        return (line - c[0]) / c[2], (pixel - c[1]) / c[3]

    def _to_full(self, line: FloatArray, pixel: FloatArray) -> tuple[FloatArray, FloatArray]:
        c = self.conversion
        return line * c[2] + c[0], pixel * c[3] + c[1]

    def _slice_of(self, full_line: FloatArray) -> npt.NDArray[np.intp]:
        starts = np.array([s.first_line - 0.5 for s in self.slices])
        return np.clip(np.searchsorted(starts, full_line, side="right") - 1, 0, len(starts) - 1)

    # -- transforms ----------------------------------------------------------------------------

    def to_radar(
        self, lon: npt.ArrayLike, lat: npt.ArrayLike, height: npt.ArrayLike
    ) -> tuple[FloatArray, FloatArray]:
        """Multilooked ``(line, pixel)`` of WGS84 points (NaN where not seen)."""
        lon_, lat_, h_ = np.broadcast_arrays(
            *(np.asarray(v, dtype=np.float64) for v in (lon, lat, height))
        )
        line = np.full(lon_.shape, np.nan)
        pixel = np.full(lon_.shape, np.nan)
        for k, part in enumerate(self.slices):
            ln, px = part.geometry.ground_to_radar(lon_, lat_, h_, errors="nan")
            ln = ln - part.skipped + part.first_line
            use = np.isfinite(ln) if k == 0 else np.isfinite(ln) & (ln >= part.first_line - 0.5)
            line = np.where(use, ln, line)
            pixel = np.where(use, px, pixel)
        return self._to_multilooked(line, pixel)

    def to_ground(
        self, line: npt.ArrayLike, pixel: npt.ArrayLike, height: npt.ArrayLike
    ) -> tuple[FloatArray, FloatArray]:
        """WGS84 ``(lon, lat)`` of multilooked image points at an ellipsoidal height."""
        line_, pixel_, h_ = np.broadcast_arrays(
            *(np.asarray(v, dtype=np.float64) for v in (line, pixel, height))
        )
        full_line, full_pixel = self._to_full(line_, pixel_)
        which = self._slice_of(full_line)
        lon = np.full(line_.shape, np.nan)
        lat = np.full(line_.shape, np.nan)
        for k in np.unique(which):
            part = self.slices[int(k)]
            sel = which == k
            local = full_line[sel] - part.first_line + part.skipped
            lon[sel], lat[sel] = part.geometry.radar_to_ground(
                local, full_pixel[sel], h_[sel], errors="nan"
            )
        return lon, lat

    def range_coordinates(
        self, lon: npt.ArrayLike, lat: npt.ArrayLike, height: npt.ArrayLike
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Full-resolution line, slant range and range residual of WGS84 points.

        The pixel of a point is ``polynomial_pixel(slant range, line) + residual``: the first
        term jumps where the slant/ground range record changes (the GRD image itself is
        resampled record by record), the other terms are smooth, so that only they are
        interpolated by :func:`radar_lookup`.
        """
        lon_, lat_, h_ = np.broadcast_arrays(
            *(np.asarray(v, dtype=np.float64) for v in (lon, lat, height))
        )
        xyz = geodetic_to_ecef(lon_, lat_, h_)
        line = np.full(lon_.shape, np.nan)
        slant = np.full(lon_.shape, np.nan)
        residual = np.full(lon_.shape, np.nan)
        for k, part in enumerate(self.slices):
            g = part.geometry
            local, px = g.ground_to_radar(lon_, lat_, h_, errors="nan")
            t_line = g.first_line + local * g.azimuth_time_interval
            c0, c1 = g.azimuth_offset
            # NOTE: the slant range is stationary at zero Doppler: the time of the image
            # reference range (c1 term) moves it by micrometres
            t = t_line + c0 + c1 * g.annotation.slant_range_time
            rng = np.linalg.norm(xyz - g.orbit.position(t), axis=-1)
            res = px - g.polynomial_pixel(rng, t_line)
            assembled = local - part.skipped + part.first_line
            use = np.isfinite(assembled)
            if k > 0:
                use &= assembled >= part.first_line - 0.5
            line = np.where(use, assembled, line)
            slant = np.where(use, rng, slant)
            residual = np.where(use, res, residual)
        return line, slant, residual

    def range_tables(
        self, line_range: tuple[float, float], range_bounds: tuple[float, float]
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Polynomial pixel of each slant/ground range record as tables over slant range.

        Returns the first full-resolution line where each record applies, the slant ranges
        ``r0 + k dr`` of the tables and the tables ``(records, k)`` (pixel without residual)
        for the records used by lines within ``line_range``.
        """
        starts: list[float] = []
        times: list[float] = []
        geometries: list[SarGeometry] = []
        for k, part in enumerate(self.slices):
            g = part.geometry
            record = np.sort(g.orbit.seconds(g.annotation.coordinate_conversion.azimuth_time))
            lines = (record - g.first_line) / g.azimuth_time_interval
            lines = lines - part.skipped + part.first_line
            edges = np.concatenate([[-np.inf], 0.5 * (lines[1:] + lines[:-1])])
            if k > 0:
                edges = np.maximum(edges, part.first_line - 0.5)
            if k + 1 < len(self.slices):
                keep = edges < self.slices[k + 1].first_line - 0.5
                edges, record = edges[keep], record[keep]
            starts.extend(edges)
            times.extend(record)
            geometries.extend([g] * len(edges))
        start = np.asarray(starts)
        first = max(int(np.searchsorted(start, line_range[0], side="right")) - 1, 0)
        last = max(int(np.searchsorted(start, line_range[1], side="right")), first + 1)
        low, high = range_bounds
        step = _RANGE_TABLE_STEP
        r0 = np.floor(low / step) * step - step
        slant = r0 + step * np.arange(int(np.ceil((high - r0) / step)) + 2)
        tables = np.stack(
            [
                geometries[i].polynomial_pixel(slant, np.full(slant.shape, times[i]))
                for i in range(first, last)
            ]
        )
        return start[first:last], slant, tables

    def sensor(self, line: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        """ECEF position and velocity of the sensor at the zero-Doppler time of image lines."""
        line_ = np.asarray(line, dtype=np.float64)
        full_line, _ = self._to_full(line_, np.zeros_like(line_))
        which = self._slice_of(full_line)
        position = np.empty(line_.shape + (3,))
        velocity = np.empty(line_.shape + (3,))
        for k in np.unique(which):
            part = self.slices[int(k)]
            geometry = part.geometry
            sel = which == k
            local = full_line[sel] - part.first_line + part.skipped
            c0, c1 = geometry.azimuth_offset
            tau = geometry.annotation.slant_range_time
            t = geometry.first_line + local * geometry.azimuth_time_interval + c0 + c1 * tau
            position[sel], velocity[sel], _ = geometry.orbit.state(t)
        return position, velocity

    def slant_range(self, line: npt.ArrayLike, pixel: npt.ArrayLike) -> FloatArray:
        """Slant range (m) of multilooked image coordinates (any height gives the same)."""
        lon, lat = self.to_ground(line, pixel, 0.0)
        position, _ = self.sensor(np.broadcast_to(np.asarray(line, dtype=np.float64), lon.shape))
        return np.asarray(np.linalg.norm(geodetic_to_ecef(lon, lat, 0.0) - position, axis=-1))


# -- coarse lattice ------------------------------------------------------------------------------


def lattice_positions(n: int, step: int) -> npt.NDArray[np.intp]:
    """Coarse node indices ``0, step, 2 step, ..., n - 1`` of an axis of ``n`` samples."""
    nodes = np.arange(0, n, max(int(step), 1))
    return nodes if nodes[-1] == n - 1 else np.append(nodes, n - 1)


def axis_weights(n: int, nodes: npt.NDArray[np.intp]) -> tuple[npt.NDArray[np.intp], FloatArray]:
    if len(nodes) == 1:
        return np.zeros(n, dtype=np.intp), np.zeros(n)
    fine = np.arange(n, dtype=np.float64)
    i = np.clip(np.searchsorted(nodes, fine, side="right") - 1, 0, len(nodes) - 2)
    return i, (fine - nodes[i]) / (nodes[i + 1] - nodes[i])


@functools.lru_cache(maxsize=16)
def _to_lonlat(crs: str) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True)


def pixel_centres_lonlat(
    geobox: GeoBox, rows: npt.ArrayLike, cols: npt.ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """Longitude and latitude of the centres of pixels ``rows x cols`` (2-D mesh) of a grid."""
    a, _, c, _, e, f = list(geobox.affine)[:6]
    x = c + (np.asarray(cols, dtype=np.float64) + 0.5) * a
    y = f + (np.asarray(rows, dtype=np.float64) + 0.5) * e
    xx, yy = np.meshgrid(x, y)
    if geobox.crs is not None and geobox.crs.epsg == 4326:
        return xx, yy
    lon, lat = _to_lonlat(str(geobox.crs)).transform(xx, yy)
    return np.asarray(lon), np.asarray(lat)


@dataclass(frozen=True)
class HeightLattice:
    """Line, slant range and residual on a coarse lattice as quadratics in the height."""

    centre: float
    half: float
    """Half the height span of the lattice: heights are within ``centre +- half``."""
    coefficients: FloatArray
    """Shape ``(3, 3, rows, cols)``: quantity, power of ``d = h - centre``."""

    @classmethod
    def build(
        cls, model: RadarModel, lon: FloatArray, lat: FloatArray, low: float, high: float
    ) -> HeightLattice:
        centre = 0.5 * (low + high)
        half = max(0.5 * (high - low), 1.0)
        values = np.stack(
            [np.stack(model.range_coordinates(lon, lat, centre + k * half)) for k in (-1, 0, 1)],
            axis=1,
        )
        f0, f1, f2 = values[:, 0], values[:, 1], values[:, 2]
        coefficients = np.stack(
            [f1, (f2 - f0) / (2.0 * half), (f2 - 2.0 * f1 + f0) / (2.0 * half * half)], axis=1
        )
        return cls(centre, half, coefficients)

    def evaluate(
        self,
        model: RadarModel,
        height: FloatArray,
        rows: tuple[Any, Any],
        cols: tuple[Any, Any],
    ) -> tuple[FloatArray, FloatArray]:
        """Multilooked ``(line, pixel)`` at every sample (NaN where a node or height is NaN)."""
        coefficients = self.coefficients
        valid = np.isfinite(coefficients).all(axis=(0, 1))
        out = np.full((2,) + height.shape, np.nan)
        if not valid.any():
            return out[0], out[1]
        d = self.half * np.linspace(-1.0, 1.0, 5)[:, None]
        c = coefficients[:2, :, valid]
        reach = c[:, 0, None] + d * (c[:, 1, None] + d * c[:, 2, None])
        starts, r0, tables = model.range_tables(
            (float(reach[0].min()) - 2.0, float(reach[0].max()) + 2.0),
            (float(reach[1].min()) - 100.0, float(reach[1].max()) + 100.0),
        )
        _lattice_kernel(
            np.ascontiguousarray(np.nan_to_num(coefficients)),
            valid,
            rows[0],
            rows[1],
            cols[0],
            cols[1],
            np.asarray(height, dtype=np.float64),
            self.centre,
            starts,
            float(r0[0]),
            _RANGE_TABLE_STEP,
            tables,
            model.conversion,
            out,
        )
        return out[0], out[1]


@numba.njit(cache=True, nogil=True)
def _lattice_kernel(
    coef: Any,
    valid: Any,
    row_i: Any,
    row_w: Any,
    col_j: Any,
    col_w: Any,
    height: Any,
    centre: float,
    starts: Any,
    r0: float,
    dr: float,
    tables: Any,
    conversion: Any,
    out: Any,
) -> None:  # pragma: no cover - numba
    """Bilinear lattice interpolation, quadratic in height, then the record's range table."""
    n_nodes_r, n_nodes_c = valid.shape
    n_table = tables.shape[1]
    values = np.empty(3)
    for y in range(height.shape[0]):
        i, wy = row_i[y], row_w[y]
        i1 = min(i + 1, n_nodes_r - 1)
        for x in range(height.shape[1]):
            h = height[y, x]
            j, wx = col_j[x], col_w[x]
            j1 = min(j + 1, n_nodes_c - 1)
            if math.isnan(h) or not (valid[i, j] and valid[i, j1]):
                continue
            if not (valid[i1, j] and valid[i1, j1]):
                continue
            d = h - centre
            for q in range(3):
                acc = 0.0
                for p in range(3):
                    top = coef[q, p, i, j] * (1.0 - wx) + coef[q, p, i, j1] * wx
                    bottom = coef[q, p, i1, j] * (1.0 - wx) + coef[q, p, i1, j1] * wx
                    c = top * (1.0 - wy) + bottom * wy
                    acc += c * d**p
                values[q] = acc
            line, slant, residual = values[0], values[1], values[2]
            k = 0
            while k + 1 < starts.shape[0] and line >= starts[k + 1]:
                k += 1
            t = (slant - r0) / dr
            m = min(max(int(math.floor(t)), 0), n_table - 2)
            f = t - m
            pixel = tables[k, m] * (1.0 - f) + tables[k, m + 1] * f + residual
            out[0, y, x] = (line - conversion[0]) / conversion[2]
            out[1, y, x] = (pixel - conversion[1]) / conversion[3]


def radar_lookup(
    model: RadarModel,
    geobox: GeoBox,
    height: npt.ArrayLike,
    *,
    step: int = 16,
    reference_height: float | None = None,
) -> FloatArray:
    """Radar coordinates of every pixel centre of ``geobox`` at its DEM height.

    Parameters
    ----------
    model
        Radar model of the (multilooked) image.
    geobox
        Output grid (usually one chunk of it).
    height
        Heights above the WGS84 ellipsoid on ``geobox``, metres; NaN -> NaN coordinates.
    step
        Spacing of the lattice where the range-Doppler equations are solved exactly, pixels.
    reference_height
        Also return the coordinates of the pixels at this height (rows 2 and 3).

    Returns
    -------
    numpy.ndarray
        ``(2, ny, nx)`` (or ``(4, ny, nx)``) float64: line, pixel (, line and pixel at the
        reference height) of the multilooked image.
    """
    h = np.asarray(height, dtype=np.float64)
    ny, nx = geobox.shape
    fields = 2 if reference_height is None else 4
    out = np.full((fields, ny, nx), np.nan)
    finite = np.isfinite(h)
    if not finite.any():
        return out
    node_rows, node_cols = lattice_positions(ny, step), lattice_positions(nx, step)
    rows, cols = axis_weights(ny, node_rows), axis_weights(nx, node_cols)
    lon, lat = pixel_centres_lonlat(geobox, node_rows, node_cols)
    lattice = HeightLattice.build(model, lon, lat, float(h[finite].min()), float(h[finite].max()))
    out[0], out[1] = lattice.evaluate(model, h, rows, cols)
    if reference_height is not None:
        ref = np.full((ny, nx), float(reference_height))
        flat = HeightLattice.build(model, lon, lat, ref[0, 0], ref[0, 0])
        out[2], out[3] = flat.evaluate(model, np.where(finite, ref, np.nan), rows, cols)
    return out
