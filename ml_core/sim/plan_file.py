"""Floor plans from TOML or JSON files: typed structs (msgspec), checks that name the field and its value.

A plan file holds what `FloorPlan` holds, all coordinates in metres:

- `bounds`: [x_min, y_min, x_max, y_max] of the floor the cameras see;
- `doors`: one or more, each a counting line a -> b (inward on its left), the `outside` point where its
  customers appear and vanish, the aisle `node` just inside it and a `weight` (share of arrivals);
- `nodes` (name -> [x, y]) and `edges` ([[a, b], ...]): the aisle graph people walk;
- `zones`: id, kind (one of ZONE_KINDS), rect [x_min, y_min, x_max, y_max], the `approach` node it is
  entered from (product zones and the staff home need one), label and margin_m;
- `queue`: its approach node and standing `slots`, head first; `counter` (where a customer is served),
  `till` (the cashier's spot) and `exit_path` (points walked from the counter to beyond a door).

The checks are the ones that keep the simulator's ground truth exact (see plan.py): an aisle, a walk
into a zone or out of a door keeps CLEARANCE_M from every zone it does not lead into, so nobody grazes
a zone for a frame or two, which the zone processor's hysteresis would (rightly) not count.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path

import msgspec
import numpy as np

from ml_core.sim.plan import ZONE_KINDS, Door, FloorPlan, Point, SimZone

Rect = tuple[float, float, float, float]

# Walks keep at least this far (metres) from zones they do not lead into (plan.py's module docstring).
CLEARANCE_M = 0.7
# Where a door's customers appear is this far (metres) beyond its line at least: the zone processor needs
# them clearly on the outward side (0.3 m anti-flicker) before they cross.
MIN_OUTSIDE_M = 1.0
# Arrivals and leavers stand up to this far (metres) from the door's outside point (agents.py's jitter).
_OUTSIDE_JITTER_M = (0.3, 0.1)
# Where a party's members stand around their leader (metres): agents.py's _MEMBER_OFFSETS (a test pins
# them equal; not imported, so reading a plan does not load the simulation).
PARTY_OFFSETS_M = ((0.0, 0.0), (0.35, -0.3), (-0.35, -0.3), (0.0, -0.55))
# A float tolerance (metres) on distances, so a plan drawn to exactly 0.7 m passes.
_EPS_M = 1e-9
# Layout ids (schemas/ids.py): valid NATS subject tokens and safe SQL literals.
_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
PLANS_DIR = Path(__file__).with_name("plans")


class PlanFileError(ValueError):
    """A plan file that cannot be read or fails a check; the message has one line per problem."""


class DoorSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A door in a plan file: line a -> b (inward on the left), outside point, aisle node (metres)."""

    id: str
    a: tuple[float, float]
    b: tuple[float, float]
    outside: tuple[float, float]
    node: str
    label: str = ""
    weight: float = 1.0


class ZoneSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A zone in a plan file: rect [x_min, y_min, x_max, y_max] metres; spots keep margin_m from its edges."""

    id: str
    kind: str
    rect: tuple[float, float, float, float]
    approach: str | None = None
    label: str = ""
    margin_m: float = 0.9


class QueueSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The checkout queue: the node it is joined from and its standing slots, head first (metres)."""

    approach: str
    slots: list[tuple[float, float]]


class PlanSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A whole plan file, as written (see the module docstring); `plan_of` turns it into a FloorPlan."""

    bounds: tuple[float, float, float, float]
    doors: list[DoorSpec]
    nodes: dict[str, tuple[float, float]]
    edges: list[tuple[str, str]]
    zones: list[ZoneSpec]
    queue: QueueSpec
    counter: tuple[float, float]
    till: tuple[float, float]
    exit_path: list[tuple[float, float]]
    name: str = ""


def load_plan(path: Path) -> FloorPlan:
    """Read, check and build the plan in `path` (.toml or .json); PlanFileError names field and value."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PlanFileError(f"{path}: cannot read the plan file: {exc.strerror or exc}") from None
    return parse_plan(data, path.suffix.lower().lstrip("."), str(path))


