"""MOT Challenge text files as one typed table of numpy columns (ground truth, detections or tracker output)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class MotRows:
    """Boxes of a sequence, one row per box, sorted by frame (stable).

    Attributes:
        frames: (k,) int64, 1-based frame numbers.
        ids: (k,) int64, object or track ids; -1 for detections without identity.
        boxes_xyxy: (k, 4) float64, pixels (x1, y1, x2, y2).
        scores: (k,) float64, detector confidence, or the MOT `conf` column (1 for ground truth).
    """

    frames: npt.NDArray[np.int64]
    ids: npt.NDArray[np.int64]
    boxes_xyxy: npt.NDArray[np.float64]
    scores: npt.NDArray[np.float64]

    def __post_init__(self) -> None:
        k = self.frames.shape[0]
        for name, column, shape in (
            ("frames", self.frames, (k,)),
            ("ids", self.ids, (k,)),
            ("boxes_xyxy", self.boxes_xyxy, (k, 4)),
            ("scores", self.scores, (k,)),
        ):
            if column.shape != shape:
                raise ValueError(f"{name} must have shape {shape}, got {column.shape}")
        if k and np.any(np.diff(self.frames) < 0):
            raise ValueError("frames must be sorted in ascending order")

    def __len__(self) -> int:
        return int(self.frames.shape[0])

    @property
    def n_frames(self) -> int:
        """Last frame number (frames are 1-based), 0 when empty."""
        return int(self.frames[-1]) if len(self) else 0

    def frame_slices(self, n_frames: int | None = None) -> list[slice]:
        """Row ranges of frames 1..n_frames (default: the last frame present); empty frames give empty slices."""
        n = self.n_frames if n_frames is None else n_frames
        starts = np.searchsorted(self.frames, np.arange(1, n + 2), side="left")
        return [slice(int(starts[f]), int(starts[f + 1])) for f in range(n)]

    @classmethod
    def from_unsorted(
        cls,
        frames: npt.ArrayLike,
        ids: npt.ArrayLike,
        boxes_xyxy: npt.ArrayLike,
        scores: npt.ArrayLike,
    ) -> MotRows:
        """Build from columns in any order; rows are stably sorted by frame."""
        f = np.asarray(frames, dtype=np.int64).reshape(-1)
        order = np.argsort(f, kind="stable")
        return cls(
            frames=f[order],
            ids=np.asarray(ids, dtype=np.int64).reshape(-1)[order],
            boxes_xyxy=np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)[order],
            scores=np.asarray(scores, dtype=np.float64).reshape(-1)[order],
        )


def load_mot(path: str | Path, keep_zero_conf: bool = False) -> MotRows:
    """Read a MOT15/16/17 text file: frame, id, left, top, width, height, conf[, ...] (pixels, 1-based frames).

    Ground-truth rows with conf 0 are "ignore" regions in MOTChallenge and are
    dropped unless `keep_zero_conf`. Raises FileNotFoundError, or ValueError naming
    the file and what is wrong with it.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"MOT file not found: {path}")
    try:
        data = np.loadtxt(path, delimiter=",", ndmin=2, dtype=np.float64)
    except ValueError as exc:
        raise ValueError(f"{path}: not a comma-separated MOT file of numbers: {exc}") from exc
    if data.size == 0:
        data = np.empty((0, 7), dtype=np.float64)
    if data.shape[1] < 6:
        raise ValueError(f"{path}: expected at least 6 columns (frame, id, left, top, width, height), got {data.shape[1]}")
    if not np.isfinite(data[:, :6]).all():
        row = int(np.nonzero(~np.isfinite(data[:, :6]).all(axis=1))[0][0])
        raise ValueError(f"{path}: line {row + 1} has a non-finite frame, id or box: {data[row, :6].tolist()}")
    if np.any(data[:, 0] < 1):
        row = int(np.nonzero(data[:, 0] < 1)[0][0])
        raise ValueError(f"{path}: line {row + 1}: frames are 1-based, got {data[row, 0]}")
    if np.any(data[:, 4:6] <= 0):
        row = int(np.nonzero((data[:, 4:6] <= 0).any(axis=1))[0][0])
        raise ValueError(f"{path}: line {row + 1}: width and height must be > 0, got {data[row, 4:6].tolist()}")
    conf = data[:, 6] if data.shape[1] > 6 else np.ones(data.shape[0])
    if not keep_zero_conf:
        data, conf = data[conf != 0], conf[conf != 0]
    boxes = np.column_stack([data[:, 2], data[:, 3], data[:, 2] + data[:, 4], data[:, 3] + data[:, 5]])
    return MotRows.from_unsorted(data[:, 0], data[:, 1], boxes, conf)


def save_mot(rows: MotRows, path: str | Path) -> None:
    """Write rows as a MOT text file (frame, id, left, top, width, height, conf, -1, -1, -1)."""
    b = rows.boxes_xyxy
    table = np.column_stack(
        [rows.frames, rows.ids, b[:, 0], b[:, 1], b[:, 2] - b[:, 0], b[:, 3] - b[:, 1], rows.scores]
    )
    with open(path, "w", encoding="ascii") as out:
        for r in table:
            out.write(f"{int(r[0])},{int(r[1])},{r[2]:.3f},{r[3]:.3f},{r[4]:.3f},{r[5]:.3f},{r[6]:.4f},-1,-1,-1\n")
