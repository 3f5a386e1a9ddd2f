"""MOT Challenge helpers: file I/O, synthetic detections, tracker runners and metrics (pure compute)."""

from ml_core.mot.metrics import MotMetrics, evaluate
from ml_core.mot.rows import MotRows, load_mot, save_mot
from ml_core.mot.runners import run_footfall, run_peer
from ml_core.mot.synthetic import DetectionNoise, detections_from_ground_truth, moving_boxes

__all__ = [
    "DetectionNoise",
    "MotMetrics",
    "MotRows",
    "detections_from_ground_truth",
    "evaluate",
    "load_mot",
    "moving_boxes",
    "run_footfall",
    "run_peer",
    "save_mot",
]
