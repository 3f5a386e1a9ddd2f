"""Raw floor positions of every track observation (metres), kept for the retention period (TTL)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from projections.layouts import LayoutHistory
from projections.projection import DEDUP_SETTINGS, FoldResult, Rejected, SeqEvent
from schemas.events import TrackClosed, TrackFrame

RETENTION_DAYS = 30

DDL = f"""
CREATE TABLE IF NOT EXISTS {{db}}.{{table}} (
    store_id LowCardinality(String),
    camera_id LowCardinality(String),
    edge_run_id LowCardinality(String),
    track_id UInt64,
    ts DateTime64(9, 'UTC'),
    x_m Float32 COMMENT 'floor metres',
    y_m Float32 COMMENT 'floor metres',
    stream_seq UInt64
) ENGINE = MergeTree
PARTITION BY toYYYYMMDD(ts)
ORDER BY (store_id, camera_id, ts, track_id)
TTL toDateTime(ts) + INTERVAL {RETENTION_DAYS} DAY
SETTINGS {DEDUP_SETTINGS}
"""

_SCHEMA = pa.schema(
    [
        ("store_id", pa.string()),
        ("camera_id", pa.string()),
        ("edge_run_id", pa.string()),
        ("track_id", pa.uint64()),
        ("ts", pa.timestamp("ns", tz="UTC")),
        ("x_m", pa.float32()),
        ("y_m", pa.float32()),
        ("stream_seq", pa.uint64()),
    ]
)


class TrackPointsProjection:
    """One row per calibrated track observation; stateless."""

    name = "track_points"
    version = "1"
    stream = "FF_TRACKS"
    filter_subject: str | None = None

    def table_ddl(self) -> dict[str, str]:
        return {"track_points": DDL}

    def reset(self) -> None:
        pass

    def snapshot(self) -> bytes:
        return b""

    def restore(self, data: bytes) -> None:
        pass

    def fold(self, events: list[SeqEvent], layouts: dict[str, LayoutHistory]) -> FoldResult:
        # Columns are gathered per frame and repeated per track, so the Python work is one loop over tracks.
        store, camera, run, counts, ts, seqs = [], [], [], [], [], []
        track_ids: list[int] = []
        xs: list[float] = []
        ys: list[float] = []
        rejected = []
        for item in events:
            frame = item.event
            if isinstance(frame, TrackClosed):
                continue
            if not isinstance(frame, TrackFrame):
                rejected.append(Rejected(item.stream_seq, f"track_points cannot fold {type(frame).__name__}"))
                continue
            n = 0
            for track in frame.tracks:
                if track.floor_x_m is not None and track.floor_y_m is not None:
                    track_ids.append(track.track_id)
                    xs.append(track.floor_x_m)
                    ys.append(track.floor_y_m)
                    n += 1
            if n:
                store.append(frame.store_id)
                camera.append(frame.camera_id)
                run.append(frame.edge_run_id)
                ts.append(frame.ts_ns)
                seqs.append(item.stream_seq)
                counts.append(n)
        repeat = np.asarray(counts, dtype=np.int64)
        table = pa.table(
            [
                pa.array(np.repeat(np.asarray(store, dtype=object), repeat), pa.string()),
                pa.array(np.repeat(np.asarray(camera, dtype=object), repeat), pa.string()),
                pa.array(np.repeat(np.asarray(run, dtype=object), repeat), pa.string()),
                pa.array(np.asarray(track_ids, dtype=np.uint64)),
                pa.array(np.repeat(np.asarray(ts, dtype=np.int64), repeat), pa.timestamp("ns", tz="UTC")),
                pa.array(np.asarray(xs, dtype=np.float32)),
                pa.array(np.asarray(ys, dtype=np.float32)),
                pa.array(np.repeat(np.asarray(seqs, dtype=np.uint64), repeat)),
            ],
            schema=_SCHEMA,
        )
        return FoldResult({"track_points": table}, rejected)
