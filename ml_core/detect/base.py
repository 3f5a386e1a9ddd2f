"""The one small interface every detector backend implements."""

from __future__ import annotations

import abc

import numpy as np
import numpy.typing as npt

from ml_core.detect.types import Detections

Frame = npt.NDArray[np.uint8]


def check_frame(frame_bgr: object) -> Frame:
    """Return the frame if it is an (H, W, 3) uint8 array, else raise ValueError saying what arrived."""
    if not isinstance(frame_bgr, np.ndarray):
        raise ValueError(f"frame must be a numpy array of shape (H, W, 3) uint8, got {type(frame_bgr).__name__}")
    if frame_bgr.dtype != np.uint8 or frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3 or frame_bgr.size == 0:
        raise ValueError(f"frame must have shape (H, W, 3) and dtype uint8, got {frame_bgr.shape} {frame_bgr.dtype}")
    return frame_bgr


class Detector(abc.ABC):
    """Finds people in BGR frames of one camera, in order (some backends keep per-camera state).

    `name` is the backend ("onnx", "hog", "mog2"); `version` goes into EdgeStatus.
    """

    name: str = "detector"

    @property
    def version(self) -> str:
        """Backend and settings summary, [A-Za-z0-9._+-], at most 64 characters."""
        return f"{self.name}-1"

    @abc.abstractmethod
    def detect(self, frame_bgr: Frame) -> Detections:
        """Return the people in one (H, W, 3) uint8 BGR frame, boxes in that frame's pixels."""

    def warm_up(self, height: int = 480, width: int = 640) -> None:  # noqa: B027 - optional hook
        """Pay one-off costs (model load, kernel compile) before the first real frame; state is reset after."""

    def reset(self) -> None:  # noqa: B027 - optional hook
        """Forget per-camera state (background model); the next frame starts afresh."""