def resolve_plan(value: str) -> FloorPlan:
    """A plan from a path, or the name of a plan shipped in ml_core/sim/plans (e.g. `kiosk`)."""
    path = Path(value)
    if not path.exists() and not path.suffix and (PLANS_DIR / f"{value}.toml").is_file():
        path = PLANS_DIR / f"{value}.toml"
    return load_plan(path)


def shipped_plans() -> dict[str, Path]:
    """Plan name -> file of every plan shipped with the package."""
    return {p.stem: p for p in sorted(PLANS_DIR.glob("*.toml"))}


def parse_plan(data: bytes, fmt: str, source: str = "<plan>") -> FloorPlan:
    """Decode (fmt: "toml" or "json"), check and build a plan; errors start with `source`."""
    try:
        if fmt == "toml":
            spec = msgspec.toml.decode(data, type=PlanSpec)
        elif fmt == "json":
            spec = msgspec.json.decode(data, type=PlanSpec)
        else:
            raise PlanFileError(f"{source}: a plan file is .toml or .json, got {fmt!r}")
    except msgspec.ValidationError as exc:
        raise PlanFileError(f"{source}: {_msgspec_path(str(exc))}") from None
    except msgspec.DecodeError as exc:
        raise PlanFileError(f"{source}: not valid {fmt.upper()}: {exc}") from None
    problems = check_spec(spec)
    if problems:
        raise PlanFileError("\n".join(f"{source}: {p}" for p in problems))
    return plan_of(spec)


def _msgspec_path(message: str) -> str:
    """msgspec's "Expected `x`, got `y` - at `$.zones[0].rect`" as "zones[0].rect: Expected `x`, got `y`"."""
    what, sep, where = message.rpartition(" - at `$")
    if not sep:
        return message
    return f"{where.rstrip('`').lstrip('.')}: {what}"


def plan_of(spec: PlanSpec) -> FloorPlan:
    """The FloorPlan a (checked) spec describes; the staff node is the staff home's approach."""
    zones = tuple(SimZone(z.id, z.kind, z.rect, z.approach, z.label, z.margin_m) for z in spec.zones)
    home = next(z for z in zones if z.kind == "staff" and z.approach is not None)
    assert home.approach is not None
    return FloorPlan(
        zones=zones,
        doors=tuple(Door(d.id, (d.a, d.b), d.outside, d.node, d.label, d.weight) for d in spec.doors),
        nodes=dict(spec.nodes),
        edges=tuple(spec.edges),
        queue_approach=spec.queue.approach,
        queue_slots=np.array(spec.queue.slots, dtype=np.float64).reshape(-1, 2),
        counter=spec.counter,
        exit_path=tuple(spec.exit_path),
        staff_node=home.approach,
        till=spec.till,
        bounds=spec.bounds,
    )


def spec_of(plan: FloorPlan, name: str = "") -> PlanSpec:
    """A FloorPlan as a plan file's struct (to write one out: msgspec.toml.encode(spec_of(plan)))."""
    return PlanSpec(
        bounds=plan.bounds,
        doors=[DoorSpec(d.door_id, d.line[0], d.line[1], d.outside, d.node, d.label, d.weight) for d in plan.doors],
        nodes=dict(plan.nodes),
        edges=list(plan.edges),
        zones=[ZoneSpec(z.zone_id, z.kind, z.rect, z.approach, z.label, z.margin_m) for z in plan.zones],
        queue=QueueSpec(plan.queue_approach, [(float(x), float(y)) for x, y in plan.queue_slots]),
        counter=plan.counter,
        till=plan.till,
        exit_path=list(plan.exit_path),
        name=name,
    )


# -- checks -----------------------------------------------------------------------------------------


