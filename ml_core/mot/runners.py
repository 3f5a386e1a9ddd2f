"""Run a tracker over a sequence of detections and collect its output as MotRows.

Two runners with the same contract: footfall's ByteTrack and, as the peer for
evaluation and benchmarks, the `trackers` package's ByteTrackTracker (imported lazily;
it is an optional dependency).
"""

from __future__ import annotations

import numpy as np

from ml_core.mot.rows import MotRows
from ml_core.track import ByteTrack, ByteTrackParams

PEER_NAME = "trackers.ByteTrackTracker"


def run_footfall(detections: MotRows, n_frames: int, params: ByteTrackParams | None = None) -> MotRows:
    """Track frames 1..n_frames of `detections` with footfall's ByteTrack; output boxes are filtered boxes."""
    tracker = ByteTrack(params)
    frames, ids, boxes, scores = [], [], [], []
    for f, rows in enumerate(detections.frame_slices(n_frames), start=1):
        out = tracker.update(detections.boxes_xyxy[rows], detections.scores[rows])
        frames.append(np.full(len(out), f, dtype=np.int64))
        ids.append(out.ids)
        boxes.append(out.boxes_xyxy)
        scores.append(out.scores)
    return _concat(frames, ids, boxes, scores)


def run_peer(detections: MotRows, n_frames: int, frame_rate: float = 30.0) -> MotRows:
    """Track frames 1..n_frames with `trackers.ByteTrackTracker` (its defaults, the given frame rate).

    Its output boxes are the matched detection boxes; unconfirmed rows (id -1) are dropped.
    Raises ImportError when the `trackers` package is not installed.
    """
    import supervision as sv
    from trackers import ByteTrackTracker

    tracker = ByteTrackTracker(frame_rate=frame_rate)
    frames, ids, boxes, scores = [], [], [], []
    for f, rows in enumerate(detections.frame_slices(n_frames), start=1):
        dets = sv.Detections(xyxy=detections.boxes_xyxy[rows].copy(), confidence=detections.scores[rows].copy())
        out = tracker.update(dets)
        keep = out.tracker_id >= 0
        frames.append(np.full(int(keep.sum()), f, dtype=np.int64))
        ids.append(np.asarray(out.tracker_id[keep], dtype=np.int64))
        boxes.append(np.asarray(out.xyxy[keep], dtype=np.float64).reshape(-1, 4))
        conf = out.confidence if out.confidence is not None else np.ones(len(out))
        scores.append(np.asarray(conf[keep], dtype=np.float64))
    return _concat(frames, ids, boxes, scores)


def _concat(
    frames: list[np.ndarray], ids: list[np.ndarray], boxes: list[np.ndarray], scores: list[np.ndarray]
) -> MotRows:
    if not frames:
        return MotRows.from_unsorted([], [], np.empty((0, 4)), [])
    return MotRows(
        frames=np.concatenate(frames),
        ids=np.concatenate(ids),
        boxes_xyxy=np.concatenate(boxes).reshape(-1, 4),
        scores=np.concatenate(scores),
    )
