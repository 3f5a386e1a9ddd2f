"""Heatmap: presence seconds and distinct tracks per floor cell per 5-minute bucket, from FF_TRACKS.

Each observation after a track's first adds the time since that track's
previous observation (at most MAX_GAP_NS) to the cell it is in. Rows keep
the track, so distinct tracks are exact for any bucket at query time; the
shared view hides cells with fewer than K_ANONYMITY distinct tracks.
"""

from __future__ import annotations

import math
from collections import defaultdict

import msgspec
import pyarrow as pa

from projections.derived import K_ANONYMITY, bucket_start_s
from projections.layouts import LayoutHistory
from projections.projection import DEDUP_SETTINGS, FoldResult, Rejected, SeqEvent
from schemas.events import TrackClosed, TrackFrame

CELL_M = 0.5
MAX_GAP_NS = 2_000_000_000

DDL = f"""
CREATE TABLE IF NOT EXISTS {{db}}.{{table}} (
    store_id LowCardinality(String),
    layout_version UInt32,
    bucket_start DateTime('UTC'),
    cell_m Float32 COMMENT 'cell size, metres',
    cell_x Int32 COMMENT 'floor(x / cell_m)',
    cell_y Int32 COMMENT 'floor(y / cell_m)',
    track String COMMENT 'camera:edge_run:track_id',
    presence_s Float64 COMMENT 'seconds'
) ENGINE = MergeTree
ORDER BY (store_id, layout_version, bucket_start, cell_x, cell_y, track)
SETTINGS {DEDUP_SETTINGS}
"""

SHARED_VIEW = f"""
CREATE VIEW IF NOT EXISTS {{db}}.shared_heatmap AS
SELECT store_id, layout_version, bucket_start, cell_m, cell_x, cell_y,
       sum(presence_s) AS presence_s, uniqExact(track) AS tracks
FROM {{db}}.heatmap
GROUP BY store_id, layout_version, bucket_start, cell_m, cell_x, cell_y
HAVING tracks >= {K_ANONYMITY}
"""


class _State(msgspec.Struct, array_like=True):
    last: list[tuple[str, int]]


class HeatmapProjection:
    """Track observations -> heatmap rows; state: each open track's last observation ts_ns."""

    name = "heatmap"
    version = "1"
    stream = "FF_TRACKS"
    filter_subject: str | None = None

    def __init__(self, cell_m: float = CELL_M) -> None:
        if not 0.05 <= cell_m <= 100.0:
            raise ValueError(f"cell_m must be in [0.05, 100] metres, got {cell_m}")
        self.cell_m = cell_m
        self._last: dict[str, int] = {}

    def table_ddl(self) -> dict[str, str]:
        return {"heatmap": DDL}

    def view_ddl(self) -> dict[str, str]:
        return {"shared_heatmap": SHARED_VIEW}

    def reset(self) -> None:
        self._last = {}

    def snapshot(self) -> bytes:
        return msgspec.msgpack.encode(_State(sorted(self._last.items())))

    def restore(self, data: bytes) -> None:
        self._last = dict(msgspec.msgpack.decode(data, type=_State).last)

    def fold(self, events: list[SeqEvent], layouts: dict[str, LayoutHistory]) -> FoldResult:
        cells: dict[tuple[str, int, int, int, int, str], int] = defaultdict(int)
        rejected = []
        for item in events:
            event = item.event
            if isinstance(event, TrackClosed):
                self._last.pop(f"{event.camera_id}:{event.edge_run_id}:{event.track_id}", None)
                continue
            if not isinstance(event, TrackFrame):
                rejected.append(Rejected(item.stream_seq, f"heatmap cannot fold {type(event).__name__}"))
                continue
            history = layouts.get(event.store_id)
            version = history.at(event.ts_ns)[0] if history is not None else 0
            bucket = bucket_start_s(event.ts_ns)
            for track in event.tracks:
                if track.floor_x_m is None or track.floor_y_m is None:
                    continue
                key = f"{event.camera_id}:{event.edge_run_id}:{track.track_id}"
                prev = self._last.get(key)
                self._last[key] = event.ts_ns
                dt = 0 if prev is None else min(max(event.ts_ns - prev, 0), MAX_GAP_NS)
                cx, cy = math.floor(track.floor_x_m / self.cell_m), math.floor(track.floor_y_m / self.cell_m)
                cells[(event.store_id, version, bucket, cx, cy, key)] += dt
        ordered = sorted(cells.items())
        table = pa.table(
            {
                "store_id": pa.array([k[0] for k, _ in ordered], pa.string()),
                "layout_version": pa.array([k[1] for k, _ in ordered], pa.uint32()),
                "bucket_start": pa.array([k[2] for k, _ in ordered], pa.timestamp("s", tz="UTC")),
                "cell_m": pa.array([self.cell_m] * len(ordered), pa.float32()),
                "cell_x": pa.array([k[3] for k, _ in ordered], pa.int32()),
                "cell_y": pa.array([k[4] for k, _ in ordered], pa.int32()),
                "track": pa.array([k[5] for k, _ in ordered], pa.string()),
                "presence_s": pa.array([v / 1e9 for _, v in ordered], pa.float64()),
            }
        )
        return FoldResult({"heatmap": table}, rejected)
