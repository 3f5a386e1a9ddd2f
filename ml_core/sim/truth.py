"""Exact ground truth of a simulated day, from the true positions at the frame times.

Definitions (the zone processor is built to the same ones, so on noise-free
input every measured quantity must equal these):

- a visit is a customer's stay on the inward side of the door lines (of every
  door: FloorPlan.door_side): it starts at the first frame on the inward side
  and ends at the first frame back on the outward side (or at the last frame
  seen);
- a zone visit is a run of frames inside a zone's polygon: it is entered at
  the run's first frame and exited at the first frame outside (the last frame
  seen if the person vanishes inside); it is clipped to the customer's visit;
- samples are taken every tick (multiples of tick_ns) and count the customers
  whose interval [enter, exit) holds the tick; a tick is sampled once frames
  later than tick + sample_delay exist;
- heat: each observation after a person's first adds the time since their
  previous observation (at most max_presence_gap_ns) to the cell it is in.

Times are integer nanoseconds (frame f is at t0_ns + f * frame_period_ns).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from ml_core.geometry.polygons import points_in_polygon
from ml_core.sim import truth_scan
from ml_core.sim.agents import CUSTOMER, STAFF, Trajectories
from ml_core.sim.plan import FloorPlan

IntArray = npt.NDArray[np.int64]

STAGES = ("entered", "engaged", "queued", "checked_out")
# Not valid zone ids (those start with [a-z0-9]), so they never clash with a zone.
ENTRANCE_STATE = "_entrance"
EXIT_STATE = "_exit"


@dataclass(frozen=True)
class TruthConfig:
    """How quantities are defined: tick and delay of samples, bucket (s), heat cell (m), engagement dwell (s)."""

    tick_s: float = 1.0
    sample_delay_s: float = 3.0
    bucket_s: int = 300
    cell_m: float = 0.5
    engage_s: float = 15.0
    max_presence_gap_s: float = 2.0


@dataclass(frozen=True)
class Visit:
    """One customer's visit: person and party indices, start and end in ns."""

    person: int
    party: int
    start_ns: int
    end_ns: int


@dataclass(frozen=True)
class ZoneVisit:
    """One customer's stay in one zone, in ns; dwell_s is (exit - enter) in seconds."""

    person: int
    zone_id: str
    enter_ns: int
    exit_ns: int

    @property
    def dwell_s(self) -> float:
        return (self.exit_ns - self.enter_ns) / 1e9


@dataclass(frozen=True)
class GroundTruth:
    """Every quantity the analytics measure, exactly, for one simulated day."""

    t0_ns: int
    frame_period_ns: int
    visits: list[Visit]
    zone_visits: list[ZoneVisit]
    crossings: Counter[tuple[int, str]]  # (bucket_start_ns, "in"|"out") -> count, door line
    transitions: Counter[tuple[int, str, str]]  # (bucket_start_ns, from, to) -> count
    stages: dict[int, str]  # visit index -> furthest funnel stage
    ticks_ns: IntArray
    occupancy: dict[str, IntArray]  # zone id, or "" for the whole store -> customers per tick
    queue_zones: tuple[str, ...]
    heat: dict[tuple[int, int, int], tuple[float, int]]  # (bucket_start_ns, cell_x, cell_y) -> (seconds, people)
    staff: frozenset[int]
    purchases: list[tuple[int, int]]  # (ts_ns, party)
    parties: int = field(default=0)