def check_spec(spec: PlanSpec) -> list[str]:
    """Every problem of a decoded plan, one line each, naming the field path and its value."""
    out: list[str] = []
    out += _check_bounds(spec)
    out += _check_zones(spec)
    out += _check_nodes_and_edges(spec)
    if out:  # the walks below need sound zones, nodes and edges
        return out
    out += _check_doors(spec)
    out += _check_queue_and_checkout(spec)
    out += _check_spot_walks(spec)
    out += _check_reachable(spec)
    return out


def _fmt(p: Sequence[float]) -> str:
    return "(" + ", ".join(f"{v:g}" for v in p) + ")"


def _check_bounds(spec: PlanSpec) -> list[str]:
    x0, y0, x1, y1 = spec.bounds
    if x1 > x0 and y1 > y0:
        return []
    return [f"bounds {_fmt(spec.bounds)}: x_min < x_max and y_min < y_max are needed"]


def _check_zones(spec: PlanSpec) -> list[str]:
    out: list[str] = []
    seen: dict[str, int] = {}
    for i, z in enumerate(spec.zones):
        at = f"zones[{i}]"
        if not _ID.fullmatch(z.id):
            out.append(f'{at}.id "{z.id}": a zone id matches [a-z0-9][a-z0-9_-]{{0,31}}')
        if z.id in seen:
            out.append(f'{at}.id "{z.id}": duplicate zone id (zones[{seen[z.id]}] has it too)')
        seen.setdefault(z.id, i)
        if z.kind not in ZONE_KINDS:
            out.append(f'{at}.kind "{z.kind}": not a zone kind (one of {", ".join(ZONE_KINDS)})')
        x0, y0, x1, y1 = z.rect
        if not (x1 > x0 and y1 > y0):
            out.append(f"{at}.rect {_fmt(z.rect)}: x_min < x_max and y_min < y_max are needed")
        elif not _rect_within(z.rect, spec.bounds):
            out.append(f'{at} "{z.id}" rect {_fmt(z.rect)}: outside the bounds {_fmt(spec.bounds)}')
        if z.margin_m < 0:
            out.append(f"{at}.margin_m {z.margin_m:g}: must be >= 0 metres")
        if z.approach is not None and z.approach not in spec.nodes:
            out.append(f'{at}.approach "{z.approach}": node "{z.approach}" does not exist')
        if z.kind == "product" and z.approach is None:
            out.append(f'{at} "{z.id}": a product zone needs an approach node (where shoppers enter it from)')
    kinds = {z.kind for z in spec.zones}
    for kind in ("product", "queue", "checkout"):
        if kind not in kinds:
            out.append(f'zones: no zone of kind "{kind}" (a simulated store needs one)')
    if not any(z.kind == "staff" and z.approach is not None for z in spec.zones):
        out.append('zones: no zone of kind "staff" with an approach node (the floor staff\'s home)')
    return out


def _check_nodes_and_edges(spec: PlanSpec) -> list[str]:
    out: list[str] = []
    for name, p in spec.nodes.items():
        if not _point_within(p, spec.bounds):
            out.append(f"nodes.{name} {_fmt(p)}: outside the bounds {_fmt(spec.bounds)}")
    for i, (a, b) in enumerate(spec.edges):
        at = f'edges[{i}] ("{a}", "{b}")'
        missing = [n for n in (a, b) if n not in spec.nodes]
        for n in dict.fromkeys(missing):
            out.append(f'{at}: node "{n}" does not exist')
        if missing:
            continue
        if a == b:
            out.append(f"{at}: an edge joins two different nodes")
            continue
        p, q = spec.nodes[a], spec.nodes[b]
        # An edge leads into the zones that hold one of its ends (a door node inside its entrance zone).
        leads_into = {z.id for z in spec.zones if _in_rect(p, z.rect) or _in_rect(q, z.rect)}
        out += _clearance(at, [(p, q)], spec.zones, leads_into)
    if not spec.edges:
        out.append("edges: the aisle graph has no edges")
    return out


