"""Raw floor positions of every track observation (metres), kept for the retention period (TTL)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from projections.layouts import LayoutHistory
from projections.projection import DEDUP_SETTINGS, FoldResult, Rejected, SeqEvent, Stateless
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


class TrackPointsProjection(Stateless):
    """One row per calibrated track observation; stateless."""

    name = "track_points"
    version = "1"
    stream = "FF_TRACKS"

    def table_ddl(self) -> dict[str, str]:
        return {"track_points": DDL}

    def fold(self, events: list[SeqEvent], layouts: dict[str, LayoutHistory]) -> FoldResult:
        frames: list[TrackFrame] = []
        seqs: list[int] = []
        rejected = []
        for item in events:
            if isinstance(item.event, TrackFrame):
                frames.append(item.event)
                seqs.append(item.stream_seq)
            elif not isinstance(item.event, TrackClosed):
                rejected.append(Rejected(item.stream_seq, f"track_points cannot fold {type(item.event).__name__}"))
        # One comprehension per column over all tracks; uncalibrated tracks (None) become NaN and are masked.
        tracks = [t for f in frames for t in f.tracks]
        counts = np.fromiter((len(f.tracks) for f in frames), dtype=np.int64, count=len(frames))
        x = np.array([t.floor_x_m for t in tracks], dtype=np.float64)
        y = np.array([t.floor_y_m for t in tracks], dtype=np.float64)
        keep = ~(np.isnan(x) | np.isnan(y))

        def per_track(values: Sequence[Any], dtype: npt.DTypeLike) -> npt.NDArray[Any]:
            return np.repeat(np.asarray(values, dtype=dtype), counts)[keep]

        table = pa.table(
            [
                pa.array(per_track([f.store_id for f in frames], object), pa.string()),
                pa.array(per_track([f.camera_id for f in frames], object), pa.string()),
                pa.array(per_track([f.edge_run_id for f in frames], object), pa.string()),
                pa.array(np.array([t.track_id for t in tracks], dtype=np.uint64)[keep]),
                pa.array(per_track([f.ts_ns for f in frames], np.int64), pa.timestamp("ns", tz="UTC")),
                pa.array(x[keep].astype(np.float32)),
                pa.array(y[keep].astype(np.float32)),
                pa.array(per_track(seqs, np.uint64)),
            ],
            schema=_SCHEMA,
        )
        return FoldResult({"track_points": table}, rejected)
