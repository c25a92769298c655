"""Pictures of backscatter products: RGB composites, thumbnails, animations, timescan quick-looks.

Reference: ``OST_SPEC.md`` §6 (OST ``ost/helpers/raster.py::create_timeseries_animation``,
``ost/s1/ts.py::create_ts_animation`` and ``ost/s1/grd_to_ard.py::ard_to_rgb``;
https://github.com/ESA-PhiLab/OpenSarToolkit).  Each channel is stretched to uint8 codes with
OST's ``scale_to_int`` (:func:`s1stac.timeseries.scale_to_int`: ``low`` -> 1, ``high`` -> 255,
clipped, NaN -> 0).  Pictures are written with Pillow only (no ImageMagick, no font files).

Decisions taken where OST is inconsistent (§6.1-6.3):

* Channels: red = co-polarisation (VV or HH) -20…0 dB, green = cross-polarisation (VH or HV)
  -25…-5 dB, blue = co/cross ratio 1…15.  OST's scene RGB (§6.3) takes the ratio of linear
  powers (:data:`SCENE_RGB`, used by :func:`write_thumbnail`); its animations (§6.1, §6.2)
  take the dB difference (:data:`ANIMATION_RGB`, used by
  :func:`write_timeseries_animation`).  Both keep the cross-polarisation range -25…-5 dB of
  §6.2/§6.3 (HEAD's animation narrowed it to -25…-12 dB).
* Pictures are shrunk by whole factors averaging linear power (NaN ignored), then converted to
  dB; OST averaged the dB files.  Pixels without data are transparent in PNGs (alpha 0),
  black in GIF frames.
* Date labels as OST's ImageMagick caption: a half-transparent black band across the top,
  ``max(H/15, text)`` pixels high, white centred text ``Image from: dd.mm.YYYY`` or, for a
  mosaic of several days, ``Mosaic: dd.mm.YYYY-dd.mm.YYYY``; Pillow's built-in font.
* Timescan quick-look (no OST counterpart): red = VV ``avg`` -20…0 dB, green = VH ``avg``
  -25…-5 dB, blue = VV ``cov`` (coefficient of variation in linear power) 1e-5…1, the range of
  OST's timescan scaling table (§4.2): bright blue marks pixels that changed over time.
"""

from __future__ import annotations

import logging
import math
import os
import pathlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from PIL import Image, ImageDraw, ImageFont

from s1stac.errors import ParameterError
from s1stac.timeseries import from_db, scale_to_int, to_db

LOGGER = logging.getLogger(__name__)

CO_POL = ("VV", "HH")
CROSS_POL = ("VH", "HV")
LABEL_BACKGROUND = (0, 0, 0, 0x88)
"""ImageMagick ``#0008`` of OST's caption: black, alpha 0x88."""


@dataclass(frozen=True)
class RgbStretch:
    """Display ranges of the three channels of a dual-polarisation RGB."""

    co: tuple[float, float] = (-20.0, 0.0)
    """Co-polarisation (VV or HH) range in dB, red."""
    cross: tuple[float, float] = (-25.0, -5.0)
    """Cross-polarisation (VH or HV) range in dB, green."""
    ratio: tuple[float, float] = (1.0, 15.0)
    """Co/cross ratio range, blue: linear ratio or dB difference (``ratio_in_db``)."""
    ratio_in_db: bool = False
    """Blue is ``co_dB - cross_dB`` (OST animations) instead of ``co / cross`` (scene RGB)."""


SCENE_RGB = RgbStretch()
"""OST single-scene RGB (``OST_SPEC.md`` §6.3): linear ratio 1…15."""
ANIMATION_RGB = RgbStretch(ratio_in_db=True)
"""OST time-series animation (§6.1/§6.2): ratio as dB difference 1…15 dB."""


