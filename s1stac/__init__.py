"""s1stac: Sentinel-1 GRD time series and timescans on xarray/dask, registered in STAC."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
