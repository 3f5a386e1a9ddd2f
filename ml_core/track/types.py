"""The typed value the tracker returns: one frozen dataclass of numpy columns, validated once."""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


class TrackState(enum.IntEnum):
    """Life-cycle state of a reported track, as stored in `Tracks.states` (int8)."""

    TRACKED = 1
    """Matched to a detection in this frame; the box is the filtered position."""
    LOST = 2
    """Confirmed but unmatched in this frame, still inside the lost-track buffer; the box is predicted."""


@dataclass(frozen=True, slots=True)
class Tracks:
    """Tracks reported for one frame, one row per track; all columns share length n.

    Attributes:
        ids: (n,) int64, track ids, unique within one tracker instance's run, starting at 1.
        boxes_xyxy: (n, 4) float64, Kalman-filtered boxes (x1, y1, x2, y2) in the
            input's units (pixels for a detector's output).
        scores: (n,) float64, score of the detection that last updated the track, in [0, 1].
        states: (n,) int8, `TrackState` values.
        det_index: (n,) int64, row of this frame's input detection matched to the track,
            or -1 where the track was not matched in this frame (state LOST).
    """

    ids: npt.NDArray[np.int64]
    boxes_xyxy: npt.NDArray[np.float64]
    scores: npt.NDArray[np.float64]
    states: npt.NDArray[np.int8]
    det_index: npt.NDArray[np.int64]

    def __post_init__(self) -> None:
        n = _column_length("ids", self.ids, np.int64)
        if self.boxes_xyxy.dtype != np.float64 or self.boxes_xyxy.shape != (n, 4):
            raise ValueError(
                f"boxes_xyxy must be float64 with shape ({n}, 4), got {self.boxes_xyxy.dtype} {self.boxes_xyxy.shape}"
            )
        for name, column, dtype in (
            ("scores", self.scores, np.float64),
            ("states", self.states, np.int8),
            ("det_index", self.det_index, np.int64),
        ):
            if _column_length(name, column, dtype) != n:
                raise ValueError(f"{name} must have shape ({n},) like ids, got {column.shape}")
        for column in (self.ids, self.boxes_xyxy, self.scores, self.states, self.det_index):
            column.flags.writeable = False

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    @classmethod
    def empty(cls) -> Tracks:
        """Return a frame with no tracks."""
        return cls(
            ids=np.empty(0, dtype=np.int64),
            boxes_xyxy=np.empty((0, 4), dtype=np.float64),
            scores=np.empty(0, dtype=np.float64),
            states=np.empty(0, dtype=np.int8),
            det_index=np.empty(0, dtype=np.int64),
        )


def _column_length(name: str, column: object, dtype: type[np.generic]) -> int:
    if not isinstance(column, np.ndarray) or column.ndim != 1 or column.dtype != dtype:
        got = f"{column.dtype} {column.shape}" if isinstance(column, np.ndarray) else type(column).__name__
        raise ValueError(f"{name} must be a 1-D {np.dtype(dtype).name} array, got {got}")
    return int(column.shape[0])
