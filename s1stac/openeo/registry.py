"""The explicit registry of openEO processes: process id -> specification + implementation.

Specifications are short JSON documents shipped with the package, in the format of the openEO
process specifications (id, summary, description, parameters with name / description /
schema / optional / default, returns, exceptions): ``specs/openeo/`` for the standard
processes s1stac implements (same parameter names, required-ness and defaults as openEO
processes 2.0, written for s1stac), ``specs/s1stac/`` for the Sentinel-1 processes of the
``s1stac`` namespace.  Implementations take the openEO parameter names as keyword arguments;
those marked ``needs_context`` also get ``context=``
(:class:`~s1stac.openeo.context.ProcessContext`).

References
----------
openEO processes 2.0, https://processes.openeo.org
"""

from __future__ import annotations

import copy
import importlib.resources
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from .extents import parse_spatial_extent, parse_temporal_extent
from .processes import arrays, backscatter, cubes, load, math, mosaicking, s1, save

__all__ = ["NAMESPACES", "PROCESSES", "ProcessEntry", "list_processes"]

NAMESPACES: Final = ("openeo", "s1stac")
"""Namespaces of the registry: standard openEO processes and s1stac's own."""

Precheck = Callable[[Mapping[str, Any], Any], None]


@dataclass(frozen=True)
class ProcessEntry:
    """A registered process."""

    spec: Mapping[str, Any]
    """Process specification (openEO process JSON)."""
    implementation: Callable[..., Any]
    """Function called with the arguments as keywords."""
    namespace: str = "openeo"
    """``openeo`` (standard process) or ``s1stac`` (Sentinel-1 process of s1stac)."""
    needs_context: bool = False
    """The implementation reads or writes the catalog and takes ``context=``."""
    precheck: Precheck | None = None
    """Checks run before execution on the literal arguments (``(arguments, catalog)``)."""


def _check_extent(parameter: str, temporal: bool) -> Precheck:
    def check(arguments: Mapping[str, Any], catalog: Any) -> None:
        if parameter in arguments:
            if temporal:
                parse_temporal_extent(arguments[parameter], parameter)
            else:
                parse_spatial_extent(arguments[parameter], parameter)

    return check


_OPENEO: Final[dict[str, Callable[..., Any]]] = {
    # data cubes
    "load_collection": load.load_collection,
    "load_stac": load.load_stac,
    "sar_backscatter": backscatter.sar_backscatter,
    "ard_normalized_radar_backscatter": backscatter.ard_normalized_radar_backscatter,
    "save_result": save.save_result,
    "reduce_dimension": cubes.reduce_dimension,
    "apply": cubes.apply,
    "apply_dimension": cubes.apply_dimension,
    "filter_temporal": cubes.filter_temporal,
    "filter_bbox": cubes.filter_bbox,
    "filter_bands": cubes.filter_bands,
    "rename_labels": cubes.rename_labels,
    "rename_dimension": cubes.rename_dimension,
    "add_dimension": cubes.add_dimension,
    "drop_dimension": cubes.drop_dimension,
    "dimension_labels": cubes.dimension_labels,
    "merge_cubes": cubes.merge_cubes,
    # element-wise math, comparison, logic
    "absolute": math.absolute,
    "add": math.add,
    "subtract": math.subtract,
    "multiply": math.multiply,
    "divide": math.divide,
    "power": math.power,
    "sqrt": math.sqrt,
    "exp": math.exp,
    "ln": math.ln,
    "log": math.log,
    "clip": math.clip,
    "linear_scale_range": math.linear_scale_range,
    "normalized_difference": math.normalized_difference,
    "eq": math.eq,
    "neq": math.neq,
    "gt": math.gt,
    "gte": math.gte,
    "lt": math.lt,
    "lte": math.lte,
    "between": math.between,
    "and": math.and_,
    "or": math.or_,
    "not": math.not_,
    "if": math.if_,
    "is_nan": math.is_nan,
    "is_nodata": math.is_nodata,
    "is_valid": math.is_valid,
    # arrays and reducers
    "mean": arrays.mean,
    "median": arrays.median,
    "min": arrays.min_,
    "max": arrays.max_,
    "sum": arrays.sum_,
    "sd": arrays.sd,
    "variance": arrays.variance,
    "count": arrays.count,
    "quantiles": arrays.quantiles,
    "array_element": arrays.array_element,
    "first": arrays.first,
    "last": arrays.last,
}

_S1STAC: Final[dict[str, Callable[..., Any]]] = {
    "to_db": s1.to_db,
    "from_db": s1.from_db,
    "scale_to_int": s1.scale_to_int,
    "rescale_to_float": s1.rescale_to_float,
    "multitemporal_speckle_filter": s1.multitemporal_speckle_filter,
    "timescan": s1.timescan,
    "mosaic": mosaicking.mosaic,
}

_WITH_CONTEXT: Final = frozenset({"load_collection", "load_stac", "save_result"})
_PRECHECKS: Final[dict[str, Precheck]] = {
    "load_collection": load.check_load_collection,
    "load_stac": load.check_load_stac,
    "save_result": save.check_save_result,
    "filter_temporal": _check_extent("extent", temporal=True),
    "filter_bbox": _check_extent("extent", temporal=False),
}


def _spec(namespace: str, process_id: str) -> dict[str, Any]:
    resource = importlib.resources.files(__package__) / "specs" / namespace / f"{process_id}.json"
    spec: dict[str, Any] = json.loads(resource.read_text(encoding="utf-8"))
    return spec


def _build() -> dict[str, ProcessEntry]:
    registry = {}
    for namespace, table in (("openeo", _OPENEO), ("s1stac", _S1STAC)):
        for process_id, implementation in table.items():
            registry[process_id] = ProcessEntry(
                spec=_spec(namespace, process_id),
                implementation=implementation,
                namespace=namespace,
                needs_context=process_id in _WITH_CONTEXT,
                precheck=_PRECHECKS.get(process_id),
            )
    return registry


PROCESSES: Final[dict[str, ProcessEntry]] = _build()
"""Every process the engine runs, by process id."""


def list_processes() -> list[dict[str, Any]]:
    """Specifications of the registered processes, sorted by id (for ``GET /processes``).

    Processes of the ``s1stac`` namespace carry ``"namespace": "s1stac"``.
    """
    processes = []
    for process_id in sorted(PROCESSES):
        entry = PROCESSES[process_id]
        spec = copy.deepcopy(dict(entry.spec))
        if entry.namespace != "openeo":
            spec["namespace"] = entry.namespace
        processes.append(spec)
    return processes
