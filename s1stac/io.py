"""Raster output of s1stac: Cloud-Optimized GeoTIFFs and NetCDF files from lazy cubes.

This module is where lazy results are computed.  :func:`write_cogs` stores all its layers
with a single ``dask.array.store`` call, so an upstream shared by several layers (the kernel
of a timescan, a loaded stack) is computed once; each block is written into a tiled,
uncompressed temporary GeoTIFF under a lock, and the temporary file is then copied by GDAL's
COG driver (deflate, 512-pixel tiles, overviews averaged down to one tile) into place with an
atomic rename.  Floating-point layers use NaN as nodata.

The scheduler is ``None`` (dask's default, or the active ``distributed`` client), a local
scheduler name (``"threads"``, ``"processes"``, ``"synchronous"``) or the address of a
``distributed`` scheduler (``tcp://host:8786``).

References
----------
GDAL COG driver, https://gdal.org/en/stable/drivers/raster/cog.html
CF conventions 1.11 (grid mappings), https://cfconventions.org
"""

from __future__ import annotations

import contextlib
import logging
import os
import pathlib
import uuid
from collections.abc import Iterator, Mapping
from typing import Any, Final

import dask
import dask.array as da
import numpy as np
import odc.geo.xr  # noqa: F401 - registers the .odc accessor
import rasterio
import rasterio.shutil
import xarray as xr
from dask.utils import SerializableLock
from rasterio.windows import Window

from .errors import ParameterError

__all__ = ["COG_OPTIONS", "compute_context", "write_cogs", "write_netcdf"]

LOGGER = logging.getLogger(__name__)

BLOCKSIZE: Final = 512
COG_OPTIONS: Final[dict[str, str]] = {
    "COMPRESS": "DEFLATE",
    "PREDICTOR": "YES",
    "BLOCKSIZE": str(BLOCKSIZE),
    "OVERVIEWS": "AUTO",
    "OVERVIEW_RESAMPLING": "AVERAGE",
    "BIGTIFF": "IF_SAFER",
    "NUM_THREADS": "ALL_CPUS",
}
"""Creation options of the GDAL COG driver."""


def _is_address(scheduler: str) -> bool:
    return "://" in scheduler or ":" in scheduler


def _has_client() -> bool:
    """Whether a ``distributed`` client is the default scheduler."""
    try:
        from distributed import default_client

        default_client()  # type: ignore[no-untyped-call]
    except (ImportError, ValueError):
        return False
    return True


@contextlib.contextmanager
def compute_context(scheduler: str | None) -> Iterator[bool]:
    """Make ``scheduler`` the dask scheduler inside the block; yields whether it is distributed."""
    if scheduler is None:
        yield _has_client()
    elif _is_address(scheduler):
        from distributed import Client

        with Client(scheduler, set_as_default=True):  # type: ignore[no-untyped-call]
            yield True
    else:
        with dask.config.set(scheduler=scheduler):
            yield False


class _WindowWriter:
    """``dask.array.store`` target writing blocks into band 1 of a GeoTIFF (picklable)."""

    def __init__(self, path: str, lock: Any) -> None:
        self.path = path
        self.lock = lock

    def __setitem__(self, key: tuple[slice, slice], block: np.ndarray[Any, Any]) -> None:
        rows, cols = key
        window = Window.from_slices(rows, cols, height=block.shape[0], width=block.shape[1])
        with self.lock, rasterio.open(self.path, "r+") as dataset:
            dataset.write(block, 1, window=window)


def _lock(distributed: bool) -> Any:
    if distributed:
        from distributed import Lock

        return Lock(f"s1stac-write-{uuid.uuid4().hex}")  # type: ignore[no-untyped-call]
    return SerializableLock()


def _profile(layer: xr.DataArray) -> dict[str, Any]:
    geobox = layer.odc.geobox
    if geobox is None or layer.dims != ("y", "x"):
        raise ParameterError(
            f"layer {layer.name!r} has dims {layer.dims} and CRS "
            f"{None if geobox is None else geobox.crs}; a GeoTIFF layer needs dims ('y', 'x') "
            "and a CRS (spatial_ref coordinate)"
        )
    floating = np.issubdtype(layer.dtype, np.floating)
    return {
        "driver": "GTiff",
        "width": geobox.width,
        "height": geobox.height,
        "count": 1,
        "dtype": np.dtype(layer.dtype).name,
        "crs": geobox.crs.to_wkt(),
        "transform": geobox.affine,
        "nodata": np.nan if floating else layer.attrs.get("_FillValue"),
        "tiled": True,
        "blockxsize": BLOCKSIZE,
        "blockysize": BLOCKSIZE,
        "BIGTIFF": "IF_SAFER",
    }


