"""Store layout types: cameras, zones, lines and alert rules.

A layout is both config and event content (DESIGN.md §2). The types ignore unknown
fields, so a layout read from the log inside `LayoutPublished` survives a newer
writer; a layout given as a config file is checked strictly by
`schemas.codec.decode_layout_json` / `schemas.codec.convert`, which refuse any
unknown key (`check_known_fields`) before decoding.

Floor coordinates are metres in the store's own floor frame. A camera's
`image_to_floor` homography maps normalised image coordinates (x right, y
down, both in [0, 1]) of a person's foot point to floor metres.
"""

from __future__ import annotations

import enum
import math
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from schemas.ids import FiniteFloat, Id, Metres, NonNegFloat

Point = tuple[Metres, Metres]
Label = Annotated[str, msgspec.Meta(max_length=64, description="a place's display name (never about a person)")]


class ZoneKind(enum.Enum):
    """What a zone is for; staff zones exclude their tracks from customer metrics."""

    ENTRANCE = "entrance"
    PRODUCT = "product"
    QUEUE = "queue"
    CHECKOUT = "checkout"
    STAFF = "staff"


class Config(msgspec.Struct, frozen=True):
    """Base of every layout type: immutable; unknown keys are ignored by the types themselves.

    Config input must go through `schemas.codec.decode_layout_json` or `schemas.codec.convert`,
    whose strict pass refuses an unknown key at any level (a typo must not pass silently).
    """


class CameraCalibration(Config, frozen=True):
    """One camera's image-to-floor mapping.

    image_to_floor: 3x3 homography, row-major, from normalised image
    coordinates (u, v, 1) to homogeneous floor metres (X, Y, W).
    """

    camera_id: Id
    image_to_floor: tuple[
        FiniteFloat,
        FiniteFloat,
        FiniteFloat,
        FiniteFloat,
        FiniteFloat,
        FiniteFloat,
        FiniteFloat,
        FiniteFloat,
        FiniteFloat,
    ]
    image_width_px: Annotated[int, msgspec.Meta(gt=0, le=65535)] = 1920
    image_height_px: Annotated[int, msgspec.Meta(gt=0, le=65535)] = 1080
    label: Label = ""

    def __post_init__(self) -> None:
        h = self.image_to_floor
        det = (
            h[0] * (h[4] * h[8] - h[5] * h[7]) - h[1] * (h[3] * h[8] - h[5] * h[6]) + h[2] * (h[3] * h[7] - h[4] * h[6])
        )
        scale = max(abs(v) for v in h)
        if scale == 0.0 or abs(det) <= 1e-12 * scale**3:
            raise ValueError(f"image_to_floor homography is singular (determinant {det!r}), got {list(h)!r}")


class Zone(Config, frozen=True):
    """A floor region: a simple polygon in metres (at least 3 points, edges must not cross)."""

    zone_id: Id
    kind: ZoneKind
    # Bounded: the self-intersection check is O(n^2) and a layout arrives over HTTP too.
    polygon: Annotated[tuple[Point, ...], msgspec.Meta(max_length=1000)]
    label: Label = ""

    def __post_init__(self) -> None:
        _check_simple_polygon(self.polygon)


class CountingLine(Config, frozen=True):
    """A directed counting line from `a` to `b` in floor metres.

    `inward` names the side of the directed segment a->b that is inside the
    store (or the far side of the line for an in-store line): a crossing that
    ends on that side is an "in" crossing.
    """

    line_id: Id
    a: Point
    b: Point
    inward: Literal["left", "right"] = "left"
    label: Label = ""

    def __post_init__(self) -> None:
        if math.dist(self.a, self.b) < 0.05:
            raise ValueError(f"line end points must be at least 0.05 m apart, got a={self.a!r} b={self.b!r}")


