"""A batch of TrackFrames as columns: the shape every track projection folds fastest.

Python touches each track once per column (a comprehension over msgspec
structs); everything after is numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from schemas.events import TrackFrame


@dataclass(frozen=True)
class TrackColumns:
    """Calibrated observations of a batch, in log order.

    Per observation (n,): frame (index into the per-frame columns), track_id,
    x_m, y_m (floor metres). Per frame (f,): store_id, camera_id, edge_run_id,
    ts_ns, stream_seq. Observations without a floor position are left out.
    """

    frame: npt.NDArray[np.int64]
    track_id: npt.NDArray[np.int64]
    x_m: npt.NDArray[np.float64]
    y_m: npt.NDArray[np.float64]
    store_id: list[str]
    camera_id: list[str]
    edge_run_id: list[str]
    ts_ns: npt.NDArray[np.int64]
    stream_seq: npt.NDArray[np.int64]

    @classmethod
    def from_frames(cls, frames: list[TrackFrame], seqs: list[int]) -> TrackColumns:
        tracks = [t for f in frames for t in f.tracks]
        counts = np.fromiter((len(f.tracks) for f in frames), dtype=np.int64, count=len(frames))
        # None (uncalibrated camera) becomes NaN and is masked out.
        x = np.array([t.floor_x_m for t in tracks], dtype=np.float64)
        y = np.array([t.floor_y_m for t in tracks], dtype=np.float64)
        keep = ~(np.isnan(x) | np.isnan(y))
        return cls(
            frame=np.repeat(np.arange(len(frames), dtype=np.int64), counts)[keep],
            track_id=np.fromiter((t.track_id for t in tracks), dtype=np.int64, count=len(tracks))[keep],
            x_m=x[keep],
            y_m=y[keep],
            store_id=[f.store_id for f in frames],
            camera_id=[f.camera_id for f in frames],
            edge_run_id=[f.edge_run_id for f in frames],
            ts_ns=np.fromiter((f.ts_ns for f in frames), dtype=np.int64, count=len(frames)),
            stream_seq=np.asarray(seqs, dtype=np.int64),
        )

    def __len__(self) -> int:
        return len(self.track_id)

    def frame_codes(self, *names: str) -> tuple[npt.NDArray[np.int64], list[tuple[str, ...]]]:
        """Code each frame by the tuple of the named per-frame string columns; return (codes (f,), values)."""
        index: dict[tuple[str, ...], int] = {}
        columns = [getattr(self, name) for name in names]
        codes = np.fromiter(
            (index.setdefault(key, len(index)) for key in zip(*columns, strict=True)),
            dtype=np.int64,
            count=len(self.ts_ns),
        )
        return codes, list(index)
