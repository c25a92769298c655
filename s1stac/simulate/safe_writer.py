"""SAFE packaging of a simulated product: manifest, measurement GeoTIFFs, preview, zip.

The manifest follows the Sentinel-1 Level-1 XFDU layout (``informationPackageMap``,
``metadataSection`` with platform, orbit reference, general product information, acquisition
period and footprint, ``dataObjectSection`` with size and MD5 of every file) that ESA products
and xarray-sentinel use.  Measurements are uint16 GeoTIFFs with the geolocation grid as GCPs
(EPSG:4326), written window by window.

Reference: Sentinel-1 Product Specification S1-RS-MDA-52-7441 sections 3.2 and 5
(manifest, measurement data), https://sentiwiki.copernicus.eu/web/s1-products.
"""

from __future__ import annotations

import hashlib
import pathlib
import shutil
import struct
import zipfile
import zlib

import numpy as np
import rasterio
from lxml import etree
from rasterio.control import GroundControlPoint
from rasterio.crs import CRS

from s1stac.simulate.orbit import seconds_between
from s1stac.simulate.product import INTERNATIONAL_DESIGNATOR, ProductSpec, esa_time
from s1stac.types import GeolocationGrid, Polarisation

NAMESPACES = {
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
    "gml": "http://www.opengis.net/gml",
    "xfdu": "urn:ccsds:schema:xfdu:1",
    "safe": "http://www.esa.int/safe/sentinel-1.0",
    "s1": "http://www.esa.int/safe/sentinel-1.0/sentinel-1",
    "s1sar": "http://www.esa.int/safe/sentinel-1.0/sentinel-1/sar",
    "s1sarl1": "http://www.esa.int/safe/sentinel-1.0/sentinel-1/sar/level-1",
}
FACILITY = {
    "country": "-",
    "name": "s1stac scene simulator",
    "organisation": "s1stac",
    "site": "simulation",
}
_SCHEMAS = {
    "s1Level1ProductSchema": "s1-level-1-product.xsd",
    "s1Level1NoiseSchema": "s1-level-1-noise.xsd",
    "s1Level1CalibrationSchema": "s1-level-1-calibration.xsd",
    "s1ObjectTypesSchema": "s1-object-types.xsd",
    "s1Level1MeasurementSchema": "s1-level-1-measurement.xsd",
    "s1Level1QuickLookSchema": "s1-level-1-quicklook.xsd",
    "s1Level1MapOverlaySchema": "s1-map-overlay.xsd",
}


def _q(prefix: str, tag: str) -> str:
    return f"{{{NAMESPACES[prefix]}}}{tag}"


def gcps(grid: GeolocationGrid) -> list[GroundControlPoint]:
    """GCPs of the geolocation grid, at the annotation's own line/pixel numbers (as ESA)."""
    return [
        GroundControlPoint(
            row=float(r), col=float(c), x=float(x), y=float(y), z=float(z), id=str(k + 1)
        )
        for k, (r, c, x, y, z) in enumerate(
            zip(grid.line, grid.pixel, grid.longitude, grid.latitude, grid.height, strict=True)
        )
    ]


