"""track_points in chDB holds every calibrated observation as its event says, ids included."""

from __future__ import annotations

import itertools

from ops.bench.synthetic_tracks import synthetic_events
from projections.batch import SealedBatch
from projections.projection import SeqEvent
from projections.store import ChdbStore
from projections.track_points import TrackPointsProjection
from schemas.events import AnyEvent, Track, TrackFrame

NOW_NS = 1_795_000_000_000_000_000  # 2026-11-18: inside the 30-day TTL for years of test runs


def _uncalibrated(event: AnyEvent) -> AnyEvent:
    """store-b's cam-1 frames as a camera without a floor calibration sends them: no floor positions."""
    if not (isinstance(event, TrackFrame) and event.store_id == "store-b" and event.camera_id == "cam-1"):
        return event
    frame = event
    tracks = tuple(Track(t.track_id, t.x1, t.y1, t.x2, t.y2, t.score) for t in frame.tracks)
    return TrackFrame(store_id=frame.store_id, ts_ns=frame.ts_ns, camera_id=frame.camera_id,
                      edge_run_id="run-b", frame_seq=frame.frame_seq, tracks=tracks)  # fmt: skip


def test_stored_rows_carry_each_frames_ids_time_and_floor_position(store: ChdbStore) -> None:
    # Two stores, two cameras each, interleaved frame by frame; one camera uncalibrated (its rows are left out).
    a = synthetic_events(30, 4, seed=1, cameras=2, store_id="store-a", t0_ns=NOW_NS)
    b = synthetic_events(30, 3, seed=2, cameras=2, store_id="store-b", t0_ns=NOW_NS + 7)
    events = [_uncalibrated(e) for pair in itertools.zip_longest(a, b) for e in pair if e is not None]
    seq_events = [SeqEvent(seq, e) for seq, e in enumerate(events, start=1)]
    projection = TrackPointsProjection()
    rows = projection.fold(seq_events, {}).rows["track_points"]
    store.execute(projection.table_ddl()["track_points"].format(db=store.database, table="track_points"))
    store.insert(SealedBatch("test", "track_points", 1, len(events), rows))

    expected = sorted(
        [e.store_id, e.camera_id, e.edge_run_id, t.track_id, e.ts_ns, round(t.floor_x_m, 4), round(t.floor_y_m, 4), seq]
        for seq, e in enumerate(events, start=1)
        if isinstance(e, TrackFrame)
        for t in e.tracks
        if t.floor_x_m is not None and t.floor_y_m is not None
    )
    stored = store.query_rows(
        "SELECT store_id, camera_id, edge_run_id, track_id, toUnixTimestamp64Nano(ts), round(x_m, 4), "
        f"round(y_m, 4), stream_seq FROM {store.database}.track_points ORDER BY ALL"
    )
    assert len(expected) > 100
    assert {row[0] for row in expected} == {"store-a", "store-b"}
    assert [[s, c, r, int(tid), int(ts), x, y, int(seq)] for s, c, r, tid, ts, x, y, seq in stored] == expected
