"""Process graphs as received over HTTP -> process graphs for the engine.

Two translations, both on a copy of the graph:

* openEO collection ids -> catalog collection ids in ``load_collection`` (the raw GRD
  collection is published as ``SENTINEL1_GRD``; the other levels keep their catalog ids);
* calls of the user's own processes (``PUT /process_graphs/{id}``) are inlined: the nodes of
  the stored graph replace the calling node (its result node takes the caller's node id, the
  others are renamed ``<caller>:<node>``) and its ``from_parameter`` references are replaced
  by the caller's arguments or the declared defaults, except inside callbacks whose own
  parameter has the same name.  Stored processes may call each other, up to
  :data:`MAX_DEPTH` levels.

References
----------
openEO API 1.2, user-defined processes, https://api.openeo.org/#tag/User-Defined-Processes
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Final

from s1stac.catalog import COLLECTIONS
from s1stac.openeo import PROCESSES, load_process
from s1stac.openeo.errors import (
    ProcessGraphInvalid,
    ProcessParameterRequired,
    ProcessParameterUnsupported,
    ProcessUnsupported,
)

from .errors import FeatureUnsupported

__all__ = [
    "COLLECTION_ALIASES",
    "MAX_DEPTH",
    "catalog_collection",
    "check_process",
    "openeo_collection",
    "resolve_process",
    "unbound_parameters",
]

COLLECTION_ALIASES: Final = {"SENTINEL1_GRD": "sentinel-1-grd"}
"""openEO collection id -> catalog collection id, where they differ."""
MAX_DEPTH: Final = 16
"""Deepest nesting of user-defined processes calling each other."""
_USER_NAMESPACES: Final = (None, "user")


def catalog_collection(collection_id: str) -> str | None:
    """Catalog collection of an openEO collection id (``None`` if there is none)."""
    mapped = COLLECTION_ALIASES.get(collection_id, collection_id)
    return mapped if mapped in COLLECTIONS else None


def openeo_collection(catalog_id: str) -> str:
    """OpenEO collection id of a catalog collection."""
    for alias, target in COLLECTION_ALIASES.items():
        if target == catalog_id:
            return alias
    return catalog_id


def _callback_parameters(process_id: str, argument: str) -> frozenset[str]:
    """Names of the parameters a process passes to the callback in ``argument``."""
    entry = PROCESSES.get(process_id)
    if entry is None:
        return frozenset()
    for parameter in entry.spec["parameters"]:
        if parameter["name"] != argument:
            continue
        schemas = (
            parameter["schema"] if isinstance(parameter["schema"], list) else [parameter["schema"]]
        )
        for schema in schemas:
            if isinstance(schema, dict) and schema.get("subtype") == "process-graph":
                return frozenset(p["name"] for p in schema.get("parameters", []))
    return frozenset()


def _is_user_call(node: Mapping[str, Any], udps: Mapping[str, Any]) -> bool:
    process_id = node.get("process_id")
    return (
        isinstance(process_id, str)
        and process_id in udps
        and process_id not in PROCESSES
        and node.get("namespace") in _USER_NAMESPACES
    )


class _Inliner:
    def __init__(self, udps: Mapping[str, Mapping[str, Any]]) -> None:
        self.udps = udps

    def graph(self, graph: Any, depth: int) -> Any:
        if not isinstance(graph, dict):
            return graph  # the engine reports the malformed graph
        out: dict[str, Any] = {}
        for node_id, node in graph.items():
            if not isinstance(node, dict) or not isinstance(node.get("arguments", {}), dict):
                out[node_id] = node
                continue
            node = dict(node)
            node["arguments"] = {
                k: self.value(v, depth) for k, v in node.get("arguments", {}).items()
            }
            if node.get("process_id") == "load_collection":
                given = node["arguments"].get("id")
                if isinstance(given, str) and given in COLLECTION_ALIASES:
                    node["arguments"]["id"] = COLLECTION_ALIASES[given]
            if _is_user_call(node, self.udps):
                out.update(self.expand(node_id, node, depth + 1))
            else:
                out[node_id] = node
        return out

    def value(self, value: Any, depth: int) -> Any:
        if isinstance(value, dict) and "process_graph" in value:
            return {**value, "process_graph": self.graph(value["process_graph"], depth)}
        if isinstance(value, dict):
            return {k: self.value(v, depth) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v, depth) for v in value]
        return value

    def expand(self, call_id: str, call: Mapping[str, Any], depth: int) -> dict[str, Any]:
        process_id = call["process_id"]
        if depth > MAX_DEPTH:
            raise ProcessGraphInvalid(
                f"user-defined processes call each other more than {MAX_DEPTH} levels deep "
                f"(at {process_id!r}); is there a recursion?",
                node_id=call_id,
                process_id=process_id,
            )
        udp = self.udps[process_id]
        declared = udp.get("parameters") or []
        names = [p.get("name") for p in declared if isinstance(p, Mapping)]
        arguments = call.get("arguments", {})
        for name in arguments:
            if name not in names:
                raise ProcessParameterUnsupported(
                    f"{process_id} has no parameter {name!r}; its parameters are {names}",
                    node_id=call_id,
                    process_id=process_id,
                    parameter=name,
                )
        values = dict(arguments)
        for parameter in declared:
            name = parameter["name"]
            if name in values:
                continue
            if "default" in parameter:
                values[name] = copy.deepcopy(parameter["default"])
            elif not parameter.get("optional", False):
                raise ProcessParameterRequired(
                    f"{process_id} requires this argument",
                    node_id=call_id,
                    process_id=process_id,
                    parameter=name,
                )
        inner = self.graph(copy.deepcopy(dict(udp["process_graph"])), depth)
        results = [key for key, node in inner.items() if node.get("result") is True]
        if len(results) != 1:
            raise ProcessGraphInvalid(
                f"user-defined process {process_id!r} has {len(results)} result nodes; it needs "
                "exactly one",
                node_id=call_id,
                process_id=process_id,
            )
        renamed = {key: call_id if key == results[0] else f"{call_id}:{key}" for key in inner}
        expanded: dict[str, Any] = {}
        for key, node in inner.items():
            node = dict(node)
            arguments = {k: _rename(v, renamed) for k, v in node.get("arguments", {}).items()}
            node["arguments"] = {
                k: _substitute(v, values, frozenset(), node["process_id"], k, call_id)
                for k, v in arguments.items()
            }
            node.pop("result", None)
            if key == results[0] and call.get("result") is True:
                node["result"] = True
            expanded[renamed[key]] = node
        return expanded


def _rename(value: Any, renamed: Mapping[str, str]) -> Any:
    """Rename ``from_node`` references of one graph level (callbacks have their own nodes)."""
    if isinstance(value, dict) and "from_node" in value and value["from_node"] in renamed:
        return {**value, "from_node": renamed[value["from_node"]]}
    if isinstance(value, dict) and "process_graph" in value:
        return value
    if isinstance(value, dict):
        return {k: _rename(v, renamed) for k, v in value.items()}
    if isinstance(value, list):
        return [_rename(v, renamed) for v in value]
    return value


def _has_node_reference(value: Any) -> bool:
    if isinstance(value, dict):
        return "from_node" in value or any(_has_node_reference(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_node_reference(v) for v in value)
    return False


def _substitute(
    value: Any,
    values: Mapping[str, Any],
    shadowed: frozenset[str],
    process_id: str,
    argument: str,
    call_id: str,
) -> Any:
    """Replace references to the process parameters by their values."""
    if isinstance(value, dict) and "from_parameter" in value:
        name = value["from_parameter"]
        if name in values and name not in shadowed:
            replacement = values[name]
            if shadowed and _has_node_reference(replacement):
                raise FeatureUnsupported(
                    f"parameter {name!r} is used inside a callback of the user-defined process "
                    "and given the result of another node; pass it through the callback's "
                    "'context' instead",
                    node_id=call_id,
                )
            return copy.deepcopy(replacement)
        return value
    if isinstance(value, dict) and "process_graph" in value:
        inner = _callback_parameters(process_id, argument) | shadowed
        graph = value["process_graph"]
        if not isinstance(graph, dict):
            return value
        nodes = {}
        for key, node in graph.items():
            if not isinstance(node, dict):
                nodes[key] = node
                continue
            nodes[key] = {
                **node,
                "arguments": {
                    k: _substitute(v, values, inner, node.get("process_id", ""), k, call_id)
                    for k, v in node.get("arguments", {}).items()
                },
            }
        return {**value, "process_graph": nodes}
    if isinstance(value, dict):
        return {
            k: _substitute(v, values, shadowed, process_id, argument, call_id)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_substitute(v, values, shadowed, process_id, argument, call_id) for v in value]
    return value


def resolve_process(
    process: Mapping[str, Any], udps: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """Copy of a process object ready for the engine: collection ids mapped, user processes inlined.

    Parameters
    ----------
    process
        Process object (``{"process_graph": ..., "parameters": ...}``) or request body.
    udps
        The user's stored processes by id.
    """
    loaded = load_process(dict(process))
    return {**loaded, "process_graph": _Inliner(udps).graph(loaded["process_graph"], 0)}


def check_process(
    process_id: str, process: Mapping[str, Any], udps: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """Check a process to be stored as ``process_id``: its structure and the ids it calls.

    Parameter values are only known when the process is called, so the full validation
    happens then.  Returns the process object to store.
    """
    loaded = load_process(dict(process))
    graph = loaded["process_graph"]
    if not isinstance(graph, dict) or not graph:
        raise ProcessGraphInvalid("the process graph must be a non-empty object of nodes")
    known = set(PROCESSES) | set(udps) | {process_id}

    def visit(nodes: Any) -> None:
        if not isinstance(nodes, dict):
            raise ProcessGraphInvalid(f"a process graph must be an object of nodes, got {nodes!r}")
        for node_id, node in nodes.items():
            if not isinstance(node, dict) or not isinstance(node.get("process_id"), str):
                raise ProcessGraphInvalid(f"node {node_id!r} must be an object with a process_id")
            if node["process_id"] not in known:
                raise ProcessUnsupported(
                    f"process {node['process_id']!r} is neither predefined nor one of your "
                    "processes",
                    node_id=node_id,
                )
            for value in (node.get("arguments") or {}).values():
                walk(value)

    def walk(value: Any) -> None:
        if isinstance(value, dict) and "process_graph" in value:
            visit(value["process_graph"])
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    visit(graph)
    return {**loaded, "id": process_id}


def unbound_parameters(process: Mapping[str, Any]) -> set[str]:
    """Graph parameters referenced (outside callbacks that shadow them) without a default."""
    defaults = {
        p["name"]
        for p in process.get("parameters") or []
        if isinstance(p, Mapping) and "default" in p
    }
    found: set[str] = set()

    def walk(value: Any, shadowed: frozenset[str], process_id: str, argument: str) -> None:
        if isinstance(value, dict) and "from_parameter" in value:
            if value["from_parameter"] not in shadowed:
                found.add(str(value["from_parameter"]))
        elif isinstance(value, dict) and isinstance(value.get("process_graph"), dict):
            inner = shadowed | _callback_parameters(process_id, argument)
            nodes(value["process_graph"], inner)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item, shadowed, process_id, argument)
        elif isinstance(value, list):
            for item in value:
                walk(item, shadowed, process_id, argument)

    def nodes(graph: Mapping[str, Any], shadowed: frozenset[str]) -> None:
        for node in graph.values():
            if isinstance(node, dict) and isinstance(node.get("arguments"), dict):
                for name, value in node["arguments"].items():
                    walk(value, shadowed, str(node.get("process_id")), name)

    graph = process.get("process_graph")
    if isinstance(graph, dict):
        nodes(graph, frozenset())
    return found - defaults