def _check_doors(spec: PlanSpec) -> list[str]:
    out: list[str] = []
    if not spec.doors:
        return ["doors: a plan needs at least one door"]
    seen: dict[str, int] = {}
    entrances = {z.id for z in spec.zones if z.kind == "entrance"}
    for i, d in enumerate(spec.doors):
        at = f"doors[{i}]"
        if not _ID.fullmatch(d.id):
            out.append(f'{at}.id "{d.id}": a door id matches [a-z0-9][a-z0-9_-]{{0,31}}')
        if d.id in seen:
            out.append(f'{at}.id "{d.id}": duplicate door id (doors[{seen[d.id]}] has it too)')
        seen.setdefault(d.id, i)
        if d.a == d.b:
            out.append(f"{at}: a {_fmt(d.a)} and b {_fmt(d.b)} must differ")
            continue
        if not d.weight > 0:
            out.append(f"{at}.weight {d.weight:g}: must be > 0")
        if d.node not in spec.nodes:
            out.append(f'{at}.node "{d.node}": node "{d.node}" does not exist')
            continue
        beyond = -_signed(d.outside, d.a, d.b)
        if beyond < MIN_OUTSIDE_M:
            out.append(f"{at}.outside {_fmt(d.outside)}: {beyond:.2f} m beyond the door line, "
                       f"needs {MIN_OUTSIDE_M:g} m (on the right of a -> b)")  # fmt: skip
            continue
        jx, jy = _OUTSIDE_JITTER_M
        starts = [(d.outside[0] + sx * jx, d.outside[1] + sy * jy) for sx in (-1, 1) for sy in (-1, 1)]
        for s in starts:
            if not _point_within(s, spec.bounds):
                out.append(f"{at}.outside {_fmt(d.outside)}: arrivals stand up to {_fmt(_OUTSIDE_JITTER_M)} m "
                           f"from it, outside the bounds {_fmt(spec.bounds)} (cameras would not see them)")  # fmt: skip
                break
        node = spec.nodes[d.node]
        if not all(_segments_cross(s, node, d.a, d.b) for s in starts):
            out.append(f'{at}: the walk from outside {_fmt(d.outside)} to node "{d.node}" {_fmt(node)} '
                       f"does not cross the door line {_fmt(d.a)} -> {_fmt(d.b)}")  # fmt: skip
        out += _clearance(f"{at}: the walk in from outside", [(s, node) for s in starts], spec.zones, entrances)
    # Inside the store is the inward side of every door line (FloorPlan.door_side).
    for i, d in enumerate(spec.doors):
        if d.a == d.b:
            continue
        for name, p in spec.nodes.items():
            if _signed(p, d.a, d.b) <= 0:
                out.append(f'nodes.{name} {_fmt(p)}: beyond the line of doors[{i}] "{d.id}" (not inside the store)')
        for k, z in enumerate(spec.zones):
            x0, y0, x1, y1 = z.rect
            corners = ((x0, y0), (x1, y0), (x1, y1), (x0, y1))
            if min(_signed(c, d.a, d.b) for c in corners) <= 0:
                out.append(f'zones[{k}] "{z.id}" rect {_fmt(z.rect)}: beyond the line of doors[{i}] "{d.id}"')
    return out


