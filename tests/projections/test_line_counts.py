"""The line_counts fold: crossings by direction and bucket, layouts by event time, dedup in chDB."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml_core.geometry.lines import crosses_segment
from projections.batch import SealedBatch
from projections.layouts import LayoutHistory
from projections.line_counts import LineCountsProjection
from projections.migrations import migrate
from projections.projection import SeqEvent
from projections.store import ChdbStore, StoreError
from schemas import AnyEvent, LayoutPublished, StoreLayout, Track, TrackClosed, TrackFrame
from schemas.layout import CountingLine

LINE = CountingLine("door", (0.0, 1.0), (4.0, 1.0), "left")  # inside is y > 1
LAYOUT = StoreLayout(lines=(LINE,))
T0 = 1_767_261_600_000_000_000  # 10:00:00Z, a bucket start
SECOND = 1_000_000_000


def _frame(seq: int, ts_ns: int, *positions: tuple[int, float, float]) -> TrackFrame:
    tracks = tuple(Track(tid, 0.1, 0.1, 0.2, 0.2, 0.9, floor_x_m=x, floor_y_m=y) for tid, x, y in positions)
    return TrackFrame(store_id="s", ts_ns=ts_ns, camera_id="c", edge_run_id="r", frame_seq=seq, tracks=tracks)


def _fold(events: list[AnyEvent], layouts: dict[str, LayoutHistory], fold: LineCountsProjection | None = None):
    fold = fold or LineCountsProjection()
    return fold.fold([SeqEvent(i + 1, e) for i, e in enumerate(events)], layouts).rows["line_counts"]


def _history(*versions: tuple[int, int, StoreLayout]) -> dict[str, LayoutHistory]:
    history = LayoutHistory("s")
    for version, start, layout in versions:
        history.add(LayoutPublished(store_id="s", ts_ns=0, version=version, effective_from_ns=start, layout=layout))
    return {"s": history}


# (case, per-frame y positions of track 1 at x = 2, expected (entries, exits))
WALKS = [
    ("walks in", [0.5, 0.9, 1.2, 2.0], (1, 0)),
    ("walks out", [2.0, 1.1, 0.8], (0, 1)),
    ("in and back out", [0.5, 1.5, 0.5], (1, 1)),
    ("stays outside", [0.2, 0.5, 0.9, 0.5], (0, 0)),
    ("touches the line only", [0.5, 1.0, 0.5], (0, 0)),
]


@pytest.mark.parametrize(("ys", "expected"), [w[1:] for w in WALKS], ids=[w[0] for w in WALKS])
def test_crossings_by_direction(ys: list[float], expected: tuple[int, int]) -> None:
    frames = [_frame(i, T0 + i * SECOND, (1, 2.0, y)) for i, y in enumerate(ys)]
    rows = _fold(list(frames), _history((1, 0, LAYOUT))).to_pylist()
    got = (sum(r["entries"] for r in rows), sum(r["exits"] for r in rows))
    assert got == expected


def test_crossing_beside_the_segment_does_not_count() -> None:
    frames = [_frame(0, T0, (1, 6.0, 0.5)), _frame(1, T0 + SECOND, (1, 6.0, 1.5))]
    assert _fold(list(frames), _history((1, 0, LAYOUT))).num_rows == 0


def test_layout_is_chosen_by_event_time_not_arrival() -> None:
    moved = StoreLayout(lines=(CountingLine("door", (0.0, 3.0), (4.0, 3.0), "left"),))
    history = _history((2, T0 + 10 * SECOND, moved), (1, 0, LAYOUT))  # version 2 published first
    early = [_frame(0, T0, (1, 2.0, 0.5)), _frame(1, T0 + SECOND, (1, 2.0, 1.5))]
    late = [_frame(2, T0 + 20 * SECOND, (2, 2.0, 2.5)), _frame(3, T0 + 21 * SECOND, (2, 2.0, 3.5))]
    rows = _fold([*early, *late], history).to_pylist()
    assert [(r["layout_version"], r["entries"]) for r in rows] == [(1, 1), (2, 1)]


def test_closed_track_forgets_its_position() -> None:
    fold = LineCountsProjection()
    closed = TrackClosed(store_id="s", ts_ns=T0, camera_id="c", edge_run_id="r", track_id=1, first_ts_ns=0,
                         last_ts_ns=T0)  # fmt: skip
    events = [_frame(0, T0, (1, 2.0, 0.5)), closed, _frame(1, T0 + SECOND, (1, 2.0, 1.5))]
    assert _fold(events, _history((1, 0, LAYOUT)), fold).num_rows == 0


@given(
    starts=st.lists(st.integers(0, 100), min_size=1, max_size=5, unique=True),
    times=st.lists(st.integers(-5, 110), max_size=30),
)
def test_versions_at_agrees_with_at(starts: list[int], times: list[int]) -> None:
    """The batch lookup the fold uses gives what the per-event lookup gives, before, between and on the starts."""
    history = _history(*((version, start, LAYOUT) for version, start in enumerate(reversed(starts), start=1)))["s"]
    assert history.versions_at(np.asarray(times, dtype=np.int64)).tolist() == [history.at(t)[0] for t in times]


def test_no_layout_no_counts() -> None:
    frames = [_frame(0, T0, (1, 2.0, 0.5)), _frame(1, T0 + SECOND, (1, 2.0, 1.5))]
    assert _fold(list(frames), {}).num_rows == 0


def test_crosses_segment_checks_shapes() -> None:
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        crosses_segment(np.zeros(3), np.zeros(3), (0, 0), (1, 0))


def test_history_refuses_conflicting_republish() -> None:
    history = _history((1, 0, LAYOUT))["s"]
    other = LayoutPublished(store_id="s", ts_ns=0, version=1, effective_from_ns=5, layout=LAYOUT)
    with pytest.raises(ValueError, match="published twice"):
        history.add(other)


def test_snapshot_restores_an_equal_state() -> None:
    fold = LineCountsProjection()
    _fold([_frame(0, T0, (1, 2.0, 0.5), (2, 3.0, 2.0))], _history((1, 0, LAYOUT)), fold)
    other = LineCountsProjection()
    other.restore(fold.snapshot())
    assert other.snapshot() == fold.snapshot()
    rows = _fold([_frame(1, T0 + SECOND, (1, 2.0, 1.5))], _history((1, 0, LAYOUT)), other)
    assert rows.to_pylist()[0]["entries"] == 1


def test_migrations_are_idempotent_and_insert_dedups(store: ChdbStore) -> None:
    assert [m.name for m in migrate(store)] == ["projection_checkpoints", "projection_versions"]
    assert migrate(store) == []
    projection = LineCountsProjection()
    store.execute(projection.table_ddl()["line_counts"].format(db=store.database, table="line_counts"))
    frames = [_frame(0, T0, (1, 2.0, 0.5)), _frame(1, T0 + SECOND, (1, 2.0, 1.5))]
    rows = _fold(list(frames), _history((1, 0, LAYOUT)))
    store.insert(SealedBatch("line_counts", "line_counts", 1, 2, rows))
    store.insert(SealedBatch("line_counts", "line_counts", 1, 2, rows))  # a crash-replayed batch
    assert store.query_rows(f"SELECT sum(entries) FROM {store.database}.line_counts") == [[1]]


def test_store_errors_are_translated(store: ChdbStore) -> None:
    with pytest.raises(StoreError, match="UNKNOWN_TABLE"):
        store.query_rows(f"SELECT * FROM {store.database}.missing")


def _reference_counts(events: list[AnyEvent], layout: StoreLayout) -> dict[tuple[int, str], int]:
    """The obvious per-step loop, for comparison with the vectorised fold."""
    last: dict[tuple[str, str, int], tuple[float, float]] = {}
    out: dict[tuple[int, str], int] = {}
    for event in events:
        if isinstance(event, TrackClosed):
            last.pop((event.camera_id, event.edge_run_id, event.track_id), None)
            continue
        assert isinstance(event, TrackFrame)
        for track in event.tracks:
            key = (event.camera_id, event.edge_run_id, track.track_id)
            here = (track.floor_x_m, track.floor_y_m)
            before = last.get(key)
            last[key] = here  # type: ignore[assignment]
            if before is None:
                continue
            for line in layout.lines:
                side = int(crosses_segment(np.array([before]), np.array([here]), line.a, line.b)[0])
                if side:
                    inward = 1 if line.inward == "left" else -1
                    bucket = (event.ts_ns // 300_000_000_000) * 300
                    direction = "in" if side == inward else "out"
                    out[(bucket, direction)] = out.get((bucket, direction), 0) + 1
    return out


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_vectorised_fold_equals_reference_for_any_batch_split(data: st.DataObject) -> None:
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    rng = np.random.default_rng(seed)
    events: list[AnyEvent] = []
    positions = {tid: rng.uniform([0.0, 0.0], [4.0, 2.0]) for tid in range(1, 6)}
    for seq in range(data.draw(st.integers(1, 60), label="frames")):
        tracks = []
        for tid, old in list(positions.items()):
            pos = positions[tid] = old + rng.normal(0.0, 0.4, 2)
            if rng.random() < 0.9:  # sometimes missed
                tracks.append(Track(tid, 0.1, 0.1, 0.2, 0.2, 0.9, floor_x_m=float(pos[0]), floor_y_m=float(pos[1])))
        camera = "c" if seq % 3 else "d"  # two cameras with the same track ids
        events.append(TrackFrame(store_id="s", ts_ns=T0 + seq * 7 * SECOND, camera_id=camera, edge_run_id="r",
                                 frame_seq=seq, tracks=tuple(tracks)))  # fmt: skip
        if rng.random() < 0.15:  # close a track; its id may come back (a third-party sensor might reuse it)
            tid = int(rng.integers(1, 6))
            events.append(TrackClosed(store_id="s", ts_ns=T0 + seq * 7 * SECOND, camera_id=camera,
                                      edge_run_id="r", track_id=tid, first_ts_ns=0, last_ts_ns=T0))  # fmt: skip
    cuts = sorted(set(data.draw(st.lists(st.integers(1, max(1, len(events) - 1)), max_size=5), label="cuts")))
    fold = LineCountsProjection()
    history = _history((1, 0, LAYOUT))
    got: dict[tuple[int, str], int] = {}
    for start, end in zip([0, *cuts], [*cuts, len(events)], strict=True):
        chunk = [SeqEvent(i + 1, e) for i, e in enumerate(events) if start <= i < end]
        if not chunk:
            continue
        restored = LineCountsProjection()
        restored.restore(fold.snapshot())  # every batch starts from a snapshot, as after a restart
        fold = restored
        for row in fold.fold(chunk, history).rows["line_counts"].to_pylist():
            bucket = int(row["bucket_start"].timestamp())
            for direction, column in (("in", "entries"), ("out", "exits")):
                if row[column]:
                    got[(bucket, direction)] = got.get((bucket, direction), 0) + row[column]
    assert got == _reference_counts(events, LAYOUT), f"seed {seed}"


def _crosses_reference(start: np.ndarray, end: np.ndarray, a: tuple[float, float], b: tuple[float, float]) -> list[int]:
    """The array formulation crosses_segment had before its numba kernel, kept as the oracle."""

    def side(points: np.ndarray) -> np.ndarray:
        return np.sign((b[0] - a[0]) * (points[:, 1] - a[1]) - (b[1] - a[1]) * (points[:, 0] - a[0])).astype(np.int8)

    s0, s1 = side(start), side(end)
    step = end - start
    oa = step[:, 0] * (a[1] - start[:, 1]) - step[:, 1] * (a[0] - start[:, 0])
    ob = step[:, 0] * (b[1] - start[:, 1]) - step[:, 1] * (b[0] - start[:, 0])
    return np.where(((s0 * s1) < 0) & ((oa * ob) <= 0), s1, 0).astype(np.int8).tolist()


_COORD = st.floats(-10, 10, allow_nan=False).map(lambda v: round(v, 1))  # on-line and end-point ties happen


@given(
    steps=st.lists(st.tuples(_COORD, _COORD, _COORD, _COORD), max_size=40),
    line=st.tuples(_COORD, _COORD, _COORD, _COORD),
)
def test_crosses_segment_matches_the_array_formulation(
    steps: list[tuple[float, float, float, float]], line: tuple[float, float, float, float]
) -> None:
    arr = np.asarray(steps, dtype=np.float64).reshape(-1, 4)
    start, end = arr[:, :2], arr[:, 2:]
    a, b = (line[0], line[1]), (line[2], line[3])
    assert crosses_segment(start, end, a, b).tolist() == _crosses_reference(start, end, a, b)
