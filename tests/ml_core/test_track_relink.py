"""Floor-plane re-linking: a broken track keeps its id, different people never share one."""

from __future__ import annotations

import numpy as np
import pytest

from ml_core.track import RelinkParams, TrackRelinker

FPS = 10.0
NS = 1_000_000_000


def _ts(frame: int) -> int:
    return int(frame * NS / FPS)


def _walk(start_m: tuple[float, float], velocity_m_s: tuple[float, float], frame: int) -> list[float]:
    return [start_m[0] + velocity_m_s[0] * frame / FPS, start_m[1] + velocity_m_s[1] * frame / FPS]


def test_a_track_broken_for_half_a_second_keeps_its_id() -> None:
    relinker = TrackRelinker(RelinkParams())
    reported = []
    for f in range(30):
        if 10 <= f < 15:  # lost: nothing reported
            ids = relinker.update(_ts(f), [], np.empty((0, 2)))
        else:
            tracker_id = 1 if f < 10 else 2  # the tracker starts a new track after the gap
            ids = relinker.update(_ts(f), [tracker_id], [_walk((0.0, 0.0), (1.2, 0.0), f)])
        reported.extend(ids.tolist())
    assert set(reported) == {1}
    assert relinker.relinks == 1


@pytest.mark.parametrize(
    ("where_m", "gap_frames", "why"),
    [
        ((10.0, 0.0), 5, "far from where the lost person was heading"),
        ((-3.0, 0.0), 5, "behind the lost person, against its direction"),
        ((1.2, 0.0), 25, "at the predicted place but after max_gap_s"),
    ],
)
def test_a_different_person_gets_a_new_id(where_m: tuple[float, float], gap_frames: int, why: str) -> None:
    relinker = TrackRelinker(RelinkParams(max_gap_s=2.0, max_distance_m=1.0, distance_per_s_m=0.5))
    for f in range(10):
        assert relinker.update(_ts(f), [1], [_walk((0.0, 0.0), (1.2, 0.0), f)]).tolist() == [1]
    f = 10 + gap_frames
    ids = relinker.update(_ts(f), [2], [list(where_m)])
    assert ids.tolist() == [2], why
    assert relinker.relinks == 0


def test_two_lost_people_go_to_the_new_tracks_on_their_own_paths() -> None:
    """Two people walking towards each other are lost together (a merged blob) and reappear apart."""
    relinker = TrackRelinker(RelinkParams())
    east, west = ((0.0, 0.0), (1.0, 0.0)), ((4.0, 0.5), (-1.0, 0.0))
    for f in range(10):
        ids = relinker.update(_ts(f), [1, 2], [_walk(*east, f), _walk(*west, f)])
        assert ids.tolist() == [1, 2]
    for f in range(10, 14):
        relinker.update(_ts(f), [], np.empty((0, 2)))
    # New tracker ids, listed in the "wrong" order: the match follows the floor, not the order.
    ids = relinker.update(_ts(14), [7, 8], [_walk(*west, 14), _walk(*east, 14)])
    assert ids.tolist() == [2, 1]


def test_a_track_the_tracker_finds_again_after_a_relink_never_duplicates_an_id() -> None:
    relinker = TrackRelinker(RelinkParams())
    for f in range(5):
        relinker.update(_ts(f), [1], [_walk((0.0, 0.0), (1.0, 0.0), f)])
    relinker.update(_ts(5), [], np.empty((0, 2)))
    assert relinker.update(_ts(6), [2], [_walk((0.0, 0.0), (1.0, 0.0), 6)]).tolist() == [1]
    # The tracker now also recovers its old track 1 next to the re-linked one.
    ids = relinker.update(_ts(7), [2, 1], [_walk((0.0, 0.0), (1.0, 0.0), 7), [0.9, 0.3]])
    assert ids[0] == 1 and ids[1] != 1
    assert len(set(ids.tolist())) == 2


def test_closed_ids_wait_until_a_relink_is_no_longer_possible() -> None:
    params = RelinkParams(max_gap_s=1.0)
    relinker = TrackRelinker(params)
    for f in range(5):
        relinker.update(_ts(f), [1], [[0.0, 0.0]])
    closed: dict[int, list[int]] = {}
    for f in range(5, 30):
        removed = [1] if f == 8 else []  # the tracker gives up on track 1 at frame 8
        relinker.update(_ts(f), [], np.empty((0, 2)), removed)
        if relinker.closed_ids.size:
            closed[f] = relinker.closed_ids.tolist()
    # Last seen at frame 4: re-linkable until frame 14 (1 s), closed then, once.
    assert closed == {14: [1]}


