"""The alert processor: FF_DERIVED's samples -> AlertRaised / AlertCleared on FF_ALERTS, and the `alerts` table.

A derived processor under the same exactly-once runner as the zone processor: its state (per store and
rule: since when the condition holds, the open alert) is in the checkpoint snapshot, its events carry
ids made of the rule and the sample's time, so a rebuilt batch republishes the same ids.

Per rule of the layout in force at each sample (`AlertRule`, schemas/layout.py), in frame time:
- raised when the metric has stayed above `threshold` for `min_duration_s` (on the sample that
  completes it; an alert needs the condition on two samples that far apart, or on one when 0);
- cleared when it has stayed below `clear_below` (default: the threshold) for `clear_after_s`;
- outside the rule's `active_hours` (local time in the layout's `time_zone`) nothing is raised, and an
  open alert is cleared (reason `inactive`);
- when the store goes dark (no sample for `closed_after_s`), an open alert is cleared at the last
  sample before the gap (reason `closed`), and the conditions start afresh.

Metrics folded here: queue_length and wait_s (QueueSampled of the rule's queue zone), occupancy
(OccupancySampled of the rule's zone, or of the whole store, zone_id None, for a whole-store rule) and
density_per_m2 (OccupancySampled of the rule's zone; density divides by the zone's area in m^2). A
whole-store rule's events carry zone_id None, its rows of the `alerts` table zone_id "".
customers_per_staff (a whole-store rule): the whole-store sample's customers over the staff on the floor
at the sample's tick, max(staff, 1) (no staff on the floor counts as one, so the value stays finite and a
store with no staff out reads its customers). Staff are as the zone processor flags them while a visit is
on: a person whose first derived event is a ZoneEntered of a staff zone (first seen in a staff zone). On the
floor: such a person between leaving the staff zones (ZoneExited) and entering one again or the visit's end
(VisitEnded), each change dated by its event's ts_ns and counted at the first tick at or after it (the
zone processor's events run up to its sample delay ahead of its samples), so the count needs no new field.
Rules with other metrics (unattended_dwell_s needs people's positions, which derived events do not carry),
and a newer writer's metrics, are kept in the layout and skipped here.
"""

from __future__ import annotations

import datetime as dt

import msgspec
import pyarrow as pa

from projections.derived import DERIVED_EVENTS, ignored_except
from projections.layouts import LayoutHistory, layout_at
from projections.projection import DEDUP_SETTINGS, FoldResult, Rejected, SeqEvent
from schemas.events import (
    AlertCleared,
    AlertRaised,
    Event,
    OccupancySampled,
    QueueSampled,
    VisitEnded,
    ZoneEntered,
    ZoneExited,
)
from schemas.layout import AlertRule, StoreLayout, ZoneKind

VERSION = "1"
CLOSED_AFTER_S = 300.0  # no sample this long (seconds of frame time): the store closed

FOLDED_METRICS = frozenset({"queue_length", "wait_s", "occupancy", "density_per_m2", "customers_per_staff"})
_QUEUE_METRICS = frozenset({"queue_length", "wait_s"})

DDL = f"""
CREATE TABLE IF NOT EXISTS {{db}}.{{table}} (
    store_id LowCardinality(String),
    rule_id LowCardinality(String),
    zone_id LowCardinality(String),
    metric LowCardinality(String),
    severity LowCardinality(String),
    layout_version UInt32,
    raised_at DateTime64(3, 'UTC'),
    cleared_at Nullable(DateTime64(3, 'UTC')) COMMENT 'NULL while open',
    threshold Float64,
    peak Float64 COMMENT 'the highest value while open, in the metric''s unit',
    duration_s Nullable(Float64) COMMENT 'seconds from raised to cleared',
    reason LowCardinality(String) COMMENT 'open, cleared, inactive (outside active hours) or closed',
    row_version UInt8 COMMENT '0 open, 1 closed: the newest row of an alert wins'
) ENGINE = ReplacingMergeTree(row_version)
ORDER BY (store_id, rule_id, raised_at)
SETTINGS {DEDUP_SETTINGS}
"""


