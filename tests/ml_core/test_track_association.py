"""ByteTrack's association stages on small scripted scenes (ids follow the true object through det_index)."""

from __future__ import annotations

import numpy as np
import pytest

from ml_core.track import ByteTrack, ByteTrackParams, Tracks, TrackState

BOX_W = 40.0
BOX_H = 100.0
HIGH = 0.9
LOW = 0.3  # in ByteTrack's low band (0.1, 0.5]
BARELY_HIGH = 0.55  # high-score (> 0.5) but below the activation threshold 0.6


def _box(x: float, y: float) -> list[float]:
    return [x, y, x + BOX_W, y + BOX_H]


def _ids_by_object(out: Tracks) -> dict[int, int]:
    """Map input row (the object) to the track id that claimed it."""
    return {int(d): int(i) for d, i in zip(out.det_index, out.ids, strict=True) if d >= 0}


# (name, speed px/frame, vertical offset px): two people walking towards each other and past.
CROSSINGS = [
    ("side by side", 4.0, 60.0),
    ("close pass", 4.0, 40.0),
    ("fast close pass", 8.0, 45.0),
    ("slow overlap", 2.0, 35.0),
]


@pytest.mark.parametrize(("name", "speed", "offset"), CROSSINGS, ids=[c[0] for c in CROSSINGS])
def test_crossing_pair_keeps_ids(name: str, speed: float, offset: float) -> None:
    tracker = ByteTrack()
    first: dict[int, int] | None = None
    for t in range(int(400 / speed)):
        boxes = np.array([_box(100 + speed * t, 100), _box(500 - speed * t, 100 + offset)])
        out = tracker.update(boxes, np.array([HIGH, HIGH]))
        ids = _ids_by_object(out)
        assert len(ids) == 2, f"{name}: frame {t} reported {ids}"
        first = ids if first is None else first
        assert ids == first, f"{name}: ids swapped at frame {t}: {first} -> {ids}"


# (frames hidden, expected: same id?) with the default buffer of 30 frames at 30 fps.
OCCLUSIONS = [(1, True), (5, True), (15, True), (30, True), (31, False), (45, False)]


@pytest.mark.parametrize(("hidden", "same_id"), OCCLUSIONS)
def test_occluded_person_returns_within_buffer(hidden: int, same_id: bool) -> None:
    tracker = ByteTrack()
    speed = 2.0
    before = 10
    ids = []
    for t in range(before + hidden + 5):
        visible = t < before or t >= before + hidden
        boxes = np.array([_box(100 + speed * t, 200)]) if visible else np.empty((0, 4))
        out = tracker.update(boxes, np.full(len(boxes), HIGH))
        if visible and t >= before + hidden + 1:
            ids.append(int(out.ids[0]))
        if not visible:
            assert len(out) == 0, "a lost track is not reported by default"
    assert (ids[0] == 1) is same_id, f"hidden {hidden} frames: id after return {ids[0]}"
    assert len(set(ids)) == 1


def test_lost_tracks_reported_when_asked() -> None:
    tracker = ByteTrack(ByteTrackParams(report_lost=True))
    tracker.update(np.array([_box(0, 0)]), np.array([HIGH]))
    out = tracker.update(np.empty((0, 4)), np.empty(0))
    assert out.states.tolist() == [TrackState.LOST]
    assert out.det_index.tolist() == [-1]


# (name, score sequence): an existing track sees only low-score boxes for a while.
LOW_SCORE_RUNS = [("three frames", [HIGH] * 5 + [LOW] * 3 + [HIGH] * 3), ("long", [HIGH] * 3 + [LOW] * 20)]


@pytest.mark.parametrize(("name", "scores"), LOW_SCORE_RUNS, ids=[r[0] for r in LOW_SCORE_RUNS])
def test_low_score_box_keeps_track_alive(name: str, scores: list[float]) -> None:
    tracker = ByteTrack()
    for t, score in enumerate(scores):
        out = tracker.update(np.array([_box(3.0 * t, 0)]), np.array([score]))
        assert out.ids.tolist() == [1], f"{name}: frame {t} (score {score}) reported {out.ids.tolist()}"
        assert out.states.tolist() == [TrackState.TRACKED]


