"""The simulated store's floor plan: zones, one or more doors, an aisle graph, the queue and the checkout (metres).

The aisle graph's edges keep at least 0.7 m from every zone, so a walk
between zones enters and leaves only the zones it means to: a passer-by
never grazes a zone for a frame or two, which is what lets the ground truth
be exact under the zone processor's hysteresis.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from ml_core.geometry.lines import signed_distance

FloatArray = npt.NDArray[np.float64]
Point = tuple[float, float]

ZONE_KINDS = ("entrance", "product", "queue", "checkout", "staff")


@dataclass(frozen=True)
class SimZone:
    """One zone: a rectangle (metres) with a kind, the aisle node it is entered from, and a margin for spots.

    rect: (x_min, y_min, x_max, y_max). Spots (where people stand) keep `margin_m` from the edges, so
    members of a group standing around a spot are inside too.
    """

    zone_id: str
    kind: str
    rect: tuple[float, float, float, float]
    approach: str | None = None
    label: str = ""
    margin_m: float = 0.9

    def __post_init__(self) -> None:
        if self.kind not in ZONE_KINDS:
            raise ValueError(f"zone kind must be one of {ZONE_KINDS}, got {self.kind!r}")
        x0, y0, x1, y1 = self.rect
        if not (x1 > x0 and y1 > y0):
            raise ValueError(f"zone {self.zone_id!r} rect must have x_min < x_max and y_min < y_max, got {self.rect}")

    @property
    def polygon(self) -> FloatArray:
        """(4, 2) corners, counter-clockwise, metres."""
        x0, y0, x1, y1 = self.rect
        return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)

    def random_spot(self, rng: np.random.Generator) -> FloatArray:
        """A point at least margin_m inside the zone, metres."""
        x0, y0, x1, y1 = self.rect
        m = min(self.margin_m, (x1 - x0) / 2 - 0.05, (y1 - y0) / 2 - 0.05)
        return np.array([rng.uniform(x0 + m, x1 - m), rng.uniform(y0 + m, y1 - m)])


@dataclass(frozen=True)
class Door:
    """One door: its counting line a -> b (inward on the left, metres), where people appear and vanish
    beyond it (`outside`, metres), the aisle node just inside it, and its share of arriving parties.

    weight: relative chance that a party arrives by this door (only drawn when a plan has several doors).
    """

    door_id: str
    line: tuple[Point, Point]
    outside: Point
    node: str
    label: str = ""
    weight: float = 1.0

    def __post_init__(self) -> None:
        if self.line[0] == self.line[1]:
            raise ValueError(f"door {self.door_id!r} line end points must differ, got {self.line}")
        if not self.weight > 0:
            raise ValueError(f"door {self.door_id!r} weight must be > 0, got {self.weight}")


@dataclass(frozen=True)
class FloorPlan:
    """A store floor: zones, its doors (each a counting line, inward on the left of a->b), the aisle graph and
    fixtures.

    doors: one or more; the first is the main door (`door`, `outside` and `door_node` are its).
    queue_slots: (s, 2) standing points of the checkout queue, head first. counter: where a customer is
    served. exit_path: points walked from the counter to the outside. till: the cashier's spot.
    bounds: (x_min, y_min, x_max, y_max) of the floor a camera sees.
    """

    zones: tuple[SimZone, ...]
    doors: tuple[Door, ...]
    nodes: dict[str, Point]
    edges: tuple[tuple[str, str], ...]
    queue_approach: str
    queue_slots: FloatArray
    counter: Point
    exit_path: tuple[Point, ...]
    staff_node: str
    till: Point
    bounds: tuple[float, float, float, float]
    _adjacency: dict[str, list[tuple[float, str]]] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.doors:
            raise ValueError("a floor plan needs at least one door")
        for door in self.doors:
            if door.node not in self.nodes:
                raise ValueError(f"door {door.door_id!r} node {door.node!r} is not a node of the plan")
        for a, b in self.edges:
            for name in (a, b):
                if name not in self.nodes:
                    raise ValueError(f"edge ({a!r}, {b!r}) names node {name!r}, which the plan lacks")
            d = math.dist(self.nodes[a], self.nodes[b])
            self._adjacency.setdefault(a, []).append((d, b))
            self._adjacency.setdefault(b, []).append((d, a))
        for zone in self.zones:
            if zone.approach is not None and zone.approach not in self.nodes:
                raise ValueError(f"zone {zone.zone_id!r} approach {zone.approach!r} is not a node of the plan")

    @property
    def door(self) -> tuple[Point, Point]:
        """The main (first) door's line, metres."""
        return self.doors[0].line

    @property
    def outside(self) -> Point:
        """Where customers of the main (first) door appear and vanish, metres."""
        return self.doors[0].outside

    @property
    def door_node(self) -> str:
        """The aisle node inside the main (first) door."""
        return self.doors[0].node

    def door_side(self, points: FloatArray) -> FloatArray:
        """(n,) +1 where each of (n, 2) points (metres) is inside the store, -1 outside, 0 on a door line.

        Inside is the inward side of every door line: beyond any one door is outside. With one door this is
        exactly the sign of the signed distance to its line (so single-door truth is what it always was).
        """
        if len(self.doors) == 1:
            a, b = self.doors[0].line
            return np.sign(signed_distance(points, a, b))
        sides = np.stack([np.sign(signed_distance(points, *d.line)) for d in self.doors])
        return np.asarray(np.where((sides < 0).any(axis=0), -1.0, np.where((sides == 0).any(axis=0), 0.0, 1.0)))

    def entry_door(self, rng: np.random.Generator) -> Door:
        """The door a party arrives by, drawn with the doors' weights; one door draws nothing from rng."""
        if len(self.doors) == 1:
            return self.doors[0]
        weights = np.array([d.weight for d in self.doors], dtype=np.float64)
        return self.doors[int(rng.choice(len(self.doors), p=weights / weights.sum()))]

    def nearest_door(self, node: str) -> Door:
        """The door whose node is the shortest aisle walk from `node` (ties: the first listed)."""
        if len(self.doors) == 1:
            return self.doors[0]
        dist = self._distances(node)
        return min(self.doors, key=lambda d: dist.get(d.node, math.inf))

    def zone(self, zone_id: str) -> SimZone:
        for z in self.zones:
            if z.zone_id == zone_id:
                return z
        raise KeyError(f"plan has no zone {zone_id!r}")

    def zones_of_kind(self, kind: str) -> tuple[SimZone, ...]:
        return tuple(z for z in self.zones if z.kind == kind)

    def _distances(self, start: str) -> dict[str, float]:
        """Shortest aisle distance (metres) from start to every node it reaches."""
        dist = {start: 0.0}
        heap = [(0.0, start)]
        while heap:
            d, node = heapq.heappop(heap)
            if d > dist.get(node, math.inf):
                continue
            for w, other in self._adjacency.get(node, []):
                if d + w < dist.get(other, math.inf):
                    dist[other] = d + w
                    heapq.heappush(heap, (d + w, other))
        return dist

    def route(self, start: str, goal: str) -> list[FloatArray]:
        """Node positions on the shortest aisle path from start to goal, both included."""
        dist = {start: 0.0}
        prev: dict[str, str] = {}
        heap = [(0.0, start)]
        while heap:
            d, node = heapq.heappop(heap)
            if node == goal:
                break
            if d > dist.get(node, math.inf):
                continue
            for w, other in self._adjacency.get(node, []):
                nd = d + w
                if nd < dist.get(other, math.inf):
                    dist[other], prev[other] = nd, node
                    heapq.heappush(heap, (nd, other))
        if goal not in dist:
            raise ValueError(f"no aisle path from {start!r} to {goal!r}")
        names = [goal]
        while names[-1] != start:
            names.append(prev[names[-1]])
        return [np.array(self.nodes[n], dtype=np.float64) for n in reversed(names)]


