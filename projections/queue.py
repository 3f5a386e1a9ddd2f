"""Queue: length (people) and estimated wait (seconds) per queue zone per sampling tick."""

from __future__ import annotations

import pyarrow as pa

from projections.derived import ignored_except
from projections.layouts import LayoutHistory
from projections.projection import DEDUP_SETTINGS, FoldResult, SeqEvent, Stateless
from projections.samples import fold_samples
from schemas.events import QueueSampled

DDL = f"""
CREATE TABLE IF NOT EXISTS {{db}}.{{table}} (
    store_id LowCardinality(String),
    layout_version UInt32,
    zone_id LowCardinality(String),
    ts DateTime64(3, 'UTC') COMMENT 'sampling tick',
    queue_length UInt32 COMMENT 'people',
    est_wait_s Float32 COMMENT 'seconds, from observed checkout completions'
) ENGINE = MergeTree
ORDER BY (store_id, layout_version, zone_id, ts)
SETTINGS {DEDUP_SETTINGS}
"""


def _columns(samples: list[QueueSampled]) -> pa.Table:
    return pa.table(
        {
            "store_id": pa.array([s.store_id for s in samples], pa.string()),
            "layout_version": pa.array([s.layout_version for s in samples], pa.uint32()),
            "zone_id": pa.array([s.zone_id for s in samples], pa.string()),
            "ts": pa.array([s.ts_ns // 1_000_000 for s in samples], pa.timestamp("ms", tz="UTC")),
            "queue_length": pa.array([s.queue_length for s in samples], pa.uint32()),
            "est_wait_s": pa.array([s.est_wait_s for s in samples], pa.float32()),
        }
    )


class QueueProjection(Stateless):
    """QueueSampled -> queue_series. Stateless."""

    name = "queue"
    version = "1"
    stream = "FF_DERIVED"
    ignored_types = ignored_except(QueueSampled)

    def table_ddl(self) -> dict[str, str]:
        return {"queue_series": DDL}

    def fold(self, events: list[SeqEvent], layouts: dict[str, LayoutHistory]) -> FoldResult:
        return fold_samples(self.name, "queue_series", events, QueueSampled, _columns)
