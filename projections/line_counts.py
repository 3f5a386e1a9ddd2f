"""Fold TrackFrames into entries and exits per counting line per 5-minute bucket.

A crossing is a step between two consecutive floor positions of one track
that crosses the line segment; "in" when the step ends on the line's inward
side. Pure: the result depends only on the frames and layouts given.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pyarrow as pa

from ml_core.geometry.lines import crosses_segment
from projections.layouts import LayoutHistory
from schemas.events import TrackClosed, TrackFrame

VERSION = "line_counts-1"
BUCKET_NS = 300 * 1_000_000_000

TrackKey = tuple[str, str, int]  # camera_id, edge_run_id, track_id
BucketKey = tuple[str, str, int, int]  # store_id, line_id, layout_version, bucket_start_s


class LineCountsFold:
    """Per-track last floor position (the fold's state) and the crossings found so far."""

    def __init__(self) -> None:
        self._last: dict[TrackKey, tuple[float, float]] = {}

    def apply(self, events: list[TrackFrame | TrackClosed], layouts: dict[str, LayoutHistory]) -> pa.Table:
        """Fold a batch of events (in log order) and return its line_counts rows."""
        counts: dict[BucketKey, list[int]] = defaultdict(lambda: [0, 0])
        for event in events:
            if isinstance(event, TrackClosed):
                self._last.pop((event.camera_id, event.edge_run_id, event.track_id), None)
                continue
            history = layouts.get(event.store_id)
            version, layout = history.at(event.ts_ns) if history is not None else (0, None)
            keys, starts, ends = [], [], []
            for track in event.tracks:
                if track.floor_x_m is None or track.floor_y_m is None:
                    continue
                key = (event.camera_id, event.edge_run_id, track.track_id)
                here = (track.floor_x_m, track.floor_y_m)
                before = self._last.get(key)
                self._last[key] = here
                if before is not None:
                    keys.append(key)
                    starts.append(before)
                    ends.append(here)
            if layout is None or not starts:
                continue
            start_arr, end_arr = np.array(starts), np.array(ends)
            bucket_s = (event.ts_ns // BUCKET_NS) * (BUCKET_NS // 1_000_000_000)
            for line in layout.lines:
                sides = crosses_segment(start_arr, end_arr, line.a, line.b)
                inward = 1 if line.inward == "left" else -1
                n_in = int(np.count_nonzero(sides == inward))
                n_out = int(np.count_nonzero(sides == -inward))
                if n_in or n_out:
                    row = counts[(event.store_id, line.line_id, version, bucket_s)]
                    row[0] += n_in
                    row[1] += n_out
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
