"""Properties over random detection streams (hypothesis, fixed seed; the falsifying example is printed)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, seed, settings
from hypothesis import strategies as st

from ml_core.track import ByteTrack, ByteTrackParams

SEED = 20260521
# Boxes on a small canvas so that overlaps, crossings and duplicates are common.
BOX = st.tuples(
    st.floats(0.0, 200.0),
    st.floats(0.0, 200.0),
    st.floats(1.0, 80.0),
    st.floats(1.0, 120.0),
    st.floats(0.0, 1.0),
)
FRAMES = st.lists(st.lists(BOX, max_size=12), min_size=1, max_size=40)
PARAMS = st.builds(
    ByteTrackParams,
    track_buffer=st.integers(0, 10),
    fuse_score=st.booleans(),
    report_lost=st.booleans(),
)


@seed(SEED)
@settings(max_examples=150, deadline=None, print_blob=True)
@given(frames=FRAMES, params=PARAMS)
def test_ids_never_reused_and_boxes_finite(frames: list[list[tuple[float, ...]]], params: ByteTrackParams) -> None:
    tracker = ByteTrack(params, capacity=2)
    ended: set[int] = set()
    highest = 0
    for frame in frames:
        rows = np.array([[x, y, x + w, y + h] for x, y, w, h, _ in frame]).reshape(-1, 4)
        scores = np.array([s for *_, s in frame])
        out = tracker.update(rows, scores)
        ids = out.ids.tolist()
        assert len(ids) == len(set(ids)), f"duplicate ids in one frame: {ids}"
        assert not ended.intersection(ids), f"ended ids {sorted(ended.intersection(ids))} came back"
        assert np.isfinite(out.boxes_xyxy).all(), out.boxes_xyxy
        assert ((out.det_index >= -1) & (out.det_index < len(frame))).all()
        new = [i for i in ids if i > highest]
        assert new == sorted(new) and (not new or new[0] == highest + 1), f"ids not allocated in order: {ids}"
        highest = max([highest, *ids])
        ended.update(tracker.removed_ids.tolist())
