"""Nominal IW instrument bookkeeping of the simulated annotation (quality, downlink, processing).

The simulation has no raw data: these schema-required sections get the nominal values of the
IW mode (PRFs, pulse, decimation, processing windows) and report no error.

Reference: Sentinel-1 Product Specification S1-RS-MDA-52-7441 section 6.3 and
``s1-level-1-product.xsd``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from s1stac.ellipsoid import WGS84_A, WGS84_B
from s1stac.simulate.instrument import SUBSWATHS
from s1stac.simulate.product import RANGE_SAMPLING_RATE, ProductSpec
from s1stac.simulate.xml_tree import Items

_PRF = {"IW1": 1717.128973878037, "IW2": 1451.627197426203, "IW3": 1685.817352135968}


def quality(time: np.datetime64, mean: float, std: float) -> dict[str, Any]:
    zero_flags = ("DownlinkInput", "InstrumentInput", "SsbErrorInput")
    downlink: dict[str, Any] = {
        "iInputDataMean": 0.0,
        "qInputDataMean": 0.0,
        "inputDataMeanOutsideNominalRangeFlag": False,
        "iInputDataStdDev": 9.0,
        "qInputDataStdDev": 9.0,
        "inputDataStDevOutsideNominalRangeFlag": False,
    }
    for name in zero_flags:
        short = name.replace("Input", "")
        lower = short[0].lower() + short[1:]
        downlink[f"num{name}DataGaps"] = 0
        downlink[f"{lower}GapsInInputDataSignificantFlag"] = False
        downlink[f"num{name}MissingLines"] = 0
        downlink[f"{lower}MissingLinesSignificantFlag"] = False
    downlink.update(
        {
            "chirpSourceUsed": "Nominal",
            "pgSourceUsed": "Extracted",
            "rrfSpectrumUsed": "Extended Tapered",
            "replicaReconstructionFailedFlag": False,
            "meanPgProductAmplitude": 0.62,
            "stdDevPgProductAmplitude": 0.05,
            "meanPgProductPhase": 2.57,
            "stdDevPgProductPhase": 0.15,
            "pgProductDerivationFailedFlag": False,
            "invalidDownlinkParamsFlag": False,
        }
    )
    stats = {"outputDataMean": {"re": mean, "im": 0.0}, "outputDataStdDev": {"re": std, "im": 0.0}}
    return {
        "productQualityIndex": 0.0,
        "qualityDataList": Items(
            "qualityData",
            [
                {
                    "azimuthTime": time,
                    "downlinkQuality": downlink,
                    "rawDataAnalysisQuality": {
                        "iBias": 0.0,
                        "iBiasSignificanceFlag": False,
                        "qBias": 0.0,
                        "qBiasSignificanceFlag": False,
                        "iqGainImbalance": 1.0,
                        "iqGainSignificanceFlag": False,
                        "iqQuadratureDeparture": 0.0,
                        "iqQuadratureDepartureSignificanceFlag": False,
                    },
                    "dopplerCentroidQuality": {
                        "dcMethod": "Data Analysis",
                        "dopplerCentroidUncertainFlag": False,
                    },
                    "imageQuality": {
                        "imageStatistics": stats,
                        "outputDataMeanOutsideNominalRangeFlag": False,
                        "outputDataStDevOutsideNominalRangeFlag": False,
                    },
                }
            ],
        ),
    }


def downlink(spec: ProductSpec, swath: str) -> dict[str, Any]:
    errors = [
        "SyncMarker",
        "DataTakeId",
        "EccNumber",
        "TestMode",
        "RxChannelId",
        "InstrumentConfigId",
        "PacketCount",
        "PriCount",
        "SsbErrorFlag",
        "BaqMode",
        "BaqBlockLength",
        "RangeDecimation",
        "RxGain",
        "TxRampRate",
        "TxPulseStartFrequency",
        "Rank",
        "Pri",
        "Swst",
        "Swl",
        "Polarisation",
        "TempComp",
        "ElevationBeamAddress",
        "AzimuthBeamAddress",
        "SasTestMode",
        "CalType",
        "CalibrationBeamAddress",
        "CalMode",
        "TxPulseNumber",
        "SignalType",
        "SwapFlag",
        "SwathNumber",
        "NumberOfQuads",
    ]
    counts: dict[str, Any] = {f"numErr{name}": 0 for name in errors}
    counts["numIspHeaderErrors"] = 0
    prf = _PRF[swath]
    return {
        "swath": swath,
        "azimuthTime": spec.start,
        "firstLineSensingTime": spec.start,
        "lastLineSensingTime": spec.stop,
        "prf": prf,
        "bitErrorCount": counts,
        "downlinkValues": {
            "pri": 1.0 / prf,
            "rank": 9,
            "dataTakeId": spec.datatake_id % 65536,
            "eccNumber": 8,
            "rxChannelId": 0,
            "instrumentConfigId": 2,
            "dataFormat": {
                "baqBlockLength": 256,
                "echoFormat": "FDBAQ",
                "noiseFormat": "BAQ 5 Bit",
                "calibrationFormat": "Decimation",
                "meanBitRate": 1.2,
            },
            "rangeDecimation": {
                "decimationFilterBandwidth": 5.659e7,
                "samplingFrequencyAfterDecimation": RANGE_SAMPLING_RATE,
                "filterLength": 36,
            },
            "rxGain": -4.0,
            "txPulseLength": 5.240481033595628e-05,
            "txPulseStartFrequency": -2.825153419637256e07,
            "txPulseRampRate": 1.078230321255894e12,
            "swathNumber": 10 + SUBSWATHS.index(swath),
            "swlList": Items("swl", [{"azimuthTime": spec.start, "value": 3.7e-4}]),
            "swstList": Items("swst", [{"azimuthTime": spec.start, "value": 1.05e-4}]),
            "pointingStatusList": Items(
                "pointingStatus",
                [
                    {
                        "azimuthTime": spec.start,
                        "aocsOpMode": "Normal Pointing Mode",
                        "rollErrorFlag": False,
                        "pitchErrorFlag": False,
                        "yawErrorFlag": False,
                    }
                ],
            ),
        },
    }


def processing(spec: ProductSpec) -> dict[str, Any]:
    def window(bandwidth: float, look: float, looks: int, overlap: float) -> dict[str, Any]:
        return {
            "windowType": "Hamming",
            "windowCoefficient": 0.7,
            "totalBandwidth": bandwidth,
            "processingBandwidth": bandwidth,
            "lookBandwidth": look,
            "numberOfLooks": looks,
            "lookOverlap": overlap,
        }

    return {
        "rawDataAnalysisUsed": True,
        "orbitDataFileUsed": True,
        "attitudeDataFileUsed": False,
        "rxVariationCorrectionApplied": True,
        "antennaElevationPatternApplied": True,
        "antennaAzimuthPatternApplied": True,
        "antennaAzimuthElementPatternApplied": True,
        "dcMethod": "Data Analysis",
        "dcInputData": "Range Compressed",
        "rangeSpreadingLossCompensationApplied": True,
        "srgrConversionApplied": True,
        "detectionPerformed": True,
        "thermalNoiseCorrectionPerformed": False,
        "rfiMitigationPerformed": "Never",
        "rfiMitigationDomain": "TimeAndFrequency",
        "chirpSource": "Nominal",
        "pgSource": "Extracted",
        "rrfSpectrum": "Extended Tapered",
        "applicationLutId": "IW_Default",
        "swathProcParamsList": Items(
            "swathProcParams",
            [
                {
                    "swath": s,
                    "rangeProcessing": window(5.65e7, 1.41e7, 5, 3.5e6),
                    "azimuthProcessing": window(327.0, 327.0, 1, 0.0),
                    "processorScalingFactor": 1.0,
                }
                for s in SUBSWATHS
            ],
        ),
        "inputDimensionsList": Items(
            "inputDimensions",
            [
                {
                    "azimuthTime": spec.start,
                    "swath": s,
                    "numberOfInputSamples": spec.geometry.samples,
                    "numberOfInputLines": spec.geometry.lines,
                }
                for s in SUBSWATHS
            ],
        ),
        "referenceRange": 8.0e5,
        "ellipsoidName": "WGS84",
        "ellipsoidSemiMajorAxis": WGS84_A,
        "ellipsoidSemiMinorAxis": WGS84_B,
        "bistaticDelayCorrectionApplied": True,
        "topsFilterConvention": "Only Echo Lines",
        "orbitSource": "Auxiliary",
        "attitudeSource": "Downlink",
    }
