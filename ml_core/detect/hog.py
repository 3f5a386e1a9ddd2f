"""OpenCV's HOG + linear SVM people detector (Dalal and Triggs, 2005)."""

from __future__ import annotations

import cv2
import numpy as np

from ml_core.detect.base import Detector, Frame, check_frame
from ml_core.detect.config import HogConfig
from ml_core.detect.nms import nms
from ml_core.detect.types import Detections


class HogDetector(Detector):
    """Sliding-window people detector; stateless. SVM margins become scores through a logistic."""

    name = "hog"

    def __init__(self, config: HogConfig | None = None) -> None:
        self.config = config if config is not None else HogConfig()
        self._hog = cv2.HOGDescriptor()
        self._hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())  # type: ignore[attr-defined]

    @property
    def version(self) -> str:
        return f"hog-s{self.config.scale:g}-w{self.config.win_stride}"

    def warm_up(self, height: int = 480, width: int = 640) -> None:
        self.detect(np.zeros((height, width, 3), dtype=np.uint8))

    def detect(self, frame_bgr: Frame) -> Detections:
        frame = check_frame(frame_bgr)
        c = self.config
        img = (
            frame if c.scale == 1.0 else cv2.resize(frame, None, fx=c.scale, fy=c.scale, interpolation=cv2.INTER_LINEAR)
        )
        rects, weights = self._hog.detectMultiScale(
            img, hitThreshold=c.hit_threshold, winStride=(c.win_stride, c.win_stride), scale=c.pyramid_scale
        )
        if len(rects) == 0:
            return Detections.empty()
        r = np.asarray(rects, dtype=np.float64).reshape(-1, 4) / c.scale
        margin = np.asarray(weights, dtype=np.float64).reshape(-1)
        scores = 1.0 / (1.0 + np.exp(-2.0 * margin))
        dx, dy = r[:, 2] * c.shrink_x, r[:, 3] * c.shrink_y
        boxes = np.column_stack([r[:, 0] + dx, r[:, 1] + dy, r[:, 0] + r[:, 2] - dx, r[:, 1] + r[:, 3] - dy])
        keep = nms(boxes, scores, c.nms_iou)
        h, w = frame.shape[:2]
        boxes = boxes[keep]
        boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0.0, w)
        boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0.0, h)
        return Detections(np.ascontiguousarray(boxes), np.ascontiguousarray(scores[keep]))