def compute_truth(traj: Trajectories, plan: FloorPlan, config: TruthConfig, t0_ns: int) -> GroundTruth:
    """Derive the ground truth of `traj` in `plan` under `config`; frame 0 is at t0_ns."""
    period_ns = round(traj.frame_period_s * 1e9)
    n_frames = traj.n_frames
    ts = t0_ns + np.arange(n_frames, dtype=np.int64) * period_ns
    bucket_ns = config.bucket_s * 1_000_000_000
    visits: list[Visit] = []
    zone_visits: list[ZoneVisit] = []
    crossings: Counter[tuple[int, str]] = Counter()
    transitions: Counter[tuple[int, str, str]] = Counter()
    stages: dict[int, str] = {}
    state_zones = {z.zone_id for z in plan.zones if z.kind not in ("entrance", "staff")}
    kind_of = {z.zone_id: z.kind for z in plan.zones}
    frame, offsets = traj.frame, traj.offsets
    side = plan.door_side(traj.xy)  # inward of every door line: in the store
    for cross_ns, inward in zip(*(a.tolist() for a in truth_scan.crossings(side, frame, offsets, ts)), strict=True):
        crossings[((cross_ns // bucket_ns) * bucket_ns, "in" if inward else "out")] += 1
    visits_of = _by_person(*truth_scan.visits(side, frame, offsets, ts))
    customers = np.flatnonzero((traj.kind == CUSTOMER) & (np.diff(offsets) > 0)).astype(np.int64)
    # Zone runs of every customer, per zone in plan order: person -> [(zone_id, first frame, end frame)].
    runs_of: dict[int, list[tuple[str, int, int]]] = defaultdict(list)
    for zone in plan.zones:
        inside = _inside(traj.xy, zone.polygon)
        for person, f0, f1 in zip(*(a.tolist() for a in truth_scan.runs(inside, frame, offsets, customers)),
                                  strict=True):  # fmt: skip
            runs_of[person].append((zone.zone_id, f0, f1))
    for person in customers.tolist():
        person_visits = visits_of.get(person, [])
        runs: list[ZoneVisit] = []
        for zone_id, f0, f1 in runs_of.get(person, []):
            for v_start, v_end in person_visits:
                enter, leave = max(int(ts[f0]), v_start), min(int(ts[f1]), v_end)
                if enter < leave:
                    runs.append(ZoneVisit(person, zone_id, enter, leave))
        runs.sort(key=lambda r: (r.enter_ns, r.zone_id))
        zone_visits.extend(runs)
        for v_start, v_end in person_visits:
            index = len(visits)
            visits.append(Visit(person, int(traj.party[person]), v_start, v_end))
            inside_visit = [r for r in runs if v_start <= r.enter_ns < v_end]
            state, for_stage = ENTRANCE_STATE, inside_visit
            for r in inside_visit:
                if r.zone_id in state_zones and r.zone_id != state:
                    transitions[((r.enter_ns // bucket_ns) * bucket_ns, state, r.zone_id)] += 1
                    state = r.zone_id
            transitions[((v_end // bucket_ns) * bucket_ns, state, EXIT_STATE)] += 1
            stages[index] = _stage(for_stage, kind_of, config.engage_s)
    ticks = _ticks(ts, config)
    occupancy = _occupancy(ticks, visits, zone_visits, plan)
    heat = _heat(traj, ts, config)
    staff = frozenset(int(p) for p in np.flatnonzero(traj.kind == STAFF))
    purchases = [(int(t0_ns + f * period_ns), int(party)) for f, party in traj.purchases]
    parties = len({v.party for v in visits})
    return GroundTruth(t0_ns, period_ns, visits, zone_visits, crossings, transitions, stages, ticks, occupancy,
                       tuple(z.zone_id for z in plan.zones if z.kind == "queue"), heat, staff, purchases,
                       parties)  # fmt: skip


def _by_person(person: IntArray, start_ns: IntArray, end_ns: IntArray) -> dict[int, list[tuple[int, int]]]:
    """person -> their visits (start_ns, end_ns) in order."""
    out: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for p, start, end in zip(person.tolist(), start_ns.tolist(), end_ns.tolist(), strict=True):
        out[p].append((start, end))
    return out


# Candidate rows tested against a polygon at once: points_in_polygon's temporaries are rows x vertices.
_POLYGON_CHUNK_ROWS = 1 << 20


def _inside(xy: npt.NDArray[np.float64], polygon: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    """points_in_polygon over a day's rows, tested only where it can say yes (each point's answer is its own).

    Its even-odd ray casting counts edges that straddle the point's y ((y1 > y) != (y2 > y)): none do unless
    min y <= y < max y of the polygon, so rows outside that band are outside, exactly as it would say.
    """
    out = np.zeros(len(xy), dtype=np.bool_)
    y = xy[:, 1]
    rows = np.flatnonzero((y >= polygon[:, 1].min()) & (y < polygon[:, 1].max()))
    for lo in range(0, len(rows), _POLYGON_CHUNK_ROWS):
        chunk = rows[lo : lo + _POLYGON_CHUNK_ROWS]
        out[chunk] = points_in_polygon(xy[chunk], polygon)
    return out


def _stage(runs: list[ZoneVisit], kind_of: dict[str, str], engage_s: float) -> str:
    reached = 0
    for r in runs:
        kind = kind_of[r.zone_id]
        if kind == "product" and r.dwell_s >= engage_s:
            reached = max(reached, 1)
        elif kind == "queue":
            reached = max(reached, 2)
        elif kind == "checkout":
            reached = max(reached, 3)
    return STAGES[reached]


def _ticks(ts: IntArray, config: TruthConfig) -> IntArray:
    tick_ns = round(config.tick_s * 1e9)
    delay_ns = round(config.sample_delay_s * 1e9)
    first = -(-int(ts[0]) // tick_ns) * tick_ns
    last_frame = int(ts[-1])
    count = max(0, math.ceil((last_frame - delay_ns - first) / tick_ns))
    return first + np.arange(count, dtype=np.int64) * tick_ns


def _occupancy(
    ticks: IntArray, visits: list[Visit], zone_visits: list[ZoneVisit], plan: FloorPlan
) -> dict[str, IntArray]:
    def count(intervals: list[tuple[int, int]]) -> IntArray:
        if not intervals:
            return np.zeros(len(ticks), dtype=np.int64)
        arr = np.array(intervals, dtype=np.int64)
        starts, ends = np.sort(arr[:, 0]), np.sort(arr[:, 1])
        return np.asarray(np.searchsorted(starts, ticks, "right") - np.searchsorted(ends, ticks, "right"))

    out = {"": count([(v.start_ns, v.end_ns) for v in visits])}
    by_zone: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for zv in zone_visits:
        by_zone[zv.zone_id].append((zv.enter_ns, zv.exit_ns))
    for zone in plan.zones:
        out[zone.zone_id] = count(by_zone[zone.zone_id])
    return out


def _heat(traj: Trajectories, ts: IntArray, config: TruthConfig) -> dict[tuple[int, int, int], tuple[float, int]]:
    """(bucket_start_ns, cell_x, cell_y) -> (presence seconds, distinct people), keys in order of first row.

    Sums are integer nanoseconds, so grouping all rows at once gives exactly what a per-row loop gave.
    """
    if len(traj.frame) == 0:
        return {}
    bucket_ns = config.bucket_s * 1_000_000_000
    gap_ns = round(config.max_presence_gap_s * 1e9)
    person = np.repeat(np.arange(traj.n_people, dtype=np.int64), np.diff(traj.offsets))
    cx = np.floor(traj.xy[:, 0] / config.cell_m).astype(np.int64)
    cy = np.floor(traj.xy[:, 1] / config.cell_m).astype(np.int64)
    t = ts[traj.frame]
    dt = np.diff(t, prepend=t[0])
    dt[traj.offsets[:-1][np.diff(traj.offsets) > 0]] = 0  # a person's first row adds nothing
    dt = np.minimum(dt, gap_ns)
    bucket = (t // bucket_ns) * bucket_ns
    # One int64 per (bucket, cell): the ranges are small (a day of 5-minute buckets, a floor of 0.5 m cells).
    b_idx = (bucket - bucket.min()) // bucket_ns
    x_idx, y_idx = cx - cx.min(), cy - cy.min()
    nx, ny = int(x_idx.max()) + 1, int(y_idx.max()) + 1
    key = (b_idx * nx + x_idx) * ny + y_idx
    keys, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    seconds = np.zeros(len(keys), dtype=np.int64)
    np.add.at(seconds, inverse, dt)
    pairs = np.unique(inverse * traj.n_people + person)  # distinct (cell, person)
    people = np.bincount(pairs // traj.n_people, minlength=len(keys))
    by_first = np.argsort(first, kind="stable")
    rows = first[by_first]
    return {
        (b, x, y): (sec / 1e9, n)
        for b, x, y, sec, n in zip(bucket[rows].tolist(), cx[rows].tolist(), cy[rows].tolist(),
                                   seconds[by_first].tolist(), people[by_first].tolist(), strict=True)
    }  # fmt: skip