# Metric names (DESIGN.md §2 evolution): on the wire a rule's metric and severity are plain strings,
# so an older reader decoding a newer writer's LayoutPublished from the log keeps a rule whose metric
# (or severity) it does not know instead of refusing the whole layout; the alert processor skips such
# a rule (`AlertRule.is_known`). Config input (`schemas.codec.decode_layout_json`, `schemas.codec.convert`,
# and go-ingest's submit endpoint) refuses an unknown metric or severity (`check_config_rules`), so a
# layout that names one is never published by this version. A new metric is added to METRICS (and
# go-ingest/contract's list) with its zone requirements below.
METRICS: tuple[str, ...] = (
    "queue_length",
    "wait_s",
    "occupancy",
    "density_per_m2",
    "unattended_dwell_s",
    "customers_per_staff",
)
# Metrics with a whole-store meaning: only these may omit zone_id.
STORE_WIDE_METRICS = frozenset({"occupancy", "customers_per_staff"})
# Metrics that need a zone of one kind.
METRIC_ZONE_KIND: dict[str, ZoneKind] = {
    "queue_length": ZoneKind.QUEUE,
    "wait_s": ZoneKind.QUEUE,
    "unattended_dwell_s": ZoneKind.PRODUCT,
}
# Metrics that take `radius_m` (and require it).
RADIUS_METRICS = frozenset({"unattended_dwell_s"})
SEVERITIES: tuple[str, ...] = ("info", "warning", "critical")

_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,63}(?!\n)$"
MetricName = Annotated[
    str, msgspec.Meta(pattern=_NAME_PATTERN, description="a metric name; config files allow only METRICS")
]
SeverityName = Annotated[
    str, msgspec.Meta(pattern=_NAME_PATTERN, description="info, warning or critical; config files allow only these")
]
ClockTime = Annotated[
    str,
    msgspec.Meta(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9](?!\n)$", description="local time of day HH:MM (00:00-23:59)"),
]
PositiveMetres = Annotated[float, msgspec.Meta(gt=0.0, le=1e5, description="a distance in metres, > 0")]
TimeZoneName = Annotated[str, msgspec.Meta(max_length=64, description="IANA time zone name, e.g. Europe/Paris")]


class TimeWindow(Config, frozen=True):
    """A window of local time of day, [start, end) in the store's time zone.

    `end` before `start` wraps past midnight (22:00-06:00); `end` 00:00 means until midnight.
    `start` equal to `end` is refused (empty or whole day: ambiguous; omit `active_hours` for always).
    """

    start: ClockTime
    end: ClockTime

    def __post_init__(self) -> None:
        if self.start == self.end:
            raise ValueError(f"window {self.start}-{self.end} is empty (start equals end)")

    @property
    def start_minute(self) -> int:
        """Minutes after local midnight at which the window opens."""
        return _minute_of_day(self.start)

    @property
    def end_minute(self) -> int:
        """Minutes after local midnight at which the window closes (may be before start_minute: it wraps)."""
        return _minute_of_day(self.end)

    def contains(self, minute_of_day: int) -> bool:
        """Whether a local minute of the day (0-1439) is inside the window."""
        start, end = self.start_minute, self.end_minute
        if start < end:
            return start <= minute_of_day < end
        return minute_of_day >= start or minute_of_day < end


def _minute_of_day(hhmm: str) -> int:
    return int(hhmm[:2]) * 60 + int(hhmm[3:])


