"""Footfall: entries and exits per counting line per 5-minute bucket, and one row per visit.

Visits are counted as people (rows) and as groups (distinct party_id: a
group's members share it). Staff visits are kept, flagged, so counts filter
them out with `NOT is_staff`.
"""

from __future__ import annotations

from collections import defaultdict

import pyarrow as pa

from projections.derived import DERIVED_EVENTS, bucket_start_s, ignored_except, party_id, visit_id
from projections.layouts import LayoutHistory
from projections.line_table import DDL as LINES_DDL
from projections.line_table import BucketKey, line_count_rows
from projections.projection import DEDUP_SETTINGS, FoldResult, Rejected, SeqEvent, Stateless
from schemas.events import LineCrossed, VisitEnded

VISITS_DDL = f"""
CREATE TABLE IF NOT EXISTS {{db}}.{{table}} (
    store_id LowCardinality(String),
    layout_version UInt32,
    visit_id String COMMENT 'camera:edge_run:first track id:start ts_ns',
    party_id String COMMENT 'group id, or visit_id for a visit alone',
    group_size_hint UInt8 COMMENT '1 alone, 2 in a group',
    is_staff UInt8,
    started DateTime64(9, 'UTC'),
    ended DateTime64(9, 'UTC'),
    duration_s Float64 COMMENT 'seconds'
) ENGINE = MergeTree
ORDER BY (store_id, layout_version, started, visit_id)
SETTINGS {DEDUP_SETTINGS}
"""


class FootfallProjection(Stateless):
    """line crossings -> footfall_lines; VisitEnded -> visits. Stateless."""

    name = "footfall"
    version = "1"
    stream = "FF_DERIVED"
    ignored_types = ignored_except(LineCrossed, VisitEnded)

    def table_ddl(self) -> dict[str, str]:
        return {"footfall_lines": LINES_DDL, "visits": VISITS_DDL}

    def fold(self, events: list[SeqEvent], layouts: dict[str, LayoutHistory]) -> FoldResult:
        counts: dict[BucketKey, list[int]] = defaultdict(lambda: [0, 0])
        visits: list[VisitEnded] = []
        rejected = []
        for item in events:
            event = item.event
            if isinstance(event, LineCrossed):
                row = counts[(event.store_id, event.line_id, event.layout_version, bucket_start_s(event.ts_ns))]
                row[0 if event.direction == "in" else 1] += 1
            elif isinstance(event, VisitEnded):
                visits.append(event)
            elif not isinstance(event, DERIVED_EVENTS):
                rejected.append(Rejected(item.stream_seq, f"footfall cannot fold {type(event).__name__}"))
        rows = pa.table(
            {
                "store_id": pa.array([v.store_id for v in visits], pa.string()),
                "layout_version": pa.array([v.layout_version for v in visits], pa.uint32()),
                "visit_id": pa.array([visit_id(v) for v in visits], pa.string()),
                "party_id": pa.array([party_id(v) for v in visits], pa.string()),
                "group_size_hint": pa.array([2 if v.group_id else 1 for v in visits], pa.uint8()),
                "is_staff": pa.array([int(v.is_staff) for v in visits], pa.uint8()),
                "started": pa.array([v.started_ts_ns for v in visits], pa.timestamp("ns", tz="UTC")),
                "ended": pa.array([v.ts_ns for v in visits], pa.timestamp("ns", tz="UTC")),
                "duration_s": pa.array([(v.ts_ns - v.started_ts_ns) / 1e9 for v in visits], pa.float64()),
            }
        )
        return FoldResult({"footfall_lines": line_count_rows(counts), "visits": rows}, rejected)
