"""ByteTrack (Zhang et al., ECCV 2022) with all track state in arrays and one Numba kernel per frame.

Follows the reference implementation (ifzhang/ByteTrack, yolox/tracker/byte_tracker.py):
high-score detections are matched to tracked and lost tracks by IoU (fused with the
detection score), the remaining tracked tracks to low-score detections by IoU, and
the still-unmatched high-score detections to unconfirmed (one-frame) tracks; what is
left starts a new track when its score reaches the activation threshold. Tracks
unmatched for longer than the lost-track buffer are removed, and a tracked track and
a lost track that overlap almost completely are deduplicated, keeping the older.

Differences from the reference, all deliberate:
- IoU is continuous (no +1 pixel in widths), so boxes may be in any unit.
- A detection is "high" when score > track_thresh and "low" when
  low_thresh < score <= track_thresh (the reference drops score == track_thresh).
- Public ids are allocated when a track is confirmed, so they run 1, 2, 3, ... with no gaps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numba import njit

from ml_core.track import kalman
from ml_core.track.matching import assign_sparse, overlap_pairs
from ml_core.track.types import Tracks, TrackState

# Columns of the int64 per-track table.
_STATE = 0  # _FREE, TrackState.TRACKED or TrackState.LOST
_ACTIVATED = 1  # 1 once confirmed (matched in a second frame, or born in the first frame)
_TRACK_ID = 2  # public id, 0 until confirmed
_LAST_FRAME = 3  # frame of the last matched detection
_START_FRAME = 4
_TRACKLET_LEN = 5
_DET_INDEX = 6  # input row matched in the current frame, -1 if none
_N_INT_COLUMNS = 7

_FREE = 0
_TRACKED = int(TrackState.TRACKED)
_LOST = int(TrackState.LOST)

# Layout of the float64 config vector handed to the kernel.
_CFG_TRACK = 0
_CFG_LOW = 1
_CFG_NEW = 2
_CFG_MATCH = 3
_CFG_SECOND = 4
_CFG_UNCONFIRMED = 5
_CFG_DUPLICATE = 6
_CFG_MAX_LOST = 7
_CFG_FUSE = 8
_CFG_REPORT_LOST = 9
_N_CFG = 10


@dataclass(frozen=True, slots=True)
class ByteTrackParams:
    """ByteTrack's thresholds, with the reference implementation's defaults (MOT17 settings).

    Scores are detector confidences in [0, 1]; costs are `1 - IoU` or, with
    `fuse_score`, `1 - IoU * score`; a pair is matched only when its cost is below the limit.

    Attributes:
        track_thresh: detections with score > track_thresh are high-score (first stage).
        low_thresh: detections with score <= low_thresh are ignored; the others up to
            track_thresh are low-score (second stage: they keep tracks alive, never start one).
        new_track_thresh: minimum score for an unmatched high-score detection to start
            a track; None means track_thresh + 0.1, as in the reference (`det_thresh`).
        match_thresh: cost limit of the first stage (high-score detections vs tracked and lost tracks).
        second_match_thresh: cost limit (1 - IoU) of the second stage (low-score detections
            vs tracked tracks left over).
        unconfirmed_match_thresh: cost limit of matching unconfirmed tracks.
        duplicate_iou_distance: a tracked and a lost track with 1 - IoU below this are duplicates.
        track_buffer: frames (at 30 fps) a lost track waits to be found again.
        frame_rate: frames per second of the input; the buffer is track_buffer * frame_rate / 30 frames.
        fuse_score: multiply IoU by the detection score in the first and unconfirmed
            stages (the reference does so unless run with --mot20).
        report_lost: also report confirmed lost tracks (state LOST, predicted box);
            ByteTrack reports tracked ones only.
    """

    track_thresh: float = 0.5
    low_thresh: float = 0.1
    new_track_thresh: float | None = None
    match_thresh: float = 0.8
    second_match_thresh: float = 0.5
    unconfirmed_match_thresh: float = 0.7
    duplicate_iou_distance: float = 0.15
    track_buffer: int = 30
    frame_rate: float = 30.0
    fuse_score: bool = True
    report_lost: bool = False

    def __post_init__(self) -> None:
        for name in (
            "track_thresh",
            "low_thresh",
            "match_thresh",
            "second_match_thresh",
            "unconfirmed_match_thresh",
            "duplicate_iou_distance",
        ):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value!r}")
        if self.new_track_thresh is not None and not 0.0 <= self.new_track_thresh <= 1.0:
            raise ValueError(f"new_track_thresh must be in [0, 1] or None, got {self.new_track_thresh!r}")
        if self.low_thresh > self.track_thresh:
            raise ValueError(f"low_thresh must be <= track_thresh, got {self.low_thresh!r} > {self.track_thresh!r}")
        if self.track_buffer < 0:
            raise ValueError(f"track_buffer must be >= 0 frames, got {self.track_buffer!r}")
        if not self.frame_rate > 0.0:
            raise ValueError(f"frame_rate must be > 0 frames per second, got {self.frame_rate!r}")

    @property
    def max_time_lost(self) -> int:
        """Frames a lost track is kept: int(frame_rate / 30 * track_buffer), as in the reference."""
        return int(self.frame_rate / 30.0 * self.track_buffer)

    def to_config(self) -> npt.NDArray[np.float64]:
        """Pack the parameters into the kernel's config vector (internal layout)."""
        config = np.zeros(_N_CFG, dtype=np.float64)
        config[_CFG_TRACK] = self.track_thresh
        config[_CFG_LOW] = self.low_thresh
        config[_CFG_NEW] = self.track_thresh + 0.1 if self.new_track_thresh is None else self.new_track_thresh
        config[_CFG_MATCH] = self.match_thresh
        config[_CFG_SECOND] = self.second_match_thresh
        config[_CFG_UNCONFIRMED] = self.unconfirmed_match_thresh
        config[_CFG_DUPLICATE] = self.duplicate_iou_distance
        config[_CFG_MAX_LOST] = self.max_time_lost
        config[_CFG_FUSE] = 1.0 if self.fuse_score else 0.0
        config[_CFG_REPORT_LOST] = 1.0 if self.report_lost else 0.0
        return config