def _remove(*paths: pathlib.Path) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def write_cogs(
    layers: Mapping[str | os.PathLike[str], xr.DataArray], *, scheduler: str | None = None
) -> list[pathlib.Path]:
    """Compute 2-D layers together and write each to a Cloud-Optimized GeoTIFF.

    Parameters
    ----------
    layers
        Output path -> layer with dims ``("y", "x")`` and a CRS (``spatial_ref`` coordinate,
        as produced by odc-stac); numpy or dask backed.  The layer's name becomes the band
        description, its ``units`` attribute the band's unit; integer layers take their
        nodata value from the CF ``_FillValue`` attribute, and ``scale_factor`` /
        ``add_offset`` become the band's scale and offset.
    scheduler
        Dask scheduler (see the module docstring).

    Returns
    -------
    list of pathlib.Path
        The files written, in the order of ``layers``.  Nothing is left behind on failure.
    """
    jobs = [(pathlib.Path(path), layer, _profile(layer)) for path, layer in layers.items()]
    temporary = [p.with_name(f".{p.name}.{uuid.uuid4().hex}.tmp.tif") for p, _, _ in jobs]
    try:
        for (path, layer, profile), tmp in zip(jobs, temporary, strict=True):
            path.parent.mkdir(parents=True, exist_ok=True)
            with rasterio.open(tmp, "w", **profile) as dataset:
                if layer.name is not None:
                    dataset.set_band_description(1, str(layer.name))
                if "units" in layer.attrs:
                    dataset.set_band_unit(1, str(layer.attrs["units"]))
                if "scale_factor" in layer.attrs:
                    dataset.scales = (float(layer.attrs["scale_factor"]),)
                    dataset.offsets = (float(layer.attrs.get("add_offset", 0.0)),)
        with compute_context(scheduler) as distributed:
            lock = _lock(distributed)
            sources = [
                layer.data
                if isinstance(layer.data, da.Array)
                else da.from_array(layer.data, chunks=(BLOCKSIZE * 4, BLOCKSIZE * 4))  # type: ignore[no-untyped-call]
                for _, layer, _ in jobs
            ]
            targets = [_WindowWriter(str(tmp), lock) for tmp in temporary]
            da.store(sources, targets, lock=False, compute=True)  # type: ignore[arg-type]
        for (path, _, _), tmp in zip(jobs, temporary, strict=True):
            staged = tmp.with_suffix(".cog")
            try:
                rasterio.shutil.copy(tmp, staged, driver="COG", **COG_OPTIONS)
                os.replace(staged, path)
            finally:
                _remove(staged, tmp)  # disk use: one uncompressed copy less per file done
    finally:
        _remove(*temporary)
    LOGGER.info("wrote %d COG(s): %s", len(jobs), ", ".join(p.name for p, _, _ in jobs))
    return [path for path, _, _ in jobs]


def write_netcdf(
    cube: xr.DataArray, path: str | os.PathLike[str], *, scheduler: str | None = None
) -> pathlib.Path:
    """Compute a cube and write it to NetCDF, one variable per band label.

    Parameters
    ----------
    cube
        Cube with dims among ``(t, bands, y, x)`` and a CRS (``spatial_ref`` coordinate, kept
        as the CF grid mapping).
    path
        Output file; written to a temporary name and renamed.
    scheduler
        Dask scheduler (see the module docstring).
    """
    path = pathlib.Path(path)
    name = str(cube.name or "data")
    if "bands" in cube.dims:
        dataset = cube.to_dataset(dim="bands")
        dataset = dataset.rename({k: str(k) for k in dataset.data_vars})
    else:
        dataset = cube.to_dataset(name=name)
    for variable in dataset.data_vars.values():
        if "spatial_ref" in dataset.coords:
            variable.attrs["grid_mapping"] = "spatial_ref"
    dataset.attrs = {"Conventions": "CF-1.11", "source": "s1stac"}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with compute_context(scheduler):
            # NOTE: the scipy engine is the NetCDF writer that needs no compiled HDF5 stack;
            # it writes NetCDF-3 (64-bit offsets), which CF readers and GDAL open.
            dataset.to_netcdf(tmp, engine="scipy", format="NETCDF3_64BIT")
        os.replace(tmp, path)
    finally:
        _remove(tmp)
    LOGGER.info("wrote %s", path)
    return path