@dataclass(frozen=True)
class QuicklookChannel:
    """One channel of a timescan quick-look."""

    polarisation: str
    """Polarisation of the timescan, e.g. ``"VV"``."""
    metric: str
    """Metric label of the timescan (``avg``, ``max``, ``cov``...)."""
    low: float
    """Value shown as code 1."""
    high: float
    """Value shown as code 255."""
    db: bool = True
    """``low``/``high`` are dB: metrics in linear units are converted first."""


TIMESCAN_RGB = (
    QuicklookChannel("VV", "avg", -20.0, 0.0),
    QuicklookChannel("VH", "avg", -25.0, -5.0),
    QuicklookChannel("VV", "cov", 1e-5, 1.0, db=False),
)
"""Default timescan quick-look channels (red, green, blue); see the module docstring."""


def _db(da: xr.DataArray) -> xr.DataArray:
    return da if da.attrs.get("units") == "dB" else to_db(da)


def _codes(values: xr.DataArray, low: float, high: float, name: str) -> xr.DataArray:
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ParameterError(f"{name} range ({low!r}, {high!r}) needs finite low < high.")
    codes = scale_to_int(values, "uint8", low=low, high=high)
    codes.attrs = {}
    return codes


def rgb_composite(
    vv: xr.DataArray, vh: xr.DataArray, *, stretch: RgbStretch = SCENE_RGB
) -> xr.DataArray:
    """Dual-polarisation RGB as uint8 codes (``OST_SPEC.md`` §6.1, §6.3).

    Parameters
    ----------
    vv, vh
        Co- and cross-polarisation backscatter (VV/VH or HH/HV), linear power, or dB if their
        ``units`` attribute is ``"dB"``; same dims and shape.  NaN is no-data.
    stretch
        Channel ranges (:data:`SCENE_RGB` or :data:`ANIMATION_RGB`).

    Returns
    -------
    xarray.DataArray
        uint8, dims ``("band", *vv.dims)``, bands ``red, green, blue``; codes 1…255, 0 where the
        channel has no data.  Lazy on dask input.

    Examples
    --------
    >>> vv = xr.DataArray([[0.1, 1.0]]); vh = xr.DataArray([[0.01, 0.1]])
    >>> rgb_composite(vv, vh).values[:, 0, 0].tolist()   # -10 dB, -20 dB, ratio 10
    [128, 65, 164]
    """
    if vv.shape != vh.shape:
        raise ParameterError(
            f"vv has shape {vv.shape} but vh {vh.shape}; give co-registered bands."
        )
    # NOTE: a scalar "band" coordinate (vv = cube.sel(band="VV")) would clash with the output's
    co_db = _db(vv.drop_vars("band", errors="ignore"))
    cross_db = _db(vh.drop_vars("band", errors="ignore"))
    ratio = co_db - cross_db
    if not stretch.ratio_in_db:
        ratio = from_db(ratio.assign_attrs(units="dB"))
    bands = [
        _codes(co_db, *stretch.co, "co"),
        _codes(cross_db, *stretch.cross, "cross"),
        _codes(ratio, *stretch.ratio, "ratio"),
    ]
    out = xr.concat(bands, dim="band", coords="minimal", compat="override")
    out = out.assign_coords(band=["red", "green", "blue"])
    out.name = "rgb"
    return out.assign_attrs(long_name="co, cross, co/cross ratio RGB", units="1")


def _shrink_factor(shape: Sequence[int], shrink: int | None, max_size: int) -> int:
    if shrink is not None:
        if not (isinstance(shrink, int) and shrink >= 1):
            raise ParameterError(f"shrink={shrink!r} must be an integer >= 1.")
        return shrink
    if not (isinstance(max_size, int) and max_size >= 1):
        raise ParameterError(f"max_size={max_size!r} must be a number of pixels >= 1.")
    return max(1, math.ceil(max(shape) / max_size))


