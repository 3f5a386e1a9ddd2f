"""Fold TrackFrames into entries and exits per counting line per 5-minute bucket.

A crossing is a step between two consecutive floor positions of one track
that crosses the line segment; "in" when the step ends on the line's inward
side. Pure: the result depends only on the frames, the layouts and the state.
"""

from __future__ import annotations

from collections import defaultdict

import msgspec
import numpy as np

from ml_core.geometry.lines import crosses_segment
from projections.columns import TrackBatch, TrackColumns
from projections.derived import BUCKET_NS
from projections.layouts import LayoutHistory
from projections.line_table import DDL, BucketKey, line_count_rows
from projections.projection import FoldResult, Rejected, SeqEvent
from projections.track_steps import track_steps

TrackKey = tuple[str, str, int]  # camera_id, edge_run_id, track_id


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
        return self.fold_tracks(TrackBatch.from_events(events), layouts)

    def fold_tracks(self, batch: TrackBatch, layouts: dict[str, LayoutHistory]) -> FoldResult:
        closed: dict[TrackKey, list[int]] = {}  # track -> frame positions (in this batch) it closed before
        for position, event in batch.closed:
            closed.setdefault((event.camera_id, event.edge_run_id, event.track_id), []).append(position)
        rejected = [
            Rejected(item.stream_seq, f"line_counts cannot fold {type(item.event).__name__}") for item in batch.other
        ]
        counts: dict[BucketKey, list[int]] = defaultdict(lambda: [0, 0])
        if len(batch.columns.ts_ns):
            self._fold_columns(batch.columns, closed, layouts, counts)
        else:
            for key in closed:
                self._last.pop(key, None)
        return FoldResult({"line_counts": line_count_rows(counts)}, rejected)

    def _fold_columns(
        self,
        cols: TrackColumns,
        closed: dict[TrackKey, list[int]],
        layouts: dict[str, LayoutHistory],
        counts: dict[BucketKey, list[int]],
    ) -> None:
        # Steps (previous -> current position) per track in log order; the first observation of a
        # track in the batch steps from the position carried in the state. A TrackClosed ends its
        # track: nothing after it steps from a position before it.
        source, sources = cols.frame_codes("camera_id", "edge_run_id")
        code_of = {value: code for code, value in enumerate(sources)}

        def code(camera: str, run: str) -> int:
            return code_of.setdefault((camera, run), len(code_of))

        closes = sorted(
            ((position, code(c, r), t) for (c, r, t), positions in closed.items() for position in positions),
            key=lambda close: close[0],
        )
        carried = {(code(c, r), t): xy for (c, r, t), xy in self._last.items()}
        steps = track_steps(
            source[cols.frame], cols.track_id, cols.frame, cols.x_m, cols.y_m, closes=closes, state=carried
        )
        names = list(code_of)
        self._last = {(names[s][0], names[s][1], t): xy for (s, t), xy in steps.open_last.items()}
        has_prev = steps.has_prev
        step_frames = cols.frame[has_prev]
        start = np.stack([steps.prev_x_m[has_prev], steps.prev_y_m[has_prev]], axis=1)
        end = np.stack([cols.x_m[has_prev], cols.y_m[has_prev]], axis=1)
        # Group the steps by the layout in force at their frame.
        bucket_s = (cols.ts_ns // BUCKET_NS) * (BUCKET_NS // 1_000_000_000)
        store_code, stores = cols.frame_codes("store_id")
        versions = np.zeros(len(cols.ts_ns), dtype=np.int64)  # 0: the store has no layout yet
        for number, (store_id,) in enumerate(stores):
            if (history := layouts.get(store_id)) is not None:
                in_store = store_code == number
                versions[in_store] = history.versions_at(cols.ts_ns[in_store])
        group_of_frame = store_code * (int(versions.max(initial=0)) + 1) + versions
        # Per frame, not per step: a few thousand frames, where there are a hundred times more steps. A
        # group whose frames have no steps finds no crossings.
        for group in np.unique(group_of_frame).tolist():
            sample = int(np.flatnonzero(group_of_frame == group)[0])
            store_id, version = stores[int(store_code[sample])][0], int(versions[sample])
            layout = layouts[store_id].version(version) if version else None
            if layout is None or not layout.lines:
                continue
            mask = group_of_frame[step_frames] == group
            step_buckets = bucket_s[step_frames[mask]]
            for line in layout.lines:
                sides = crosses_segment(start[mask], end[mask], line.a, line.b)
                inward = 1 if line.inward == "left" else -1
                for direction, column in ((inward, 0), (-inward, 1)):
                    hit_buckets, hits = np.unique(step_buckets[sides == direction], return_counts=True)
                    for b, n in zip(hit_buckets.tolist(), hits.tolist(), strict=True):
                        counts[(store_id, line.line_id, version, b)][column] += n
