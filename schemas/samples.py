"""One fixed, valid instance of every contract type: the source of the golden vectors and of test fixtures."""

from __future__ import annotations

from typing import Any

import msgspec

from schemas.events import (
    AlertCleared,
    AlertRaised,
    EdgeStatus,
    Event,
    LayoutPublished,
    LineCrossed,
    OccupancySampled,
    PosTransaction,
    QueueSampled,
    Track,
    TrackClosed,
    TrackFrame,
    TrackState,
    VisitEnded,
    ZoneEntered,
    ZoneExited,
)
from schemas.layout import AlertRule, CameraCalibration, CountingLine, StoreLayout, TimeWindow, Zone, ZoneKind

STORE = "store-001"
CAMERA = "cam-entrance"
RUN = "run-7f3a9c"
TS = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z
PROCESSOR = "zones-1.0.0"


def sample_layout() -> StoreLayout:
    """A small store: one calibrated camera, an entrance, a product zone, a queue, a line, a rule of every metric."""
    return StoreLayout(
        cameras=(
            CameraCalibration(
                camera_id=CAMERA,
                image_to_floor=(12.0, 0.0, -1.0, 0.0, -9.0, 10.0, 0.0, 0.0, 1.0),
                image_width_px=768,
                image_height_px=576,
                label="entrance, ceiling",
            ),
        ),
        zones=(
            Zone("entrance", ZoneKind.ENTRANCE, ((0.0, 0.0), (4.0, 0.0), (4.0, 2.0), (0.0, 2.0)), "Entrance"),
            Zone("produce", ZoneKind.PRODUCT, ((5.0, 2.0), (9.0, 2.0), (9.0, 6.0), (5.0, 6.0)), "Fresh produce"),
            Zone("queue-1", ZoneKind.QUEUE, ((0.0, 6.0), (2.0, 6.0), (2.0, 9.5), (0.0, 9.5))),
        ),
        lines=(CountingLine("door", (0.0, 1.0), (4.0, 1.0), "left", "Main door"),),
        rules=(
            AlertRule(
                rule_id="long-queue", zone_id="queue-1", metric="queue_length", threshold=5.0, min_duration_s=60.0
            ),
            AlertRule(
                rule_id="slow-till",
                zone_id="queue-1",
                metric="wait_s",
                threshold=180.0,
                min_duration_s=30.0,
                clear_below=120.0,
                clear_after_s=60.0,
                severity="critical",
            ),
            AlertRule(
                rule_id="store-full",
                metric="occupancy",
                threshold=120.0,
                clear_below=100.0,
                active_hours=(TimeWindow("08:00", "12:30"), TimeWindow("22:00", "02:00")),
                severity="info",
            ),
            AlertRule(rule_id="crowd-door", zone_id="entrance", metric="density_per_m2", threshold=1.5),
            AlertRule(
                rule_id="help-produce",
                zone_id="produce",
                metric="unattended_dwell_s",
                threshold=90.0,
                radius_m=3.5,
                active_hours=(TimeWindow("09:00", "21:00"),),
            ),
            AlertRule(rule_id="staff-gap", metric="customers_per_staff", threshold=15.0, min_duration_s=300.0),
        ),
        time_zone="Europe/Paris",
    )


def sample_events() -> list[Event]:
    """One instance of every event type, in EVENT_TYPES order."""
    derived: dict[str, Any] = {
        "store_id": STORE,
        "camera_id": CAMERA,
        "edge_run_id": RUN,
        "track_id": 42,
        "layout_version": 3,
        "processor_version": PROCESSOR,
        "source_event_id": f"{CAMERA}:{RUN}:1200",
    }
    return [
        TrackFrame(
            store_id=STORE,
            ts_ns=TS,
            camera_id=CAMERA,
            edge_run_id=RUN,
            frame_seq=1200,
            tracks=(
                Track(42, 0.125, 0.25, 0.1875, 0.5, 0.875, TrackState.TRACKED, 1.5, 0.75),
                Track(43, 0.5, 0.375, 0.5625, 0.625, 0.5, TrackState.LOST, None, None),
            ),
        ),
        TrackClosed(
            store_id=STORE,
            ts_ns=TS + 5,
            camera_id=CAMERA,
            edge_run_id=RUN,
            track_id=42,
            first_ts_ns=TS - 10_000_000_000,
            last_ts_ns=TS,
        ),
        EdgeStatus(
            store_id=STORE,
            ts_ns=TS,
            camera_id=CAMERA,
            edge_run_id=RUN,
            status_seq=7,
            fps=10.0,
            frames_processed=12000,
            frames_dropped=3,
            buffer_purges=20,
            buffer_max_age_s=60.0,
            events_spooled=0,
            events_dropped=0,
            detector="mog2-1.0",
            tracker="bytetrack-nb-1.0",
        ),
        LayoutPublished(
            store_id=STORE, ts_ns=TS, version=3, effective_from_ns=TS - 3_600_000_000_000, layout=sample_layout()
        ),
        ZoneEntered(ts_ns=TS, zone_id="produce", **derived),
        ZoneExited(ts_ns=TS + 1, zone_id="produce", entered_ts_ns=TS - 30_000_000_000, **derived),
        LineCrossed(ts_ns=TS, line_id="door", direction="in", **derived),
        VisitEnded(ts_ns=TS, started_ts_ns=TS - 600_000_000_000, is_staff=False, group_id="g-12", **derived),
        QueueSampled(
            store_id=STORE,
            ts_ns=TS,
            zone_id="queue-1",
            queue_length=4,
            est_wait_s=95.5,
            layout_version=3,
            processor_version=PROCESSOR,
        ),
        OccupancySampled(
            store_id=STORE, ts_ns=TS, zone_id=None, people=17, layout_version=3, processor_version=PROCESSOR
        ),
        AlertRaised(
            store_id=STORE,
            ts_ns=TS,
            rule_id="long-queue",
            zone_id="queue-1",
            value=6.0,
            threshold=5.0,
            processor_version="alerts-1.0.0",
        ),
        AlertCleared(  # a whole-store rule: zone_id None
            store_id=STORE,
            ts_ns=TS + 60,
            rule_id="store-full",
            zone_id=None,
            value=95.0,
            threshold=120.0,
            processor_version="alerts-1.0.0",
        ),
        PosTransaction(
            store_id=STORE,
            ts_ns=TS,
            terminal_id="till-2",
            transaction_id="t-000981",
            item_count=3,
            amount_minor=1299,
            currency="EUR",
        ),
    ]