class ByteTrack:
    """Multi-object tracker for one camera; call `update` once per frame, in order.

    State lives in preallocated arrays that grow on demand; nothing is allocated per
    track on the Python side. The same inputs in the same order give the same output.

    The first `update` in a process compiles the Numba kernels or, usually, loads them
    from the on-disk cache (`__pycache__`); call `warm_up()` to pay that cost up front.
    """

    def __init__(self, params: ByteTrackParams | None = None, capacity: int = 64) -> None:
        self.params = params if params is not None else ByteTrackParams()
        self._config = self.params.to_config()
        capacity = max(1, int(capacity))
        self._mean = np.zeros((capacity, 8), dtype=np.float64)
        self._cov = np.zeros((capacity, 4, 3), dtype=np.float64)
        self._score = np.zeros(capacity, dtype=np.float64)
        self._table = np.zeros((capacity, _N_INT_COLUMNS), dtype=np.int64)
        self._n_slots = 0
        self._frame_id = 0
        self._next_id = 1
        self._removed_ids: npt.NDArray[np.int64] = np.empty(0, dtype=np.int64)

    @property
    def frame_id(self) -> int:
        """Number of frames processed so far."""
        return self._frame_id

    @property
    def removed_ids(self) -> npt.NDArray[np.int64]:
        """(k,) int64 ids of confirmed tracks that ended in the last `update` (expired or duplicate)."""
        return self._removed_ids

    def update(self, boxes_xyxy: npt.ArrayLike, scores: npt.ArrayLike) -> Tracks:
        """Advance one frame with its detections and return the confirmed tracks.

        Args:
            boxes_xyxy: (n, 4) boxes (x1, y1, x2, y2) in pixels, finite, x2 > x1 and y2 > y1.
            scores: (n,) detector confidences, finite, in [0, 1].

        Returns:
            `Tracks` with the confirmed tracks matched in this frame (plus lost ones
            when `params.report_lost`).

        Raises:
            ValueError: naming the argument, the shape or value received and what was expected.
        """
        boxes, conf = validate_detections(boxes_xyxy, scores)
        needed = self._n_slots + boxes.shape[0]
        if needed > self._mean.shape[0]:
            self._grow(needed)
        self._frame_id += 1
        result = _step(
            boxes, conf, self._mean, self._cov, self._score, self._table, self._n_slots, self._frame_id,
            self._next_id, self._config,
        )  # fmt: skip
        self._n_slots, self._next_id, ids, out_boxes, out_scores, states, det_index, removed = result
        self._removed_ids = removed
        return Tracks(ids=ids, boxes_xyxy=out_boxes, scores=out_scores, states=states, det_index=det_index)

    def reset(self) -> None:
        """Forget all tracks; ids restart at 1 (a new run)."""
        self._n_slots = 0
        self._frame_id = 0
        self._next_id = 1
        self._removed_ids = np.empty(0, dtype=np.int64)

    @staticmethod
    def warm_up() -> None:
        """Compile (or load from cache) every kernel by running a throwaway tracker on two tiny frames."""
        tracker = ByteTrack()
        boxes = np.array([[0.0, 0.0, 10.0, 20.0], [30.0, 0.0, 40.0, 20.0]])
        tracker.update(boxes, np.array([0.9, 0.3]))
        tracker.update(boxes + 1.0, np.array([0.9, 0.3]))

    def _grow(self, needed: int) -> None:
        capacity = max(needed, 2 * self._mean.shape[0])
        n = self._n_slots
        for name in ("_mean", "_cov", "_score", "_table"):
            old = getattr(self, name)
            new = np.zeros((capacity, *old.shape[1:]), dtype=old.dtype)
            new[:n] = old[:n]
            setattr(self, name, new)


