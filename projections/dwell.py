"""Dwell: one row per customer stay in a zone (enter, exit, seconds); distributions are query-time.

Rows are written when the visit ends, so staff visits (known only then) write none.
"""

from __future__ import annotations

import pyarrow as pa

from projections.derived import K_ANONYMITY, VisitBuffered, party_id, visit_id
from projections.layouts import LayoutHistory
from projections.projection import DEDUP_SETTINGS, FoldResult, SeqEvent

DDL = f"""
CREATE TABLE IF NOT EXISTS {{db}}.{{table}} (
    store_id LowCardinality(String),
    layout_version UInt32,
    zone_id LowCardinality(String),
    visit_id String,
    party_id String,
    entered DateTime64(9, 'UTC'),
    exited DateTime64(9, 'UTC'),
    dwell_s Float64 COMMENT 'seconds, exited - entered'
) ENGINE = MergeTree
ORDER BY (store_id, layout_version, zone_id, entered, visit_id)
SETTINGS {DEDUP_SETTINGS}
"""

SHARED_VIEW = f"""
CREATE VIEW IF NOT EXISTS {{db}}.shared_zone_dwell AS
SELECT store_id, layout_version, zone_id, toStartOfHour(entered) AS hour,
       count() AS stays, uniqExact(visit_id) AS visits,
       quantileExactInclusive(0.5)(dwell_s) AS median_dwell_s, avg(dwell_s) AS mean_dwell_s
FROM {{db}}.zone_visits
GROUP BY store_id, layout_version, zone_id, hour
HAVING visits >= {K_ANONYMITY}
"""


class DwellProjection(VisitBuffered):
    """ZoneExited buffered per visit -> zone_visits rows at VisitEnded (customers only)."""

    name = "dwell"
    version = "1"

    def table_ddl(self) -> dict[str, str]:
        return {"zone_visits": DDL}

    def view_ddl(self) -> dict[str, str]:
        return {"shared_zone_dwell": SHARED_VIEW}

    def fold(self, events: list[SeqEvent], layouts: dict[str, LayoutHistory]) -> FoldResult:
        done, rejected = self._customer_visits(events)
        rows = [(v.end, s) for v in done for s in v.stays]
        table = pa.table(
            {
                "store_id": pa.array([e.store_id for e, _ in rows], pa.string()),
                "layout_version": pa.array([e.layout_version for e, _ in rows], pa.uint32()),
                "zone_id": pa.array([s.zone_id for _, s in rows], pa.string()),
                "visit_id": pa.array([visit_id(e) for e, _ in rows], pa.string()),
                "party_id": pa.array([party_id(e) for e, _ in rows], pa.string()),
                "entered": pa.array([s.entered_ns for _, s in rows], pa.timestamp("ns", tz="UTC")),
                "exited": pa.array([s.exited_ns for _, s in rows], pa.timestamp("ns", tz="UTC")),
                "dwell_s": pa.array([(s.exited_ns - s.entered_ns) / 1e9 for _, s in rows], pa.float64()),
            }
        )
        return FoldResult({"zone_visits": table}, rejected)
