"""openEO layer of s1stac: process registry, process-graph engine and openEO-coded errors."""

from __future__ import annotations

from .graph import RunResult, load_process, parse_parameter, run_graph, validate_graph
from .registry import PROCESSES, list_processes

__all__ = [
    "PROCESSES",
    "RunResult",
    "list_processes",
    "load_process",
    "parse_parameter",
    "run_graph",
    "validate_graph",
]
