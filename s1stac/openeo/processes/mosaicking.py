"""``mosaic`` of the ``s1stac`` namespace: merge the labels of a dimension into one mosaic.

openEO design: a cube loaded from several items (e.g. the timescans of two tracks with
``load_collection``) lies on one grid, each item a label of ``t`` with no-data outside its
footprint.  ``mosaic`` reduces that dimension by :func:`s1stac.mosaic.mosaic` — per-image
gains matched in the overlaps (keeping the total power), feathered blending over the valid
pixels — instead of a per-pixel reducer: the gains and feather weights need whole images,
which ``reduce_dimension`` callbacks do not see.  Values must be linear power (apply
``from_db`` first and ``to_db`` after for dB cubes).

References
----------
OST_SPEC.md §5 (OST/OTB mosaic), s1stac/openeo/specs/s1stac/mosaic.json
"""

from __future__ import annotations

import xarray as xr

from s1stac.mosaic import mosaic as _mosaic

from ..context import DIMS, T, require_cube, require_dimension

__all__ = ["mosaic"]


def mosaic(
    data: xr.DataArray,
    dimension: str = T,
    harmonise: bool = True,
    feather_distance: float | None = None,
) -> xr.DataArray:
    """Mosaic the labels of ``dimension`` (linear power, NaN no-data); the dimension is dropped."""
    cube = require_cube(data)
    require_dimension(cube, dimension)
    images = [
        cube.isel({dimension: k}, drop=True).rename(f"image{k}")
        for k in range(cube.sizes[dimension])
    ]
    result = _mosaic(images, harmonise=harmonise, feather_distance=feather_distance)
    order = [d for d in DIMS if d in result.dims] + [d for d in result.dims if d not in DIMS]
    return result.transpose(*order).rename(cube.name).assign_attrs(cube.attrs)
