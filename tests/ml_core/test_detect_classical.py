"""MOG2 and HOG detectors on synthetic frames, the Detections contract and NMS."""

from __future__ import annotations

import numpy as np
import pytest

from ml_core.detect import Detections, HogConfig, Mog2Config, create_detector
from ml_core.detect.nms import nms

W, H = 320, 240
# Normalised image -> metres: 1 m is 40 px across at the bottom of the image, 20 px at the top.
FLOOR_H_PX = np.array([[1 / 40, 0, 0], [0, 1 / 40, 0], [0, 1 / 240, 0.5]])


def _h_norm() -> np.ndarray:
    return FLOOR_H_PX @ np.diag([W, H, 1.0])


def _scene(t: int, people: list[tuple[float, float]]) -> np.ndarray:
    """A textured grey background with dark person-shaped boxes whose feet are at the given pixels."""
    rng = np.random.default_rng(1)
    frame = np.clip(rng.normal(128, 6, (H, W, 3)), 0, 255).astype(np.uint8)
    for fx, fy in people:
        scale = 40 * (0.5 + fy / 240)  # pixels per metre at that row (matches FLOOR_H_PX)
        ph, pw = 1.7 * scale, 0.55 * scale
        x1, y1 = int(fx - pw / 2), int(fy - ph)
        frame[max(0, y1) : int(fy), max(0, x1) : int(fx + pw / 2)] = (30, 40, 50)
    return frame


def test_mog2_finds_moving_people_and_splits_a_pair() -> None:
    detector = create_detector(Mog2Config(scale=1.0, history=50), _h_norm())
    for t in range(40):
        detector.detect(_scene(t, []))
    # Two people walking side by side, touching: one blob, two people wide.
    found = detector.detect(_scene(40, [(100.0, 200.0), (100.0 + 0.55 * 40 * (0.5 + 200 / 240), 200.0), (250, 120)]))
    assert len(found) == 3
    feet = np.sort(found.boxes_xyxy[:, 3])
    np.testing.assert_allclose(feet, [120, 200, 200], atol=2)
    assert ((found.scores > 0.3) & (found.scores <= 1)).all()


def test_mog2_drops_blobs_too_small_for_a_person() -> None:
    detector = create_detector(Mog2Config(scale=1.0, history=50), _h_norm())
    for t in range(40):
        detector.detect(_scene(t, []))
    frame = _scene(40, [])
    frame[190:196, 150:156] = 0  # a 6 px speck where a person would be ~100 px tall
    assert len(detector.detect(frame)) == 0


def test_mog2_without_calibration_keeps_big_blobs() -> None:
    detector = create_detector(Mog2Config(scale=0.5, history=50))
    for t in range(30):
        detector.detect(_scene(t, []))
    found = detector.detect(_scene(30, [(160.0, 200.0)]))
    assert len(found) == 1 and found.boxes_xyxy[0, 3] == pytest.approx(200, abs=3)


def test_hog_runs_and_returns_the_contract() -> None:
    detector = create_detector(HogConfig(scale=1.0))
    detector.warm_up(H, W)
    found = detector.detect(_scene(0, [(160.0, 230.0)]))
    assert isinstance(found, Detections) and found.boxes_xyxy.shape[1] == 4


@pytest.mark.parametrize(
    ("frame", "message"),
    [(np.zeros((H, W), np.uint8), r"\(H, W, 3\)"), (np.zeros((H, W, 3), np.float32), "uint8"), ([1, 2], "numpy")],
)
def test_detectors_reject_bad_frames(frame: object, message: str) -> None:
    for config in (Mog2Config(), HogConfig()):
        with pytest.raises(ValueError, match=message):
            create_detector(config).detect(frame)  # type: ignore[arg-type]


BAD_DETECTIONS = [
    (np.zeros(3), np.zeros(0), r"shape \(n, 4\), got float64 \(3,\)"),
    (np.array([[0, 0, 1, 1.0]]), np.zeros(2), r"scores must be a float64 array with shape \(1,\)"),
    (np.array([[5, 0, 1, 1.0]]), np.ones(1), "x2 > x1"),
    (np.array([[0, 0, 1, 1.0]]), np.array([1.5]), r"scores must be in \[0, 1\]"),
]


@pytest.mark.parametrize(("boxes", "scores", "message"), BAD_DETECTIONS)
def test_detections_validate_once(boxes: np.ndarray, scores: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Detections(boxes, scores)


def test_nms_keeps_the_best_of_overlapping_boxes() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 10.0]])
    assert nms(boxes, np.array([0.5, 0.9, 0.3, 0.4]), 0.5).tolist() == [1, 2]
