"""A batch decoded from the log into columns equals the batch built from decoded events, whatever path each took."""

from __future__ import annotations

import msgspec
import numpy as np

from ops.bench.synthetic_tracks import layout_event, synthetic_events
from projections.columns import TrackBatch
from projections.layouts import LayoutHistory
from projections.line_counts import LineCountsProjection
from projections.projection import SeqEvent
from projections.track_points import TrackPointsProjection
from schemas.codec import decode, encode
from schemas.events import EdgeStatus, TrackFrame


def _assert_same(a: TrackBatch, b: TrackBatch) -> None:
    for name in ("frame", "track_id", "x_m", "y_m", "ts_ns", "frame_seq", "stream_seq"):
        assert np.array_equal(getattr(a.columns, name), getattr(b.columns, name)), name
    for name in ("store_id", "camera_id", "edge_run_id"):
        assert getattr(a.columns, name) == getattr(b.columns, name), name
    assert a.closed == b.closed
    assert a.other == b.other


def _non_canonical(frame: TrackFrame) -> bytes:
    """The same frame with an extra field: valid for the codec, left by the fast path to it."""
    body = msgspec.to_builtins(frame)
    body["added_by_a_newer_writer"] = [1, 2]
    return msgspec.msgpack.encode(body)


def test_from_messages_equals_from_events_with_slow_frames_and_bad_messages_mixed_in() -> None:
    events = list(synthetic_events(40, 6, seed=3, cameras=2))
    status = EdgeStatus(store_id="store-1", ts_ns=1, camera_id="cam-0", edge_run_id="r", status_seq=1, fps=10.0,
                        frames_processed=1, frames_dropped=0, buffer_purges=0, buffer_max_age_s=60.0,
                        events_spooled=0, events_dropped=0, detector="mog2", tracker="bytetrack")  # fmt: skip
    messages: list[tuple[int, bytes]] = []
    expected: list[SeqEvent] = []
    bad_seqs = []
    status_seq = 0
    seq = 0
    for i, event in enumerate(events):
        seq += 1
        if isinstance(event, TrackFrame) and i % 7 == 3:
            messages.append((seq, _non_canonical(event)))  # decoded by the codec, merged in at its position
        else:
            messages.append((seq, encode(event)))
        expected.append(SeqEvent(seq, event))
        if i % 11 == 5:
            seq += 1
            messages.append((seq, b"\x93\x01\x02"))  # not an event: rejected, nothing else moves
            bad_seqs.append(seq)
        if i == 20:
            seq += 1
            messages.append((seq, encode(status)))
            expected.append(SeqEvent(seq, status))
            status_seq = seq
    batch, rejected = TrackBatch.from_payloads([seq for seq, _ in messages], [data for _, data in messages])
    _assert_same(batch, TrackBatch.from_events(expected))
    assert [r.stream_seq for r in rejected] == bad_seqs
    assert all("malformed" in r.reason or "Expected" in r.reason for r in rejected)
    assert batch.closed  # TrackClosed events kept their positions (compared above)
    assert batch.other == [SeqEvent(status_seq, status)]


def test_folds_give_the_same_rows_from_messages_and_from_events() -> None:
    events = [layout_event(), *synthetic_events(60, 8, seed=4)]  # frames cross the door line
    messages = [(seq, encode(e)) for seq, e in enumerate(events, start=1)]
    seq_events = [SeqEvent(seq, decode(data)) for seq, data in messages]
    layout = layout_event()
    layouts = {layout.store_id: LayoutHistory(layout.store_id)}
    layouts[layout.store_id].add(layout)
    tracks_only = messages[1:]
    for make in (LineCountsProjection, TrackPointsProjection):
        by_events, by_messages = make(), make()
        a = by_events.fold(seq_events[1:], layouts)
        batch, rejected = TrackBatch.from_payloads([seq for seq, _ in tracks_only], [data for _, data in tracks_only])
        b = by_messages.fold_tracks(batch, layouts)
        assert not rejected
        assert {k: v.to_pylist() for k, v in a.rows.items()} == {k: v.to_pylist() for k, v in b.rows.items()}
        assert by_events.snapshot() == by_messages.snapshot()
