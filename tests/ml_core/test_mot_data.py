"""MOT file loading and the seeded synthetic detections."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ml_core.mot import DetectionNoise, MotRows, detections_from_ground_truth, load_mot, moving_boxes, save_mot

GT_LINES = "2,7,10,20,30,40,1,-1,-1,-1\n1,7,12,22,30,40,1,-1,-1,-1\n1,8,100,20,30,40,0,-1,-1,-1\n"
# (file text, error fragment)
BAD_FILES = [
    ("1,2,3\n", "expected at least 6 columns"),
    ("1,2,3,4,0,5,1\n", "width and height must be > 0"),
    ("0,2,3,4,5,5,1\n", "frames are 1-based"),
    ("1,2,x,4,5,5,1\n", "not a comma-separated MOT file"),
]


def test_load_sorts_by_frame_and_drops_ignored_rows(tmp_path: Path) -> None:
    path = tmp_path / "gt.txt"
    path.write_text(GT_LINES)
    rows = load_mot(path)
    assert rows.frames.tolist() == [1, 2]
    assert rows.boxes_xyxy[0].tolist() == [12.0, 22.0, 42.0, 62.0]
    assert len(load_mot(path, keep_zero_conf=True)) == 3
    assert [s.stop - s.start for s in rows.frame_slices(3)] == [1, 1, 0]


@pytest.mark.parametrize(("text", "message"), BAD_FILES)
def test_load_rejects_bad_files_naming_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        load_mot(path)


def test_save_then_load_round_trips(tmp_path: Path) -> None:
    rows = MotRows.from_unsorted([2, 1], [5, 6], [[0, 0, 10, 20], [5, 5, 15, 25]], [0.5, 0.75])
    save_mot(rows, tmp_path / "out.txt")
    back = load_mot(tmp_path / "out.txt")
    assert back.frames.tolist() == [1, 2] and back.ids.tolist() == [6, 5]
    np.testing.assert_allclose(back.boxes_xyxy, rows.boxes_xyxy)


def _grid_gt(frames: int = 50, people: int = 10) -> MotRows:
    f = np.repeat(np.arange(1, frames + 1), people)
    i = np.tile(np.arange(people), frames)
    x = 60.0 * i + 2.0 * f
    return MotRows.from_unsorted(f, i, np.column_stack([x, 0 * x + 10, x + 30, 0 * x + 90]), np.ones(f.shape[0]))


# (noise, expected fraction kept within tolerance)
NOISES = [DetectionNoise(0.0, 0.0, 0.0, 1), DetectionNoise(0.1, 2.0, 0.05, 2), DetectionNoise(0.5, 5.0, 0.2, 3)]


@pytest.mark.parametrize("noise", NOISES)
def test_synthetic_detections_are_seeded_and_follow_the_rates(noise: DetectionNoise) -> None:
    gt = _grid_gt()
    a, b = detections_from_ground_truth(gt, noise), detections_from_ground_truth(gt, noise)
    assert np.array_equal(a.boxes_xyxy, b.boxes_xyxy) and np.array_equal(a.scores, b.scores)
    expected = len(gt) * (1 - noise.drop_rate + noise.false_positive_rate)
    assert abs(len(a) - expected) < 0.1 * len(gt) + 1
    assert (a.ids == -1).all() and ((a.scores >= 0) & (a.scores <= 1)).all()
    assert ((a.boxes_xyxy[:, 2:] - a.boxes_xyxy[:, :2]) > 0).all()


@pytest.mark.parametrize("n_boxes", [1, 20, 200])
def test_moving_boxes_shape_and_seed(n_boxes: int) -> None:
    a, b = moving_boxes(n_boxes, 5, seed=3), moving_boxes(n_boxes, 5, seed=3)
    assert all(x[0].shape == (n_boxes, 4) and np.array_equal(x[0], y[0]) for x, y in zip(a, b, strict=True))


INVALID_NOISE = [({"drop_rate": 1.0}, "drop_rate"), ({"noise_px": -1.0}, "noise_px"), ({"false_positive_rate": 2.0}, "false")]


@pytest.mark.parametrize(("kwargs", "message"), INVALID_NOISE)
def test_invalid_noise_rejected(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DetectionNoise(**kwargs)  # type: ignore[arg-type]
