"""Open a Sentinel-1 GRD product (``.SAFE`` folder or ``.zip`` read in place) as a :class:`Product`.

Layout of a product: "Sentinel-1 Product Specification" S1-RS-MDA-52-7441, section "SAFE
product format",
https://sentinel.esa.int/documents/247904/1877131/Sentinel-1-Product-Specification
XML parsing lives in :mod:`s1stac.esa_safe`, LUT interpolation in
:mod:`s1stac.luts`; this module finds the files, reads them lazily and caches what it parsed.
Members are found by their names, ESA's (``annotation/s1a-iw-grd-vv-<times>-...-001.xml``) or
the short ones of the AWS and Planetary Computer copies (``annotation/iw-vv.xml``,
``annotation/calibration/noise-iw-vv.xml``, ``measurement/iw-vv.tiff``; folder without
``.SAFE``), whose ``manifest.safe`` still lists the long names.

Why not xarray-sentinel as the reader
-------------------------------------
xarray-sentinel 0.9.6 (installed, used by the tests as an independent cross-check) was tried on
the products this project must read:

* a plain ``.zip`` path fails (the zip is parsed as XML: ``ParseError``); zips open only through
  an fsspec chained URL ``zip://<name>.SAFE/manifest.safe::<zip>``, which needs the SAFE folder
  name inside the zip to be known in advance;
* noise of products older than IPF 2.9 (``noiseVectorList``/``noiseLut``, e.g. every 2015
  product) is not read: ``open_noise_range_dataset`` looks only for ``noiseRangeVector`` and
  raises ``IndexError``;
* ``open_noise_azimuth_dataset`` keeps only the first ``noiseAzimuthVector`` (marked "BROKEN"
  in its source), while an IW GRD has one block per sub-swath;
* calibration and noise vectors must share one pixel axis (``ValueError`` otherwise), and files
  listed in the manifest but absent (a VV-only copy of a dual-pol product) still appear as
  groups.

Hence an own reader (lxml + zipfile, no unpacking) that covers old and new IPF versions and
raises :class:`~s1stac.errors.ProductError` with the file name instead of library tracebacks.
"""

from __future__ import annotations

import functools
import logging
import os
import pathlib
import re
import warnings
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import numpy as np
import numpy.typing as npt
import xarray as xr

from . import esa_safe, luts
from .errors import MissingComponentError, ProductError
from .types import (
    Annotation,
    CalibrationKind,
    CalibrationVectors,
    FloatArray,
    ManifestInfo,
    NoiseVectors,
    Polarisation,
)

LOG = logging.getLogger(__name__)
T = TypeVar("T")

ComponentKind = Literal[
    "manifest", "annotation", "calibration", "noise", "measurement", "quicklook"
]
SUPPORTED_MODES = ("IW", "EW")
DEFAULT_CHUNKS: dict[str, int] = {"line": 1024, "pixel": 8192}
"""Chunks of :meth:`Product.open_measurement` (GRD TIFFs are stored in one-line strips)."""

_KIND_ORDER: tuple[ComponentKind, ...] = (
    "manifest",
    "annotation",
    "calibration",
    "noise",
    "measurement",
    "quicklook",
)
_MEMBER_RE = re.compile(
    r"^(?P<dir>annotation/calibration/|annotation/|measurement/)"
    r"(?:(?P<prefix>calibration|noise)-)?"
    # ESA names (s1a-iw-grd-vv-<times>-<orbit>-<datatake>-001.xml), or the short names of the
    # AWS / Planetary Computer copies (iw-vv.xml, calibration-iw-vv.xml, iw-vv.tiff)
    r"(?:s1[a-d]-[a-z0-9]+-grd-(?P<pol>hh|hv|vv|vh)-[^/]*|[a-z0-9]+-(?P<short>hh|hv|vv|vh))"
    r"\.(?P<ext>xml|tiff?)$"
)
_QUICKLOOK = "preview/quick-look.png"
_MANIFEST = "manifest.safe"


@dataclass(frozen=True)
class Component:
    """One file of a product, as listed for STAC assets by :meth:`Product.components`."""

    kind: ComponentKind
    polarisation: Polarisation | None
    relpath: str
    """Path relative to the SAFE folder, e.g. ``annotation/s1a-iw-grd-vv-....xml``."""
    href: str
    """Absolute path, or ``/vsizip/<zip>/<member>`` inside a zip (opens with rasterio/GDAL)."""
    size: int
    """Bytes (uncompressed size for zip members)."""