def open_measurement(
    path: pathlib.Path, spec: ProductSpec, grid: GeolocationGrid, *, dtype: str = "uint16"
) -> rasterio.io.DatasetWriter:
    """Create a tiled measurement GeoTIFF (uint16, GCPs in EPSG:4326) ready for window writes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    dataset = rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=spec.geometry.samples,
        height=spec.geometry.lines,
        count=1,
        dtype=dtype,
        tiled=True,
        blockxsize=256,
        blockysize=256,
        BIGTIFF="IF_SAFER",
        gcps=gcps(grid),
        crs=CRS.from_epsg(4326),
    )
    dataset.update_tags(
        TIFFTAG_IMAGEDESCRIPTION=f"Sentinel-1{spec.mission[-1]} IW GRD HR L1 (simulated)",
        TIFFTAG_SOFTWARE=f"Sentinel-1 IPF {spec.ipf_version}",
        TIFFTAG_DATETIME=np.datetime_as_string(np.datetime64(spec.processing_stop, "s"))
        .replace("-", ":")
        .replace("T", " "),
    )
    return dataset


def write_png(path: pathlib.Path, rgb: np.ndarray) -> None:
    """Write an 8-bit RGB array ``(rows, cols, 3)`` as PNG (zlib, no filtering)."""
    rows, cols = rgb.shape[:2]
    raw = b"".join(b"\x00" + np.ascontiguousarray(rgb[r]).tobytes() for r in range(rows))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", cols, rows, 8, 2, 0, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )


def footprint(grid: GeolocationGrid) -> list[tuple[float, float]]:
    """Manifest footprint (lat, lon): last line/first pixel, last/last, first/last, first/first."""
    last_line, last_pixel = grid.line.max(), grid.pixel.max()
    corners = [(last_line, 0.0), (last_line, last_pixel), (0.0, last_pixel), (0.0, 0.0)]
    out = []
    for line, pixel in corners:
        k = int(np.flatnonzero((grid.line == line) & (grid.pixel == pixel))[0])
        out.append((float(grid.latitude[k]), float(grid.longitude[k])))
    return out


def write_kml(path: pathlib.Path, spec: ProductSpec, corners: list[tuple[float, float]]) -> None:
    coordinates = " ".join(f"{lon:.6f},{lat:.6f}" for lat, lon in corners)
    kml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<kml xmlns="http://www.opengis.net/kml/2.2" xmlns:gx="http://www.google.com/kml/ext/2.2">\n'
        "<Document><name>Sentinel-1 Map Overlay</name><Folder><name>Sentinel-1 Map Overlay</name>"
        "<GroundOverlay><name>Sentinel-1 Image Overlay</name>"
        "<Icon><href>quick-look.png</href></Icon>"
        f"<gx:LatLonQuad><coordinates>{coordinates}</coordinates></gx:LatLonQuad>"
        "</GroundOverlay></Folder></Document>\n</kml>\n"
    )
    path.write_text(kml)


def _md5(path: pathlib.Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def _sub(
    parent: etree._Element, tag: str, text: str | None = None, **attrib: str
) -> etree._Element:
    element = etree.SubElement(parent, tag, **attrib)
    if text is not None:
        element.text = text
    return element


def manifest(
    spec: ProductSpec, safe_dir: pathlib.Path, corners: list[tuple[float, float]]
) -> bytes:
    """``manifest.safe`` of a SAFE folder whose annotation, measurement and preview files exist."""
    root = etree.Element(_q("xfdu", "XFDU"), nsmap=NAMESPACES)
    root.set("version", "esa/safe/sentinel-1.0/sentinel-1/sar/level-1/grd/standard/iwdp")
    objects: list[tuple[str, str, str, str]] = []  # ID, repID, href, mime
    for pol in spec.polarisations:
        stem = spec.stem(pol)
        ident = stem.replace("-", "")
        objects += [
            (f"product{ident}", "s1Level1ProductSchema", f"annotation/{stem}.xml", "text/xml"),
            (
                f"noise{ident}",
                "s1Level1NoiseSchema",
                f"annotation/calibration/noise-{stem}.xml",
                "text/xml",
            ),
            (
                f"calibration{ident}",
                "s1Level1CalibrationSchema",
                f"annotation/calibration/calibration-{stem}.xml",
                "text/xml",
            ),
        ]
    objects.append(
        ("mapoverlay", "s1Level1MapOverlaySchema", "preview/map-overlay.kml", "text/xml")
    )
    measurements = [
        (
            spec.stem(pol).replace("-", ""),
            "s1Level1MeasurementSchema",
            f"measurement/{spec.stem(pol)}.tiff",
            "application/octet-stream",
        )
        for pol in spec.polarisations
    ]
    quicklook = (
        "quicklook",
        "s1Level1QuickLookSchema",
        "preview/quick-look.png",
        "application/octet-stream",
    )

    package = _sub(root, "informationPackageMap")
    unit = _sub(
        package,
        _q("xfdu", "contentUnit"),
        unitType="SAFE Archive Information Package",
        textInfo="Sentinel-1 IW Level-1 GRD Product",
        dmdID=" ".join(
            ("acquisitionPeriod", "platform", "generalProductInformation")
            + ("measurementOrbitReference", "measurementFrameSet")
        ),
        pdiID="processing",
    )
    for ident, rep, _, _ in objects:
        sub = _sub(unit, _q("xfdu", "contentUnit"), unitType="Metadata Unit", repID=rep)
        _sub(sub, "dataObjectPointer", dataObjectID=ident)
    for pol, (ident, rep, _, _) in zip(spec.polarisations, measurements, strict=True):
        dmd = " ".join(f"{kind}{ident}Annotation" for kind in ("product", "noise", "calibration"))
        sub = _sub(
            unit, _q("xfdu", "contentUnit"), unitType="Measurement Data Unit", repID=rep, dmdID=dmd
        )
        _sub(sub, "dataObjectPointer", dataObjectID=ident)
        del pol
    sub = _sub(
        unit, _q("xfdu", "contentUnit"), unitType="Measurement Data Unit", repID=quicklook[1]
    )
    _sub(sub, "dataObjectPointer", dataObjectID="quicklook")

    section = _sub(root, "metadataSection")
    for ident, _, _, _ in objects:
        meta = _sub(
            section,
            "metadataObject",
            ID=f"{ident}Annotation",
            classification="DESCRIPTION",
            category="DMD",
        )
        _sub(meta, "dataObjectPointer", dataObjectID=ident)
    _metadata(section, spec, corners)
    for rep, xsd in _SCHEMAS.items():
        meta = _sub(section, "metadataObject", ID=rep, classification="SYNTAX", category="REP")
        _sub(
            meta,
            "metadataReference",
            mimeType="text/xml",
            vocabularyName="XML Schema",
            locatorType="URL",
            href=f"./support/{xsd}",
        )

    data = _sub(root, "dataObjectSection")
    for ident, rep, href, mime in [*objects, *measurements, quicklook]:
        path = safe_dir / href
        obj = _sub(data, "dataObject", ID=ident, repID=rep)
        stream = _sub(obj, "byteStream", mimeType=mime, size=str(path.stat().st_size))
        _sub(stream, "fileLocation", locatorType="URL", href=f"./{href}")
        _sub(stream, "checksum", _md5(path), checksumName="MD5")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _wrap(
    section: etree._Element,
    ident: str,
    category: str,
    text: str,
    classification: str = "DESCRIPTION",
) -> etree._Element:
    meta = _sub(
        section, "metadataObject", ID=ident, classification=classification, category=category
    )
    wrap = _sub(meta, "metadataWrap", mimeType="text/xml", vocabularyName="SAFE", textInfo=text)
    return _sub(wrap, "xmlData")


def _metadata(
    section: etree._Element, spec: ProductSpec, corners: list[tuple[float, float]]
) -> None:
    anx = spec.geometry.orbit.anx_time
    xml = _wrap(section, "processing", "PDI", "Processing", "PROVENANCE")
    processing = _sub(
        xml,
        _q("safe", "processing"),
        name="GRD Post Processing",
        start=esa_time(spec.processing_stop - np.timedelta64(600, "s")),
        stop=esa_time(spec.processing_stop),
    )
    facility = _sub(processing, _q("safe", "facility"), **FACILITY)
    _sub(facility, _q("safe", "software"), name="Sentinel-1 IPF", version=spec.ipf_version)

    xml = _wrap(section, "platform", "DMD", "Platform Description")
    platform = _sub(xml, _q("safe", "platform"))
    _sub(platform, _q("safe", "nssdcIdentifier"), INTERNATIONAL_DESIGNATOR)
    _sub(platform, _q("safe", "familyName"), "SENTINEL-1")
    _sub(platform, _q("safe", "number"), spec.mission[-1])
    instrument = _sub(platform, _q("safe", "instrument"))
    _sub(instrument, _q("safe", "familyName"), "Synthetic Aperture Radar", abbreviation="SAR")
    mode = _sub(
        _sub(_sub(instrument, _q("safe", "extension")), _q("s1sarl1", "instrumentMode")),
        _q("s1sarl1", "mode"),
        "IW",
    )
    _sub(mode.getparent(), _q("s1sarl1", "swath"), "IW")

    xml = _wrap(section, "measurementOrbitReference", "DMD", "Orbit Reference")
    reference = _sub(xml, _q("safe", "orbitReference"))
    for kind in ("start", "stop"):
        _sub(reference, _q("safe", "orbitNumber"), str(spec.absolute_orbit), type=kind)
    for kind in ("start", "stop"):
        _sub(reference, _q("safe", "relativeOrbitNumber"), str(spec.relative_orbit), type=kind)
    _sub(reference, _q("safe", "cycleNumber"), str((spec.absolute_orbit + 2362) // 175 + 1))
    _sub(reference, _q("safe", "phaseIdentifier"), "1")
    properties = _sub(_sub(reference, _q("safe", "extension")), _q("s1", "orbitProperties"))
    _sub(properties, _q("s1", "pass"), spec.direction.value)
    _sub(properties, _q("s1", "ascendingNodeTime"), esa_time(anx))

    xml = _wrap(section, "generalProductInformation", "DMD", "General Product Information")
    info = _sub(xml, _q("s1sarl1", "standAloneProductInformation"))
    _sub(info, _q("s1sarl1", "instrumentConfigurationID"), "6")
    _sub(info, _q("s1sarl1", "missionDataTakeID"), str(spec.datatake_id))
    for pol in spec.polarisations:
        _sub(info, _q("s1sarl1", "transmitterReceiverPolarisation"), pol.value)
    for tag, text in (
        ("productClass", "S"),
        ("productClassDescription", "SAR Standard L1 Product"),
        ("productComposition", "Slice"),
        ("productType", "GRD"),
        ("productTimelinessCategory", "Fast-24h"),
        ("sliceProductFlag", "true"),
        ("segmentStartTime", esa_time(spec.segment_start)),
        ("sliceNumber", str(spec.slice_number)),
        ("totalSlices", str(spec.total_slices)),
    ):
        _sub(info, _q("s1sarl1", tag), text)

    xml = _wrap(section, "acquisitionPeriod", "DMD", "Acquisition Period")
    period = _sub(xml, _q("safe", "acquisitionPeriod"))
    _sub(period, _q("safe", "startTime"), esa_time(spec.start))
    _sub(period, _q("safe", "stopTime"), esa_time(spec.stop))
    anx_times = _sub(_sub(period, _q("safe", "extension")), _q("s1", "timeANX"))
    _sub(anx_times, _q("s1", "startTimeANX"), f"{seconds_between(anx, spec.start) * 1e3:.6e}")
    _sub(anx_times, _q("s1", "stopTimeANX"), f"{seconds_between(anx, spec.stop) * 1e3:.6e}")

    xml = _wrap(section, "measurementFrameSet", "DMD", "Frame Set")
    frame = _sub(_sub(xml, _q("safe", "frameSet")), _q("safe", "frame"))
    foot = _sub(
        frame, _q("safe", "footPrint"), srsName="http://www.opengis.net/gml/srs/epsg.xml#4326"
    )
    _sub(foot, _q("gml", "coordinates"), " ".join(f"{lat:.6f},{lon:.6f}" for lat, lon in corners))


def zip_safe(safe_dir: pathlib.Path) -> pathlib.Path:
    """Zip ``<name>.SAFE`` into ``<name>.zip`` (folder at the root, as ESA) and remove it."""
    target = safe_dir.with_suffix(".zip")
    with zipfile.ZipFile(target, "w") as archive:
        for path in sorted(safe_dir.rglob("*")):
            if path.is_file():
                method = zipfile.ZIP_STORED if path.suffix == ".tiff" else zipfile.ZIP_DEFLATED
                archive.write(
                    path, f"{safe_dir.name}/{path.relative_to(safe_dir)}", compress_type=method
                )
    shutil.rmtree(safe_dir)
    return target


def polarisation_files(spec: ProductSpec, pol: Polarisation) -> dict[str, str]:
    """Relative paths of one polarisation's files inside the SAFE folder."""
    stem = spec.stem(pol)
    return {
        "annotation": f"annotation/{stem}.xml",
        "calibration": f"annotation/calibration/calibration-{stem}.xml",
        "noise": f"annotation/calibration/noise-{stem}.xml",
        "measurement": f"measurement/{stem}.tiff",
    }