# Scores that must never start a track: low band, and high but below the activation threshold.
NON_STARTING_SCORES = [LOW, 0.5, BARELY_HIGH, 0.05]


@pytest.mark.parametrize("score", NON_STARTING_SCORES)
def test_box_below_activation_never_starts_a_track(score: float) -> None:
    tracker = ByteTrack()
    for t in range(10):
        out = tracker.update(np.array([_box(2.0 * t, 0)]), np.array([score]))
        assert len(out) == 0, f"score {score} started track {out.ids.tolist()} at frame {t}"


def test_new_track_confirmed_on_second_frame_after_the_first() -> None:
    tracker = ByteTrack()
    tracker.update(np.array([_box(0, 0)]), np.array([HIGH]))  # frame 1 confirms at once
    first = tracker.update(np.array([_box(2, 0), _box(300, 0)]), np.array([HIGH, HIGH]))
    second = tracker.update(np.array([_box(4, 0), _box(302, 0)]), np.array([HIGH, HIGH]))
    assert first.ids.tolist() == [1]
    assert sorted(second.ids.tolist()) == [1, 2]


def test_same_input_gives_same_output() -> None:
    rng = np.random.default_rng(7)
    frames = [(np.hstack([xy := rng.random((30, 2)) * 500, xy + 50]), rng.random(30)) for _ in range(40)]
    runs = []
    for _ in range(2):
        tracker = ByteTrack()
        runs.append([tracker.update(b, s) for b, s in frames])
    for a, b in zip(*runs, strict=True):
        assert np.array_equal(a.ids, b.ids) and np.array_equal(a.boxes_xyxy, b.boxes_xyxy)


def test_output_is_read_only() -> None:
    out = ByteTrack().update(np.array([_box(0, 0)]), np.array([HIGH]))
    with pytest.raises(ValueError, match="read-only"):
        out.ids[0] = 5


# (boxes, scores, message fragment)
INVALID_INPUTS = [
    (np.zeros(3), np.zeros(0), r"boxes_xyxy must have shape \(n, 4\), got \(3,\)"),
    (np.zeros((2, 5)), np.zeros(2), r"got \(2, 5\)"),
    (np.array([[0, 0, 1, 1.0]]), np.zeros((1, 1)), r"scores must have shape \(n,\), got \(1, 1\)"),
    (np.array([[0, 0, 1, 1.0]]), np.zeros(2), r"boxes_xyxy has shape \(1, 4\), scores has shape \(2,\)"),
    (np.array([[0, 0, 1, np.nan]]), np.array([0.5]), r"must be finite, got \[0.0, 0.0, 1.0, nan\] at row 0"),
    (np.array([[0, 0, 1, 1], [5, 5, 4, 9.0]]), np.array([0.5, 0.5]), r"positive width and height.*at row 1"),
    (np.array([[0, 0, 1, 1.0]]), np.array([np.inf]), r"scores must be finite and in \[0, 1\], got inf"),
    (np.array([[0, 0, 1, 1.0]]), np.array([-0.1]), r"got -0.1 at row 0"),
]


@pytest.mark.parametrize(("boxes", "scores", "message"), INVALID_INPUTS)
def test_invalid_input_names_what_arrived(boxes: np.ndarray, scores: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ByteTrack().update(boxes, scores)


INVALID_PARAMS = [
    ({"track_thresh": 1.5}, "track_thresh must be in"),
    ({"low_thresh": 0.6}, "low_thresh must be <= track_thresh"),
    ({"track_buffer": -1}, "track_buffer must be >= 0"),
    ({"frame_rate": 0.0}, "frame_rate must be > 0"),
]


@pytest.mark.parametrize(("kwargs", "message"), INVALID_PARAMS)
def test_invalid_params_rejected(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ByteTrackParams(**kwargs)  # type: ignore[arg-type]


def test_empty_frames_and_growth() -> None:
    tracker = ByteTrack(capacity=1)
    assert len(tracker.update(np.empty((0, 4)), np.empty(0))) == 0
    boxes = np.array([_box(60.0 * i, 0) for i in range(50)])
    out = tracker.update(boxes, np.full(50, HIGH))
    assert len(out) == 0  # frame 2: new tracks wait for confirmation
    out = tracker.update(boxes + 1.0, np.full(50, HIGH))
    assert out.ids.tolist() == list(range(1, 51))