class AlertRule(Config, frozen=True, kw_only=True):
    """Raise an alert when `metric` (in `zone_id`, or the whole store) stays above `threshold`.

    - `zone_id`: a zone of the layout; None (or omitted) for the whole store, which only
      occupancy and customers_per_staff allow. queue_length and wait_s need a queue zone,
      density_per_m2 a zone, unattended_dwell_s a product zone.
    - `metric`: one of METRICS in a config file; a str on the wire (schemas/layout.py METRICS: the
      evolution rule: a rule read from the log with an unknown metric is kept and skipped).
    - `threshold` >= 0; the condition is `value > threshold`, held `min_duration_s` seconds of
      frame time before the alert is raised.
    - `clear_below` (default: the threshold, must be <= it): the alert clears once the value
      has stayed below it for `clear_after_s` seconds (default 0), so an alert does not flap.
    - `active_hours`: local time-of-day windows in the layout's `time_zone`; empty means always.
    - `severity`: info, warning (default) or critical.
    - `radius_m` (> 0): required for unattended_dwell_s (no staff within this radius of the
      customer), refused for every other metric.

    Keyword-only: `zone_id` may be omitted while later fields are required. `zone_id` was a
    required str before store-wide rules existed; None widens it, so a reader older than this
    version refuses a layout with a store-wide rule (no layout before this version had one).
    """

    rule_id: Id
    zone_id: Id | None = None
    metric: MetricName
    threshold: NonNegFloat
    min_duration_s: NonNegFloat = 0.0
    clear_below: NonNegFloat | None = None
    clear_after_s: NonNegFloat = 0.0
    active_hours: Annotated[tuple[TimeWindow, ...], msgspec.Meta(max_length=48)] = ()
    severity: SeverityName = "warning"
    radius_m: PositiveMetres | None = None

    @property
    def is_known(self) -> bool:
        """Whether this version knows the rule's metric and severity (a newer writer's rule may not)."""
        return self.metric in METRICS and self.severity in SEVERITIES

    @property
    def clear_level(self) -> float:
        """The value the metric must fall below to clear: `clear_below`, else the threshold."""
        return self.threshold if self.clear_below is None else self.clear_below

    def is_active(self, minute_of_day: int) -> bool:
        """Whether the rule applies at a local minute of the day (always, without active hours)."""
        return not self.active_hours or any(w.contains(minute_of_day) for w in self.active_hours)


class StoreLayout(Config, frozen=True):
    """Everything a fold needs to know about a store's floor at one layout version.

    `time_zone` is the store's IANA time zone (rules' active hours are local time there).
    """

    cameras: tuple[CameraCalibration, ...] = ()
    zones: tuple[Zone, ...] = ()
    lines: tuple[CountingLine, ...] = ()
    rules: tuple[AlertRule, ...] = ()
    time_zone: TimeZoneName = "UTC"

    def __post_init__(self) -> None:
        for kind, ids in (
            ("camera_id", [c.camera_id for c in self.cameras]),
            ("zone_id", [z.zone_id for z in self.zones]),
            ("line_id", [ln.line_id for ln in self.lines]),
            ("rule_id", [r.rule_id for r in self.rules]),
        ):
            seen: set[str] = set()
            for value in ids:
                if value in seen:
                    raise ValueError(f"{kind} must be unique within a layout, got {value!r} twice")
                seen.add(value)
        check_time_zone(self.time_zone)
        zones = {z.zone_id: z for z in self.zones}
        for i, rule in enumerate(self.rules):
            reason = rule_reason(rule, zones)
            if reason is not None:
                field, text = reason
                raise ValueError(f"rules[{i}] (rule_id {rule.rule_id!r}): {field} {text}")

    @property
    def tz(self) -> ZoneInfo:
        """The store's time zone."""
        return ZoneInfo(self.time_zone)

    def config_fault(self) -> tuple[int, str, str] | None:
        """The first rule this version must not accept as config, as (index, field, reason), or None.

        A layout read from the log keeps a rule whose metric or severity this version does not
        know (a newer writer's); one given to this version to publish must not carry it.
        """
        for i, rule in enumerate(self.rules):
            fault = config_rule_fault(rule)
            if fault is not None:
                return i, fault[0], f"rules[{i}] (rule_id {rule.rule_id!r}): {fault[0]} {fault[1]}"
        return None

    def check_config_rules(self) -> None:
        """Raise ValueError naming the rule and field if `config_fault` finds one (config input only)."""
        fault = self.config_fault()
        if fault is not None:
            raise ValueError(fault[2])

    def camera(self, camera_id: str) -> CameraCalibration:
        """Return the calibration of `camera_id`; KeyError names the known cameras."""
        for cam in self.cameras:
            if cam.camera_id == camera_id:
                return cam
        known = ", ".join(c.camera_id for c in self.cameras) or "none"
        raise KeyError(f"layout has no camera {camera_id!r} (cameras: {known})")


def check_time_zone(name: str) -> None:
    """Raise ValueError naming `time_zone` and the value unless `name` is an IANA time zone."""
    if name in ("", "Local"):
        raise ValueError(f"time_zone {name!r} is not an IANA time zone name (e.g. 'UTC', 'Europe/Paris')")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"time_zone {name!r} is not an IANA time zone name (e.g. 'UTC', 'Europe/Paris')") from None