def _check_queue_and_checkout(spec: PlanSpec) -> list[str]:
    out: list[str] = []
    q = spec.queue
    if q.approach not in spec.nodes:
        return [f'queue.approach "{q.approach}": node "{q.approach}" does not exist']
    zones = [z for z in spec.zones if z.kind == "queue" and z.approach == q.approach]
    if not zones:
        return [f'queue.approach "{q.approach}": no zone of kind "queue" has it as its approach']
    zone = zones[0]
    if not q.slots:
        out.append("queue.slots: the queue needs at least one slot")
    for i, s in enumerate(q.slots):
        # A party stands around its leader's slot: every member must be inside the queue zone too.
        members = [(s[0] + dx, s[1] + dy) for dx, dy in PARTY_OFFSETS_M]
        if not all(_strictly_in_rect(m, zone.rect) for m in members):
            out.append(f'queue.slots[{i}] {_fmt(s)}: outside the queue zone "{zone.id}" {_fmt(zone.rect)} '
                       "(with its party, up to 0.35 m aside and 0.55 m behind)")  # fmt: skip
    start = spec.nodes[q.approach]
    out += _clearance(f'queue: the walk from "{q.approach}" to a slot', [(start, s) for s in q.slots],
                      spec.zones, {zone.id})  # fmt: skip
    checkouts = {z.id for z in spec.zones if z.kind == "checkout"}
    if not any(_strictly_in_rect(spec.counter, z.rect) for z in spec.zones if z.id in checkouts):
        out.append(f'counter {_fmt(spec.counter)}: not inside a zone of kind "checkout"')
    if not any(_strictly_in_rect(spec.till, z.rect) for z in spec.zones if z.kind == "staff"):
        out.append(f'till {_fmt(spec.till)}: not inside a zone of kind "staff" (the cashier would count as a customer)')
    if q.slots:
        out += _clearance("queue: the walk from the head slot to the counter", [(q.slots[0], spec.counter)],
                          spec.zones, {zone.id} | checkouts)  # fmt: skip
    out += _check_exit_path(spec, checkouts)
    return out


def _check_exit_path(spec: PlanSpec, checkouts: set[str]) -> list[str]:
    if not spec.exit_path:
        return ["exit_path: served customers need a path from the counter to beyond a door"]
    out: list[str] = []
    path = [spec.counter, *spec.exit_path]
    last = spec.exit_path[-1]
    if all(_signed(last, d.a, d.b) > 0 for d in spec.doors):
        out.append(f"exit_path[{len(spec.exit_path) - 1}] {_fmt(last)}: not beyond any door (the path must leave)")
    for i, (p, q) in enumerate(pairwise(path)):
        inside_p = all(_signed(p, d.a, d.b) > 0 for d in spec.doors)
        inside_q = all(_signed(q, d.a, d.b) > 0 for d in spec.doors)
        if inside_p and not inside_q and not any(_segments_cross(p, q, d.a, d.b) for d in spec.doors):
            out.append(f"exit_path[{i}] {_fmt(q)}: the path leaves the store outside every door's line segment")
    entrances = {z.id for z in spec.zones if z.kind == "entrance"}
    out += _clearance("exit_path", list(pairwise(path)), spec.zones, checkouts | entrances)
    return out


def _check_spot_walks(spec: PlanSpec) -> list[str]:
    """A walk from a zone's approach node to any spot in it keeps clear of every other zone."""
    out: list[str] = []
    for i, z in enumerate(spec.zones):
        if z.approach is None or z.approach not in spec.nodes:
            continue
        start = spec.nodes[z.approach]
        x0, y0, x1, y1 = _spot_rect(z)
        corners = ((x0, y0), (x1, y0), (x1, y1), (x0, y1))
        out += _clearance(f'zones[{i}] "{z.id}": the walk from its approach "{z.approach}" to a spot',
                          [(start, c) for c in corners], spec.zones, {z.id})  # fmt: skip
    return out


def _check_reachable(spec: PlanSpec) -> list[str]:
    adjacency: dict[str, set[str]] = {}
    for a, b in spec.edges:
        adjacency.setdefault(a, set()).add(b)
        adjacency.setdefault(b, set()).add(a)
    out: list[str] = []
    needed = {z.approach: f'zone "{z.id}"' for z in spec.zones if z.approach is not None}
    needed[spec.queue.approach] = "the queue"
    for d in spec.doors:
        needed[d.node] = f'door "{d.id}"'
    for i, d in enumerate(spec.doors):
        reach, todo = {d.node}, [d.node]
        while todo:
            for other in adjacency.get(todo.pop(), ()):
                if other not in reach:
                    reach.add(other)
                    todo.append(other)
        for node, what in needed.items():
            if node not in reach:
                out.append(f'doors[{i}].node "{d.node}": no aisle path to node "{node}" ({what})')
    return out


