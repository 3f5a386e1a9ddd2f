"""Occupancy: customers per zone, and in the whole store (zone_id ''), per sampling tick."""

from __future__ import annotations

import pyarrow as pa

from projections.derived import ignored_except
from projections.layouts import LayoutHistory
from projections.projection import DEDUP_SETTINGS, FoldResult, SeqEvent, Stateless
from projections.samples import fold_samples
from schemas.events import OccupancySampled

DDL = f"""
CREATE TABLE IF NOT EXISTS {{db}}.{{table}} (
    store_id LowCardinality(String),
    layout_version UInt32,
    zone_id LowCardinality(String) COMMENT 'empty for the whole store',
    ts DateTime64(3, 'UTC') COMMENT 'sampling tick',
    people UInt32
) ENGINE = MergeTree
ORDER BY (store_id, layout_version, zone_id, ts)
SETTINGS {DEDUP_SETTINGS}
"""


def _columns(samples: list[OccupancySampled]) -> pa.Table:
    return pa.table(
        {
            "store_id": pa.array([s.store_id for s in samples], pa.string()),
            "layout_version": pa.array([s.layout_version for s in samples], pa.uint32()),
            "zone_id": pa.array([s.zone_id or "" for s in samples], pa.string()),
            "ts": pa.array([s.ts_ns // 1_000_000 for s in samples], pa.timestamp("ms", tz="UTC")),
            "people": pa.array([s.people for s in samples], pa.uint32()),
        }
    )


class OccupancyProjection(Stateless):
    """OccupancySampled -> occupancy_series. Stateless."""

    name = "occupancy"
    version = "1"
    stream = "FF_DERIVED"
    ignored_types = ignored_except(OccupancySampled)

    def table_ddl(self) -> dict[str, str]:
        return {"occupancy_series": DDL}

    def fold(self, events: list[SeqEvent], layouts: dict[str, LayoutHistory]) -> FoldResult:
        return fold_samples(self.name, "occupancy_series", events, OccupancySampled, _columns)