def _classify(relpath: str) -> tuple[ComponentKind, Polarisation | None] | None:
    if relpath == _MANIFEST:
        return "manifest", None
    if relpath == _QUICKLOOK:
        return "quicklook", None
    match = _MEMBER_RE.match(relpath)
    if match is None:
        return None
    folder, prefix, ext = match["dir"], match["prefix"], match["ext"]
    pol = Polarisation((match["pol"] or match["short"]).upper())
    if folder == "annotation/" and prefix is None and ext == "xml":
        return "annotation", pol
    if folder == "annotation/calibration/" and prefix is not None and ext == "xml":
        return prefix, pol  # type: ignore[return-value]
    if folder == "measurement/" and ext != "xml":
        return "measurement", pol
    return None


class _Storage:
    """Files of a product: a folder on disk or the members of a zip (read in place)."""

    def __init__(self, path: pathlib.Path) -> None:
        self.path = path
        self.is_zip = path.is_file()
        self.prefix = ""
        if not self.is_zip:
            if not (path / _MANIFEST).is_file():
                raise ProductError(
                    f"{path}: no {_MANIFEST} in this folder; give the product's .SAFE folder "
                    "(the one holding manifest.safe) or its .zip"
                )
            self.files = {
                p.relative_to(path).as_posix(): p.stat().st_size
                for p in path.rglob("*")
                if p.is_file()
            }
            return
        if not zipfile.is_zipfile(path):
            raise ProductError(
                f"{path}: not a readable zip archive (truncated or corrupt download?); "
                "download it again or give a .SAFE folder"
            )
        try:
            with zipfile.ZipFile(path) as archive:
                infos = archive.infolist()
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise ProductError(f"{path}: cannot read the zip directory ({exc})") from exc
        manifests = [
            i.filename
            for i in infos
            if i.filename.rsplit("/", 1)[-1] == _MANIFEST and i.filename.count("/") <= 1
        ]
        if len(manifests) != 1:
            found = f"found {manifests}" if manifests else "found none"
            raise ProductError(
                f"{path}: a Sentinel-1 product zip holds exactly one <name>.SAFE/{_MANIFEST}, "
                f"{found}; this is not a Sentinel-1 SAFE product"
            )
        self.prefix = manifests[0][: -len(_MANIFEST)]
        self.files = {
            i.filename[len(self.prefix) :]: i.file_size
            for i in infos
            if i.filename.startswith(self.prefix) and not i.is_dir()
        }

    @property
    def folder_name(self) -> str:
        """Name of the SAFE folder (inside the zip, or the folder itself)."""
        return self.prefix.rstrip("/") if self.is_zip else self.path.name

    def describe(self, relpath: str) -> str:
        return f"{self.path}:{self.prefix}{relpath}" if self.is_zip else str(self.path / relpath)

    def href(self, relpath: str) -> str:
        if self.is_zip:
            return f"/vsizip/{self.path}/{self.prefix}{relpath}"
        return str(self.path / relpath)

    def read(self, relpath: str) -> bytes:
        if relpath not in self.files:
            raise MissingComponentError(f"{self.describe(relpath)}: file is missing")
        try:
            if not self.is_zip:
                return (self.path / relpath).read_bytes()
            with zipfile.ZipFile(self.path) as archive:
                return archive.read(self.prefix + relpath)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            raise ProductError(
                f"{self.describe(relpath)}: cannot be read ({exc}); the product is corrupt or "
                "truncated, download it again"
            ) from exc


