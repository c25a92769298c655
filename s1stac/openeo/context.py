"""Data-cube conventions and the execution context the graph engine hands to processes.

Data cubes are ``xarray.DataArray`` objects with dimensions among ``t``, ``bands``, ``y``,
``x`` (in that order) and the CRS in a ``spatial_ref`` coordinate (odc-geo convention, read
with ``cube.odc.crs`` / ``cube.odc.geobox``).  Inside a reducer or ``apply_dimension``
callback, the dimension being processed is renamed :data:`ARRAY_DIM`: array processes
(``mean``, ``quantiles``, ``array_element`` ...) work along it, element-wise processes ignore
it, so a callback runs once on the whole cube instead of once per pixel.

Lineage (which catalog items a result is derived from) is not stored in ``attrs``: the
engine tracks it per node along ``from_node`` edges as a set of :class:`SourceItem`; loaders
add the items they read with :meth:`ProcessContext.add_sources`, ``save_result`` reads
:attr:`ProcessContext.sources` to write ``derived_from`` links.

References
----------
openEO data cubes, https://openeo.org/documentation/1.0/datacubes.html
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import xarray as xr

from .errors import DimensionNotAvailable, ProcessParameterInvalid

if TYPE_CHECKING:
    from s1stac.catalog import StaticCatalog

__all__ = [
    "ARRAY_DIM",
    "BANDS",
    "DIMS",
    "T",
    "X",
    "Y",
    "Callback",
    "ProcessContext",
    "SourceItem",
    "require_cube",
    "require_dimension",
]

T: Final = "t"
BANDS: Final = "bands"
Y: Final = "y"
X: Final = "x"
DIMS: Final = (T, BANDS, Y, X)
"""Dimension names and order of s1stac data cubes."""
ARRAY_DIM: Final = "__array__"
"""Name of the dimension a reducer / apply_dimension callback works along."""

Callback = Callable[..., Any]
"""A child process graph: called with its parameters as keyword arguments."""


@dataclass(frozen=True)
class SourceItem:
    """A catalog item that data was loaded from (one ``derived_from`` link)."""

    href: str
    """Absolute path or URL of the item JSON."""
    item_id: str
    collection: str | None
    start: dt.datetime
    """Start of the item's time range (UTC, aware)."""
    end: dt.datetime
    """End of the item's time range (``start`` for instants)."""
    properties: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)
    """Item properties, for the fields the derived item inherits."""


@dataclass
class ProcessContext:
    """What the engine passes to processes that read or write the catalog (``context=``).

    One instance per node call; only the engine creates it.
    """

    catalog: StaticCatalog
    """Catalog that ``load_collection`` reads and ``save_result`` writes."""
    node_id: str
    process_id: str
    sources: frozenset[SourceItem]
    """Lineage of the node's inputs (union over its ``from_node`` arguments)."""
    expression: Mapping[str, Any]
    """The process graph being run and its parameter values (``processing:expression``)."""
    digest: str
    """SHA-256 of the process graph, parameter values and node id (stable output ids)."""
    scheduler: str | None = None
    """Dask scheduler used when writing: ``None``, a scheduler name or a cluster address."""
    loaded: set[SourceItem] = field(default_factory=set)

    def add_sources(self, items: Iterable[SourceItem]) -> None:
        """Record items read by this node; they join the lineage of every downstream node."""
        self.loaded.update(items)


def require_cube(value: Any, parameter: str = "data") -> xr.DataArray:
    """Check that an argument is a raster data cube (an ``xarray.DataArray`` with y and x)."""
    if not isinstance(value, xr.DataArray):
        raise ProcessParameterInvalid(
            f"expected a data cube (the result of another node, e.g. load_collection), got "
            f"{type(value).__name__}",
            parameter=parameter,
        )
    return value


def require_dimension(cube: xr.DataArray, dimension: str, parameter: str = "dimension") -> str:
    """Check that ``dimension`` is a dimension of ``cube``."""
    if dimension not in cube.dims:
        raise DimensionNotAvailable(
            f"dimension {dimension!r} is not in the data cube; its dimensions are "
            f"{[str(d) for d in cube.dims]}",
            parameter=parameter,
        )
    return dimension
