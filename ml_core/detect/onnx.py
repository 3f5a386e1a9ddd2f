"""YOLO-family person detection through ONNX Runtime (YOLOv8 / YOLO11 export layout).

The model takes (1, 3, S, S) float32 RGB in 0..1 and returns one tensor
(1, 4 + classes, anchors): per anchor cx, cy, w, h in letterboxed input pixels,
then one score per class (already sigmoid-ed). Weights are the user's: nothing
is downloaded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from ml_core.detect.base import Detector, Frame, check_frame
from ml_core.detect.config import OnnxConfig
from ml_core.detect.letterbox import letterbox
from ml_core.detect.nms import nms
from ml_core.detect.ort_session import open_detector_session
from ml_core.detect.types import Detections


class OnnxDetector(Detector):
    """Runs a YOLO-layout ONNX model on each frame; keeps class `person_class` only."""

    name = "onnx"

    def __init__(self, config: OnnxConfig) -> None:
        self.config = config
        path = Path(config.model_path)
        if not path.is_file():
            raise FileNotFoundError(f"ONNX model not found: {path} (model_path in the onnx detector config)")
        opened = open_detector_session(path, config.providers, config.intra_op_threads, config.input_size)
        self._session, self.providers = opened.session, opened.providers
        self._input_name, self.input_size = opened.input_name, opened.input_size

    @property
    def version(self) -> str:
        return f"onnx-{Path(self.config.model_path).stem[:40]}-{self.input_size}".replace(" ", "_")

    def warm_up(self, height: int = 480, width: int = 640) -> None:
        self.detect(np.zeros((height, width, 3), dtype=np.uint8))

    def detect(self, frame_bgr: Frame) -> Detections:
        frame = check_frame(frame_bgr)
        blob, placement = letterbox(frame, self.input_size)
        (raw,) = self._session.run(None, {self._input_name: blob})[:1]
        boxes, scores = decode_yolo(raw, self.config.person_class, self.config.score_threshold)
        if boxes.shape[0] == 0:
            return Detections.empty()
        keep = nms(boxes, scores, self.config.nms_iou)
        h, w = frame.shape[:2]
        out = placement.to_frame(boxes[keep], w, h)
        ok = (out[:, 2] > out[:, 0]) & (out[:, 3] > out[:, 1])
        return Detections(np.ascontiguousarray(out[ok]), np.ascontiguousarray(scores[keep][ok]))


def decode_yolo(
    raw: npt.ArrayLike, person_class: int, score_threshold: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Decode a (1, 4 + classes, anchors) output into person boxes (k, 4) xyxy input pixels and scores (k,).

    An anchor is kept when its person score >= score_threshold and person is its
    best class (as the YOLO exporters' own post-processing does for one class).
    """
    out = np.asarray(raw)
    if out.ndim != 3 or out.shape[0] != 1 or out.shape[1] < 5:
        raise ValueError(f"YOLO output must have shape (1, 4 + classes, anchors), got {out.shape}")
    n_classes = out.shape[1] - 4
    if not 0 <= person_class < n_classes:
        raise ValueError(f"person_class must be in [0, {n_classes}), got {person_class}")
    pred = out[0].astype(np.float64, copy=False)
    class_scores = pred[4:]
    person = class_scores[person_class]
    keep = (person >= score_threshold) & (class_scores.argmax(axis=0) == person_class)
    cx, cy, bw, bh = pred[0, keep], pred[1, keep], pred[2, keep], pred[3, keep]
    boxes = np.column_stack([cx - bw / 2.0, cy - bh / 2.0, cx + bw / 2.0, cy + bh / 2.0])
    return boxes.reshape(-1, 4), np.clip(person[keep], 0.0, 1.0)