# -- geometry (metres) ------------------------------------------------------------------------------


def _clearance(at: str, segments: Sequence[tuple[Point, Point]], zones: Sequence[ZoneSpec],
               allowed: set[str]) -> list[str]:  # fmt: skip
    out = []
    for z in zones:
        if z.id in allowed:
            continue
        gap = min(_segment_rect_distance(p, q, z.rect) for p, q in segments) if segments else math.inf
        if gap < CLEARANCE_M - _EPS_M:
            out.append(f'{at}: {gap:.2f} m from zone "{z.id}" {_fmt(z.rect)}, needs {CLEARANCE_M:g} m '
                       "(a walk keeps clear of zones it does not lead into)")  # fmt: skip
    return out


def _spot_rect(z: ZoneSpec) -> Rect:
    """Where SimZone.random_spot draws spots: margin_m inside the rect (less in a narrow zone)."""
    x0, y0, x1, y1 = z.rect
    m = min(z.margin_m, (x1 - x0) / 2 - 0.05, (y1 - y0) / 2 - 0.05)
    return (x0 + m, y0 + m, x1 - m, y1 - m)


def _signed(p: Point, a: Point, b: Point) -> float:
    """Signed distance (metres) of p to the line a -> b, > 0 on its left (geometry.lines.signed_distance)."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    return (dx * (p[1] - a[1]) - dy * (p[0] - a[0])) / math.hypot(dx, dy)


def _in_rect(p: Point, r: Rect) -> bool:
    return r[0] <= p[0] <= r[2] and r[1] <= p[1] <= r[3]


def _strictly_in_rect(p: Point, r: Rect) -> bool:
    return r[0] < p[0] < r[2] and r[1] < p[1] < r[3]


def _point_within(p: Point, bounds: Rect) -> bool:
    return _in_rect(p, bounds)


def _rect_within(r: Rect, bounds: Rect) -> bool:
    return bounds[0] <= r[0] and bounds[1] <= r[1] and r[2] <= bounds[2] and r[3] <= bounds[3]


def _cross(o: Point, a: Point, b: Point) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def _segments_cross(p: Point, q: Point, a: Point, b: Point) -> bool:
    """Whether segment p-q goes from strictly one side of a-b to strictly the other, through the segment."""
    d1, d2 = _cross(a, b, p), _cross(a, b, q)
    d3, d4 = _cross(p, q, a), _cross(p, q, b)
    return d1 * d2 < 0 and d3 * d4 <= 0


def _point_segment_distance(p: Point, a: Point, b: Point) -> float:
    dx, dy = b[0] - a[0], b[1] - a[1]
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / length2))
    return math.hypot(p[0] - (a[0] + t * dx), p[1] - (a[1] + t * dy))


def _segment_rect_distance(p: Point, q: Point, r: Rect) -> float:
    """Shortest distance (metres) between segment p-q and the rectangle r (0 when they meet)."""
    if _in_rect(p, r) or _in_rect(q, r):
        return 0.0
    x0, y0, x1, y1 = r
    corners = ((x0, y0), (x1, y0), (x1, y1), (x0, y1))
    sides = list(zip(corners, corners[1:] + corners[:1], strict=True))
    if any(_segments_cross(p, q, a, b) and _segments_cross(a, b, p, q) for a, b in sides):
        return 0.0
    ends = [_point_segment_distance(e, a, b) for e in (p, q) for a, b in sides]
    return min(*ends, *(_point_segment_distance(c, p, q) for c in corners))
