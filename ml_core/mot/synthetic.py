"""Seeded synthetic detections: corrupted ground truth (tracker-only evaluation) and moving boxes (benchmarks)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ml_core.mot.rows import MotRows

# Score model of the synthetic detector: true boxes score N(0.8, 0.15) clipped to
# [0.05, 1]; false positives score U(0.1, 0.7). So about 2% of true boxes fall in
# ByteTrack's low band (0.1, 0.5] and false positives mostly do; both are what the
# two-stage association is designed for.
TRUE_SCORE_MEAN = 0.8
TRUE_SCORE_STD = 0.15
FALSE_SCORE_RANGE = (0.1, 0.7)
MIN_BOX_PX = 2.0


@dataclass(frozen=True, slots=True)
class DetectionNoise:
    """How ground truth is corrupted into detections.

    Attributes:
        drop_rate: probability that a ground-truth box is missed, in [0, 1).
        noise_px: standard deviation in pixels of Gaussian noise on each box edge (x1, y1, x2, y2).
        false_positive_rate: expected false positives per ground-truth box, in [0, 1];
            each is a box of a random ground-truth size at a uniform position in the frame.
        seed: seed of the numpy Generator; the same seed gives the same detections.
    """

    drop_rate: float = 0.10
    noise_px: float = 2.0
    false_positive_rate: float = 0.05
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.drop_rate < 1.0:
            raise ValueError(f"drop_rate must be in [0, 1), got {self.drop_rate!r}")
        if not self.noise_px >= 0.0:
            raise ValueError(f"noise_px must be >= 0 pixels, got {self.noise_px!r}")
        if not 0.0 <= self.false_positive_rate <= 1.0:
            raise ValueError(f"false_positive_rate must be in [0, 1], got {self.false_positive_rate!r}")


def detections_from_ground_truth(gt: MotRows, noise: DetectionNoise) -> MotRows:
    """Derive detections (ids -1, scores from the synthetic score model) from ground truth, seeded."""
    rng = np.random.default_rng(noise.seed)
    k = len(gt)
    keep = rng.random(k) >= noise.drop_rate
    boxes = gt.boxes_xyxy + rng.normal(0.0, noise.noise_px, size=(k, 4))
    boxes = _clamp_size(boxes)
    scores = np.clip(rng.normal(TRUE_SCORE_MEAN, TRUE_SCORE_STD, size=k), 0.05, 1.0)

    n_fp = rng.binomial(1, noise.false_positive_rate, size=k).astype(bool)
    fp_frames = gt.frames[n_fp]
    extent = gt.boxes_xyxy.max(axis=0)[2:] if k else np.array([1.0, 1.0])
    sizes = (gt.boxes_xyxy[:, 2:] - gt.boxes_xyxy[:, :2])[rng.integers(0, max(k, 1), size=fp_frames.shape[0])]
    corner = rng.random((fp_frames.shape[0], 2)) * np.maximum(extent - sizes, 1.0)
    fp_boxes = np.hstack([corner, corner + sizes])
    fp_scores = rng.uniform(*FALSE_SCORE_RANGE, size=fp_frames.shape[0])

    return MotRows.from_unsorted(
        np.concatenate([gt.frames[keep], fp_frames]),
        np.full(int(keep.sum()) + fp_frames.shape[0], -1),
        np.vstack([boxes[keep], fp_boxes]),
        np.concatenate([scores[keep], fp_scores]),
    )


def moving_boxes(
    n_boxes: int, n_frames: int, seed: int = 0, noise_px: float = 2.0
) -> list[tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]]:
    """Return n_frames frames of (boxes (n_boxes, 4) pixels, scores (n_boxes,)) of people-sized boxes.

    Objects move at constant velocity (0.5 to 4 px/frame) and bounce off the edges of
    a 16:9 canvas whose area grows with n_boxes (about 20,000 px^2 per object, so the
    crowd density is the same at every size); each box gets Gaussian edge noise and a
    score U(0.2, 1), so both association stages run.
    """
    rng = np.random.default_rng(seed)
    width = float(np.sqrt(n_boxes * 20_000.0 * 16.0 / 9.0))
    height = width * 9.0 / 16.0
    size = np.column_stack([rng.uniform(25.0, 45.0, n_boxes), rng.uniform(60.0, 110.0, n_boxes)])
    pos = rng.random((n_boxes, 2)) * np.maximum(np.array([width, height]) - size, 1.0)
    speed = rng.uniform(0.5, 4.0, n_boxes)
    angle = rng.uniform(0.0, 2.0 * np.pi, n_boxes)
    vel = np.column_stack([speed * np.cos(angle), speed * np.sin(angle)])
    frames = []
    for _ in range(n_frames):
        pos += vel
        low = pos < 0.0
        high = pos + size > np.array([width, height])
        vel[low | high] *= -1.0
        pos = np.clip(pos, 0.0, np.array([width, height]) - size)
        boxes = np.hstack([pos, pos + size]) + rng.normal(0.0, noise_px, size=(n_boxes, 4))
        frames.append((_clamp_size(boxes), rng.uniform(0.2, 1.0, n_boxes)))
    return frames


def _clamp_size(boxes: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Keep noisy boxes at least MIN_BOX_PX wide and tall (noise must not flip a box inside out)."""
    out = boxes.copy()
    out[:, 2] = np.maximum(out[:, 2], out[:, 0] + MIN_BOX_PX)
    out[:, 3] = np.maximum(out[:, 3], out[:, 1] + MIN_BOX_PX)
    return out
