"""Exceptions of s1stac: one base class and a small tree.

Every message says what was found, which file or parameter it concerns and how to fix it.
"""

from __future__ import annotations


class S1StacError(Exception):
    """Base class of every error raised on purpose by s1stac."""


class ProductError(S1StacError):
    """A Sentinel-1 product (SAFE folder or zip) cannot be read as such."""


class MissingComponentError(ProductError):
    """A file that the requested operation needs is absent from the product."""


class AoiError(S1StacError, ValueError):
    """An area of interest does not parse, or no product touches it."""


class CatalogError(S1StacError):
    """The static STAC catalog cannot be written or read."""


class GeometryError(S1StacError, ValueError):
    """A geometric computation was given input it cannot solve (point not seen, ...)."""


class ParameterError(S1StacError, ValueError):
    """A processing parameter has an invalid value."""


class AcquisitionErrors(S1StacError):
    """Some acquisitions of a batch failed; the others were processed and registered."""

    def __init__(self, message: str, failures: dict[str, Exception]) -> None:
        super().__init__(message)
        self.failures = failures
        """Acquisition id -> the error it raised."""
