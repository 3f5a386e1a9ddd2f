"""ByteTrack's constant-velocity Kalman filter as Numba kernels over per-track arrays.

The state of one track is (cx, cy, a, h, vcx, vcy, va, vh): box centre and height in
pixels, aspect ratio a = width / height (unitless), and their velocities per frame.

F (constant velocity, dt = one frame), H (observe the first four), Q and R (diagonal)
all act on one coordinate and its velocity at a time, so the 8x8 covariance of
ByteTrack's filter stays block-diagonal: four independent 2x2 blocks, one per
coordinate. We store each block as three numbers (var_pos, cov_pos_vel, var_vel), so
`cov` has shape (capacity, 4, 3). The result equals the dense 8x8 filter up to
floating-point rounding (tests/ml_core/test_track_kalman.py checks this), at a
fraction of the cost.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# ByteTrack's noise weights, relative to the box height (yolox/tracker/kalman_filter.py).
STD_WEIGHT_POSITION = 1.0 / 20.0
STD_WEIGHT_VELOCITY = 1.0 / 160.0
# Fixed noise for the aspect ratio, which does not scale with box size.
_ASPECT_INIT_POS = 1e-2
_ASPECT_INIT_VEL = 1e-5
_ASPECT_PROCESS_POS = 1e-2
_ASPECT_PROCESS_VEL = 1e-5
_ASPECT_MEASUREMENT = 1e-1


@njit(cache=True, inline="always")
def xyxy_to_xyah(x1: float, y1: float, x2: float, y2: float) -> tuple[float, float, float, float]:
    """Convert a pixel box (x1, y1, x2, y2) to (centre x, centre y, width / height, height)."""
    w = x2 - x1
    h = y2 - y1
    return x1 + 0.5 * w, y1 + 0.5 * h, w / h, h


@njit(cache=True)
def mean_to_xyxy(mean: np.ndarray, slot: int, out: np.ndarray, row: int) -> None:
    """Write the box of state `mean[slot]` (shape (capacity, 8)) into `out[row]` as pixels x1, y1, x2, y2."""
    h = mean[slot, 3]
    w = mean[slot, 2] * h
    out[row, 0] = mean[slot, 0] - 0.5 * w
    out[row, 1] = mean[slot, 1] - 0.5 * h
    out[row, 2] = out[row, 0] + w
    out[row, 3] = out[row, 1] + h


@njit(cache=True)
def initiate(mean: np.ndarray, cov: np.ndarray, slot: int, box_xyxy: np.ndarray) -> None:
    """Start the filter of `slot` at a pixel box (4,) with zero velocity and ByteTrack's initial uncertainty."""
    cx, cy, a, h = xyxy_to_xyah(box_xyxy[0], box_xyxy[1], box_xyxy[2], box_xyxy[3])
    mean[slot, 0] = cx
    mean[slot, 1] = cy
    mean[slot, 2] = a
    mean[slot, 3] = h
    for k in range(4, 8):
        mean[slot, k] = 0.0
    sp = 2.0 * STD_WEIGHT_POSITION * h
    sv = 10.0 * STD_WEIGHT_VELOCITY * h
    for k in range(4):
        if k == 2:
            cov[slot, k, 0] = _ASPECT_INIT_POS * _ASPECT_INIT_POS
            cov[slot, k, 2] = _ASPECT_INIT_VEL * _ASPECT_INIT_VEL
        else:
            cov[slot, k, 0] = sp * sp
            cov[slot, k, 2] = sv * sv
        cov[slot, k, 1] = 0.0


@njit(cache=True)
def predict(mean: np.ndarray, cov: np.ndarray, slot: int) -> None:
    """Advance the filter of `slot` by one frame: x <- F x, P <- F P F^T + Q (Q scaled by the box height)."""
    h = mean[slot, 3]
    qp = STD_WEIGHT_POSITION * h
    qv = STD_WEIGHT_VELOCITY * h
    qp2 = qp * qp
    qv2 = qv * qv
    for k in range(4):
        mean[slot, k] += mean[slot, k + 4]
        p = cov[slot, k, 0]
        c = cov[slot, k, 1]
        v = cov[slot, k, 2]
        if k == 2:
            add_p = _ASPECT_PROCESS_POS * _ASPECT_PROCESS_POS
            add_v = _ASPECT_PROCESS_VEL * _ASPECT_PROCESS_VEL
        else:
            add_p = qp2
            add_v = qv2
        # [[1, 1], [0, 1]] @ [[p, c], [c, v]] @ [[1, 0], [1, 1]]
        cov[slot, k, 0] = p + 2.0 * c + v + add_p
        cov[slot, k, 1] = c + v
        cov[slot, k, 2] = v + add_v


@njit(cache=True)
def update(mean: np.ndarray, cov: np.ndarray, slot: int, box_xyxy: np.ndarray) -> None:
    """Correct the filter of `slot` with a measured pixel box (4,); R is scaled by the predicted height."""
    z0, z1, z2, z3 = xyxy_to_xyah(box_xyxy[0], box_xyxy[1], box_xyxy[2], box_xyxy[3])
    r = STD_WEIGHT_POSITION * mean[slot, 3]
    r2 = r * r
    for k in range(4):
        if k == 0:
            z = z0
        elif k == 1:
            z = z1
        elif k == 2:
            z = z2
        else:
            z = z3
        p = cov[slot, k, 0]
        c = cov[slot, k, 1]
        v = cov[slot, k, 2]
        s = p + (_ASPECT_MEASUREMENT * _ASPECT_MEASUREMENT if k == 2 else r2)
        gain_p = p / s
        gain_v = c / s
        innovation = z - mean[slot, k]
        mean[slot, k] += gain_p * innovation
        mean[slot, k + 4] += gain_v * innovation
        # P - K S K^T with K = [p, c] / s
        cov[slot, k, 0] = p - gain_p * gain_p * s
        cov[slot, k, 1] = c - gain_p * gain_v * s
        cov[slot, k, 2] = v - gain_v * gain_v * s
