"""Person detectors behind one small interface, selected by a tagged config union."""

from __future__ import annotations

import numpy.typing as npt

from ml_core.detect.base import Detector, check_frame
from ml_core.detect.config import (
    DETECTOR_NAMES,
    DetectorConfig,
    HogConfig,
    Mog2Config,
    NanoDetConfig,
    OnnxConfig,
    decode_detector_config,
)
from ml_core.detect.types import Detections


def create_detector(config: DetectorConfig, image_to_floor_norm: npt.ArrayLike | None = None) -> Detector:
    """Build the backend `config` names; `image_to_floor_norm` (3, 3, normalised image -> metres) feeds size priors."""
    if isinstance(config, Mog2Config):
        from ml_core.detect.mog2 import Mog2Detector

        return Mog2Detector(config, image_to_floor_norm)
    if isinstance(config, HogConfig):
        from ml_core.detect.hog import HogDetector

        return HogDetector(config)
    if isinstance(config, OnnxConfig):
        from ml_core.detect.onnx import OnnxDetector

        return OnnxDetector(config)
    if isinstance(config, NanoDetConfig):
        from ml_core.detect.nanodet import NanoDetDetector

        return NanoDetDetector(config)
    raise TypeError(f"unknown detector config {type(config).__name__}")


__all__ = [
    "DETECTOR_NAMES",
    "Detections",
    "Detector",
    "DetectorConfig",
    "HogConfig",
    "Mog2Config",
    "NanoDetConfig",
    "OnnxConfig",
    "check_frame",
    "create_detector",
    "decode_detector_config",
]
