"""The block-diagonal filter equals ByteTrack's dense 8x8 Kalman filter (reference written out in numpy)."""

from __future__ import annotations

import numpy as np
import pytest

from ml_core.track import kalman

W_POS = 1.0 / 20.0
W_VEL = 1.0 / 160.0
F = np.eye(8) + np.eye(8, k=4)
H = np.eye(4, 8)


def _xyah(box: np.ndarray) -> np.ndarray:
    w, h = box[2] - box[0], box[3] - box[1]
    return np.array([box[0] + w / 2, box[1] + h / 2, w / h, h])


def _dense_initiate(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h = z[3]
    std = [2 * W_POS * h, 2 * W_POS * h, 1e-2, 2 * W_POS * h, 10 * W_VEL * h, 10 * W_VEL * h, 1e-5, 10 * W_VEL * h]
    return np.r_[z, np.zeros(4)], np.diag(np.square(std))


def _dense_predict(x: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h = x[3]
    q = np.diag(np.square([W_POS * h, W_POS * h, 1e-2, W_POS * h, W_VEL * h, W_VEL * h, 1e-5, W_VEL * h]))
    return F @ x, F @ p @ F.T + q


def _dense_update(x: np.ndarray, p: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h = x[3]
    s = H @ p @ H.T + np.diag(np.square([W_POS * h, W_POS * h, 1e-1, W_POS * h]))
    k = p @ H.T @ np.linalg.inv(s)
    return x + k @ (z - H @ x), p - k @ s @ k.T


def _as_dense(cov: np.ndarray) -> np.ndarray:
    p = np.zeros((8, 8))
    for c in range(4):
        p[c, c], p[c, c + 4], p[c + 4, c], p[c + 4, c + 4] = cov[c, 0], cov[c, 1], cov[c, 1], cov[c, 2]
    return p


# (seed, frames, probability a frame has a measurement)
SEQUENCES = [(0, 20, 1.0), (1, 40, 0.7), (2, 60, 0.3)]


@pytest.mark.parametrize(("seed", "frames", "p_measure"), SEQUENCES)
def test_block_filter_equals_dense_filter(seed: int, frames: int, p_measure: float) -> None:
    rng = np.random.default_rng(seed)
    box = np.array([100.0, 50.0, 130.0, 130.0])
    mean, cov = np.zeros((1, 8)), np.zeros((1, 4, 3))
    kalman.initiate(mean, cov, 0, box)
    x, p = _dense_initiate(_xyah(box))
    for _ in range(frames):
        kalman.predict(mean, cov, 0)
        x, p = _dense_predict(x, p)
        if rng.random() < p_measure:
            box = box + np.array([3.0, 1.0, 3.0, 1.2]) + rng.normal(0.0, 2.0, 4)
            kalman.update(mean, cov, 0, box)
            x, p = _dense_update(x, p, _xyah(box))
    np.testing.assert_allclose(mean[0], x, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(_as_dense(cov[0]), p, rtol=1e-9, atol=1e-9)