class _Open(msgspec.Struct, array_like=True):
    """An open alert: when it was raised (ns), its layout version, the peak value."""

    raised_ns: int
    layout_version: int
    peak: float


class _RuleState(msgspec.Struct, array_like=True):
    above_since_ns: int = -1  # since when the value is above the threshold (-1: it is not)
    below_since_ns: int = -1  # while open: since when it is below the clear level
    open: _Open | None = None


class _StoreState(msgspec.Struct, array_like=True):
    last_sample_ns: int = -1
    rules: dict[str, _RuleState] = msgspec.field(default_factory=dict)
    # Visits on now ("camera:run:track") -> staff zones the person is in, or -1 for a customer.
    people: dict[str, int] = msgspec.field(default_factory=dict)
    staff_on_floor: int = 0  # at the last sample's tick
    pending: list[tuple[int, int]] = msgspec.field(default_factory=list)  # (ts_ns, +1/-1) not counted yet


class _State(msgspec.Struct, array_like=True):
    stores: dict[str, _StoreState] = msgspec.field(default_factory=dict)


def _processor_version(layout_version: int) -> str:
    return f"{VERSION}+l{layout_version}"


def zone_area_m2(polygon: tuple[tuple[float, float], ...]) -> float:
    """Area of a simple polygon (shoelace), square metres."""
    n = len(polygon)
    twice = sum(polygon[i][0] * polygon[(i + 1) % n][1] - polygon[(i + 1) % n][0] * polygon[i][1] for i in range(n))
    return abs(twice) / 2.0


def _value(
    rule: AlertRule, sample: QueueSampled | OccupancySampled, layout: StoreLayout, staff_on_floor: int
) -> float | None:
    """The rule's metric in this sample, or None when the sample does not measure it."""
    if sample.zone_id != rule.zone_id:
        return None
    if rule.metric == "customers_per_staff":
        if isinstance(sample, QueueSampled) or sample.zone_id is not None:
            return None
        return sample.people / max(staff_on_floor, 1)
    if isinstance(sample, QueueSampled):
        if rule.metric == "queue_length":
            return float(sample.queue_length)
        return float(sample.est_wait_s) if rule.metric == "wait_s" else None
    if rule.metric == "occupancy":
        return float(sample.people)
    if rule.metric == "density_per_m2":
        zone = next(z for z in layout.zones if z.zone_id == rule.zone_id)
        return sample.people / zone_area_m2(zone.polygon)
    return None


def _track_staff(store: _StoreState, event: ZoneEntered | ZoneExited | VisitEnded,
                 layouts: dict[str, LayoutHistory]) -> None:  # fmt: skip
    """Follow who is staff (first seen in a staff zone) and when staff step onto or off the floor."""
    key = f"{event.camera_id}:{event.edge_run_id}:{event.track_id}"
    inside = store.people.get(key)
    staff_zone = False
    if isinstance(event, ZoneEntered | ZoneExited):
        layout = layout_at(layouts, event.store_id, event.ts_ns)[1]
        zone = next((z for z in layout.zones if z.zone_id == event.zone_id), None) if layout is not None else None
        staff_zone = zone is not None and zone.kind is ZoneKind.STAFF
    if inside is None:  # the visit's first event decides, as the zone processor's flag does
        if isinstance(event, VisitEnded):
            return
        store.people[key] = 1 if isinstance(event, ZoneEntered) and staff_zone else -1
        return
    if isinstance(event, VisitEnded):
        del store.people[key]
        if inside == 0:
            store.pending.append((event.ts_ns, -1))
    elif inside >= 0 and staff_zone and isinstance(event, ZoneEntered):
        store.people[key] = inside + 1
        if inside == 0:
            store.pending.append((event.ts_ns, -1))
    elif inside > 0 and staff_zone:  # a ZoneExited
        store.people[key] = inside - 1
        if inside == 1:
            store.pending.append((event.ts_ns, +1))