class Product:
    """A Sentinel-1 GRD product opened from a ``.SAFE`` folder or a ``.zip``.

    Only ``manifest.safe`` is read on opening; annotation, calibration and noise XML are parsed
    on first use and cached.  A part that is absent raises
    :class:`~s1stac.errors.MissingComponentError` naming the file when it is asked for.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        given = pathlib.Path(path).expanduser()
        if not given.exists():
            raise ProductError(f"{given}: does not exist; give a .SAFE folder or a .zip product")
        resolved = given.resolve()
        if resolved.is_file() and resolved.name == _MANIFEST:
            resolved = resolved.parent
        self._storage = _Storage(resolved)
        self.path: pathlib.Path = resolved
        self.is_zip: bool = self._storage.is_zip
        source = self._storage.describe(_MANIFEST)
        manifest_bytes = self._storage.read(_MANIFEST)
        root = esa_safe.parse_xml(manifest_bytes, source)
        ptype = esa_safe.product_type(root, source)
        if ptype != "GRD":
            raise ProductError(
                f"{source}: product type {ptype!r} is not supported; only GRD products are "
                "(IW/EW GRDH/GRDM)"
            )
        esa_safe.mission(root, source)
        self._objects = esa_safe.data_objects(root)
        match = self._name_from_files(manifest_bytes, source)
        if match is None:
            LOG.info(
                "%s: file names carry no product name, rebuilding it from the manifest", source
            )
            resolution = self._resolution_from_annotation()
            name = esa_safe.synthesise_product_name(root, manifest_bytes, resolution, source)
        else:
            name, resolution = match.string, match["resolution"]
        self.name: str = name
        self.manifest: ManifestInfo = esa_safe.parse_manifest(
            root, product_name=self.name, resolution_class=resolution, source=source
        )
        if self.manifest.mode not in SUPPORTED_MODES:
            raise ProductError(
                f"{source}: instrument mode {self.manifest.mode!r} is not supported; "
                f"only {', '.join(SUPPORTED_MODES)} GRD products are"
            )
        self.polarisations: tuple[Polarisation, ...] = tuple(
            p for p in self.manifest.polarisations if self._find("annotation", p) is not None
        )
        if self.polarisations != self.manifest.polarisations:
            LOG.info(
                "%s: manifest lists %s but annotations exist only for %s",
                self.name,
                [str(p) for p in self.manifest.polarisations],
                [str(p) for p in self.polarisations],
            )
        self._cache: dict[tuple[str, Polarisation], Any] = {}

    def __repr__(self) -> str:
        return f"<Product {self.name} ({'zip' if self.is_zip else 'SAFE'}) {self.path}>"

    # -- naming ------------------------------------------------------------------------------
    def _name_from_files(self, manifest_bytes: bytes, source: str) -> re.Match[str] | None:
        stem = self.path.name
        for suffix in (".zip", ".SAFE"):
            stem = stem.removesuffix(suffix)
        for candidate in (self._storage.folder_name.removesuffix(".SAFE"), stem):
            match = esa_safe.PRODUCT_NAME_RE.match(candidate)
            if match:
                crc = esa_safe.manifest_crc(manifest_bytes)
                if match["uid"] != crc:
                    LOG.warning("%s: manifest CRC is %s, the name says %s", source, crc, candidate)
                return match
        return None

    def _resolution_from_annotation(self) -> str:
        # NOTE: only for renamed products; the manifest does not state the resolution class.
        for relpath in sorted(self._storage.files):
            kind = _classify(relpath)
            if kind is not None and kind[0] == "annotation":
                spacing = self._parse(relpath, esa_safe.parse_annotation).range_pixel_spacing
                return "M" if spacing >= 40.0 else "H"
        raise MissingComponentError(f"{self.path}: no annotation XML to tell the resolution class")

    # -- files -------------------------------------------------------------------------------
    def _find(self, kind: ComponentKind, pol: Polarisation) -> str | None:
        found = [
            r for r in self._storage.files if (c := _classify(r)) is not None and c == (kind, pol)
        ]
        return sorted(found)[0] if found else None

    def _expected(self, kind: ComponentKind, pol: Polarisation) -> str:
        for obj in self._objects:
            if esa_safe.REP_ID_KINDS.get(obj.rep_id) == kind and _classify(obj.relpath) == (
                kind,
                pol,
            ):
                return obj.relpath
        return f"{kind} file of {pol}"

    def _check_pol(self, pol: Polarisation | str) -> Polarisation:
        try:
            checked = Polarisation(str(pol).upper())
        except ValueError:
            checked = None
        if checked is None or checked not in self.manifest.polarisations:
            raise ProductError(
                f"{self.name}: polarisation {pol!r} is not in this product; available: "
                f"{', '.join(self.polarisations) or 'none'}"
            )
        return checked

    def _locate(self, kind: ComponentKind, pol: Polarisation | str) -> str:
        checked = self._check_pol(pol)
        relpath = self._find(kind, checked)
        if relpath is None:
            raise MissingComponentError(
                f"{self.name}: {self._expected(kind, checked)} ({kind}, {checked}) is missing "
                f"from {self.path}; polarisations with annotation: "
                f"{', '.join(self.polarisations) or 'none'}"
            )
        return relpath

    def _parse(self, relpath: str, parser: Callable[[esa_safe.Element, str], T]) -> T:
        source = self._storage.describe(relpath)
        return parser(esa_safe.parse_xml(self._storage.read(relpath), source), source)

    def _cached(self, kind: ComponentKind, pol: Polarisation | str, parser: Callable[..., T]) -> T:
        relpath = self._locate(kind, pol)
        key = (kind, Polarisation(str(pol).upper()))
        if key not in self._cache:
            self._cache[key] = self._parse(relpath, parser)
        return self._cache[key]  # type: ignore[no-any-return]

    def member_href(self, relpath: str) -> str:
        """Path of a product file that rasterio/GDAL opens (``/vsizip/...`` inside a zip)."""
        relpath = relpath.removeprefix("./")
        if relpath not in self._storage.files:
            raise MissingComponentError(f"{self._storage.describe(relpath)}: file is missing")
        return self._storage.href(relpath)

    def measurement_href(self, pol: Polarisation | str) -> str | None:
        """Href of the measurement TIFF of ``pol``, ``None`` if the product has none."""
        relpath = self._find("measurement", self._check_pol(pol))
        return None if relpath is None else self._storage.href(relpath)

    def components(self) -> list[Component]:
        """Manifest, annotation/calibration/noise XML, measurement TIFFs and quick-look present."""
        found = []
        for relpath, size in self._storage.files.items():
            kind = _classify(relpath)
            if kind is not None:
                found.append(
                    Component(kind[0], kind[1], relpath, self._storage.href(relpath), size)
                )
        return sorted(
            found, key=lambda c: (_KIND_ORDER.index(c.kind), c.polarisation or "", c.relpath)
        )

    # -- parsed records ----------------------------------------------------------------------
    def annotation(self, pol: Polarisation | str) -> Annotation:
        """Product annotation of ``pol`` (orbit, geolocation grid, SRGR, image size...)."""
        annotation = self._cached("annotation", pol, esa_safe.parse_annotation)
        if annotation.polarisation != self._check_pol(pol):
            raise ProductError(
                f"{self.name}: annotation file of {pol} says polarisation {annotation.polarisation}"
            )
        return annotation

    def calibration(self, pol: Polarisation | str) -> CalibrationVectors:
        """Calibration vectors (sigma/beta/gamma/dn amplitude LUTs) of ``pol``."""
        return self._cached("calibration", pol, esa_safe.parse_calibration)

    def noise(self, pol: Polarisation | str) -> NoiseVectors:
        """Thermal noise vectors of ``pol`` (range, and azimuth blocks from IPF 2.9)."""
        return self._cached("noise", pol, esa_safe.parse_noise)

    # -- LUTs --------------------------------------------------------------------------------
    def calibration_lut(
        self,
        pol: Polarisation | str,
        kind: CalibrationKind,
        line: npt.ArrayLike,
        pixel: npt.ArrayLike,
    ) -> FloatArray:
        """Calibration LUT ``kind`` interpolated (bilinearly) at broadcastable ``line``/``pixel``.

        Inputs shaped like ``lines[:, None]`` and ``pixels[None, :]`` (or a meshgrid) are
        evaluated on the unique lines x unique pixels only.

        Examples
        --------
        >>> sigma = product.calibration_lut("VV", "sigmaNought", lines[:, None], pixels)
        """
        return luts.calibration_at(self.calibration(pol), kind, line, pixel)

    def noise_lut(
        self, pol: Polarisation | str, line: npt.ArrayLike, pixel: npt.ArrayLike
    ) -> FloatArray:
        """Thermal noise power (range x azimuth, DN**2) at broadcastable ``line``/``pixel``."""
        return luts.noise_at(self.noise(pol), line, pixel)

    def _grid_function(self, pol: Polarisation | str, kind: str) -> luts.GridFunction:
        if kind == "noise":
            return functools.partial(luts.noise_grid, self.noise(pol))
        return functools.partial(luts.calibration_grid, self.calibration(pol), kind)

    def lut_grid(
        self,
        pol: Polarisation | str,
        kind: CalibrationKind | Literal["noise"],
        lines: npt.ArrayLike,
        pixels: npt.ArrayLike,
    ) -> FloatArray:
        """LUT ``kind`` (a calibration kind or ``"noise"``) on the grid ``lines`` x ``pixels``.

        ``lines`` and ``pixels`` are 1-D; the result has shape ``(len(lines), len(pixels))``.
        Costs one interpolation per vector and pixel plus one per grid point.
        """
        return self._grid_function(pol, kind)(lines, pixels)

    def calibration_lut_dataarray(
        self,
        pol: Polarisation | str,
        kind: CalibrationKind,
        like: xr.DataArray,
        *,
        dtype: npt.DTypeLike = np.float32,
    ) -> xr.DataArray:
        """Calibration LUT on the grid of ``like`` (dims line/pixel), lazy and chunked like it."""
        return luts.lut_dataarray(
            self._grid_function(pol, kind),
            like,
            dtype=dtype,
            name=f"{kind}_lut",
            attrs={"long_name": f"{kind} calibration LUT (amplitude)", "units": "1"},
        )

    def noise_lut_dataarray(
        self, pol: Polarisation | str, like: xr.DataArray, *, dtype: npt.DTypeLike = np.float32
    ) -> xr.DataArray:
        """Thermal noise power on the grid of ``like`` (line/pixel), lazy and chunked like it."""
        return luts.lut_dataarray(
            self._grid_function(pol, "noise"),
            like,
            dtype=dtype,
            name="noise_power",
            attrs={"long_name": "thermal noise power", "units": "1"},
        )

    # -- pixels ------------------------------------------------------------------------------
    def open_measurement(
        self,
        pol: Polarisation | str,
        *,
        chunks: dict[str, int] | int | Literal["auto"] | None = None,
    ) -> xr.DataArray:
        """Lazy digital numbers (uint16) of ``pol``, dims ``("line", "pixel")``.

        Parameters
        ----------
        pol
            Polarisation.
        chunks
            Dask chunks by ``line``/``pixel`` (default :data:`DEFAULT_CHUNKS`), an int, ``"auto"``.
        """
        relpath = self._locate("measurement", pol)
        href = self._storage.href(relpath)
        annotation = self.annotation(pol)
        if chunks is None:
            chunks = DEFAULT_CHUNKS
        if isinstance(chunks, dict):
            names = {"line": "y", "pixel": "x"}
            rio_chunks: Any = {"band": 1, **{names.get(k, k): v for k, v in chunks.items()}}
        else:
            rio_chunks = chunks
        import rasterio
        import rioxarray

        try:
            with warnings.catch_warnings():
                # NOTE: GRD TIFFs are in radar geometry: GCPs only, or (blanked copies) nothing.
                warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
                opened = rioxarray.open_rasterio(
                    href, chunks=rio_chunks, mask_and_scale=False, parse_coordinates=False
                )
        except rasterio.errors.RasterioIOError as exc:
            raise ProductError(
                f"{self._storage.describe(relpath)}: cannot be opened ({exc})"
            ) from exc
        if not isinstance(opened, xr.DataArray) or opened.sizes.get("band") != 1:
            raise ProductError(f"{self._storage.describe(relpath)}: expected one band")
        data = opened.isel(band=0, drop=True).drop_vars(["x", "y", "spatial_ref"], errors="ignore")
        data = data.rename({"y": "line", "x": "pixel"})
        expected = (annotation.number_of_lines, annotation.number_of_samples)
        if (data.sizes["line"], data.sizes["pixel"]) != expected:
            raise ProductError(
                f"{self._storage.describe(relpath)}: image is {data.sizes['line']} x "
                f"{data.sizes['pixel']}, the annotation says {expected[0]} x {expected[1]}"
            )
        data = data.assign_coords(line=np.arange(expected[0]), pixel=np.arange(expected[1]))
        data.name = str(annotation.polarisation)
        data.attrs = {"long_name": "digital number", "units": "1"}
        data.encoding = {}
        return data


def open_product(path: str | os.PathLike[str]) -> Product:
    """Open a Sentinel-1 GRD product: a ``.SAFE`` folder, its ``manifest.safe`` or a ``.zip``.

    Raises
    ------
    ProductError
        The path does not exist, is not a (readable) product, or the product is not a GRD.
    """
    return Product(path)