def sample_values() -> dict[str, msgspec.Struct]:
    """Every sample keyed by its vector file stem (event tag, or `store_layout`)."""
    values: dict[str, msgspec.Struct] = {}
    for event in sample_events():
        tag = type(event).__struct_config__.tag
        assert isinstance(tag, str)
        values[tag] = event
    values["store_layout"] = sample_layout()
    return values


# Fields a newer writer might add, unknown to this version: one per nesting level of a layout
# (and one on the event itself). The "future_" prefix keeps them from ever clashing with a real
# field. go-ingest/contract/samples.go NewerLayoutFields mirrors this exactly.
NEWER_LAYOUT_FIELDS: dict[str, dict[str, Any]] = {
    "": {"future_origin": "layout-service-2"},
    "layout": {"future_floors": [{"level": 0, "name": "ground"}]},
    "layout.cameras.0": {"future_fov_deg": 90.0},
    "layout.zones.1": {"future_capacity": 40},
    "layout.lines.0": {"future_height_m": 2.1},
    "layout.rules.0": {"future_notify": {"channel": "webhook", "after_s": 30}},
}


def sample_newer_layout_published() -> dict[str, Any]:
    """The sample LayoutPublished as a newer writer would send it: NEWER_LAYOUT_FIELDS added last at each level.

    Builtins, not a struct: this version's types cannot carry the fields. Its known content decodes
    equal to the sample; its layout as a config file is refused at the first unknown key.
    """
    doc: dict[str, Any] = msgspec.to_builtins(next(e for e in sample_events() if isinstance(e, LayoutPublished)))
    for path, extra in NEWER_LAYOUT_FIELDS.items():
        node: Any = doc
        for part in path.split(".") if path else ():
            node = node[part] if isinstance(node, dict) else node[int(part)]
        node.update(extra)
    return doc


# Edits that make the sample layout's rules (or time zone) invalid, by dotted place as in
# NEWER_LAYOUT_FIELDS. schemas/vectors/rules/invalid_layouts.json holds each edited layout with
# the path and reason Python refuses it with; go-ingest/contract refuses it at the same path.
INVALID_RULE_EDITS: dict[str, dict[str, Any]] = {
    "unknown zone": {"rules.2.zone_id": "queu"},
    "negative threshold": {"rules.0.threshold": -1.0},
    "unknown metric": {"rules.0.metric": "footfall"},
    "metric not a name": {"rules.0.metric": "Queue Length"},
    "unknown severity": {"rules.2.severity": "urgent"},
    "clear_below above threshold": {"rules.1.clear_below": 500.0},
    "negative min_duration_s": {"rules.5.min_duration_s": -5.0},
    "negative clear_after_s": {"rules.1.clear_after_s": -1.0},
    "radius_m missing": {"rules.4.radius_m": None},
    "radius_m zero": {"rules.4.radius_m": 0.0},
    "radius_m on another metric": {"rules.0.radius_m": 2.0},
    "queue metric on a product zone": {"rules.0.zone_id": "produce"},
    "wait_s on the whole store": {"rules.1.zone_id": None},
    "density without a zone": {"rules.3.zone_id": None},
    "unattended dwell off a product zone": {"rules.4.zone_id": "entrance"},
    "bad time zone": {"time_zone": "Mars/Olympus"},
    "empty time zone": {"time_zone": ""},
    "active hours not HH:MM": {"rules.2.active_hours.0.start": "25:00"},
    "active hours empty window": {"rules.2.active_hours.1.end": "22:00"},
}


def invalid_rule_layouts() -> dict[str, dict[str, Any]]:
    """The sample layout as builtins with each INVALID_RULE_EDITS entry applied, keyed by case name."""
    out: dict[str, dict[str, Any]] = {}
    for name, edits in INVALID_RULE_EDITS.items():
        doc: dict[str, Any] = msgspec.to_builtins(sample_layout())
        for place, value in edits.items():
            *parents, last = place.split(".")
            node: Any = doc
            for part in parents:
                node = node[part] if isinstance(node, dict) else node[int(part)]
            node[last] = value
        out[name] = doc
    return out