def shrink_mean(da: xr.DataArray, factor: int) -> xr.DataArray:
    """Mean over ``factor x factor`` pixel blocks of the last two dims, NaN ignored."""
    if factor == 1:
        return da
    ydim, xdim = da.dims[-2:]
    blocks = da.coarsen({ydim: factor, xdim: factor}, boundary="pad")
    count = blocks.count()
    return (blocks.sum() / count.where(count > 0)).assign_attrs(da.attrs)


def _linear(da: xr.DataArray) -> xr.DataArray:
    return from_db(da) if da.attrs.get("units") == "dB" else da


def _to_image(codes: np.ndarray[Any, Any], alpha: np.ndarray[Any, Any] | None) -> Image.Image:
    planes = list(codes) if codes.ndim == 3 else [codes] * 3
    if alpha is not None:
        planes.append(np.where(alpha, 255, 0).astype(np.uint8))
    return Image.fromarray(np.ascontiguousarray(np.stack(planes, axis=-1)))


def write_thumbnail(
    vv: xr.DataArray,
    vh: xr.DataArray,
    path: str | os.PathLike[str],
    *,
    max_size: int = 512,
    stretch: RgbStretch = SCENE_RGB,
) -> pathlib.Path:
    """Write the RGB of one acquisition (:func:`rgb_composite`) as a PNG thumbnail.

    Parameters
    ----------
    vv, vh
        Co- and cross-polarisation, dims ``(y, x)``, linear power (or ``units="dB"``).
    path
        PNG file to write (parent folders are created).
    max_size
        Longest side of the thumbnail in pixels; the bands are shrunk by the smallest whole
        factor that fits, averaging linear power.
    stretch
        Channel ranges, default OST's scene RGB (§6.3).

    Returns
    -------
    pathlib.Path
        The PNG written (RGBA, transparent where both bands lack data).
    """
    if vv.ndim != 2:
        raise ParameterError(f"vv has dims {vv.dims}; a thumbnail needs one 2-D image.")
    factor = _shrink_factor(vv.shape, None, max_size)
    co, cross = shrink_mean(_linear(vv), factor), shrink_mean(_linear(vh), factor)
    codes = rgb_composite(co, cross, stretch=stretch).values
    valid = np.isfinite(co.values) | np.isfinite(cross.values)
    out = pathlib.Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    _to_image(codes, valid).save(out, format="PNG")
    LOGGER.info("thumbnail %s (%d x %d, shrunk %dx)", out, codes.shape[2], codes.shape[1], factor)
    return out


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=max(size, 6))


def date_label(when: Any) -> str:
    """OST's caption: ``Image from: dd.mm.YYYY``, or ``Mosaic: dd.mm.YYYY-dd.mm.YYYY``."""
    if isinstance(when, tuple):
        start, end = (pd.Timestamp(t) for t in when)
        if start.date() != end.date():
            return f"Mosaic: {start:%d.%m.%Y}-{end:%d.%m.%Y}"
        when = start
    return f"Image from: {pd.Timestamp(when):%d.%m.%Y}"


def _fitting_font(text: str, width: int, size: int, smallest: int) -> Any:
    """Largest default font of at most ``size`` pixels that fits ``text`` in ``width``."""
    for pixels in range(max(size, smallest), smallest - 1, -1):
        font = _font(pixels)
        if font.getbbox(text)[2] <= width - 2:
            return font
    return None


