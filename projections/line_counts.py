"""Fold TrackFrames into entries and exits per counting line per 5-minute bucket.

A crossing is a step between two consecutive floor positions of one track
that crosses the line segment; "in" when the step ends on the line's inward
side. Pure: the result depends only on the frames, the layouts and the state.
"""

from __future__ import annotations

from collections import defaultdict

import msgspec
import numpy as np
import pyarrow as pa

from ml_core.geometry.lines import crosses_segment
from projections.layouts import LayoutHistory
from projections.projection import DEDUP_SETTINGS, FoldResult, Rejected, SeqEvent
from schemas.events import TrackClosed, TrackFrame

BUCKET_NS = 300 * 1_000_000_000

TrackKey = tuple[str, str, int]  # camera_id, edge_run_id, track_id
BucketKey = tuple[str, str, int, int]  # store_id, line_id, layout_version, bucket_start_s

DDL = f"""
CREATE TABLE IF NOT EXISTS {{db}}.{{table}} (
    store_id LowCardinality(String),
    line_id LowCardinality(String),
    layout_version UInt32,
    bucket_start DateTime('UTC') COMMENT 'start of the 5-minute bucket',
    entries UInt64,
    exits UInt64
) ENGINE = SummingMergeTree((entries, exits))
ORDER BY (store_id, line_id, layout_version, bucket_start)
SETTINGS {DEDUP_SETTINGS}
"""


class _State(msgspec.Struct, array_like=True):
    last: list[tuple[str, str, int, float, float]]


class LineCountsProjection:
    """Entries and exits per counting line; state: each open track's last floor position (metres)."""

    name = "line_counts"
    version = "1"
    stream = "FF_TRACKS"
    filter_subject: str | None = None

    def __init__(self) -> None:
        self._last: dict[TrackKey, tuple[float, float]] = {}

    def table_ddl(self) -> dict[str, str]:
        return {"line_counts": DDL}

    def reset(self) -> None:
        self._last = {}

    def snapshot(self) -> bytes:
        # Sorted, so equal states give equal bytes.
        return msgspec.msgpack.encode(_State([(*k, *v) for k, v in sorted(self._last.items())]))

    def restore(self, data: bytes) -> None:
        state = msgspec.msgpack.decode(data, type=_State)
        self._last = {(c, r, t): (x, y) for c, r, t, x, y in state.last}

    def fold(self, events: list[SeqEvent], layouts: dict[str, LayoutHistory]) -> FoldResult:
        counts: dict[BucketKey, list[int]] = defaultdict(lambda: [0, 0])
        rejected = []
        for item in events:
            event = item.event
            if isinstance(event, TrackClosed):
                self._last.pop((event.camera_id, event.edge_run_id, event.track_id), None)
                continue
            if not isinstance(event, TrackFrame):
                rejected.append(Rejected(item.stream_seq, f"line_counts cannot fold {type(event).__name__}"))
                continue
            self._fold_frame(event, layouts, counts)
        return FoldResult({"line_counts": _rows(counts)}, rejected)

    def _fold_frame(
        self, frame: TrackFrame, layouts: dict[str, LayoutHistory], counts: dict[BucketKey, list[int]]
    ) -> None:
        history = layouts.get(frame.store_id)
        version, layout = history.at(frame.ts_ns) if history is not None else (0, None)
        starts, ends = [], []
        for track in frame.tracks:
            if track.floor_x_m is None or track.floor_y_m is None:
                continue
            key = (frame.camera_id, frame.edge_run_id, track.track_id)
            here = (track.floor_x_m, track.floor_y_m)
            before = self._last.get(key)
            self._last[key] = here
            if before is not None:
                starts.append(before)
                ends.append(here)
        if layout is None or not starts or not layout.lines:
            return
        start_arr, end_arr = np.array(starts), np.array(ends)
        bucket_s = (frame.ts_ns // BUCKET_NS) * (BUCKET_NS // 1_000_000_000)
        for line in layout.lines:
            sides = crosses_segment(start_arr, end_arr, line.a, line.b)
            inward = 1 if line.inward == "left" else -1
            n_in = int(np.count_nonzero(sides == inward))
            n_out = int(np.count_nonzero(sides == -inward))
            if n_in or n_out:
                row = counts[(frame.store_id, line.line_id, version, bucket_s)]
                row[0] += n_in
                row[1] += n_out


def _rows(counts: dict[BucketKey, list[int]]) -> pa.Table:
    ordered = sorted(counts.items())
    return pa.table(
        {
            "store_id": pa.array([k[0] for k, _ in ordered], pa.string()),
            "line_id": pa.array([k[1] for k, _ in ordered], pa.string()),
            "layout_version": pa.array([k[2] for k, _ in ordered], pa.uint32()),
            "bucket_start": pa.array([k[3] for k, _ in ordered], pa.timestamp("s", tz="UTC")),
            "entries": pa.array([v[0] for _, v in ordered], pa.uint64()),
            "exits": pa.array([v[1] for _, v in ordered], pa.uint64()),
        }
    )
