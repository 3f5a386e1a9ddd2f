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
    for person in range(traj.n_people):
        present = traj.frames_of(person)
        if present.size == 0:
            continue
        pts = traj.xy_of(person)
        side = plan.door_side(pts)  # inward of every door line: in the store
        person_visits = _visits_of(present, side, ts)
        for start_ns, end_ns, direction_ns in _crossings_of(present, side, ts):
            crossings[((direction_ns[0] // bucket_ns) * bucket_ns, direction_ns[1])] += 1
            del start_ns, end_ns
        if traj.kind[person] != CUSTOMER:
            continue
        runs: list[ZoneVisit] = []
        for zone in plan.zones:
            inside = points_in_polygon(pts, zone.polygon)
            for f0, f1 in _runs(inside, present):
                for v_start, v_end in person_visits:
                    enter, leave = max(int(ts[f0]), v_start), min(int(ts[f1]), v_end)
                    if enter < leave:
                        runs.append(ZoneVisit(person, zone.zone_id, enter, leave))
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


def _visits_of(present: IntArray, side: npt.NDArray[np.float64], ts: IntArray) -> list[tuple[int, int]]:
    out, start, last = [], None, 0.0
    for k, f in enumerate(present):
        s = side[k]
        if s == 0:
            continue
        if s > 0 and last < 0 and start is None:
            start = int(ts[f])
        elif s < 0 and start is not None:
            out.append((start, int(ts[f])))
            start = None
        last = s
    if start is not None:
        out.append((start, int(ts[present[-1]])))
    return out


def _crossings_of(
    present: IntArray, side: npt.NDArray[np.float64], ts: IntArray
) -> list[tuple[int, int, tuple[int, str]]]:
    out, last = [], 0.0
    for k, f in enumerate(present):
        s = side[k]
        if s == 0:
            continue
        if last not in (0, s):
            out.append((0, 0, (int(ts[f]), "in" if s > 0 else "out")))
        last = s
    return out


def _runs(inside: npt.NDArray[np.bool_], present: IntArray) -> list[tuple[int, int]]:
    """(first frame inside, first frame outside or last frame seen) of each run of inside frames."""
    out = []
    k, n = 0, len(inside)
    while k < n:
        if not inside[k]:
            k += 1
            continue
        j = k
        while j < n and inside[j]:
            j += 1
        out.append((int(present[k]), int(present[j]) if j < n else int(present[n - 1])))
        k = j
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
    bucket_ns = config.bucket_s * 1_000_000_000
    gap_ns = round(config.max_presence_gap_s * 1e9)
    seconds: dict[tuple[int, int, int], int] = defaultdict(int)
    people: dict[tuple[int, int, int], set[int]] = defaultdict(set)
    for person in range(traj.n_people):
        present = traj.frames_of(person)
        if present.size == 0:
            continue
        pts = traj.xy_of(person)
        cx = np.floor(pts[:, 0] / config.cell_m).astype(np.int64)
        cy = np.floor(pts[:, 1] / config.cell_m).astype(np.int64)
        t = ts[present]
        dt = np.minimum(np.diff(t, prepend=t[0]), gap_ns)
        buckets = (t // bucket_ns) * bucket_ns
        for b, x, y, d in zip(buckets.tolist(), cx.tolist(), cy.tolist(), dt.tolist(), strict=True):
            seconds[(b, x, y)] += d
            people[(b, x, y)].add(person)
    return {k: (seconds[k] / 1e9, len(people[k])) for k in seconds}
