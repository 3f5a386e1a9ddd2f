"""Funnel: per customer visit, the furthest stage reached; and point-of-sale transactions for conversion.

Stages, in order: entered; engaged (a stay of at least ENGAGE_S seconds in a
product zone); queued (entered a queue zone); checked_out (entered a
checkout zone). Conversion rate = transactions / customer visits (SQL in README).
"""

from __future__ import annotations

import pyarrow as pa

from projections.derived import CompletedVisit, VisitBuffered, party_id, visit_id, zone_kinds
from projections.layouts import LayoutHistory
from projections.projection import DEDUP_SETTINGS, FoldResult, Rejected, SeqEvent, Stateless
from schemas.events import (
    PosTransaction,
    VisitEnded,
)
from schemas.layout import ZoneKind

ENGAGE_S = 15.0
STAGES = ("entered", "engaged", "queued", "checked_out")

DDL = f"""
CREATE TABLE IF NOT EXISTS {{db}}.{{table}} (
    store_id LowCardinality(String),
    layout_version UInt32,
    visit_id String,
    party_id String,
    started DateTime64(9, 'UTC'),
    stage LowCardinality(String) COMMENT 'furthest stage: entered, engaged, queued, checked_out',
    stage_index UInt8 COMMENT '0 entered .. 3 checked_out',
    engaged UInt8,
    queued UInt8,
    checked_out UInt8
) ENGINE = MergeTree
ORDER BY (store_id, layout_version, started, visit_id)
SETTINGS {DEDUP_SETTINGS}
"""

POS_DDL = f"""
CREATE TABLE IF NOT EXISTS {{db}}.{{table}} (
    store_id LowCardinality(String),
    terminal_id LowCardinality(String),
    transaction_id String,
    ts DateTime64(9, 'UTC'),
    item_count UInt32,
    amount_minor Int64,
    currency LowCardinality(String)
) ENGINE = MergeTree
ORDER BY (store_id, ts, terminal_id, transaction_id)
SETTINGS {DEDUP_SETTINGS}
"""


def furthest_stage(visit: CompletedVisit, kinds: dict[str, ZoneKind], engage_s: float = ENGAGE_S) -> tuple[int, ...]:
    """(stage index, engaged, queued, checked_out) of a visit."""
    engaged = any(kinds.get(s.zone_id) is ZoneKind.PRODUCT and (s.exited_ns - s.entered_ns) >= engage_s * 1e9
                  for s in visit.stays)  # fmt: skip
    queued = any(kinds.get(s.zone_id) is ZoneKind.QUEUE for s in visit.stays)
    checked = any(kinds.get(s.zone_id) is ZoneKind.CHECKOUT for s in visit.stays)
    stage = 3 if checked else 2 if queued else 1 if engaged else 0
    return stage, int(engaged), int(queued), int(checked)


class FunnelProjection(VisitBuffered):
    """Customer visits -> funnel_visits rows."""

    name = "funnel"
    version = "1"

    def table_ddl(self) -> dict[str, str]:
        return {"funnel_visits": DDL}

    def fold(self, events: list[SeqEvent], layouts: dict[str, LayoutHistory]) -> FoldResult:
        visits, rejected = self._customer_visits(events)
        rows: list[tuple[VisitEnded, tuple[int, ...]]] = [
            (v.end, furthest_stage(v, zone_kinds(layouts, v.end.store_id, v.end.layout_version))) for v in visits
        ]
        table = pa.table(
            {
                "store_id": pa.array([e.store_id for e, _ in rows], pa.string()),
                "layout_version": pa.array([e.layout_version for e, _ in rows], pa.uint32()),
                "visit_id": pa.array([visit_id(e) for e, _ in rows], pa.string()),
                "party_id": pa.array([party_id(e) for e, _ in rows], pa.string()),
                "started": pa.array([e.started_ts_ns for e, _ in rows], pa.timestamp("ns", tz="UTC")),
                "stage": pa.array([STAGES[s[0]] for _, s in rows], pa.string()),
                "stage_index": pa.array([s[0] for _, s in rows], pa.uint8()),
                "engaged": pa.array([s[1] for _, s in rows], pa.uint8()),
                "queued": pa.array([s[2] for _, s in rows], pa.uint8()),
                "checked_out": pa.array([s[3] for _, s in rows], pa.uint8()),
            }
        )
        return FoldResult({"funnel_visits": table}, rejected)


class PosProjection(Stateless):
    """FF_POS -> pos_transactions (counts and amounts only). Stateless."""

    name = "pos"
    version = "1"
    stream = "FF_POS"

    def table_ddl(self) -> dict[str, str]:
        return {"pos_transactions": POS_DDL}

    def fold(self, events: list[SeqEvent], layouts: dict[str, LayoutHistory]) -> FoldResult:
        tx: list[PosTransaction] = []
        rejected = []
        for item in events:
            if isinstance(item.event, PosTransaction):
                tx.append(item.event)
            else:
                rejected.append(Rejected(item.stream_seq, f"pos cannot fold {type(item.event).__name__}"))
        table = pa.table(
            {
                "store_id": pa.array([t.store_id for t in tx], pa.string()),
                "terminal_id": pa.array([t.terminal_id for t in tx], pa.string()),
                "transaction_id": pa.array([t.transaction_id for t in tx], pa.string()),
                "ts": pa.array([t.ts_ns for t in tx], pa.timestamp("ns", tz="UTC")),
                "item_count": pa.array([t.item_count for t in tx], pa.uint32()),
                "amount_minor": pa.array([t.amount_minor for t in tx], pa.int64()),
                "currency": pa.array([t.currency for t in tx], pa.string()),
            }
        )
        return FoldResult({"pos_transactions": table}, rejected)
