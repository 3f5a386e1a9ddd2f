"""Alert rules in the layout: every fault names the rule and the field; newer metrics survive the log."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

import schemas
from schemas.export import INVALID_RULES_FILE, VECTORS_DIR, json_schemas
from schemas.layout import METRICS, AlertRule, StoreLayout, TimeWindow, Zone, ZoneKind
from schemas.samples import INVALID_RULE_EDITS, invalid_rule_layouts, sample_events, sample_layout

CASES = invalid_rule_layouts()
SHARED = {c["name"]: c for c in json.loads((VECTORS_DIR / INVALID_RULES_FILE).read_text())}


def _rule_and_field(name: str) -> tuple[str | None, str]:
    """The rule id and field an INVALID_RULE_EDITS entry breaks."""
    (place,) = INVALID_RULE_EDITS[name]
    parts = place.split(".")
    if parts[0] != "rules":
        return None, parts[0]
    return sample_layout().rules[int(parts[1])].rule_id, parts[2]


@pytest.mark.parametrize("name", list(CASES))
def test_invalid_rule_is_refused_naming_rule_and_field(name: str) -> None:
    rule_id, field = _rule_and_field(name)
    doc = CASES[name]
    for decode in (
        lambda: schemas.decode_layout_json(msgspec.json.encode(doc)),
        lambda: schemas.convert(doc, StoreLayout),
    ):
        with pytest.raises(schemas.SchemaError) as info:
            decode()
        message = str(info.value)
        assert field in info.value.path, message
        assert field in info.value.reason, message
        if rule_id is not None:
            index = next(i for i, r in enumerate(sample_layout().rules) if r.rule_id == rule_id)
            assert info.value.path.startswith(f"$.rules[{index}].{field}"), message
            assert info.value.reason.startswith(f"rules[{index}] (rule_id {rule_id!r}): "), message
        # The shared vector (which go-ingest's tests refuse the same way) is this very refusal.
        assert SHARED[name] == {
            "name": name,
            "layout": json.loads(msgspec.json.encode(doc)),
            "path": info.value.path,
            "reason": info.value.reason,
        }


def test_the_must_hold_cases_are_covered() -> None:
    reasons = {name: SHARED[name]["reason"] for name in SHARED}
    assert "zone_id 'queu' is not a zone of this layout (zones: entrance, produce, queue-1)" in reasons["unknown zone"]
    assert "Expected `float` >= 0.0" in reasons["negative threshold"]
    assert "metric 'footfall' is not a known metric" in reasons["unknown metric"]


def test_direct_construction_refuses_cross_field_faults() -> None:
    zones = (Zone("q", ZoneKind.QUEUE, ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0))),)
    with pytest.raises(ValueError, match=r"rules\[0\] \(rule_id 'r'\): zone_id 'x' is not a zone"):
        StoreLayout(zones=zones, rules=(AlertRule(rule_id="r", zone_id="x", metric="occupancy", threshold=1.0),))
    with pytest.raises(ValueError, match=r"time_zone 'Nowhere/Town'"):
        StoreLayout(time_zone="Nowhere/Town")
    with pytest.raises(ValueError, match="empty"):
        TimeWindow("10:00", "10:00")
    # An unknown metric passes the type (a newer writer's rule read from the log) but not config.
    layout = StoreLayout(zones=zones, rules=(AlertRule(rule_id="r", zone_id="q", metric="future_x", threshold=1.0),))
    with pytest.raises(ValueError, match=r"rules\[0\] \(rule_id 'r'\): metric 'future_x'"):
        layout.check_config_rules()
    with pytest.raises(schemas.SchemaError, match="metric 'future_x'"):
        schemas.convert(msgspec.to_builtins(layout), StoreLayout)


def test_a_rule_of_every_metric_round_trips() -> None:
    layout = sample_layout()
    assert sorted(r.metric for r in layout.rules) == sorted(METRICS)
    assert layout.time_zone == "Europe/Paris" and str(layout.tz) == "Europe/Paris"
    assert schemas.decode_layout_json(schemas.encode_json(layout)) == layout
    assert schemas.convert(msgspec.to_builtins(layout), StoreLayout) == layout
    event = next(e for e in sample_events() if isinstance(e, schemas.LayoutPublished))
    assert schemas.decode(schemas.encode(event)) == event
    assert all(r.is_known for r in layout.rules)


def test_defaults_and_store_wide_rules() -> None:
    doc = {
        "zones": [{"zone_id": "q", "kind": "queue", "polygon": [[0, 0], [1, 0], [1, 1]]}],
        "rules": [
            {"rule_id": "r", "zone_id": "q", "metric": "queue_length", "threshold": 3},
            {"rule_id": "s", "metric": "occupancy", "threshold": 30},
        ],
    }
    layout = schemas.convert(doc, StoreLayout)
    rule, store_wide = layout.rules
    assert (rule.severity, rule.clear_below, rule.clear_level, rule.clear_after_s, rule.radius_m) == (
        "warning",
        None,
        3.0,
        0.0,
        None,
    )
    assert rule.active_hours == () and rule.is_active(0)
    assert store_wide.zone_id is None and layout.time_zone == "UTC"


def test_active_hours_windows_wrap_midnight() -> None:
    night = TimeWindow("22:00", "02:00")
    assert night.contains(23 * 60) and night.contains(60) and not night.contains(2 * 60) and not night.contains(12 * 60)
    day = TimeWindow("08:00", "00:00")
    assert day.contains(8 * 60) and day.contains(23 * 60 + 59) and not day.contains(0)
    rule = sample_layout().rules[2]
    assert rule.is_active(9 * 60) and not rule.is_active(13 * 60) and rule.is_active(1 * 60)


def test_a_newer_writers_metric_read_from_the_log_is_kept() -> None:
    event = next(e for e in sample_events() if isinstance(e, schemas.LayoutPublished))
    doc: dict[str, Any] = msgspec.to_builtins(event)
    doc["layout"]["rules"][0].update(metric="basket_abandonment", zone_id=None, severity="page", radius_m=1.0)
    decoded = schemas.decode(msgspec.msgpack.encode(doc))
    assert isinstance(decoded, schemas.LayoutPublished)
    rule = decoded.layout.rules[0]
    assert (rule.metric, rule.severity, rule.is_known) == ("basket_abandonment", "page", False)
    assert all(r.is_known for r in decoded.layout.rules[1:])
    with pytest.raises(schemas.SchemaError) as info:
        schemas.decode_layout_json(msgspec.json.encode(doc["layout"]))
    assert info.value.path == "$.rules[0].metric"
    # Faults every version knows are still refused from the log, at the rule's field.
    doc["layout"]["rules"][1]["zone_id"] = "nope"
    with pytest.raises(schemas.SchemaError) as info:
        schemas.decode(msgspec.msgpack.encode(doc))
    assert info.value.path == "$.layout.rules[1].zone_id"
    assert "rules[1] (rule_id 'slow-till'): zone_id 'nope'" in str(info.value)


def test_json_schema_carries_the_rule_fields() -> None:
    config = json_schemas()["store_layout"]
    defs: Any = config["$defs"]
    rule = defs["AlertRule"]["properties"]
    for field in ("clear_below", "clear_after_s", "active_hours", "severity", "radius_m", "zone_id"):
        assert field in rule
    assert rule["metric"]["enum"] == list(METRICS)
    assert rule["severity"]["enum"] == ["info", "warning", "critical"]
    assert "time_zone" in defs["StoreLayout"]["properties"]
    assert defs["TimeWindow"]["additionalProperties"] is False
    # The event schema stays open: a newer metric from the log is not refused by it.
    event_defs: Any = json_schemas()["layout_published"]["$defs"]
    assert "enum" not in event_defs["AlertRule"]["properties"]["metric"]
