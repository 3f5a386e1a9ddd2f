"""Which ground-truth people stand still, and how many of them a detector finds (recall by motion)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def floor_speeds(
    frames: npt.ArrayLike, ids: npt.ArrayLike, floor_m: npt.ArrayLike, frame_rate: float, window_s: float = 2.0
) -> npt.NDArray[np.float64]:
    """Per ground-truth row, the person's floor speed in metres per second over the window centred on it.

    frames: (k,) frame numbers; ids: (k,) person ids; floor_m: (k, 2) floor positions in metres.
    The speed is the straight-line distance between the window's first and last rows of that person
    over the time between them (a person who sways in place stands). NaN where the person's rows cover
    less than the whole window (a track's first and last window_s / 2 seconds).
    """
    f = np.asarray(frames, dtype=np.float64)
    i = np.asarray(ids)
    xy = np.asarray(floor_m, dtype=np.float64)
    if f.ndim != 1 or i.shape != f.shape or xy.shape != (f.shape[0], 2):
        raise ValueError(f"frames (k,), ids (k,) and floor_m (k, 2) must agree, got {f.shape} {i.shape} {xy.shape}")
    if not (frame_rate > 0 and window_s > 0):
        raise ValueError(f"frame_rate and window_s must be > 0, got {frame_rate!r} and {window_s!r}")
    half = window_s * frame_rate / 2.0
    out = np.full(f.shape[0], np.nan)
    for person in np.unique(i):
        rows = np.flatnonzero(i == person)
        rows = rows[np.argsort(f[rows], kind="stable")]
        pf, pxy = f[rows], xy[rows]
        lo = np.searchsorted(pf, pf - half)
        hi = np.searchsorted(pf, pf + half, side="right") - 1
        span = pf[hi] - pf[lo]
        whole = span >= 2.0 * half - 1e-9
        dist = np.linalg.norm(pxy[hi] - pxy[lo], axis=1)
        out[rows[whole]] = dist[whole] / (span[whole] / frame_rate)
    return out


def box_iou(a: npt.ArrayLike, b: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """IoU matrix (n, m) of boxes a (n, 4) and b (m, 4), xyxy."""
    p, q = np.asarray(a, dtype=np.float64).reshape(-1, 4), np.asarray(b, dtype=np.float64).reshape(-1, 4)
    lt = np.maximum(p[:, None, :2], q[None, :, :2])
    rb = np.minimum(p[:, None, 2:], q[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0.0, None), axis=2)
    area_p = np.prod(np.clip(p[:, 2:] - p[:, :2], 0.0, None), axis=1)
    area_q = np.prod(np.clip(q[:, 2:] - q[:, :2], 0.0, None), axis=1)
    union = area_p[:, None] + area_q[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def found(truth_xyxy: npt.ArrayLike, detected_xyxy: npt.ArrayLike, iou: float = 0.5) -> npt.NDArray[np.bool_]:
    """Per ground-truth box (n, 4), whether a detection (m, 4) matches it at IoU >= iou, one detection each.

    Greedy on IoU, best pairs first, as the MOT metrics' assignment does for clear cases.
    """
    m = box_iou(truth_xyxy, detected_xyxy)
    hit = np.zeros(m.shape[0], dtype=bool)
    if m.size == 0:
        return hit
    used = np.zeros(m.shape[1], dtype=bool)
    for flat in np.argsort(-m, axis=None, kind="stable"):
        t, d = divmod(int(flat), m.shape[1])
        if m[t, d] < iou:
            break
        if not hit[t] and not used[d]:
            hit[t] = used[d] = True
    return hit
