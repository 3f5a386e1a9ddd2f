"""The value every detector returns: one frozen dataclass of numpy columns, validated once."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class Detections:
    """People found in one frame, one row per person.

    Attributes:
        boxes_xyxy: (n, 4) float64, (x1, y1, x2, y2) in pixels of the frame given to the
            detector, x2 > x1 and y2 > y1.
        scores: (n,) float64, confidence in [0, 1].
    """

    boxes_xyxy: npt.NDArray[np.float64]
    scores: npt.NDArray[np.float64]

    def __post_init__(self) -> None:
        b, s = self.boxes_xyxy, self.scores
        if not isinstance(b, np.ndarray) or b.dtype != np.float64 or b.ndim != 2 or b.shape[1] != 4:
            got = f"{b.dtype} {b.shape}" if isinstance(b, np.ndarray) else type(b).__name__
            raise ValueError(f"boxes_xyxy must be a float64 array with shape (n, 4), got {got}")
        if not isinstance(s, np.ndarray) or s.dtype != np.float64 or s.shape != (b.shape[0],):
            got = f"{s.dtype} {s.shape}" if isinstance(s, np.ndarray) else type(s).__name__
            raise ValueError(f"scores must be a float64 array with shape ({b.shape[0]},), got {got}")
        if b.shape[0]:
            if not np.isfinite(b).all():
                raise ValueError(f"boxes_xyxy must be finite, got {b[~np.isfinite(b).all(axis=1)][0].tolist()}")
            bad = (b[:, 2] <= b[:, 0]) | (b[:, 3] <= b[:, 1])
            if bad.any():
                raise ValueError(f"boxes_xyxy must have x2 > x1 and y2 > y1, got {b[bad][0].tolist()}")
            if not ((s >= 0.0) & (s <= 1.0)).all():
                raise ValueError(f"scores must be in [0, 1], got {s[~((s >= 0.0) & (s <= 1.0))][0]!r}")

    def __len__(self) -> int:
        return int(self.boxes_xyxy.shape[0])

    @classmethod
    def empty(cls) -> Detections:
        """No detections."""
        return cls(np.empty((0, 4), dtype=np.float64), np.empty(0, dtype=np.float64))

    @classmethod
    def of(cls, boxes_xyxy: npt.ArrayLike, scores: npt.ArrayLike) -> Detections:
        """Build from anything array-like, converting to float64."""
        boxes = np.asarray(boxes_xyxy, dtype=np.float64)
        if boxes.size == 0:
            boxes = boxes.reshape(0, 4)
        return cls(np.ascontiguousarray(boxes), np.ascontiguousarray(np.asarray(scores, dtype=np.float64).reshape(-1)))

    def scaled(self, factor: float) -> Detections:
        """Boxes multiplied by `factor` (e.g. back from an analysis resolution to the frame's pixels)."""
        return Detections(self.boxes_xyxy * factor, self.scores)