def _active(rule: AlertRule, layout: StoreLayout, ts_ns: int) -> bool:
    if not rule.active_hours:
        return True
    local = dt.datetime.fromtimestamp(ts_ns / 1e9, tz=layout.tz)
    minute = local.hour * 60 + local.minute
    return any(window.contains(minute) for window in rule.active_hours)


class AlertProcessor:
    """Folds FF_DERIVED's samples into alert events (FF_ALERTS) and rows of the `alerts` table."""

    name = "alerts"
    version = VERSION
    stream = "FF_DERIVED"
    filter_subject: str | None = None
    emits_events = True
    emits_to = "FF_ALERTS"  # catching up, it waits for the processors that write what it reads
    ignored_types = ignored_except(QueueSampled, OccupancySampled, ZoneEntered, ZoneExited, VisitEnded)

    def __init__(self, closed_after_s: float = CLOSED_AFTER_S) -> None:
        if closed_after_s <= 0:
            raise ValueError(f"closed_after_s must be > 0 seconds, got {closed_after_s}")
        self._closed_after_ns = round(closed_after_s * 1e9)
        self._state = _State()

    def table_ddl(self) -> dict[str, str]:
        return {"alerts": DDL}

    def reset(self) -> None:
        self._state = _State()

    def snapshot(self) -> bytes:
        return msgspec.msgpack.encode(self._state)

    def restore(self, data: bytes) -> None:
        self._state = msgspec.msgpack.decode(data, type=_State)

    def open_alerts(self) -> dict[tuple[str, str], tuple[int, float]]:
        """The alerts open now: (store_id, rule_id) -> (raised at, ns; peak so far)."""
        return {
            (store_id, rule_id): (state.open.raised_ns, state.open.peak)
            for store_id, store in sorted(self._state.stores.items())
            for rule_id, state in sorted(store.rules.items())
            if state.open is not None
        }

    def fold(self, events: list[SeqEvent], layouts: dict[str, LayoutHistory]) -> FoldResult:
        out: list[Event] = []
        rows: list[dict[str, object]] = []
        rejected = []
        for item in events:
            sample = item.event
            if isinstance(sample, ZoneEntered | ZoneExited | VisitEnded):
                store = self._state.stores.setdefault(sample.store_id, _StoreState())
                _track_staff(store, sample, layouts)
                continue
            if not isinstance(sample, QueueSampled | OccupancySampled):
                if not isinstance(sample, DERIVED_EVENTS):
                    rejected.append(Rejected(item.stream_seq, f"alerts cannot fold {type(sample).__name__}"))
                continue
            store = self._state.stores.setdefault(sample.store_id, _StoreState())
            if store.last_sample_ns >= 0 and sample.ts_ns - store.last_sample_ns > self._closed_after_ns:
                self._close_all(sample.store_id, store, layouts, out, rows)
            store.last_sample_ns = max(store.last_sample_ns, sample.ts_ns)
            if store.pending:  # staff changes dated up to this tick count from it on
                store.staff_on_floor += sum(d for at, d in store.pending if at <= sample.ts_ns)
                store.pending = [p for p in store.pending if p[0] > sample.ts_ns]
            version, layout = layout_at(layouts, sample.store_id, sample.ts_ns)
            if layout is None:
                continue
            for rule in layout.rules:
                if not rule.is_known or rule.metric not in FOLDED_METRICS:
                    continue
                value = _value(rule, sample, layout, store.staff_on_floor)
                if value is not None:
                    state = store.rules.setdefault(rule.rule_id, _RuleState())
                    self._step(sample.store_id, rule, state, version, layout, sample.ts_ns, value, out, rows)
        return FoldResult({"alerts": _table(rows)}, rejected, out)

    def _step(  # noqa: PLR0917 - private, one caller
        self, store_id: str, rule: AlertRule, state: _RuleState, version: int, layout: StoreLayout, ts: int,
        value: float, out: list[Event], rows: list[dict[str, object]],
    ) -> None:  # fmt: skip
        active = _active(rule, layout, ts)
        if state.open is None:
            if not (active and value > rule.threshold):
                state.above_since_ns = -1
                return
            if state.above_since_ns < 0:
                state.above_since_ns = ts
            if ts - state.above_since_ns >= round(rule.min_duration_s * 1e9):
                state.open, state.below_since_ns = _Open(ts, version, value), -1
                out.append(AlertRaised(store_id=store_id, ts_ns=ts, rule_id=rule.rule_id, zone_id=rule.zone_id,
                                       value=value, threshold=rule.threshold,
                                       processor_version=_processor_version(version)))  # fmt: skip
                rows.append(_row(store_id, rule, state.open, None, "open"))
            return
        state.open.peak = max(state.open.peak, value)
        if not active:
            self._clear(store_id, rule, state, ts, value, "inactive", out, rows)
        elif value < rule.clear_level:
            if state.below_since_ns < 0:
                state.below_since_ns = ts
            if ts - state.below_since_ns >= round(rule.clear_after_s * 1e9):
                self._clear(store_id, rule, state, ts, value, "cleared", out, rows)
        else:
            state.below_since_ns = -1

    def _clear(  # noqa: PLR0917 - private
        self, store_id: str, rule: AlertRule, state: _RuleState, ts: int, value: float, reason: str,
        out: list[Event], rows: list[dict[str, object]],
    ) -> None:  # fmt: skip
        assert state.open is not None
        opened = state.open
        out.append(AlertCleared(store_id=store_id, ts_ns=ts, rule_id=rule.rule_id, zone_id=rule.zone_id, value=value,
                                threshold=rule.threshold,
                                processor_version=_processor_version(opened.layout_version)))  # fmt: skip
        rows.append(_row(store_id, rule, opened, ts, reason))
        state.open, state.above_since_ns, state.below_since_ns = None, -1, -1

    def _close_all(
        self, store_id: str, store: _StoreState, layouts: dict[str, LayoutHistory], out: list[Event],
        rows: list[dict[str, object]],
    ) -> None:  # fmt: skip
        """The store went dark after its last sample: open alerts clear there, conditions start afresh."""
        at = store.last_sample_ns
        for rule_id, state in sorted(store.rules.items()):
            if state.open is not None:
                layout = layout_at(layouts, store_id, state.open.raised_ns)[1]
                rule = next((r for r in layout.rules if r.rule_id == rule_id), None) if layout else None
                if rule is not None:
                    self._clear(store_id, rule, state, at, state.open.peak, "closed", out, rows)
                    continue
            state.open, state.above_since_ns, state.below_since_ns = None, -1, -1


