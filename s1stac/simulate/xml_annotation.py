"""Annotation, calibration and noise XML of a simulated product, in the ESA Level-1 schemas.

The documents carry every element the Sentinel-1 Level-1 XML schemas require (they validate
against ``s1-level-1-product.xsd``, ``s1-level-1-calibration.xsd``, ``s1-level-1-noise.xsd``),
filled from the simulation: orbit, timing, geolocation grid, coordinate conversion, LUTs.
Instrument bookkeeping the simulation has no use for (downlink counters, replica quality) gets
nominal values of the IW mode.

Reference: Sentinel-1 Product Specification S1-RS-MDA-52-7441 chapter 6 (annotation data
sets), https://sentiwiki.copernicus.eu/web/s1-products.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from s1stac.geometry import SPEED_OF_LIGHT
from s1stac.simulate import xml_nominal as nominal
from s1stac.simulate.instrument import SUBSWATHS, subswath_of
from s1stac.simulate.product import RADAR_FREQUENCY, RANGE_SAMPLING_RATE, ProductSpec
from s1stac.simulate.radar import incidence_angle, look_angle
from s1stac.simulate.xml_tree import Items, Values, ads_header, document
from s1stac.types import Annotation


def _attitude(spec: ProductSpec, annotation: Annotation) -> list[dict[str, Any]]:
    """Orbital-frame attitude (zero-Doppler steering, 30 deg roll) at the state-vector times."""
    rate = 2.0 * np.pi / (12 * 86400.0 / 175)
    out = []
    for time, position, velocity in zip(
        annotation.orbit.time, annotation.orbit.position, annotation.orbit.velocity, strict=True
    ):
        z = -position / np.linalg.norm(position)
        y = np.cross(z, velocity)
        y /= np.linalg.norm(y)
        x = np.cross(y, z)
        m = np.stack([x, y, z], axis=1)
        w = 0.5 * np.sqrt(max(1e-12, 1.0 + m[0, 0] + m[1, 1] + m[2, 2]))
        q = (
            w,
            (m[2, 1] - m[1, 2]) / (4 * w),
            (m[0, 2] - m[2, 0]) / (4 * w),
            (m[1, 0] - m[0, 1]) / (4 * w),
        )
        out.append(
            {
                "time": time,
                "frame": "Earth Fixed",
                "q0": q[0],
                "q1": q[1],
                "q2": q[2],
                "q3": q[3],
                "wx": 0.0,
                "wy": -rate,
                "wz": 0.0,
                "roll": -30.0,
                "pitch": 0.0,
                "yaw": 0.0,
            }
        )
    return out


def _antenna_pattern(spec: ProductSpec, annotation: Annotation) -> list[dict[str, Any]]:
    g = spec.geometry
    grid = annotation.geolocation_grid
    pixels = np.linspace(0, g.samples - 1, 50)
    tau = g.line_tau(np.zeros(50))
    slant = g.slant_range(pixels, tau)
    point, sensor = g.ground(np.zeros(50), pixels)
    inc, elev = incidence_angle(point, sensor), look_angle(point, sensor)
    swath = subswath_of(inc)
    out = []
    for k in np.unique(swath):
        sel = swath == k
        out.append(
            {
                "swath": SUBSWATHS[k],
                "azimuthTime": spec.start,
                "slantRangeTime": Values(2.0 * slant[sel] / SPEED_OF_LIGHT, "%.15e"),
                "elevationAngle": Values(elev[sel]),
                "elevationPattern": Values(np.ones(int(sel.sum()))),
                "incidenceAngle": Values(inc[sel]),
                "terrainHeight": float(np.mean(grid.height)),
                "roll": 30.0,
            }
        )
    return out


def annotation_xml(spec: ProductSpec, annotation: Annotation, *, mean: float, std: float) -> bytes:
    """Serialise the product annotation of one polarisation (``annotation/s1a-iw-grd-*.xml``)."""
    g = spec.geometry
    start, stop = spec.start, spec.stop
    grid = annotation.geolocation_grid
    conversion = annotation.coordinate_conversion
    mid_tau = 0.5 * (g.first_line_tau + g.last_line_tau)
    speed = float(np.linalg.norm(g.orbit.state(mid_tau)[1]))
    near_time = 2.0 * g.near_range / SPEED_OF_LIGHT
    far_time = (
        2.0 * float(g.slant_range(np.array(g.samples - 1.0), np.array(mid_tau))) / SPEED_OF_LIGHT
    )
    range_time = np.linspace(near_time, far_time, 20)
    fm_rate = (
        -2.0 * speed**2 * RADAR_FREQUENCY / (SPEED_OF_LIGHT * 0.5 * SPEED_OF_LIGHT * range_time)
    )
    fm_poly = np.polynomial.polynomial.polyfit(range_time - near_time, fm_rate, 2)
    incidence = g.ellipsoid_incidence(
        np.full(g.samples, g.lines / 2.0), np.arange(g.samples, dtype=float)
    )
    swath = subswath_of(incidence)
    polarisation = annotation.polarisation
    content = {
        "adsHeader": ads_header(spec, polarisation),
        "qualityInformation": nominal.quality(start, mean, std),
        "generalAnnotation": {
            "productInformation": {
                "pass": spec.direction.value.capitalize(),
                "timelinessCategory": "Fast-24h",
                "platformHeading": g.heading,
                "projection": "Ground Range",
                "rangeSamplingRate": RANGE_SAMPLING_RATE,
                "radarFrequency": RADAR_FREQUENCY,
                "azimuthSteeringRate": 1.590368784,
            },
            "downlinkInformationList": Items(
                "downlinkInformation", [nominal.downlink(spec, s) for s in SUBSWATHS]
            ),
            "orbitList": Items(
                "orbit",
                [
                    {
                        "time": t,
                        "frame": "Earth Fixed",
                        "position": dict(zip("xyz", map(float, p), strict=True)),
                        "velocity": dict(zip("xyz", map(float, v), strict=True)),
                    }
                    for t, p, v in zip(
                        annotation.orbit.time,
                        annotation.orbit.position,
                        annotation.orbit.velocity,
                        strict=True,
                    )
                ],
            ),
            "attitudeList": Items("attitude", _attitude(spec, annotation)),
            "rawDataAnalysisList": Items(
                "rawDataAnalysis",
                [
                    {
                        "azimuthTime": start,
                        "iBias": 0.0,
                        "qBias": 0.0,
                        "iqQuadratureDeparture": 0.0,
                        "iqGainImbalance": 1.0,
                        "support": {
                            "iBiasUpperBound": 0.01,
                            "iBiasLowerBound": -0.01,
                            "qBiasUpperBound": 0.01,
                            "qBiasLowerBound": -0.01,
                            "iqGainUpperBound": 1.001,
                            "iqGainLowerBound": 0.999,
                            "iqQuadratureDepartureUpperBound": 0.9,
                            "iqQuadratureDepartureLowerBound": -0.9,
                            "iBiasUsedForCorrection": 0.0,
                            "qBiasUsedForCorrection": 0.0,
                            "iqGainImbalanceUsedForCorrection": 1.0,
                            "iqQuadratureDepartureUsedForCorrection": 0.0,
                        },
                    }
                    for _ in SUBSWATHS
                ],
            ),
            "replicaInformationList": Items(
                "replicaInformation",
                [
                    {
                        "swath": s,
                        "referenceReplica": {
                            "azimuthTime": start,
                            "chirpSource": "Nominal",
                            "pgSource": "Extracted",
                            "amplitudeCoefficients": Values([1.0, 0.0, 0.0, 0.0]),
                            "phaseCoefficients": Values([0.0, 0.0, 5.391152e11, 0.0]),
                            "timeDelay": 4.32e-07,
                            "gain": {"re": 1.0, "im": 0.0},
                        },
                        "replicaList": Items("replica", []),
                    }
                    for s in SUBSWATHS
                ],
            ),
            "noiseList": Items("noise", []),
            "terrainHeightList": Items(
                "terrainHeight", [{"azimuthTime": start, "value": g.reference_height}]
            ),
            "azimuthFmRateList": Items(
                "azimuthFmRate",
                [
                    {
                        "azimuthTime": start,
                        "t0": near_time,
                        "azimuthFmRatePolynomial": Values(fm_poly, "%.15e"),
                    }
                ],
            ),
        },
        "imageAnnotation": {
            "imageInformation": {
                "productFirstLineUtcTime": start,
                "productLastLineUtcTime": stop,
                "ascendingNodeTime": g.orbit.anx_time,
                "anchorTime": spec.segment_start,
                "productComposition": "Slice",
                "sliceNumber": spec.slice_number,
                "sliceList": Items(
                    "slice",
                    [
                        {
                            "sliceNumber": spec.slice_number,
                            "sensingStartTime": start,
                            "sensingStopTime": stop,
                        }
                    ],
                ),
                "slantRangeTime": near_time,
                "pixelValue": "Detected",
                "outputPixels": "16 bit Unsigned Integer",
                "rangePixelSpacing": g.range_spacing,
                "azimuthPixelSpacing": g.azimuth_spacing,
                "azimuthTimeInterval": g.line_interval,
                "azimuthFrequency": 1.0 / g.line_interval,
                "numberOfSamples": g.samples,
                "numberOfLines": g.lines,
                "zeroDopMinusAcqTime": 0.0,
                "incidenceAngleMidSwath": annotation.incidence_angle_mid_swath,
                "imageStatistics": {
                    "outputDataMean": {"re": mean, "im": 0.0},
                    "outputDataStdDev": {"re": std, "im": 0.0},
                },
            },
            "processingInformation": nominal.processing(spec),
        },
        "dopplerCentroid": {
            "dcEstimateList": Items(
                "dcEstimate",
                [
                    {
                        "azimuthTime": start,
                        "t0": near_time,
                        "geometryDcPolynomial": Values([0.0, 0.0, 0.0]),
                        "dataDcPolynomial": Values([0.0, 0.0, 0.0]),
                        "dataDcRmsError": 0.0,
                        "dataDcRmsErrorAboveThreshold": False,
                        "fineDceAzimuthStartTime": start,
                        "fineDceAzimuthStopTime": stop,
                        "fineDceList": Items("fineDce", []),
                    }
                ],
            )
        },
        "antennaPattern": {
            "antennaPatternList": Items("antennaPattern", _antenna_pattern(spec, annotation))
        },
        "swathTiming": {"linesPerBurst": 0, "samplesPerBurst": 0, "burstList": Items("burst", [])},
        "geolocationGrid": {
            "geolocationGridPointList": Items(
                "geolocationGridPoint",
                [
                    {
                        "azimuthTime": grid.azimuth_time[k],
                        "slantRangeTime": grid.slant_range_time[k],
                        "line": int(grid.line[k]),
                        "pixel": int(grid.pixel[k]),
                        "latitude": grid.latitude[k],
                        "longitude": grid.longitude[k],
                        "height": grid.height[k],
                        "incidenceAngle": grid.incidence_angle[k],
                        "elevationAngle": grid.elevation_angle[k],
                    }
                    for k in range(len(grid.line))
                ],
            )
        },
        "coordinateConversion": {
            "coordinateConversionList": Items(
                "coordinateConversion",
                [
                    {
                        "azimuthTime": conversion.azimuth_time[k],
                        "slantRangeTime": conversion.slant_range_time[k],
                        "sr0": conversion.sr0[k],
                        "srgrCoefficients": Values(conversion.srgr_coefficients[k], "%.15e"),
                        "gr0": conversion.gr0[k],
                        "grsrCoefficients": Values(conversion.grsr_coefficients[k], "%.15e"),
                    }
                    for k in range(len(conversion.sr0))
                ],
            )
        },
        "swathMerging": {
            "swathMergeList": Items(
                "swathMerge",
                [
                    {
                        "swath": SUBSWATHS[k],
                        "swathBoundsList": Items(
                            "swathBounds",
                            [
                                {
                                    "azimuthTime": start,
                                    "firstAzimuthLine": 0,
                                    "firstRangeSample": int(np.flatnonzero(swath == k)[0]),
                                    "lastAzimuthLine": g.lines - 1,
                                    "lastRangeSample": int(np.flatnonzero(swath == k)[-1]),
                                }
                            ],
                        ),
                    }
                    for k in np.unique(swath)
                ],
            )
        },
    }
    return document("product", content)
