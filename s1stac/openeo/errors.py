"""openEO-coded exceptions of the process-graph engine.

Every class is named after its openEO error code and carries ``code``, ``status_code`` and a
message that names the node, the process and the parameter concerned, and how to fix it.
Codes and HTTP statuses come from the openEO API 1.2.0 error list (``errors.json``) or, for
process-specific errors, from the ``exceptions`` section of the process specification (HTTP
400 unless stated otherwise).  ``SpatialExtentEmpty`` is specific to s1stac.

References
----------
openEO API 1.2.0, errors, https://api.openeo.org/1.2.0/errors.json
openEO processes 2.0, https://processes.openeo.org
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from s1stac.errors import S1StacError

__all__ = [
    "CollectionNotFound",
    "DataCubeEmpty",
    "DimensionExists",
    "DimensionNotAvailable",
    "FormatUnsuitable",
    "Internal",
    "LabelMismatch",
    "NoDataAvailable",
    "OpenEOError",
    "OverlapResolverMissing",
    "ProcessGraphInvalid",
    "ProcessGraphMissing",
    "ProcessParameterInvalid",
    "ProcessParameterRequired",
    "ProcessParameterUnsupported",
    "ProcessUnsupported",
    "SpatialExtentEmpty",
    "TemporalExtentEmpty",
    "where",
]


def where(
    node_id: str | None = None, process_id: str | None = None, parameter: str | None = None
) -> str:
    """Location prefix of a message: ``"node 'r1' (reduce_dimension), parameter 'dimension': "``."""
    parts = []
    if node_id is not None:
        parts.append(f"node {node_id!r}" + (f" ({process_id})" if process_id else ""))
    elif process_id is not None:
        parts.append(f"process {process_id!r}")
    if parameter is not None:
        parts.append(f"parameter {parameter!r}")
    return ", ".join(parts) + ": " if parts else ""


class OpenEOError(S1StacError):
    """Base class of the openEO-coded errors.

    Parameters
    ----------
    message
        What was found and how to fix it (without the location).
    node_id, process_id, parameter
        Where in the process graph the problem is; prefixed to the message.
    """

    code: ClassVar[str] = "Internal"
    status_code: ClassVar[int] = 500

    def __init__(
        self,
        message: str,
        *,
        node_id: str | None = None,
        process_id: str | None = None,
        parameter: str | None = None,
    ) -> None:
        self.reason = message
        self.node_id = node_id
        self.process_id = process_id
        self.parameter = parameter
        self.id = uuid.uuid4().hex
        super().__init__(message)

    @property
    def message(self) -> str:
        """The reason prefixed with the location (node, process, parameter)."""
        return where(self.node_id, self.process_id, self.parameter) + self.reason

    def locate(self, node_id: str, process_id: str) -> OpenEOError:
        """Set the node and process where the error occurred unless already known."""
        if self.node_id is None:
            self.node_id = node_id
            self.process_id = process_id
        return self

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"

    def to_dict(self) -> dict[str, Any]:
        """OpenEO error object: ``{"id", "code", "message", "links"}``."""
        return {"id": self.id, "code": self.code, "message": self.message, "links": []}


class Internal(OpenEOError):
    """Unexpected failure while executing a process."""


class ProcessGraphMissing(OpenEOError):
    """No process graph was given (empty input, missing ``process_graph`` or missing file)."""

    code = "ProcessGraphMissing"
    status_code = 400


class ProcessGraphInvalid(OpenEOError):
    """The process graph does not have the structure of an openEO process graph."""

    code = "ProcessGraphInvalid"
    status_code = 400


class ProcessUnsupported(OpenEOError):
    """A process id (or namespace) is not in the registry."""

    code = "ProcessUnsupported"
    status_code = 400


class ProcessParameterRequired(OpenEOError):
    """A required argument (or process-graph parameter) has no value."""

    code = "ProcessParameterRequired"
    status_code = 400


class ProcessParameterUnsupported(OpenEOError):
    """An argument name is not a parameter of the process."""

    code = "ProcessParameterUnsupported"
    status_code = 400


class ProcessParameterInvalid(OpenEOError):
    """An argument value does not match the parameter's schema or meaning."""

    code = "ProcessParameterInvalid"
    status_code = 400


class CollectionNotFound(OpenEOError):
    """The collection id is not a collection of the catalog."""

    code = "CollectionNotFound"
    status_code = 404


class TemporalExtentEmpty(OpenEOError):
    """The end of a temporal interval is not later than its start."""

    code = "TemporalExtentEmpty"
    status_code = 400


class SpatialExtentEmpty(OpenEOError):
    """A bounding box has no area (west >= east or south >= north)."""

    code = "SpatialExtentEmpty"
    status_code = 400


class NoDataAvailable(OpenEOError):
    """No item of the collection matches the extents and filters."""

    code = "NoDataAvailable"
    status_code = 400


class DimensionNotAvailable(OpenEOError):
    """A dimension named by an argument is not a dimension of the data cube."""

    code = "DimensionNotAvailable"
    status_code = 400


class DimensionExists(OpenEOError):
    """A dimension to be created already exists."""

    code = "DimensionExists"
    status_code = 400


class LabelMismatch(OpenEOError):
    """Source and target labels differ in number, or a label is unknown."""

    code = "LabelMismatch"
    status_code = 400


class OverlapResolverMissing(OpenEOError):
    """Two merged cubes overlap and no overlap resolver was given."""

    code = "OverlapResolverMissing"
    status_code = 400


class FormatUnsuitable(OpenEOError):
    """The data cube cannot be written in the requested format."""

    code = "FormatUnsuitable"
    status_code = 400


class DataCubeEmpty(OpenEOError):
    """The data cube to save has no pixel or no label along a dimension."""

    code = "DataCubeEmpty"
    status_code = 400
