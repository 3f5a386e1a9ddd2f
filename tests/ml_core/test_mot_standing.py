"""Standing vs walking people from ground-truth floor positions, and recall by IoU matching."""

from __future__ import annotations

import numpy as np
import pytest

from ml_core.mot.standing import floor_speeds, found

FPS = 10.0
# Person 1 stands at (0, 0) for 5 s; person 2 walks at 1.5 m/s along x.
FRAMES = np.concatenate([np.arange(1, 51), np.arange(1, 51)])
IDS = np.repeat([1, 2], 50)
FLOOR = np.concatenate([np.zeros((50, 2)), np.column_stack([np.arange(50) * 0.15, np.zeros(50)])])


def test_speeds_over_the_centred_window() -> None:
    speeds = floor_speeds(FRAMES, IDS, FLOOR, FPS, window_s=2.0)
    inner = (FRAMES > 10) & (FRAMES <= 40)  # a whole 2 s window around them
    np.testing.assert_allclose(speeds[inner & (IDS == 1)], 0.0)
    np.testing.assert_allclose(speeds[inner & (IDS == 2)], 1.5)
    assert np.isnan(speeds[~inner]).all()


def test_speeds_refuse_columns_that_disagree() -> None:
    with pytest.raises(ValueError, match=r"must agree"):
        floor_speeds(FRAMES, IDS[:-1], FLOOR, FPS)


FOUND_CASES = [
    # (truth, detections, expected)
    ([[0, 0, 10, 20]], [[0, 0, 10, 20]], [True]),
    ([[0, 0, 10, 20]], [[5, 0, 15, 20]], [False]),  # IoU 1/3
    ([[0, 0, 10, 20], [1, 0, 11, 20]], [[0, 0, 10, 20]], [True, False]),  # one detection, one person
    ([[0, 0, 10, 20]], np.empty((0, 4)), [False]),
]


@pytest.mark.parametrize(("truth", "detected", "expected"), FOUND_CASES)
def test_found_matches_one_detection_per_person(truth: list, detected: list, expected: list) -> None:
    assert found(np.array(truth, dtype=float), np.array(detected, dtype=float)).tolist() == expected