def test_a_relinked_id_is_not_closed_when_its_first_tracker_id_ends() -> None:
    relinker = TrackRelinker(RelinkParams(max_gap_s=1.0))
    for f in range(5):
        relinker.update(_ts(f), [1], [_walk((0.0, 0.0), (1.0, 0.0), f)])
    relinker.update(_ts(5), [], np.empty((0, 2)))
    for f in range(6, 30):
        ids = relinker.update(_ts(f), [2], [_walk((0.0, 0.0), (1.0, 0.0), f)], [1] if f == 12 else [])
        assert ids.tolist() == [1]
        assert relinker.closed_ids.size == 0


def test_without_floor_points_ids_are_fresh_and_never_relinked() -> None:
    relinker = TrackRelinker()
    assert relinker.update(_ts(0), [5, 9], None).tolist() == [1, 2]
    relinker.update(_ts(1), [], None)
    assert relinker.update(_ts(2), [11], None).tolist() == [3]
    assert relinker.relinks == 0


@pytest.mark.parametrize(
    ("ids", "floor", "match"),
    [
        ([1, 2], [[0.0, 0.0]], r"floor_m must have shape \(2, 2\)"),
        ([1, 1], [[0.0, 0.0], [1.0, 1.0]], "unique"),
    ],
)
def test_bad_input_is_refused(ids: list[int], floor: list[list[float]], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        TrackRelinker().update(0, ids, floor)


def test_time_going_backwards_is_refused() -> None:
    relinker = TrackRelinker()
    relinker.update(_ts(5), [], np.empty((0, 2)))
    with pytest.raises(ValueError, match="backwards"):
        relinker.update(_ts(4), [], np.empty((0, 2)))


def test_params_are_validated() -> None:
    with pytest.raises(ValueError, match="max_gap_s"):
        RelinkParams(max_gap_s=-1.0)


def _lose_two_walkers(relinker: TrackRelinker, y_m: tuple[float, float]) -> None:
    """Two people walking +x side by side at heights y_m, reported for frames 0-9, then lost."""
    for f in range(10):
        points = [_walk((0.0, y_m[0]), (1.0, 0.0), f), _walk((0.0, y_m[1]), (1.0, 0.0), f)]
        assert relinker.update(_ts(f), [1, 2], points).tolist() == [1, 2]
    relinker.update(_ts(10), [], np.empty((0, 2)))


@pytest.mark.parametrize(
    ("ratio", "expected_ids", "why"),
    [
        (1.0, [1], "the ratio test is off: the nearest prediction wins even on a tie"),
        (0.8, [3], "two lost tracks equally close: a fresh id, not a guess"),
    ],
)
def test_a_new_track_between_two_equally_close_lost_ones(ratio: float, expected_ids: list[int], why: str) -> None:
    relinker = TrackRelinker(RelinkParams(ambiguity_ratio=ratio))
    _lose_two_walkers(relinker, (-0.5, 0.5))
    # Both predictions are at (1.1, -0.5) and (1.1, 0.5); the new track is midway between them.
    ids = relinker.update(_ts(11), [7], [[1.1, 0.0]])
    assert ids.tolist() == expected_ids, why
    assert relinker.ambiguous == (1 if ratio < 1.0 else 0)


def test_a_clearly_nearest_lost_track_is_still_linked_with_the_ratio_test() -> None:
    relinker = TrackRelinker(RelinkParams(ambiguity_ratio=0.8))
    _lose_two_walkers(relinker, (0.0, 2.0))
    ids = relinker.update(_ts(11), [7], [[1.1, 0.1]])  # 0.1 m from track 1's prediction, 1.9 m from 2's
    assert ids.tolist() == [1]
    assert (relinker.relinks, relinker.ambiguous) == (1, 0)


def test_two_new_tracks_equally_close_to_one_lost_track_get_fresh_ids() -> None:
    relinker = TrackRelinker(RelinkParams(ambiguity_ratio=0.8))
    for f in range(10):
        relinker.update(_ts(f), [1], [_walk((0.0, 0.0), (1.0, 0.0), f)])
    relinker.update(_ts(10), [], np.empty((0, 2)))
    ids = relinker.update(_ts(11), [7, 8], [[1.1, -0.4], [1.1, 0.4]])
    assert sorted(ids.tolist()) == [2, 3]
    assert relinker.relinks == 0


def test_ambiguity_ratio_must_be_a_share() -> None:
    with pytest.raises(ValueError, match="ambiguity_ratio"):
        RelinkParams(ambiguity_ratio=1.5)
