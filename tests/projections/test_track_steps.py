"""track_steps agrees with the plain sequential definition: last position per track, closes end a track."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from projections.track_steps import track_steps


def _reference(
    obs: list[tuple[int, int, int, float, float]],
    closes: list[tuple[int, int, int]],
    state: dict[tuple[int, int], tuple[float, float]],
) -> tuple[list[tuple[float, float] | None], dict[tuple[int, int], tuple[float, float]]]:
    last = dict(state)
    prev: list[tuple[float, float] | None] = []
    c = 0
    for frame, src, tid, x, y in obs:
        while c < len(closes) and closes[c][0] <= frame:
            last.pop((closes[c][1], closes[c][2]), None)
            c += 1
        prev.append(last.get((src, tid)))
        last[(src, tid)] = (x, y)
    for _, src, tid in closes[c:]:
        last.pop((src, tid), None)
    return prev, last


keys = st.tuples(st.integers(0, 2), st.sampled_from([0, 1, 7, 2**40, 2**63 - 1]))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 3), keys, st.floats(-50, 50), st.floats(-50, 50)), max_size=60),
    st.lists(st.tuples(st.integers(0, 25), keys), max_size=10),
    st.dictionaries(keys, st.tuples(st.floats(-50, 50), st.floats(-50, 50)), max_size=5),
)
def test_matches_the_sequential_definition(
    steps: list[tuple[int, tuple[int, int], float, float]],
    raw_closes: list[tuple[int, tuple[int, int]]],
    state: dict[tuple[int, int], tuple[float, float]],
) -> None:
    frame = np.cumsum([d for d, _, _, _ in steps], dtype=np.int64)  # non-decreasing frames
    obs = [(int(f), k[0], k[1], x, y) for f, (_, k, x, y) in zip(frame, steps, strict=True)]
    closes = sorted(((f, k[0], k[1]) for f, k in raw_closes), key=lambda c: c[0])
    expected_prev, expected_last = _reference(obs, closes, state)
    got = track_steps(
        np.array([o[1] for o in obs], dtype=np.int64),
        np.array([o[2] for o in obs], dtype=np.int64),
        frame,
        np.array([o[3] for o in obs], dtype=np.float64),
        np.array([o[4] for o in obs], dtype=np.float64),
        closes=closes,
        state=state,
    )
    for i, before in enumerate(expected_prev):
        assert bool(got.has_prev[i]) == (before is not None)
        if before is not None:
            assert (got.prev_x_m[i], got.prev_y_m[i]) == before
    assert got.open_last == expected_last


def test_observations_out_of_log_order_are_refused() -> None:
    with pytest.raises(ValueError, match="log order"):
        track_steps(
            np.zeros(2, dtype=np.int64), np.zeros(2, dtype=np.int64), np.array([1, 0]), np.zeros(2), np.zeros(2),
            closes=[], state={},
        )  # fmt: skip