def config_rule_fault(rule: AlertRule) -> tuple[str, str] | None:
    """(field, reason) if `rule` names a metric or severity this version does not know, else None."""
    if rule.metric not in METRICS:
        return "metric", f"{rule.metric!r} is not a known metric (metrics: {', '.join(METRICS)})"
    if rule.severity not in SEVERITIES:
        return "severity", f"{rule.severity!r} is not one of {', '.join(SEVERITIES)}"
    return None


def rule_reason(rule: AlertRule, zones: dict[str, Zone]) -> tuple[str, str] | None:
    """The first fault of `rule` in a layout with `zones`, as (field, reason), or None.

    Metric-specific checks apply to the metrics this version knows; a rule with another metric
    (a newer writer's, read from the log) is only checked for what every rule shares.
    """
    if rule.clear_below is not None and rule.clear_below > rule.threshold:
        return "clear_below", f"{rule.clear_below!r} must be <= threshold {rule.threshold!r}"
    if rule.zone_id is not None and rule.zone_id not in zones:
        known = ", ".join(zones) or "none"
        return "zone_id", f"{rule.zone_id!r} is not a zone of this layout (zones: {known})"
    if rule.metric not in METRICS:
        return None
    if rule.zone_id is None:
        if rule.metric not in STORE_WIDE_METRICS:
            wide = ", ".join(sorted(STORE_WIDE_METRICS))
            return "zone_id", f"is required for metric {rule.metric!r} (only {wide} may cover the whole store)"
    else:
        want = METRIC_ZONE_KIND.get(rule.metric)
        kind = zones[rule.zone_id].kind
        if want is not None and kind is not want:
            return "zone_id", (
                f"{rule.zone_id!r} has kind {kind.value}; metric {rule.metric!r} needs a zone of kind {want.value}"
            )
    if rule.metric in RADIUS_METRICS and rule.radius_m is None:
        return "radius_m", f"is required for metric {rule.metric!r} (no staff within this many metres)"
    if rule.metric not in RADIUS_METRICS and rule.radius_m is not None:
        return "radius_m", f"applies only to unattended_dwell_s, not to metric {rule.metric!r}"
    return None


def _check_simple_polygon(points: tuple[Point, ...]) -> None:
    n = len(points)
    if n < 3:
        raise ValueError(f"polygon needs at least 3 points, got {n}: {list(points)!r}")
    for i in range(n):
        for j in range(i + 1, n):
            if j == i + 1 or (i == 0 and j == n - 1):
                continue  # neighbouring edges share a vertex
            p1, p2 = points[i], points[(i + 1) % n]
            q1, q2 = points[j], points[(j + 1) % n]
            if _segments_intersect(p1, p2, q1, q2):
                raise ValueError(f"polygon is self-intersecting: edge {i} crosses edge {j}, got {list(points)!r}")
    twice_area = sum(points[i][0] * points[(i + 1) % n][1] - points[(i + 1) % n][0] * points[i][1] for i in range(n))
    if abs(twice_area) < 1e-9:
        raise ValueError(f"polygon has zero area, got {list(points)!r}")


def _orient(a: Point, b: Point, c: Point) -> float:
    return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])


def _on_segment(a: Point, b: Point, c: Point) -> bool:
    return min(a[0], b[0]) <= c[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= c[1] <= max(a[1], b[1])


def _segments_intersect(p1: Point, p2: Point, q1: Point, q2: Point) -> bool:
    d1, d2 = _orient(q1, q2, p1), _orient(q1, q2, p2)
    d3, d4 = _orient(p1, p2, q1), _orient(p1, p2, q2)
    if ((d1 > 0 > d2) or (d1 < 0 < d2)) and ((d3 > 0 > d4) or (d3 < 0 < d4)):
        return True
    return (
        (d1 == 0 and _on_segment(q1, q2, p1))
        or (d2 == 0 and _on_segment(q1, q2, p2))
        or (d3 == 0 and _on_segment(p1, p2, q1))
        or (d4 == 0 and _on_segment(p1, p2, q2))
    )
