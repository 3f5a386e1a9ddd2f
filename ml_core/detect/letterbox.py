"""Letterboxing: fit a frame into a square model input, keeping its aspect ratio, and map boxes back."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

PAD_VALUE = 114  # grey, as in the YOLO training pipelines


@dataclass(frozen=True, slots=True)
class Letterbox:
    """How a frame was placed into the input: input = frame * ratio + (pad_x, pad_y), in pixels."""

    ratio: float
    pad_x: float
    pad_y: float

    def to_frame(self, boxes_xyxy: npt.NDArray[np.float64], width: int, height: int) -> npt.NDArray[np.float64]:
        """Map boxes (n, 4) from input pixels back to frame pixels, clipped to width x height."""
        out = boxes_xyxy.copy()
        out[:, [0, 2]] = (out[:, [0, 2]] - self.pad_x) / self.ratio
        out[:, [1, 3]] = (out[:, [1, 3]] - self.pad_y) / self.ratio
        out[:, [0, 2]] = np.clip(out[:, [0, 2]], 0.0, float(width))
        out[:, [1, 3]] = np.clip(out[:, [1, 3]], 0.0, float(height))
        return out


def letterbox(frame_bgr: npt.NDArray[np.uint8], size: int) -> tuple[npt.NDArray[np.float32], Letterbox]:
    """Return the (1, 3, size, size) float32 RGB input in 0..1 and how the frame was placed."""
    h, w = frame_bgr.shape[:2]
    ratio = min(size / h, size / w)
    new_w, new_h = round(w * ratio), round(h * ratio)
    resized = (
        frame_bgr if (new_w, new_h) == (w, h) else cv2.resize(frame_bgr, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    )
    pad_x, pad_y = (size - new_w) / 2.0, (size - new_h) / 2.0
    left, top = round(pad_x - 0.1), round(pad_y - 0.1)
    canvas = np.full((size, size, 3), PAD_VALUE, dtype=np.uint8)
    canvas[top : top + new_h, left : left + new_w] = resized
    blob = cv2.dnn.blobFromImage(canvas, scalefactor=1.0 / 255.0, swapRB=True)
    return blob.astype(np.float32, copy=False), Letterbox(ratio=ratio, pad_x=float(left), pad_y=float(top))
