"""The process-graph engine: validate an openEO process graph, then evaluate it lazily.

``run_graph`` reads the graph (a file, a process object ``{"process_graph": ...}``, an API
request body ``{"process": {...}}`` or a bare flat graph), validates all of it before any
data is touched (:mod:`s1stac.openeo.parse`), then evaluates the nodes in dependency order.
Processes return lazy ``xarray`` objects; only ``save_result`` computes (through
:mod:`s1stac.io`) and registers STAC items.  Every node is evaluated once even if several
nodes use its result; callbacks run once per call on whole cubes.  Every node of the graph is
evaluated (several ``save_result`` nodes are allowed); the value of the ``result`` node is
returned.

The engine is written here rather than on openeo-pg-parser-networkx: that parser raises bare
``Exception`` for missing nodes and cycles, resolves arguments into pydantic models (bounding
boxes, pendulum datetimes) that every process would have to accept, fails on year-only
extents with a ``TypeError`` and finds unknown process ids only during execution; the checks
s1stac needs (openEO error codes naming node and parameter, schema checks of literal
arguments, nothing executed or written on bad input) would all have to be done beforehand
anyway.  What remains is a depth-first walk of ~100 lines.

References
----------
openEO API 1.2, process graphs, https://api.openeo.org/#section/Processes/Process-Graphs
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pathlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema
import xarray as xr

from s1stac.catalog import StaticCatalog
from s1stac.errors import ParameterError

from .context import ProcessContext, SourceItem
from .errors import (
    OpenEOError,
    ProcessGraphInvalid,
    ProcessGraphMissing,
    ProcessParameterInvalid,
    ProcessParameterRequired,
    ProcessParameterUnsupported,
)
from .parse import Graph, NodeRef, ParameterRef, Subgraph, check_value, parse_graph
from .registry import list_processes

__all__ = [
    "RunResult",
    "list_processes",
    "load_process",
    "parse_parameter",
    "run_graph",
    "validate_graph",
]

LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunResult:
    """Outcome of :func:`run_graph`."""

    items: tuple[dict[str, Any], ...]
    """STAC items registered by ``save_result`` nodes, in execution order."""
    value: Any
    """Value of the result node (the registered item for a final ``save_result``)."""


def load_process(graph: Mapping[str, Any] | str | os.PathLike[str]) -> dict[str, Any]:
    """Read a process graph into a process object ``{"process_graph": ..., "parameters": ...}``.

    Accepts a path to a JSON file, a process object, an API request body
    (``{"process": {...}}``) or a flat graph (node id -> node).
    """
    if isinstance(graph, str | os.PathLike):
        path = pathlib.Path(graph)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise ProcessGraphMissing(
                f"cannot read process graph file {str(path)!r}: {error}"
            ) from error
        try:
            graph = json.loads(text)
        except json.JSONDecodeError as error:
            raise ProcessGraphInvalid(
                f"{str(path)!r} is not valid JSON: {error.msg} at line {error.lineno} column "
                f"{error.colno}"
            ) from error
    if not isinstance(graph, Mapping):
        raise ProcessGraphInvalid(f"a process graph is a JSON object, got {type(graph).__name__}")
    process: Mapping[str, Any] = graph
    if isinstance(process.get("process"), Mapping):
        process = process["process"]
    if "process_graph" in process:
        return dict(process)
    if process and all(isinstance(n, Mapping) and "process_id" in n for n in process.values()):
        return {"process_graph": dict(process)}
    raise ProcessGraphMissing(
        'no process graph found: expected {"process_graph": {node id: {"process_id": ..., '
        '"arguments": ...}}}'
    )


def parse_parameter(text: str) -> tuple[str, Any]:
    """Parse ``NAME=VALUE`` (command line ``--param``); VALUE is JSON, or else a string."""
    name, sep, raw = text.partition("=")
    if not sep or not name.strip():
        raise ParameterError(f"--param {text!r}: expected NAME=VALUE, e.g. start=2021-03-01")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return name.strip(), value


def _parameter_values(process: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """Values of the graph parameters: given ones checked against declarations, defaults."""
    declared = process.get("parameters") or []
    if not isinstance(declared, list) or not all(
        isinstance(p, Mapping) and isinstance(p.get("name"), str) for p in declared
    ):
        raise ProcessGraphInvalid("'parameters' must be a list of {name, schema, ...} objects")
    names = [p["name"] for p in declared]
    used = _referenced_parameters(process["process_graph"])
    unknown = sorted(set(given) - set(names) - used)
    if unknown:
        raise ProcessParameterUnsupported(
            f"the graph has no parameter(s) {unknown}; its parameters are "
            f"{sorted(set(names) | used)}",
            parameter=unknown[0],
        )
    values = dict(given)
    for parameter in declared:
        name = parameter["name"]
        if name in values:
            _check_declared(parameter, values[name])
        elif "default" in parameter:
            values[name] = parameter["default"]
        elif not parameter.get("optional", False):
            raise ProcessParameterRequired(
                f"graph parameter {name!r} has no value; pass it with --param {name}=VALUE",
                parameter=name,
            )
    return values


def _check_declared(parameter: Mapping[str, Any], value: Any) -> None:
    schema = parameter.get("schema", {})
    schema = {"anyOf": schema} if isinstance(schema, list) else schema
    errors = list(jsonschema.Draft7Validator(schema).iter_errors(value))
    if errors:
        raise ProcessParameterInvalid(
            f"graph parameter value {value!r} does not match its schema: "
            f"{jsonschema.exceptions.best_match(errors).message}",
            parameter=parameter["name"],
        )


def _referenced_parameters(value: Any) -> set[str]:
    if isinstance(value, Mapping):
        if isinstance(value.get("from_parameter"), str):
            return {value["from_parameter"]}
        return set().union(*(_referenced_parameters(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_referenced_parameters(v) for v in value))
    return set()


def _json(value: Any) -> bool:
    if value is None or isinstance(value, bool | int | float | str):
        return True
    if isinstance(value, list):
        return all(_json(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json(v) for k, v in value.items())
    return False


class _Callback:
    """A subgraph called by a process with its parameters as keywords."""

    def __init__(self, run: _Run, sub: Subgraph, scope: Mapping[str, Any]) -> None:
        self.run = run
        self.sub = sub
        self.scope = scope

    def __call__(self, **arguments: Any) -> Any:
        unknown = set(arguments) - set(self.sub.parameters)
        if unknown:
            raise TypeError(f"callback called with unknown parameters {sorted(unknown)}")
        defaults = {k: v for k, v in self.sub.parameters.items() if k in self.sub.optional}
        scope = {**self.scope, **defaults, **arguments}
        values, _ = self.run.evaluate(self.sub.graph, scope)
        return values[self.sub.graph.result]


class _Run:
    """Evaluation state of one run: catalog, expression, digest, scheduler."""

    def __init__(
        self,
        catalog: StaticCatalog,
        expression: Mapping[str, Any],
        scheduler: str | None,
    ) -> None:
        self.catalog = catalog
        self.expression = expression
        self.scheduler = scheduler
        canonical = json.dumps(expression, sort_keys=True, default=str)
        self.graph_digest = hashlib.sha256(canonical.encode()).hexdigest()
        self.saved: list[dict[str, Any]] = []

    def resolve(self, value: Any, scope: Mapping[str, Any], results: Mapping[str, Any]) -> Any:
        """Replace references by node results, parameter values and callables."""
        if isinstance(value, NodeRef):
            return results[value.node_id]
        if isinstance(value, ParameterRef):
            return scope[value.name]
        if isinstance(value, Subgraph):
            return _Callback(self, value, scope)
        if isinstance(value, list):
            return [self.resolve(v, scope, results) for v in value]
        if isinstance(value, dict):
            return {k: self.resolve(v, scope, results) for k, v in value.items()}
        return value

    def evaluate(
        self, graph: Graph, scope: Mapping[str, Any]
    ) -> tuple[dict[str, Any], dict[str, frozenset[SourceItem]]]:
        """Evaluate every node of a (sub)graph in order; values and lineage by node."""
        results: dict[str, Any] = {}
        lineage: dict[str, frozenset[SourceItem]] = {}
        for key in graph.order:
            node = graph.nodes[key]
            spec_parameters = node.entry.spec["parameters"]
            arguments = {
                name: self.resolve(value, scope, results) for name, value in node.arguments.items()
            }
            for name, value in arguments.items():
                if _json(value):
                    check_value(node.process_id, name, value, node_id=node.id)
            for parameter in spec_parameters:
                if parameter["name"] not in arguments and "default" in parameter:
                    arguments[parameter["name"]] = parameter["default"]
            sources = frozenset().union(*(lineage[d] for d in node.dependencies))
            context = None
            if node.entry.needs_context:
                context = ProcessContext(
                    catalog=self.catalog,
                    node_id=node.id,
                    process_id=node.process_id,
                    sources=sources,
                    expression=self.expression,
                    digest=hashlib.sha256(f"{self.graph_digest}/{node.id}".encode()).hexdigest(),
                    scheduler=self.scheduler,
                )
                arguments["context"] = context
            LOGGER.debug("evaluating node %s (%s)", node.id, node.process_id)
            try:
                value = node.entry.implementation(**arguments)
            except OpenEOError as error:
                raise error.locate(node.id, node.process_id) from None
            except ParameterError as error:
                raise ProcessParameterInvalid(
                    str(error), node_id=node.id, process_id=node.process_id
                ) from error
            results[key] = value
            lineage[key] = sources | (frozenset(context.loaded) if context else frozenset())
            if node.process_id == "save_result":
                self.saved.append(value)
        return results, lineage


def _prepare(
    graph: Mapping[str, Any] | str | os.PathLike[str],
    catalog: str | os.PathLike[str] | StaticCatalog,
    parameters: Mapping[str, Any] | None,
) -> tuple[dict[str, Any], dict[str, Any], Graph, StaticCatalog]:
    process = load_process(graph)
    if not isinstance(catalog, StaticCatalog):
        catalog = StaticCatalog(catalog, create=False)
    values = _parameter_values(process, dict(parameters or {}))
    return process, values, parse_graph(process["process_graph"], values, catalog), catalog


def validate_graph(
    graph: Mapping[str, Any] | str | os.PathLike[str],
    *,
    catalog: str | os.PathLike[str] | StaticCatalog,
    parameters: Mapping[str, Any] | None = None,
) -> None:
    """Run every check of :func:`run_graph` without executing anything.

    Raises the first problem found as an :class:`~s1stac.openeo.errors.OpenEOError`.
    """
    _prepare(graph, catalog, parameters)


def run_graph(
    graph: Mapping[str, Any] | str | os.PathLike[str],
    *,
    catalog: str | os.PathLike[str] | StaticCatalog,
    parameters: Mapping[str, Any] | None = None,
    scheduler: str | None = None,
) -> RunResult:
    """Validate and run an openEO process graph over the static catalog.

    Parameters
    ----------
    graph
        Path of a JSON file, process object, API request body or flat graph.
    catalog
        Static catalog (folder or :class:`~s1stac.catalog.StaticCatalog`) that
        ``load_collection`` reads and ``save_result`` writes; it must exist.
    parameters
        Values of the graph parameters (``{"from_parameter": name}``); declared parameters
        without a value take their default.
    scheduler
        Dask scheduler for the computations: ``None`` (default), ``"threads"``,
        ``"processes"``, ``"synchronous"`` or a ``distributed`` address (``tcp://host:8786``).

    Returns
    -------
    RunResult
        The registered STAC items and the value of the result node.

    Raises
    ------
    s1stac.openeo.errors.OpenEOError
        With the openEO code of the problem (``ProcessGraphInvalid``, ``ProcessUnsupported``,
        ``ProcessParameterRequired``, ``ProcessParameterInvalid``, ``CollectionNotFound``,
        ``TemporalExtentEmpty``, ``SpatialExtentEmpty``, ``NoDataAvailable`` ...); validation
        errors are raised before any data is read or written.
    """
    process, values, parsed, catalog = _prepare(graph, catalog, parameters)
    expression = {**process, "arguments": values}
    run = _Run(catalog, expression, scheduler)
    results, _ = run.evaluate(parsed, values)
    value = results[parsed.result]
    if isinstance(value, xr.DataArray):
        LOGGER.info("the result node %s returned a lazy cube %s", parsed.result, dict(value.sizes))
    return RunResult(items=tuple(run.saved), value=value)