def _row(store_id: str, rule: AlertRule, opened: _Open, cleared_ns: int | None, reason: str) -> dict[str, object]:
    return {
        "store_id": store_id, "rule_id": rule.rule_id, "zone_id": rule.zone_id or "", "metric": rule.metric,
        "severity": rule.severity, "layout_version": opened.layout_version, "raised_at": opened.raised_ns // 1_000_000,
        "cleared_at": None if cleared_ns is None else cleared_ns // 1_000_000, "threshold": rule.threshold,
        "peak": opened.peak, "duration_s": None if cleared_ns is None else (cleared_ns - opened.raised_ns) / 1e9,
        "reason": reason, "row_version": 0 if cleared_ns is None else 1,
    }  # fmt: skip


_SCHEMA = pa.schema([
    ("store_id", pa.string()), ("rule_id", pa.string()), ("zone_id", pa.string()), ("metric", pa.string()),
    ("severity", pa.string()), ("layout_version", pa.uint32()), ("raised_at", pa.timestamp("ms", tz="UTC")),
    ("cleared_at", pa.timestamp("ms", tz="UTC")), ("threshold", pa.float64()), ("peak", pa.float64()),
    ("duration_s", pa.float64()), ("reason", pa.string()), ("row_version", pa.uint8()),
])  # fmt: skip


def _table(rows: list[dict[str, object]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=_SCHEMA)