def validate_detections(
    boxes_xyxy: npt.ArrayLike, scores: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Return contiguous float64 copies-or-views of (boxes (n, 4), scores (n,)), or raise ValueError naming the problem."""
    boxes = np.ascontiguousarray(boxes_xyxy, dtype=np.float64)
    conf = np.ascontiguousarray(scores, dtype=np.float64)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        if boxes.size == 0 and boxes.ndim <= 2:
            boxes = np.empty((0, 4), dtype=np.float64)
        else:
            raise ValueError(f"boxes_xyxy must have shape (n, 4), got {boxes.shape}")
    if conf.ndim != 1:
        raise ValueError(f"scores must have shape (n,), got {conf.shape}")
    if conf.shape[0] != boxes.shape[0]:
        raise ValueError(
            f"scores must have one entry per box: boxes_xyxy has shape {boxes.shape}, scores has shape {conf.shape}"
        )
    code, row = _check_values(boxes, conf)
    if code != 0:
        raise ValueError(_VALUE_ERRORS[code].format(row=row, box=boxes[row].tolist(), score=float(conf[row])))
    return boxes, conf


_VALUE_ERRORS = {
    1: "boxes_xyxy must be finite, got {box} at row {row}",
    2: "boxes_xyxy must have x2 > x1 and y2 > y1 (positive width and height), got {box} at row {row}",
    3: "scores must be finite and in [0, 1], got {score} at row {row}",
}


@njit(cache=True)
def _check_values(boxes: np.ndarray, scores: np.ndarray) -> tuple[int, int]:
    for i in range(boxes.shape[0]):
        for k in range(4):
            if not np.isfinite(boxes[i, k]):
                return 1, i
        if not (boxes[i, 2] > boxes[i, 0] and boxes[i, 3] > boxes[i, 1]):
            return 2, i
        if not (scores[i] >= 0.0 and scores[i] <= 1.0):
            return 3, i
    return 0, 0


@njit(cache=True)
def _boxes_of(mean: np.ndarray, slots: np.ndarray) -> np.ndarray:
    out = np.empty((slots.shape[0], 4), dtype=np.float64)
    for r in range(slots.shape[0]):
        kalman.mean_to_xyxy(mean, slots[r], out, r)
    return out


@njit(cache=True)
def _match(
    track_boxes: np.ndarray,
    det_boxes: np.ndarray,
    det_scores: np.ndarray,
    limit: float,
    fuse: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Match tracks (r, 4) to detections (c, 4) with cost 1 - IoU (* score if fuse) below limit."""
    # cost < limit needs IoU > 1 - limit (score <= 1), so pairs below that never match.
    rows, cols, ious = overlap_pairs(track_boxes, det_boxes, max(0.0, 1.0 - limit))
    costs = np.empty(ious.shape[0], dtype=np.float64)
    for e in range(ious.shape[0]):
        costs[e] = 1.0 - ious[e] * det_scores[cols[e]] if fuse else 1.0 - ious[e]
    return assign_sparse(rows, cols, costs, track_boxes.shape[0], det_boxes.shape[0], limit)


@njit(cache=True)
def _apply_match(
    mean: np.ndarray,
    cov: np.ndarray,
    score: np.ndarray,
    table: np.ndarray,
    slot: int,
    box: np.ndarray,
    det_score: float,
    det_row: int,
    frame_id: int,
) -> None:
    """ByteTrack's STrack.update (tracked track) or re_activate (lost track) with one detection."""
    kalman.update(mean, cov, slot, box)
    if table[slot, _STATE] == _TRACKED:
        table[slot, _TRACKLET_LEN] += 1
    else:
        table[slot, _TRACKLET_LEN] = 0
    table[slot, _STATE] = _TRACKED
    table[slot, _ACTIVATED] = 1
    table[slot, _LAST_FRAME] = frame_id
    table[slot, _DET_INDEX] = det_row
    score[slot] = det_score


@njit(cache=True)
def _select(mask: np.ndarray) -> np.ndarray:
    return np.nonzero(mask)[0].astype(np.int64)


@njit(cache=True)
def _step(
    boxes: np.ndarray,
    scores: np.ndarray,
    mean: np.ndarray,
    cov: np.ndarray,
    score: np.ndarray,
    table: np.ndarray,
    n_slots: int,
    frame_id: int,
    next_id: int,
    config: np.ndarray,
) -> tuple[int, int, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One ByteTrack frame over slots [0, n_slots); capacity must be >= n_slots + len(boxes)."""
    track_thresh = config[_CFG_TRACK]
    low_thresh = config[_CFG_LOW]
    fuse = config[_CFG_FUSE] != 0.0
    n_det = boxes.shape[0]

    high = _select(scores > track_thresh)
    low = _select((scores > low_thresh) & (scores <= track_thresh))
    high_boxes = boxes[high]
    high_scores = scores[high]

    was_lost = np.zeros(n_slots, dtype=np.bool_)
    n_pool = 0
    n_unconfirmed = 0
    for s in range(n_slots):
        table[s, _DET_INDEX] = -1
        if table[s, _STATE] == _LOST:
            was_lost[s] = True
        if table[s, _STATE] == _TRACKED and table[s, _ACTIVATED] == 0:
            n_unconfirmed += 1
        else:
            n_pool += 1
    pool = np.empty(n_pool, dtype=np.int64)
    unconfirmed = np.empty(n_unconfirmed, dtype=np.int64)
    n_pool = 0
    n_unconfirmed = 0
    for s in range(n_slots):
        if table[s, _STATE] == _TRACKED and table[s, _ACTIVATED] == 0:
            unconfirmed[n_unconfirmed] = s
            n_unconfirmed += 1
        else:
            pool[n_pool] = s
            n_pool += 1
            # Lost tracks coast without height velocity, as in STrack.multi_predict.
            if table[s, _STATE] != _TRACKED:
                mean[s, 7] = 0.0
            kalman.predict(mean, cov, s)

    # First association: high-score detections vs tracked and lost tracks.
    pool_boxes = _boxes_of(mean, pool)
    pool_match, high_match = _match(pool_boxes, high_boxes, high_scores, config[_CFG_MATCH], fuse)
    for r in range(n_pool):
        d = pool_match[r]
        if d >= 0:
            _apply_match(mean, cov, score, table, pool[r], high_boxes[d], high_scores[d], high[d], frame_id)

    # Second association: low-score detections vs the tracked tracks left over (IoU only).
    n_rest = 0
    for r in range(n_pool):
        if pool_match[r] < 0 and table[pool[r], _STATE] == _TRACKED:
            n_rest += 1
    rest = np.empty(n_rest, dtype=np.int64)
    n_rest = 0
    for r in range(n_pool):
        if pool_match[r] < 0 and table[pool[r], _STATE] == _TRACKED:
            rest[n_rest] = pool[r]
            n_rest += 1
    low_boxes = boxes[low]
    rest_match, _ = _match(_boxes_of(mean, rest), low_boxes, scores[low], config[_CFG_SECOND], False)
    for r in range(n_rest):
        d = rest_match[r]
        if d >= 0:
            _apply_match(mean, cov, score, table, rest[r], low_boxes[d], scores[low[d]], low[d], frame_id)
        else:
            table[rest[r], _STATE] = _LOST

    # Unconfirmed tracks (seen in one frame only) vs high-score detections still unmatched.
    n_left = 0
    for d in range(high.shape[0]):
        if high_match[d] < 0:
            n_left += 1
    left = np.empty(n_left, dtype=np.int64)
    n_left = 0
    for d in range(high.shape[0]):
        if high_match[d] < 0:
            left[n_left] = d
            n_left += 1
    left_boxes = high_boxes[left]
    left_scores = high_scores[left]
    unc_match, left_match = _match(
        _boxes_of(mean, unconfirmed), left_boxes, left_scores, config[_CFG_UNCONFIRMED], fuse
    )
    for r in range(n_unconfirmed):
        d = unc_match[r]
        if d >= 0:
            _apply_match(mean, cov, score, table, unconfirmed[r], left_boxes[d], left_scores[d], high[left[d]], frame_id)
        else:
            table[unconfirmed[r], _STATE] = _FREE

    # New tracks from high-score detections nobody claimed.
    new_thresh = config[_CFG_NEW]
    n_total = n_slots
    for t in range(n_left):
        if left_match[t] >= 0 or left_scores[t] < new_thresh:
            continue
        s = n_total
        n_total += 1
        kalman.initiate(mean, cov, s, left_boxes[t])
        table[s, _STATE] = _TRACKED
        table[s, _ACTIVATED] = 1 if frame_id == 1 else 0
        table[s, _TRACK_ID] = 0
        table[s, _LAST_FRAME] = frame_id
        table[s, _START_FRAME] = frame_id
        table[s, _TRACKLET_LEN] = 0
        table[s, _DET_INDEX] = high[left[t]]
        score[s] = left_scores[t]

    # Expire tracks lost for longer than the buffer (only those lost before this frame).
    max_lost = config[_CFG_MAX_LOST]
    removed_ids = np.empty(n_total, dtype=np.int64)
    n_removed = 0
    for s in range(n_slots):
        if was_lost[s] and table[s, _STATE] == _LOST and frame_id - table[s, _LAST_FRAME] > max_lost:
            table[s, _STATE] = _FREE

    # Remove duplicates between tracked and lost tracks: keep the one tracked for longer.
    n_tr = 0
    n_lo = 0
    for s in range(n_total):
        if table[s, _STATE] == _TRACKED:
            n_tr += 1
        elif table[s, _STATE] == _LOST:
            n_lo += 1
    if n_tr > 0 and n_lo > 0:
        tr = np.empty(n_tr, dtype=np.int64)
        lo = np.empty(n_lo, dtype=np.int64)
        n_tr = 0
        n_lo = 0
        for s in range(n_total):
            if table[s, _STATE] == _TRACKED:
                tr[n_tr] = s
                n_tr += 1
            elif table[s, _STATE] == _LOST:
                lo[n_lo] = s
                n_lo += 1
        rows, cols, ious = overlap_pairs(_boxes_of(mean, tr), _boxes_of(mean, lo), 1.0 - config[_CFG_DUPLICATE])
        drop = np.zeros(rows.shape[0], dtype=np.int64)
        for e in range(rows.shape[0]):
            p = tr[rows[e]]
            q = lo[cols[e]]
            if table[p, _LAST_FRAME] - table[p, _START_FRAME] > table[q, _LAST_FRAME] - table[q, _START_FRAME]:
                drop[e] = q
            else:
                drop[e] = p
        for e in range(rows.shape[0]):
            table[drop[e], _STATE] = _FREE

    # Confirmed tracks that ended this frame; ids for tracks confirmed this frame.
    for s in range(n_slots):
        if table[s, _STATE] == _FREE and table[s, _TRACK_ID] > 0:
            removed_ids[n_removed] = table[s, _TRACK_ID]
            n_removed += 1
    for s in range(n_total):
        if table[s, _STATE] != _FREE and table[s, _ACTIVATED] == 1 and table[s, _TRACK_ID] == 0:
            table[s, _TRACK_ID] = next_id
            next_id += 1

    # Compact live slots to the front, keeping their order, and report.
    report_lost = config[_CFG_REPORT_LOST] != 0.0
    n_live = 0
    n_out = 0
    for s in range(n_total):
        state = table[s, _STATE]
        if state == _FREE:
            continue
        if table[s, _ACTIVATED] == 1 and (state == _TRACKED or report_lost):
            n_out += 1
        if s != n_live:
            mean[n_live] = mean[s]
            cov[n_live] = cov[s]
            score[n_live] = score[s]
            table[n_live] = table[s]
        n_live += 1
    ids = np.empty(n_out, dtype=np.int64)
    out_boxes = np.empty((n_out, 4), dtype=np.float64)
    out_scores = np.empty(n_out, dtype=np.float64)
    states = np.empty(n_out, dtype=np.int8)
    det_index = np.empty(n_out, dtype=np.int64)
    o = 0
    for s in range(n_live):
        state = table[s, _STATE]
        if table[s, _ACTIVATED] == 1 and (state == _TRACKED or report_lost):
            ids[o] = table[s, _TRACK_ID]
            kalman.mean_to_xyxy(mean, s, out_boxes, o)
            out_scores[o] = score[s]
            states[o] = state
            det_index[o] = table[s, _DET_INDEX]
            o += 1
    return n_live, next_id, ids, out_boxes, out_scores, states, det_index, removed_ids[:n_removed]