def default_plan() -> FloorPlan:
    """A 20 m x 14 m convenience store: door at the bottom, five product zones, a queue, a checkout, staff areas."""
    nodes = {
        "door": (10.0, 4.0),
        "bl": (5.2, 4.0),
        "produce-ap": (5.2, 6.25),
        "tl": (5.2, 9.2),
        "bakery-ap": (5.2, 11.25),
        "dairy-ap": (8.0, 9.2),
        "mid-top": (10.75, 9.2),
        "drinks-ap": (13.5, 9.2),
        "tr": (14.5, 9.2),
        "staff-ap": (16.2, 9.2),
        "queue-ap": (14.5, 6.0),
        "br": (14.5, 4.0),
        "mid-bottom": (10.75, 4.0),
        "snacks-ap": (10.75, 6.75),
    }
    edges = (
        ("bl", "produce-ap"), ("produce-ap", "tl"), ("tl", "bakery-ap"),
        ("tl", "dairy-ap"), ("dairy-ap", "mid-top"), ("mid-top", "drinks-ap"), ("drinks-ap", "tr"),
        ("tr", "staff-ap"), ("tr", "queue-ap"), ("queue-ap", "br"),
        ("bl", "door"), ("door", "mid-bottom"), ("mid-bottom", "br"),
        ("mid-bottom", "snacks-ap"), ("snacks-ap", "mid-top"),
    )  # fmt: skip
    zones = (
        SimZone("entrance", "entrance", (7.0, 0.3, 13.0, 3.3), label="Entrance"),
        SimZone("produce", "product", (0.5, 4.5, 4.5, 8.0), "produce-ap", "Fruit & veg"),
        SimZone("bakery", "product", (0.5, 9.5, 4.5, 13.0), "bakery-ap", "Bakery"),
        SimZone("snacks", "product", (6.5, 5.5, 10.0, 8.0), "snacks-ap", "Snacks"),
        SimZone("dairy", "product", (6.0, 10.0, 10.0, 13.5), "dairy-ap", "Dairy"),
        SimZone("drinks", "product", (11.5, 10.0, 15.5, 13.5), "drinks-ap", "Drinks"),
        SimZone("queue", "queue", (15.5, 2.7, 19.0, 8.7), "queue-ap", "Checkout queue"),
        SimZone("checkout", "checkout", (15.5, 0.5, 19.0, 2.3), label="Checkout"),
        SimZone("back-office", "staff", (16.5, 10.0, 20.0, 14.0), "staff-ap", "Back office"),
        SimZone("till", "staff", (19.2, 0.5, 20.0, 2.3), label="Till", margin_m=0.3),
    )
    # Queue slots keep a party's members (up to 0.55 m behind the leader) well inside the queue zone.
    slots = np.array([[17.25, 3.5 + 0.7 * i] for i in range(14)], dtype=np.float64)
    return FloorPlan(
        zones=zones,
        doors=(Door("door", ((9.0, 0.0), (11.0, 0.0)), (10.0, -1.8), "door", "Main door"),),
        nodes=nodes,
        edges=edges,
        queue_approach="queue-ap",
        queue_slots=slots,
        counter=(17.25, 1.5),
        exit_path=((14.5, 1.5), (10.2, 1.6), (10.2, -1.8)),
        staff_node="staff-ap",
        till=(19.6, 1.5),
        bounds=(-0.5, -2.5, 20.5, 14.5),
    )
