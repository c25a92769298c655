"""XML building blocks of the simulated products, and the calibration and noise documents.

Reference: Sentinel-1 Product Specification S1-RS-MDA-52-7441 sections 6.4 (calibration) and
6.5 (noise) and the Level-1 XML schemas ``s1-level-1-calibration.xsd`` /
``s1-level-1-noise.xsd``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from lxml import etree

from s1stac.simulate.product import ProductSpec, esa_time
from s1stac.types import CalibrationVectors, NoiseVectors, Polarisation


@dataclass(frozen=True)
class Items:
    """A ``<...List count="n">`` of repeated ``tag`` elements."""

    tag: str
    items: Sequence[Any]


@dataclass(frozen=True)
class Values:
    """A space-separated array with a ``count`` attribute."""

    values: Any
    fmt: str = "%.6e"


def _text(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return f"{float(value):.15e}"
    if isinstance(value, np.datetime64):
        return esa_time(value)
    return str(value)


def _add(parent: etree._Element, tag: str, value: Any) -> None:
    if isinstance(value, Mapping):
        element = etree.SubElement(parent, tag)
        for key, item in value.items():
            _add(element, key, item)
    elif isinstance(value, Items):
        element = etree.SubElement(parent, tag, count=str(len(value.items)))
        for item in value.items:
            _add(element, value.tag, item)
    elif isinstance(value, Values):
        array = np.ravel(value.values)
        element = etree.SubElement(parent, tag, count=str(array.size))
        element.text = " ".join(value.fmt % v for v in array)
    else:
        etree.SubElement(parent, tag).text = _text(value)


def document(root: str, content: Mapping[str, Any]) -> bytes:
    """Serialise ``content`` under ``<root>`` as UTF-8 XML with declaration."""
    element = etree.Element(root)
    for key, value in content.items():
        _add(element, key, value)
    return etree.tostring(element, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def ads_header(spec: ProductSpec, polarisation: Polarisation) -> dict[str, Any]:
    return {
        "missionId": spec.mission,
        "productType": "GRD",
        "polarisation": polarisation.value,
        "mode": "IW",
        "swath": "IW",
        "startTime": spec.start,
        "stopTime": spec.stop,
        "absoluteOrbitNumber": spec.absolute_orbit,
        "missionDataTakeId": spec.datatake_id,
        "imageNumber": f"{spec.image_number(polarisation):03d}",
    }


def calibration_xml(
    spec: ProductSpec, polarisation: Polarisation, cal: CalibrationVectors
) -> bytes:
    """Serialise the calibration LUTs (``annotation/calibration/calibration-*.xml``)."""
    vectors = [
        {
            "azimuthTime": cal.azimuth_time[k],
            "line": int(cal.line[k]),
            "pixel": Values(cal.pixel[k], "%d"),
            "sigmaNought": Values(cal.sigma_nought[k]),
            "betaNought": Values(cal.beta_nought[k]),
            "gamma": Values(cal.gamma[k]),
            "dn": Values(cal.dn[k]),
        }
        for k in range(len(cal.line))
    ]
    return document(
        "calibration",
        {
            "adsHeader": ads_header(spec, polarisation),
            "calibrationInformation": {
                "absoluteCalibrationConstant": cal.absolute_calibration_constant
            },
            "calibrationVectorList": Items("calibrationVector", vectors),
        },
    )


def noise_xml(spec: ProductSpec, polarisation: Polarisation, noise: NoiseVectors) -> bytes:
    """Serialise the noise LUTs (``annotation/calibration/noise-*.xml``).

    ``noiseRangeVectorList`` and ``noiseAzimuthVectorList`` (IPF >= 2.9), or the
    ``noiseVectorList`` of older products when ``noise`` has no azimuth blocks.
    """
    header = ads_header(spec, polarisation)
    if not noise.azimuth:
        return document(
            "noise",
            {
                "adsHeader": header,
                "noiseVectorList": Items(
                    "noiseVector",
                    [
                        {
                            "azimuthTime": v.azimuth_time,
                            "line": v.line,
                            "pixel": Values(v.pixel, "%d"),
                            "noiseLut": Values(v.values),
                        }
                        for v in noise.range
                    ],
                ),
            },
        )
    return document(
        "noise",
        {
            "adsHeader": header,
            "noiseRangeVectorList": Items(
                "noiseRangeVector",
                [
                    {
                        "azimuthTime": v.azimuth_time,
                        "line": v.line,
                        "pixel": Values(v.pixel, "%d"),
                        "noiseRangeLut": Values(v.values),
                    }
                    for v in noise.range
                ],
            ),
            "noiseAzimuthVectorList": Items(
                "noiseAzimuthVector",
                [
                    {
                        "swath": b.swath,
                        "firstAzimuthLine": b.first_line,
                        "firstRangeSample": b.first_pixel,
                        "lastAzimuthLine": b.last_line,
                        "lastRangeSample": b.last_pixel,
                        "line": Values(b.line, "%d"),
                        "noiseAzimuthLut": Values(b.values),
                    }
                    for b in noise.azimuth
                ],
            ),
        },
    )
