"""Zone-to-zone transitions per 5-minute bucket, with the visit's start and end as states.

Per customer visit, the states are `_entrance`, the zones entered in order
(entrance and staff zones are passed through, not states; a re-entry of the
same zone is no transition), then `_exit`. A transition is bucketed by when
its destination was entered (the visit's end for `_exit`).
"""

from __future__ import annotations

from collections import defaultdict

import pyarrow as pa

from projections.derived import (
    ENTRANCE_STATE,
    EXIT_STATE,
    K_ANONYMITY,
    CompletedVisit,
    VisitBuffered,
    bucket_start_s,
    zone_kinds,
)
from projections.layouts import LayoutHistory
from projections.projection import DEDUP_SETTINGS, FoldResult, SeqEvent
from schemas.layout import ZoneKind

DDL = f"""
CREATE TABLE IF NOT EXISTS {{db}}.{{table}} (
    store_id LowCardinality(String),
    layout_version UInt32,
    bucket_start DateTime('UTC'),
    from_state LowCardinality(String) COMMENT 'zone id, or _entrance',
    to_state LowCardinality(String) COMMENT 'zone id, or _exit',
    transitions UInt64
) ENGINE = SummingMergeTree(transitions)
ORDER BY (store_id, layout_version, bucket_start, from_state, to_state)
SETTINGS {DEDUP_SETTINGS}
"""

SHARED_VIEW = f"""
CREATE VIEW IF NOT EXISTS {{db}}.shared_zone_transitions AS
SELECT store_id, layout_version, toStartOfHour(bucket_start) AS hour, from_state, to_state,
       sum(transitions) AS transitions
FROM {{db}}.zone_transitions
GROUP BY store_id, layout_version, hour, from_state, to_state
HAVING transitions >= {K_ANONYMITY}
"""

_NOT_STATES = (ZoneKind.ENTRANCE, ZoneKind.STAFF)


def visit_transitions(visit: CompletedVisit, kinds: dict[str, ZoneKind]) -> list[tuple[int, str, str]]:
    """(ts_ns, from, to) of one visit's transitions."""
    out = []
    state = ENTRANCE_STATE
    for stay in visit.stays:
        if kinds.get(stay.zone_id) in _NOT_STATES or stay.zone_id == state:
            continue
        out.append((stay.entered_ns, state, stay.zone_id))
        state = stay.zone_id
    out.append((visit.end.ts_ns, state, EXIT_STATE))
    return out


class TransitionsProjection(VisitBuffered):
    """Customer visits -> transition counts per (bucket, from, to)."""

    name = "transitions"
    version = "1"

    def table_ddl(self) -> dict[str, str]:
        return {"zone_transitions": DDL}

    def view_ddl(self) -> dict[str, str]:
        return {"shared_zone_transitions": SHARED_VIEW}

    def fold(self, events: list[SeqEvent], layouts: dict[str, LayoutHistory]) -> FoldResult:
        counts: dict[tuple[str, int, int, str, str], int] = defaultdict(int)
        visits, rejected = self._customer_visits(events)
        for visit in visits:
            end = visit.end
            kinds = zone_kinds(layouts, end.store_id, end.layout_version)
            for ts, a, b in visit_transitions(visit, kinds):
                counts[(end.store_id, end.layout_version, bucket_start_s(ts), a, b)] += 1
        ordered = sorted(counts.items())
        table = pa.table(
            {
                "store_id": pa.array([k[0] for k, _ in ordered], pa.string()),
                "layout_version": pa.array([k[1] for k, _ in ordered], pa.uint32()),
                "bucket_start": pa.array([k[2] for k, _ in ordered], pa.timestamp("s", tz="UTC")),
                "from_state": pa.array([k[3] for k, _ in ordered], pa.string()),
                "to_state": pa.array([k[4] for k, _ in ordered], pa.string()),
                "transitions": pa.array([v for _, v in ordered], pa.uint64()),
            }
        )
        return FoldResult({"zone_transitions": table}, rejected)
