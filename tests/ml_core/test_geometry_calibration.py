"""Homography fitting, normalised coordinates, person size, polygons and counting on the floor."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml_core.geometry.counting import (
    count_line_crossings,
    count_zone_entries,
    hidden_foot_points,
    line_crossing_events,
    plausible_steps,
    zone_entry_events,
)
from ml_core.geometry.floor_gate import FloorGateParams, FloorPointGate
from ml_core.geometry.homography import (
    CalibrationError,
    apply_homography,
    fit_homography,
    foot_points,
    normalised_to_pixels,
    pixels_to_normalised,
)
from ml_core.geometry.person_size import PersonSizeModel
from ml_core.geometry.polygons import points_in_polygon

# A camera looking down a floor: pixels -> metres.
TRUE_H = np.array([[0.02, 0.001, -5.0], [0.0005, 0.05, -8.0], [0.00001, 0.0004, 1.0]])
IMAGE_PTS = np.array([[100, 400], [600, 420], [350, 250], [50, 550], [700, 560], [400, 500]], dtype=np.float64)
FLOOR_PTS = apply_homography(TRUE_H, IMAGE_PTS)


def test_fit_recovers_a_known_homography() -> None:
    fit = fit_homography(IMAGE_PTS, FLOOR_PTS)
    assert fit.rmse_m < 1e-6 and fit.n_inliers == 6
    probe = np.array([[320.0, 300.0], [10.0, 570.0]])
    np.testing.assert_allclose(apply_homography(fit.matrix, probe), apply_homography(TRUE_H, probe), atol=1e-6)


def test_ransac_drops_an_outlier_and_reports_metres() -> None:
    floor = FLOOR_PTS.copy()
    floor[2] += [3.0, -2.0]
    noisy = np.vstack([IMAGE_PTS, IMAGE_PTS + 7.0]), np.vstack([floor, apply_homography(TRUE_H, IMAGE_PTS + 7.0)])
    fit = fit_homography(*noisy, ransac_threshold_m=0.1)
    assert not fit.inliers[2] and fit.n_inliers == 11
    assert fit.rmse_m < 1e-3 and fit.median_error_m < 1e-3


DEGENERATE = [
    (IMAGE_PTS[:3], FLOOR_PTS[:3], "at least 4 point pairs, got 3"),
    (np.array([[0, 0], [1, 1], [2, 2], [3, 3.0]]), FLOOR_PTS[:4], "image points are collinear"),
    (IMAGE_PTS[:4], np.array([[0, 0], [1, 0], [2, 0], [5, 0.0]]), "floor points are collinear"),
    (np.vstack([IMAGE_PTS[:3], [[np.nan, 1.0]]]), FLOOR_PTS[:4], "image points must be finite"),
    (IMAGE_PTS[:5], FLOOR_PTS[:4], "must pair up"),
    (IMAGE_PTS[:, :1], FLOOR_PTS, r"shape \(n, 2\)"),
]


@pytest.mark.parametrize(("image", "floor", "message"), DEGENERATE)
def test_degenerate_input_is_refused(image: np.ndarray, floor: np.ndarray, message: str) -> None:
    with pytest.raises(CalibrationError, match=message):
        fit_homography(image, floor)


@settings(max_examples=50, deadline=None)
@given(st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.integers(64, 4000), st.integers(64, 4000))
def test_normalised_and_pixel_homographies_agree(u: float, v: float, width: int, height: int) -> None:
    norm = pixels_to_normalised(TRUE_H, width, height)
    expected = apply_homography(TRUE_H, np.array([[u * width, v * height]]))
    np.testing.assert_allclose(apply_homography(norm, np.array([[u, v]])), expected, rtol=1e-7, atol=1e-9)
    back = normalised_to_pixels(norm, width, height)
    np.testing.assert_allclose(back / back[2, 2], TRUE_H / TRUE_H[2, 2], rtol=1e-9, atol=1e-12)


def test_foot_points_are_bottom_centres() -> None:
    np.testing.assert_array_equal(foot_points(np.array([[10, 20, 30, 100.0]])), [[20.0, 100.0]])
    with pytest.raises(ValueError, match=r"shape \(n, 4\), got \(3,\)"):
        foot_points(np.zeros(3))


def test_person_size_grows_toward_the_camera() -> None:
    # Floor metres = pixels / 100 plus perspective: a person lower in the image is nearer and larger.
    h = np.array([[0.01, 0, 0], [0, 0.01, 0], [0, 0.002, 1.0]])
    model = PersonSizeModel(h, height_m=1.7, width_m=0.6)
    heights, widths = model.expected_size(np.array([[100.0, 100.0], [100.0, 400.0]]))
    assert heights[1] > heights[0] > 0
    np.testing.assert_allclose(heights / widths, 1.7 / 0.6)
    np.testing.assert_allclose(heights[0], 1.7 * 100 * 1.2, rtol=1e-6)  # scale at y=100 is 100/(1+0.2) px/m


SQUARE = np.array([[0, 0], [4, 0], [4, 4], [0, 4.0]])
L_SHAPE = np.array([[0, 0], [4, 0], [4, 1], [1, 1], [1, 4], [0, 4.0]])
POLYGON_CASES = [
    (SQUARE, [[2, 2], [5, 2], [-1, -1], [3.9, 0.1]], [True, False, False, True]),
    (L_SHAPE, [[0.5, 3], [3, 0.5], [3, 3], [np.nan, 1]], [True, True, False, False]),
]


@pytest.mark.parametrize(("polygon", "points", "expected"), POLYGON_CASES)
def test_points_in_polygon(polygon: np.ndarray, points: list[list[float]], expected: list[bool]) -> None:
    assert points_in_polygon(np.array(points, dtype=np.float64), polygon).tolist() == expected


def test_line_crossings_count_once_despite_jitter() -> None:
    # Track 1 walks left to right across x=0 with jitter on the line; track 2 walks back; track 3 passes beside it.
    xs = np.array([-2.0, -1.0, -0.1, 0.1, -0.1, 0.1, 1.0, 2.0])
    ids = np.r_[np.full(8, 1), np.full(8, 2), np.full(8, 3)]
    order = np.r_[np.arange(8), np.arange(8), np.arange(8)]
    points = np.vstack([np.c_[xs, np.zeros(8)], np.c_[xs[::-1], np.ones(8)], np.c_[xs, np.full(8, 9.0)]])
    count = count_line_crossings(ids, order, points, (0.0, -5.0), (0.0, 5.0))
    assert (count.left, count.right) == (1, 1)  # a->b points up: walking +x ends on the right side


def test_zone_entries_need_a_held_inside() -> None:
    ids = np.ones(7, dtype=np.int64)
    points = np.array([[-1, 2], [1, 2], [-1, 2], [1, 2], [2, 2], [3, 2], [5, 2.0]])
    assert count_zone_entries(ids, np.arange(7), points, SQUARE) == 1


def test_crossing_and_entry_events_name_the_track_and_when() -> None:
    xs = np.array([-2.0, -1.0, 1.0, 2.0, 1.0, -1.0])
    ids = np.full(6, 5)
    events = line_crossing_events(ids, np.arange(10, 16), np.c_[xs, np.zeros(6)], (0.0, -5.0), (0.0, 5.0))
    assert (events.ids.tolist(), events.order.tolist(), events.direction.tolist()) == ([5, 5], [12.0, 15.0], [-1, 1])
    entries = zone_entry_events(
        np.ones(7), np.arange(7), [[-1, 2], [1, 2], [-1, 2], [1, 2], [2, 2], [3, 2], [5, 2]], SQUARE
    )
    assert (entries.ids.tolist(), entries.order.tolist()) == ([1], [4.0])  # held for min_points=2


# One person walking +x at 1 m/s sampled at 10 Hz; a merged blob throws the foot point 3 m aside for 2 samples.
WALK_T_S = np.arange(20) / 10.0
WALK_M = np.c_[WALK_T_S * 1.0 - 1.0, np.full(20, 2.0)]
JUMPY_M = WALK_M.copy()
JUMPY_M[8:10, 1] += 3.0


@pytest.mark.parametrize(
    ("points", "dropped"),
    [(WALK_M, []), (JUMPY_M, [8, 9])],
)
def test_plausible_steps_drops_blob_jumps_only(points: np.ndarray, dropped: list[int]) -> None:
    keep = plausible_steps(np.ones(20), WALK_T_S, points, max_speed_m_s=2.5, slack_m=0.5)
    assert np.nonzero(~keep)[0].tolist() == dropped


def test_plausible_steps_reacquires_a_track_that_really_moved() -> None:
    # Teleported 3 m at sample 5 and walking on from there: the gate grows with time and takes it back.
    points = WALK_M.copy()
    points[5:, 1] += 3.0
    keep = plausible_steps(np.ones(20), WALK_T_S, points, max_speed_m_s=2.5, slack_m=0.5)
    assert not keep[5] and keep[-5:].all()


def test_the_jump_gate_counts_a_jumpy_track_like_the_smooth_one() -> None:
    """A 3 m jump out of a zone and back is one spurious exit and re-entry; dropped, both tracks count alike."""
    ids, times = np.r_[np.full(20, 1), np.full(20, 2)], np.r_[WALK_T_S, WALK_T_S]
    points = np.vstack([WALK_M, JUMPY_M])
    zone = np.array([[-2.0, 0.0], [2.0, 0.0], [2.0, 4.0], [-2.0, 4.0]])
    assert count_zone_entries(ids, times, points, zone, min_points=1) == 1  # the jumpy one re-enters
    keep = plausible_steps(ids, times, points, max_speed_m_s=2.5, slack_m=0.5)
    assert count_zone_entries(ids[keep], times[keep], points[keep], zone, min_points=1) == 0


@pytest.mark.parametrize(
    ("boxes", "frames", "hidden"),
    [
        # Person 0 stands behind person 1 (whose box reaches lower): 0's box ends inside 1's, legs hidden.
        ([[100, 100, 140, 200], [110, 150, 160, 260]], [1, 1], [True, False]),
        # The same boxes in different frames never occlude each other.
        ([[100, 100, 140, 200], [110, 150, 160, 260]], [1, 2], [False, False]),
        # Side by side: each foot point is outside the other box.
        ([[100, 100, 140, 200], [150, 100, 190, 200]], [1, 1], [False, False]),
    ],
)
def test_hidden_foot_points(boxes: list[list[float]], frames: list[int], hidden: list[bool]) -> None:
    assert hidden_foot_points(frames, boxes).tolist() == hidden


def test_the_online_floor_gate_drops_what_the_batch_masks_drop() -> None:
    """FloorPointGate frame by frame == hidden_foot_points, then plausible_steps on the rest (the eval's old order)."""
    rng = np.random.default_rng(11)
    frames, ids, boxes, points = [], [], [], []
    for f in range(60):
        for track in rng.choice(6, size=int(rng.integers(1, 6)), replace=False).tolist():
            x, y = 40.0 * track + rng.normal(0, 15), 100.0 + rng.normal(0, 30)
            frames.append(f)
            ids.append(track)
            boxes.append([x, y, x + 40.0, y + 100.0])
            # A walk along x with occasional metre-scale jumps.
            points.append([0.1 * f + track + (3.0 if rng.random() < 0.1 else 0.0), float(track)])
    fr, i, b, p = np.asarray(frames), np.asarray(ids), np.asarray(boxes), np.asarray(points)
    seen = ~hidden_foot_points(fr, b)
    batch = np.zeros(fr.shape[0], dtype=np.bool_)
    batch[seen] = plausible_steps(i[seen], fr[seen] / 10.0, p[seen], max_speed_m_s=2.5, slack_m=0.5)
    gate = FloorPointGate(FloorGateParams(drop_hidden_feet=True, max_speed_m_s=2.5, slack_m=0.5))
    online = np.concatenate([gate.update(f * 100_000_000, i[fr == f], b[fr == f], p[fr == f]) for f in range(60)])
    assert gate.hidden > 0 and gate.jumps > 0 and gate.hidden + gate.jumps == int((~batch).sum())
    assert online.tolist() == batch.tolist()


def test_floor_gate_switches() -> None:
    boxes = np.array([[100, 100, 140, 200], [110, 150, 160, 260]], dtype=np.float64)
    floor = np.array([[0.0, 0.0], [5.0, 0.0]])
    off = FloorPointGate(FloorGateParams(drop_hidden_feet=False, max_speed_m_s=None))
    assert off.update(0, [1, 2], boxes, floor).tolist() == [True, True]
    assert off.update(100_000_000, [1, 2], boxes, floor + 9.0).tolist() == [True, True]
    with pytest.raises(ValueError, match=r"max_speed_m_s must be a finite number > 0 or None, got 0\.0"):
        FloorGateParams(max_speed_m_s=0.0)


def test_points_in_polygons_equals_points_in_polygon_for_each() -> None:
    from ml_core.geometry.polygons import pack_polygons, points_in_polygons

    rng = np.random.default_rng(5)
    polygons = [rng.uniform(0, 10, size=(m, 2)) for m in (3, 4, 7, 12)]  # self-crossing ones too: even-odd
    polygons.append(np.array([[0, 0], [4, 0], [4, 4], [0, 4]], dtype=np.float64))
    points = rng.uniform(-1, 11, size=(2000, 2))
    points[:3] = [[np.nan, 1.0], [2.0, 0.0], [4.0, 2.0]]  # NaN, on a vertex's row, on an edge
    # On every vertex, edge midpoint and bounding-box side of each polygon: where the compiled test's
    # bounding-box shortcut must agree with the full even-odd test.
    edges = [(p + np.roll(p, -1, axis=0)) / 2 for p in polygons]
    sides = [np.array([[p[:, 0].min(), y], [p[:, 0].max(), y], [x, p[:, 1].min()], [x, p[:, 1].max()]])
             for p in polygons for x, y in p]  # fmt: skip
    points = np.concatenate([points, *polygons, *edges, *sides])
    vertices, offsets = pack_polygons(polygons)
    got = points_in_polygons(points, vertices, offsets)
    expected = np.stack([points_in_polygon(points, p) for p in polygons], axis=1)
    assert got.shape == (len(points), 5) and (got == expected).all()
    with pytest.raises(ValueError, match="polygon 1 must have shape"):
        pack_polygons([polygons[0], np.zeros((2, 2))])
