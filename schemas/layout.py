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


class AlertRule(Config, frozen=True):
    """Raise an alert when `metric` in `zone_id` stays above `threshold` for `min_duration_s` seconds."""

    rule_id: Id
    zone_id: Id
    metric: Literal["queue_length", "occupancy", "wait_s"]
    threshold: NonNegFloat
    min_duration_s: NonNegFloat = 0.0


class StoreLayout(Config, frozen=True):
    """Everything a fold needs to know about a store's floor at one layout version."""

    cameras: tuple[CameraCalibration, ...] = ()
    zones: tuple[Zone, ...] = ()
    lines: tuple[CountingLine, ...] = ()
    rules: tuple[AlertRule, ...] = ()

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
        zone_ids = {z.zone_id for z in self.zones}
        for rule in self.rules:
            if rule.zone_id not in zone_ids:
                raise ValueError(f"rule {rule.rule_id!r} names zone_id {rule.zone_id!r}, which the layout lacks")

    def camera(self, camera_id: str) -> CameraCalibration:
        """Return the calibration of `camera_id`; KeyError names the known cameras."""
        for cam in self.cameras:
            if cam.camera_id == camera_id:
                return cam
        known = ", ".join(c.camera_id for c in self.cameras) or "none"
        raise KeyError(f"layout has no camera {camera_id!r} (cameras: {known})")


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