def draw_label(image: Image.Image, text: str) -> Image.Image:
    """Copy of ``image`` with ``text`` in white on a half-transparent band across its top.

    The band is ``max(H/15, text height + 4)`` pixels high; text that does not fit the width
    loses its prefix (``"Image from: "``) before the font gets smaller than 8 pixels.
    """
    width, height = image.size
    size = max(height // 15, 10)
    short = text.split(": ", 1)[-1]
    font = _fitting_font(text, width, int(size * 0.8), 8)
    if font is None:
        text = short
        font = _fitting_font(short, width, int(size * 0.8), 6) or _font(6)
    left, top, right, bottom = font.getbbox(text)
    band_height = min(max(size, bottom - top + 4), height)
    out = image.convert("RGBA")
    out.alpha_composite(Image.new("RGBA", (width, band_height), LABEL_BACKGROUND))
    draw = ImageDraw.Draw(out)
    x = (width - (right - left)) / 2 - left
    y = (band_height - (bottom - top)) / 2 - top
    draw.text((x, y), text, fill=(255, 255, 255, 255), font=font)
    return out.convert(image.mode)


def _split_pols(
    cube: xr.DataArray | xr.Dataset,
) -> tuple[xr.DataArray, str, xr.DataArray | None]:
    """Co-polarisation (or the only one), its name, and cross-polarisation (or None)."""
    if isinstance(cube, xr.Dataset):
        names = [str(n) for n in cube.data_vars]
    elif "band" in cube.dims:
        names = [str(n) for n in cube["band"].values]
    else:
        return cube, str(cube.name), None

    def get(name: str) -> xr.DataArray:
        if isinstance(cube, xr.Dataset):
            return cube[name]
        return cube.sel(band=name, drop=True).assign_attrs(cube.attrs)

    co = next((p for p in CO_POL if p in names), None)
    cross = next((p for p in CROSS_POL if p in names), None)
    if co is None and cross is None:
        raise ParameterError(f"bands {names} hold no polarisation; name them VV/VH (or HH/HV).")
    if co is None or cross is None:
        only = str(co or cross)
        return get(only), only, None
    return get(co), co, get(cross)


def write_timeseries_animation(
    cube: xr.DataArray | xr.Dataset,
    path: str | os.PathLike[str],
    *,
    dates: Sequence[Any] | None = None,
    dim: str = "t",
    shrink: int | None = None,
    max_size: int = 1024,
    duration_ms: int = 1000,
    loop: int = 0,
    stretch: RgbStretch = ANIMATION_RGB,
) -> pathlib.Path:
    """Write an animated GIF of a time series, one labelled RGB frame per date (§6.1).

    Parameters
    ----------
    cube
        Linear power (or ``units="dB"``), dims ``(dim, "band", y, x)`` with bands VV/VH (or
        HH/HV), or a Dataset of such variables with dims ``(dim, y, x)``.  With one
        polarisation the frames are grey (its range of ``stretch``).
    path
        GIF file to write.
    dates
        Label of each frame: a date/time or a ``(start, end)`` pair; default the ``dim``
        coordinate, or its ``start_datetime``/``end_datetime`` coordinates (time-series
        mosaics, labelled ``Mosaic: ...`` when they span several days).
    dim
        Time dimension.
    shrink, max_size
        Whole shrink factor (OST ``shrink_factor``); default the smallest that keeps the
        longest side within ``max_size`` pixels.
    duration_ms, loop
        Display time of a frame and number of loops (0: forever).
    stretch
        Channel ranges, default OST's animation RGB.

    Returns
    -------
    pathlib.Path
        The GIF written (Pillow merges consecutive identical frames, adding their durations).
    """
    if dim not in cube.dims:
        raise ParameterError(f"cube has dims {tuple(cube.dims)}, no time dimension {dim!r}.")
    n_frames = cube.sizes[dim]
    if dates is None:
        coords = cube.coords
        if "start_datetime" in coords and "end_datetime" in coords:
            ends = coords["end_datetime"].values
            dates = list(zip(coords["start_datetime"].values, ends, strict=True))
        elif dim in coords:
            dates = list(coords[dim].values)
        else:
            raise ParameterError(f"cube has no {dim!r} coordinate; pass dates=.")
    if len(dates) != n_frames:
        raise ParameterError(f"{len(dates)} dates for {n_frames} time steps along {dim!r}.")
    co, co_name, cross = _split_pols(cube)
    factor = _shrink_factor(co.shape[-2:], shrink, max_size)
    frames = []
    for k, when in enumerate(dates):
        first = shrink_mean(_linear(co.isel({dim: k})), factor)
        if cross is None:
            lo, hi = stretch.cross if co_name in CROSS_POL else stretch.co
            codes = _codes(_db(first), lo, hi, co_name).values
        else:
            second = shrink_mean(_linear(cross.isel({dim: k})), factor)
            codes = rgb_composite(first, second, stretch=stretch).values
        frames.append(draw_label(_to_image(codes, None), date_label(when)))
    out = pathlib.Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    frames[0].save(
        out,
        format="GIF",
        save_all=True,
        append_images=frames[1:],
        duration=int(duration_ms),
        loop=int(loop),
    )
    LOGGER.info("animation %s: %d frames of %s", out, len(frames), frames[0].size)
    return out


def _metric(timescan: Any, pol: str, metric: str) -> xr.DataArray:
    if isinstance(timescan, xr.DataArray) and "band" in timescan.dims:
        if pol not in timescan["band"].values:
            raise ParameterError(f"timescan has no band {pol!r}: {list(timescan.band.values)}.")
        layer = timescan.sel(band=pol)
    elif isinstance(timescan, xr.DataArray):
        layer = timescan
    elif pol in timescan:
        layer = timescan[pol]
    else:
        raise ParameterError(f"timescan has no polarisation {pol!r}: {list(timescan)}.")
    labels = [str(v) for v in layer["metric"].values] if "metric" in layer.coords else []
    if metric not in labels:
        raise ParameterError(f"timescan {pol} has no metric {metric!r}; it has {labels}.")
    values = layer.sel(metric=metric)
    unit = str(values.coords["metric_units"].values) if "metric_units" in values.coords else ""
    return values.drop_vars(["metric", "metric_units", "band"], errors="ignore").assign_attrs(
        units=unit
    )


def write_timescan_quicklook(
    timescan: xr.DataArray | xr.Dataset | Mapping[str, xr.DataArray],
    path: str | os.PathLike[str],
    *,
    channels: Sequence[QuicklookChannel] = TIMESCAN_RGB,
    max_size: int = 1024,
) -> pathlib.Path:
    """Write an RGB PNG of timescan metrics (:func:`s1stac.timescan.timescan` outputs).

    Parameters
    ----------
    timescan
        Per polarisation a DataArray with dims ``("metric", y, x)`` (``metric`` and
        ``metric_units`` coordinates): a mapping or Dataset by polarisation, or one DataArray
        with a ``band`` dimension of polarisations.
    path
        PNG file to write.
    channels
        Red, green and blue (:data:`TIMESCAN_RGB` by default).
    max_size
        Longest side of the picture (whole shrink factor, mean of the metric values).

    Returns
    -------
    pathlib.Path
        The PNG written (RGBA, transparent where no channel has data).
    """
    if len(channels) != 3:
        raise ParameterError(f"channels has {len(channels)} entries; give red, green, blue.")
    layers = []
    for ch in channels:
        values = _metric(timescan, ch.polarisation, ch.metric)
        if values.ndim != 2:
            raise ParameterError(f"timescan {ch.polarisation} {ch.metric} has dims {values.dims}.")
        if ch.db and values.attrs.get("units") != "dB":
            values = to_db(values)
        layers.append(values)
    factor = _shrink_factor(layers[0].shape, None, max_size)
    small = [shrink_mean(v, factor) for v in layers]
    codes = np.stack(
        [
            _codes(v, ch.low, ch.high, f"{ch.polarisation} {ch.metric}").values
            for v, ch in zip(small, channels, strict=True)
        ]
    )
    valid = np.any([np.isfinite(v.values) for v in small], axis=0)
    out = pathlib.Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    _to_image(codes, valid).save(out, format="PNG")
    LOGGER.info("timescan quick-look %s (shrunk %dx)", out, factor)
    return out
