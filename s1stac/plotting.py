"""PNG map of an inventory: footprints coloured by track, the AOI outline, labels and a legend.

The analogue of the Open SAR Toolkit's ``plot_inventory`` / legacy ``plotInv``
(``ost/helpers/vector.py``, ``OST_SPEC.md`` §7), drawn with matplotlib's Agg canvas (no
display, no pyplot global state).
"""

from __future__ import annotations

import logging
import math
import os
import pathlib

import geopandas as gpd
import shapely
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from shapely.geometry.base import BaseGeometry

log = logging.getLogger(__name__)

_ASCENDING = ("#1f77b4", "#17becf", "#2ca02c", "#9467bd", "#7f7f7f")
_DESCENDING = ("#d62728", "#ff7f0e", "#e377c2", "#8c564b", "#bcbd22")


def _rings(geometry: BaseGeometry) -> list[list[tuple[float, float]]]:
    rings = []
    for polygon in shapely.get_parts(geometry):
        if isinstance(polygon, shapely.Polygon):
            rings.append(list(polygon.exterior.coords))
    return rings


def plot_inventory(
    gdf: gpd.GeoDataFrame,
    aoi: BaseGeometry | None,
    out_png: str | os.PathLike[str],
    *,
    title: str | None = None,
    dpi: int = 120,
) -> pathlib.Path:
    """Write a PNG map of the footprints of an inventory and the AOI.

    Parameters
    ----------
    gdf
        Inventory (:func:`s1stac.inventory.items_to_geodataframe`), EPSG:4326.
    aoi
        Area of interest drawn as a thick black outline, or ``None``.
    out_png
        PNG file to write (parent folders are created).
    title
        Figure title; default: number of products and date range.
    dpi
        Resolution of the PNG.

    Returns
    -------
    pathlib.Path
        ``out_png``.

    Notes
    -----
    One colour per track (orbit direction and relative orbit: blues/greens for ascending,
    reds/oranges for descending); each footprint is labelled with its track and UTC date.
    The map is in longitude/latitude with the aspect ratio of the mean latitude.
    """
    out = pathlib.Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure = Figure(figsize=(9, 7), dpi=dpi, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    labels = gdf["orbit_direction"].astype(str) + " " + gdf["track"].map("{:03d}".format)
    colours: dict[str, str] = {}
    for label in sorted(labels.unique()):
        palette = _ASCENDING if label.startswith("ASC") else _DESCENDING
        used = sum(1 for k in colours if k.startswith(label[:3]))
        colours[label] = palette[used % len(palette)]
    for (_, row), label in zip(gdf.iterrows(), labels, strict=True):
        colour = colours[label]
        for ring in _rings(row.geometry):
            xs, ys = zip(*ring, strict=True)
            axes.fill(xs, ys, facecolor=to_rgba(colour, 0.35), edgecolor=colour, linewidth=1.2)
        point = row.geometry.representative_point()
        axes.annotate(
            f"{row['track']} {row['start']:%Y-%m-%d}",
            (point.x, point.y),
            ha="center",
            va="center",
            fontsize=7,
        )
    if aoi is not None:
        for ring in _rings(aoi):
            xs, ys = zip(*ring, strict=True)
            axes.plot(xs, ys, color="black", linewidth=2.0)
    shapes = list(gdf.geometry) + ([aoi] if aoi is not None else [])
    if shapes:
        minx, miny, maxx, maxy = shapely.union_all(shapes).bounds
        pad = 0.05 * max(maxx - minx, maxy - miny, 0.1)
        axes.set_xlim(minx - pad, maxx + pad)
        axes.set_ylim(miny - pad, maxy + pad)
        axes.set_aspect(1.0 / max(math.cos(math.radians((miny + maxy) / 2)), 0.1))
    handles = [Patch(facecolor=to_rgba(c, 0.35), edgecolor=c, label=k) for k, c in colours.items()]
    if aoi is not None:
        handles.append(Patch(facecolor="none", edgecolor="black", linewidth=2.0, label="AOI"))
    if handles:
        axes.legend(handles=handles, loc="best", fontsize=8, title="track")
    axes.set_xlabel("longitude (deg)")
    axes.set_ylabel("latitude (deg)")
    axes.grid(True, linewidth=0.3)
    if title is None and len(gdf):
        title = (
            f"{len(gdf)} Sentinel-1 product(s), "
            f"{gdf['start'].min():%Y-%m-%d} to {gdf['start'].max():%Y-%m-%d}"
        )
    if title:
        axes.set_title(title)
    figure.savefig(out, format="png")
    log.info("inventory map written to %s", out)
    return out
