"""Parsing and validation of openEO process graphs, before anything is executed.

Checks, each raising an openEO-coded error that names the node and parameter: the graph's
structure (JSON objects, ``process_id``, ``arguments``, exactly one ``result`` node per graph
and callback), known process ids and namespaces, no unknown or missing arguments,
``from_node`` references to existing nodes, no cycles, ``from_parameter`` references to a
parameter in scope (a callback parameter, or a graph parameter with a value or a default),
literal argument values against the JSON schema of the parameter (dates and date-times
checked as RFC 3339), and process-specific checks (collection exists, extents not empty,
output format known).

Parsing turns references into :class:`NodeRef`, :class:`ParameterRef` and :class:`Subgraph`
(callbacks) so the evaluator never re-interprets JSON.

References
----------
openEO API 1.2, process graphs, https://api.openeo.org/#section/Processes/Process-Graphs
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import jsonschema

from .errors import (
    OpenEOError,
    ProcessGraphInvalid,
    ProcessParameterInvalid,
    ProcessParameterRequired,
    ProcessParameterUnsupported,
    ProcessUnsupported,
)
from .registry import NAMESPACES, PROCESSES, ProcessEntry

__all__ = [
    "Graph",
    "Node",
    "NodeRef",
    "ParameterRef",
    "Subgraph",
    "check_value",
    "parse_graph",
]

_NODE_KEYS: Final = {"process_id", "arguments", "namespace", "description", "result"}
_NO_LITERAL: Final = {"datacube", "raster-cube", "vector-cube", "process-graph"}
_RFC3339: Final = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
)
_FORMATS = jsonschema.FormatChecker(formats=())


@_FORMATS.checks("date", raises=ValueError)
def _is_date(value: object) -> bool:
    if isinstance(value, str):
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            return False
        dt.date.fromisoformat(value)
    return True


@_FORMATS.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    if isinstance(value, str):
        if not _RFC3339.match(value):
            return False
        dt.datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    return True


@dataclass(frozen=True)
class NodeRef:
    """``{"from_node": id}``."""

    node_id: str


@dataclass(frozen=True)
class ParameterRef:
    """``{"from_parameter": name}``."""

    name: str


@dataclass(frozen=True)
class Subgraph:
    """A callback: ``{"process_graph": ...}`` with the parameters it is called with."""

    graph: Graph
    parameters: Mapping[str, Any]
    """Callback parameter name -> default (``None``) for the optional ones, absent otherwise."""
    optional: frozenset[str]


@dataclass(frozen=True)
class Node:
    """A validated node."""

    id: str
    process_id: str
    entry: ProcessEntry
    arguments: Mapping[str, Any]
    """Arguments with references parsed (``NodeRef``, ``ParameterRef``, ``Subgraph``)."""
    dependencies: tuple[str, ...]


@dataclass(frozen=True)
class Graph:
    """A validated (sub)graph, nodes in execution order."""

    nodes: Mapping[str, Node]
    order: tuple[str, ...]
    result: str


def _schema(schema: Any) -> dict[str, Any]:
    return {"anyOf": list(schema)} if isinstance(schema, list) else dict(schema)


def _literal_schema(schema: Any) -> Any:
    """Make the data cube and callback alternatives of a schema unmatchable by literals."""
    if isinstance(schema, list):
        return [_literal_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    if schema.get("subtype") in _NO_LITERAL:
        return {"not": {}}
    return {key: _literal_schema(value) for key, value in schema.items()}


@functools.cache
def _validator(process_id: str, parameter: str) -> jsonschema.Draft7Validator:
    spec = PROCESSES[process_id].spec
    schema = next(p["schema"] for p in spec["parameters"] if p["name"] == parameter)
    return jsonschema.Draft7Validator(_schema(_literal_schema(schema)), format_checker=_FORMATS)


def _accepts(schema: Any, subtype: str) -> bool:
    alternatives = schema if isinstance(schema, list) else [schema]
    return any(isinstance(s, dict) and s.get("subtype") == subtype for s in alternatives)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def check_value(process_id: str, parameter: str, value: Any, *, node_id: str | None) -> None:
    """Validate a JSON value against the schema of a parameter (``ProcessParameterInvalid``)."""
    validator = _validator(process_id, parameter)
    errors = list(validator.iter_errors(value))
    if errors:
        error = jsonschema.exceptions.best_match(errors)
        location = "".join(f"[{p!r}]" for p in error.absolute_path)
        detail = f"{location}: {error.message}" if location else error.message
        if error.validator == "not" and error.validator_value == {}:
            detail = 'a data cube or callback is expected: a {"from_node": ...} reference '
            detail += 'or {"process_graph": ...}, not a literal value'
        elif '"format": "date' in json.dumps(validator.schema):
            detail += "; dates are YYYY-MM-DD, date-times RFC 3339 (2021-03-01T05:00:00Z)"
        raise ProcessParameterInvalid(
            f"value {_short(value)} does not match the parameter's schema ({detail})",
            node_id=node_id,
            process_id=process_id,
            parameter=parameter,
        )


def _is_literal(value: Any) -> bool:
    if isinstance(value, NodeRef | ParameterRef | Subgraph):
        return False
    if isinstance(value, list):
        return all(_is_literal(v) for v in value)
    if isinstance(value, dict):
        return all(_is_literal(v) for v in value.values())
    return True


def _bind(value: Any, values: Mapping[str, Any], scope: frozenset[str]) -> Any:
    """Replace references to graph parameters (not shadowed by ``scope``) with their values."""
    if isinstance(value, ParameterRef) and value.name in values and value.name not in scope:
        return values[value.name]
    if isinstance(value, list):
        return [_bind(v, values, scope) for v in value]
    if isinstance(value, dict):
        return {k: _bind(v, values, scope) for k, v in value.items()}
    return value


class _Parser:
    """Parses one process graph with the graph parameters' values (top-level scope)."""

    def __init__(self, values: Mapping[str, Any], catalog: Any) -> None:
        self.values = values
        self.catalog = catalog

    def graph(self, raw: Any, scope: frozenset[str], path: str) -> Graph:
        if not isinstance(raw, dict) or not raw:
            raise ProcessGraphInvalid(
                f"{path or 'the process graph'} must be a non-empty object of nodes "
                f"(node id -> {{process_id, arguments}}), got {_short(raw)}"
            )
        nodes = {node_id: self.node(node_id, raw, scope, path) for node_id in raw}
        results = [node_id for node_id, node in raw.items() if node.get("result") is True]
        if len(results) != 1:
            raise ProcessGraphInvalid(
                f"{path or 'the process graph'} has {len(results)} result nodes {results}; "
                'mark exactly one node with "result": true'
            )
        order = _topological_order(nodes)
        return Graph(nodes, order, results[0])

    def node(self, node_id: str, raw: Mapping[str, Any], scope: frozenset[str], path: str) -> Node:
        located = f"{path}/{node_id}" if path else node_id
        node = raw[node_id]
        if not isinstance(node, dict) or not isinstance(node.get("process_id"), str):
            raise ProcessGraphInvalid(
                f"node {located!r} must be an object with a string process_id, got {_short(node)}"
            )
        unknown_keys = sorted(set(node) - _NODE_KEYS)
        arguments = node.get("arguments", {})
        if unknown_keys or not isinstance(arguments, dict):
            raise ProcessGraphInvalid(
                f"node {located!r}: unknown keys {unknown_keys} or arguments not an object; "
                f"a node has the keys {sorted(_NODE_KEYS)}"
            )
        process_id = node["process_id"]
        entry = self.entry(located, process_id, node.get("namespace"))
        parameters = {p["name"]: p for p in entry.spec["parameters"]}
        for name in arguments:
            if name not in parameters:
                raise ProcessParameterUnsupported(
                    f"{process_id} has no parameter {name!r}; its parameters are "
                    f"{list(parameters)}",
                    node_id=located,
                    process_id=process_id,
                    parameter=name,
                )
        for name, parameter in parameters.items():
            if name not in arguments and not parameter.get("optional", False):
                raise ProcessParameterRequired(
                    f"{process_id} requires this argument ({parameter.get('description', '')})",
                    node_id=located,
                    process_id=process_id,
                    parameter=name,
                )
        parsed = {}
        dependencies: list[str] = []
        for name, value in arguments.items():
            where = (located, process_id, name)
            parsed[name] = self.value(
                value, parameters[name]["schema"], raw, scope, where, dependencies
            )
        self.check_arguments(located, process_id, entry, parsed, scope)
        return Node(located, process_id, entry, parsed, tuple(dict.fromkeys(dependencies)))

    def entry(self, located: str, process_id: str, namespace: Any) -> ProcessEntry:
        entry = PROCESSES.get(process_id)
        if entry is None:
            close = difflib.get_close_matches(process_id, list(PROCESSES), n=3)
            hint = f"; did you mean {close}?" if close else "; list them with `s1stac processes`"
            raise ProcessUnsupported(
                f"process {process_id!r} is not available{hint}",
                node_id=located,
                process_id=process_id,
            )
        if namespace not in (None, "backend", entry.namespace):
            raise ProcessUnsupported(
                f"process {process_id!r} is not available in namespace {namespace!r}; "
                f"namespaces: {list(NAMESPACES)} (or null)",
                node_id=located,
                process_id=process_id,
            )
        return entry

    def value(
        self,
        value: Any,
        schema: Any,
        raw: Mapping[str, Any],
        scope: frozenset[str],
        where: tuple[str, str, str],
        dependencies: list[str],
    ) -> Any:
        located, process_id, name = where
        if isinstance(value, dict) and "from_node" in value:
            target = value["from_node"]
            if len(value) != 1 or not isinstance(target, str) or target not in raw:
                raise ProcessGraphInvalid(
                    f"reference {_short(value)} points to no node of the graph; nodes: {list(raw)}",
                    node_id=located,
                    process_id=process_id,
                    parameter=name,
                )
            dependencies.append(target)
            return NodeRef(target)
        if isinstance(value, dict) and "from_parameter" in value:
            return self.parameter(value, scope, where)
        if isinstance(value, dict) and "process_graph" in value:
            return self.subgraph(value, schema, where)
        if isinstance(value, dict):
            objects = [
                s for s in (schema if isinstance(schema, list) else [schema]) if isinstance(s, dict)
            ]
            sub = next(
                (s["additionalProperties"] for s in objects if "additionalProperties" in s), {}
            )
            properties = next((s["properties"] for s in objects if "properties" in s), {})
            return {
                k: self.value(v, properties.get(k, sub), raw, scope, where, dependencies)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self.value(v, {}, raw, scope, where, dependencies) for v in value]
        return value

    def parameter(
        self, value: Mapping[str, Any], scope: frozenset[str], where: tuple[str, str, str]
    ) -> ParameterRef:
        located, process_id, name = where
        reference = value["from_parameter"]
        if len(value) != 1 or not isinstance(reference, str):
            raise ProcessGraphInvalid(
                f"invalid parameter reference {_short(value)}",
                node_id=located,
                process_id=process_id,
                parameter=name,
            )
        if reference not in scope and reference not in self.values:
            if scope:
                raise ProcessGraphInvalid(
                    f"the callback has no parameter {reference!r}; available: {sorted(scope)}",
                    node_id=located,
                    process_id=process_id,
                    parameter=name,
                )
            raise ProcessParameterRequired(
                f"graph parameter {reference!r} has no value; pass it with "
                f"`--param {reference}=VALUE` or declare a default in the graph's parameters",
                node_id=located,
                process_id=process_id,
                parameter=name,
            )
        return ParameterRef(reference)

    def subgraph(
        self, value: Mapping[str, Any], schema: Any, where: tuple[str, str, str]
    ) -> Subgraph:
        located, process_id, name = where
        alternatives = schema if isinstance(schema, list) else [schema]
        callback = next(
            (
                s
                for s in alternatives
                if isinstance(s, dict) and s.get("subtype") == "process-graph"
            ),
            None,
        )
        if callback is None:
            raise ProcessParameterInvalid(
                "this parameter does not accept a process graph (callback)",
                node_id=located,
                process_id=process_id,
                parameter=name,
            )
        declared = callback.get("parameters", [])
        names = frozenset(p["name"] for p in declared)
        optional = frozenset(p["name"] for p in declared if p.get("optional", False))
        graph = self.graph(value["process_graph"], names, located)
        return Subgraph(graph, {p["name"]: p.get("default") for p in declared}, optional)

    def check_arguments(
        self,
        located: str,
        process_id: str,
        entry: ProcessEntry,
        parsed: Mapping[str, Any],
        scope: frozenset[str],
    ) -> None:
        literal = {}
        for name, value in parsed.items():
            bound = _bind(value, self.values, scope)
            if _is_literal(bound):
                check_value(process_id, name, bound, node_id=located)
                literal[name] = bound
        if entry.precheck is not None:
            try:
                entry.precheck(literal, self.catalog)
            except OpenEOError as error:
                raise error.locate(located, process_id) from None


def _topological_order(nodes: Mapping[str, Node]) -> tuple[str, ...]:
    """Depth-first post-order (dependencies first, else declaration order); rejects cycles."""
    state: dict[str, int] = {}
    order: list[str] = []

    def visit(node_id: str, trail: list[str]) -> None:
        if state.get(node_id) == 2:
            return
        if state.get(node_id) == 1:
            cycle = (trail[trail.index(node_id) :] + [node_id])[::-1]
            raise ProcessGraphInvalid(
                f"the graph has a cycle (data flow {' -> '.join(cycle)}); a node cannot "
                "depend on its own result",
                node_id=nodes[node_id].id,
            )
        state[node_id] = 1
        for dependency in nodes[node_id].dependencies:
            visit(dependency, [*trail, node_id])
        state[node_id] = 2
        order.append(node_id)

    for node_id in nodes:
        visit(node_id, [])
    return tuple(order)


def parse_graph(process_graph: Mapping[str, Any], values: Mapping[str, Any], catalog: Any) -> Graph:
    """Validate a flat process graph (node id -> node) with the graph parameters' values."""
    return _Parser(values, catalog).graph(process_graph, frozenset(), "")
