"""The store simulator as footfall events: layout, TrackFrames per camera, POS transactions, truth, video.

ml_core/sim simulates people in floor metres; this module (ops may combine
schemas, ml_core and stream) turns that into what an edge box and a till
would publish, and writes the exact ground truth as JSON.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ml_core.geometry.homography import apply_homography, fit_homography
from ml_core.sim.agents import CUSTOMER, ShopperConfig, Trajectories, simulate
from ml_core.sim.noise import NO_NOISE, IntArray, NoiseConfig, Observations, observe
from ml_core.sim.plan import FloorPlan, default_plan
from ml_core.sim.truth import GroundTruth, TruthConfig, compute_truth
from ops.simulation.events import CameraRows, track_events
from schemas.events import Event, LayoutPublished, PosTransaction
from schemas.layout import CameraCalibration, CountingLine, StoreLayout, Zone, ZoneKind

STORE = "sim-store"
EDGE_RUN = "sim-run-1"
# A fixed day for golden digests and tests; `footfall simulate` and the demo default to yesterday.
T0_NS = 1_767_261_600_000_000_000  # 2026-01-01T10:00:00Z
IMAGE_W, IMAGE_H = 960, 540
BODY_WIDTH_M, BODY_HEIGHT_M = 0.5, 1.7
# Where a camera's floor strip lands in its (normalised) image: a view from the door side, tilted.
_IMAGE_QUAD = np.array([[0.06, 0.96], [0.94, 0.96], [0.78, 0.22], [0.22, 0.22]])


@dataclass(frozen=True)
class SimCamera:
    """One simulated camera: the floor strip it sees (x_min..x_max metres) and its floor->image homography.

    Neighbouring cameras' strips overlap (see sim_cameras), as real store cameras do.
    """

    camera_id: str
    x_range: tuple[float, float]
    floor_to_image: npt.NDArray[np.float64]

    @property
    def image_to_floor(self) -> npt.NDArray[np.float64]:
        h = np.linalg.inv(self.floor_to_image)
        return np.asarray(h / h[2, 2])

    def sees(self, xy: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
        """(n,) whether each of (n, 2) floor points (metres) is in this camera's field of view."""
        return np.asarray((xy[:, 0] >= self.x_range[0]) & (xy[:, 0] < self.x_range[1]))


@dataclass(frozen=True)
class SimulatedDay:
    """A simulated day as events (in log order), POS transactions, the truth, and what produced them."""

    seed: int
    plan: FloorPlan
    cameras: tuple[SimCamera, ...]
    layout: LayoutPublished
    events: list[Event]
    pos: list[PosTransaction]
    truth: GroundTruth
    trajectories: Trajectories
    observations: Observations
    # (camera_id, track_id) -> true person index, for scoring.
    person_of_track: dict[tuple[str, int], int] = field(default_factory=dict)


# No edge of a camera's view within this distance (metres) of the door: a hand-over on the door line would
# make one person's entry look like a track appearing inside the store, which no zone processor can tell apart.
DOOR_CLEARANCE_M = 2.0
# Neighbouring cameras see this much floor (metres, across the boundary) in common by default.
DEFAULT_OVERLAP_M = 1.5
# Noise seeds of camera c > 0 are offset by c * this, so each camera's tracker errs independently.
_CAMERA_SEED_STRIDE = 7919


def sim_cameras(plan: FloorPlan, count: int, overlap_m: float = DEFAULT_OVERLAP_M) -> tuple[SimCamera, ...]:
    """`count` cameras side by side, neighbours sharing a band overlap_m wide; no view edge near the door.

    Camera c sees x in [boundary_c - overlap_m / 2, boundary_c+1 + overlap_m / 2) (metres), the outer
    cameras up to the floor's bounds.
    """
    if count < 1:
        raise ValueError(f"cameras must be at least 1, got {count}")
    if overlap_m < 0:
        raise ValueError(f"overlap_m must be >= 0 metres, got {overlap_m}")
    x0, y0, x1, y1 = plan.bounds
    half = overlap_m / 2
    edges = np.linspace(x0, x1, count + 1)
    spans = [(min(a[0], b[0]) - DOOR_CLEARANCE_M, max(a[0], b[0]) + DOOR_CLEARANCE_M) for a, b in
             (d.line for d in plan.doors)]  # fmt: skip
    for door_lo, door_hi in spans:
        for i in range(1, count):
            if edges[i] - half < door_hi and edges[i] + half > door_lo:  # a view edge would fall near the door
                edges[i] = door_hi + half if door_hi + half < edges[i + 1] else door_lo - half
    near = any(e - half < hi and e + half > lo for e in edges[1:-1] for lo, hi in spans)
    if near or np.any(np.diff(edges) < overlap_m):
        raise ValueError(f"{count} cameras with {overlap_m} m overlap cannot split the floor clear of the door")
    out = []
    for c in range(count):
        lo = float(edges[c] - half) if c > 0 else float(x0)
        hi = float(edges[c + 1] + half) if c < count - 1 else float(x1)
        quad = np.array([[lo, y0], [hi, y0], [hi, y1], [lo, y1]])
        out.append(SimCamera(f"cam-{c + 1}", (lo, hi), fit_homography(quad, _IMAGE_QUAD).matrix))
    return tuple(out)


def store_layout(plan: FloorPlan, cameras: tuple[SimCamera, ...]) -> StoreLayout:
    """The plan as a StoreLayout: cameras with their image->floor homographies, zones and a line per door."""
    return StoreLayout(
        cameras=tuple(
            CameraCalibration(
                cam.camera_id,
                tuple(float(v) for v in cam.image_to_floor.ravel()),  # type: ignore[arg-type]
                IMAGE_W,
                IMAGE_H,
                f"simulated camera {cam.camera_id}",
            )
            for cam in cameras
        ),
        zones=tuple(
            Zone(z.zone_id, ZoneKind(z.kind), tuple((float(x), float(y)) for x, y in z.polygon), z.label)
            for z in plan.zones
        ),
        lines=tuple(CountingLine(d.door_id, d.line[0], d.line[1], "left", d.label) for d in plan.doors),
    )


def simulate_day(
    seed: int,
    *,
    shopper: ShopperConfig | None = None,
    noise: NoiseConfig = NO_NOISE,
    cameras: int = 1,
    overlap_m: float = DEFAULT_OVERLAP_M,
    truth_config: TruthConfig | None = None,
    t0_ns: int = T0_NS,
    store_id: str = STORE,
    edge_run_id: str = EDGE_RUN,
    plan: FloorPlan | None = None,
) -> SimulatedDay:
    """Simulate a day (seeded), observe it through `noise`, and build events and truth.

    Frame ids are camera:edge_run:seq, so two days published to one log need different edge_run_ids.
    Each camera's tracker errs independently (its own noise seed); the first camera's is the single camera's,
    and `observations` holds what that first camera's tracker would report over the whole floor.
    plan: the store (default: default_plan()).
    """
    plan = plan if plan is not None else default_plan()
    traj = simulate(plan, shopper or ShopperConfig(), seed)
    truth = compute_truth(traj, plan, truth_config or TruthConfig(), t0_ns)
    obs = observe(traj, noise, seed + 1)
    cams = sim_cameras(plan, cameras, overlap_m)
    views = [
        camera_tracks(obs if c == 0 else observe(traj, noise, seed + 1 + c * _CAMERA_SEED_STRIDE), cam, cameras == 1)
        for c, cam in enumerate(cams)
    ]
    layout = LayoutPublished(store_id=store_id, ts_ns=t0_ns, version=1, effective_from_ns=0,
                             layout=store_layout(plan, cams))  # fmt: skip
    events, person_of_track = _track_events(
        traj,
        views=views,
        cams=cams,
        store_id=store_id,
        edge_run_id=edge_run_id,
        t0_ns=t0_ns,
        period_ns=truth.frame_period_ns,
    )
    pos = _pos_events(truth, store_id, seed)
    return SimulatedDay(seed, plan, cams, layout, events, pos, truth, traj, obs, person_of_track)


def camera_tracks(obs: Observations, cam: SimCamera, whole_floor: bool) -> tuple[Observations, IntArray]:
    """The rows of `obs` that `cam` sees, and their track ids in that camera (from 1).

    A person who leaves the view and comes back is a new track (ids are per camera and never reused).
    whole_floor: the camera sees every observation (a single camera), so its ids are the tracker's, renumbered.
    """
    seen = np.ones(len(obs.frame), dtype=np.bool_) if whole_floor else cam.sees(obs.xy)
    order = np.lexsort((obs.frame, obs.track))
    tracker_id, in_view = obs.track[order], seen[order]
    first_of_id = np.ones(len(order), dtype=np.bool_)
    first_of_id[1:] = tracker_id[1:] != tracker_id[:-1]
    came_back = np.ones(len(order), dtype=np.bool_)
    came_back[1:] = ~in_view[:-1]
    segment = np.empty(len(order), dtype=np.int64)
    segment[order] = np.cumsum(in_view & (first_of_id | came_back))
    _, track_ids = np.unique(segment[seen], return_inverse=True)
    rows = Observations(obs.frame[seen], obs.person[seen], obs.track[seen], obs.xy[seen])
    return rows, track_ids.astype(np.int64) + 1


def boxes(cam: SimCamera, xy: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """(n, 4) normalised boxes x1, y1, x2, y2 of people standing at (n, 2) floor points, clipped to the image."""
    foot = apply_homography(cam.floor_to_image, xy)
    side = apply_homography(cam.floor_to_image, xy + np.array([BODY_WIDTH_M, 0.0]))
    px_per_m = np.hypot((side[:, 0] - foot[:, 0]) * IMAGE_W, (side[:, 1] - foot[:, 1]) * IMAGE_H) / BODY_WIDTH_M
    half_w = BODY_WIDTH_M * px_per_m / 2 / IMAGE_W
    height = BODY_HEIGHT_M * px_per_m / IMAGE_H
    out = np.stack([foot[:, 0] - half_w, foot[:, 1] - height, foot[:, 0] + half_w, foot[:, 1]], axis=1)
    return np.asarray(np.clip(np.round(out, 6), 0.0, 1.0))


def _track_events(
    traj: Trajectories,
    *,
    views: list[tuple[Observations, IntArray]],
    cams: tuple[SimCamera, ...],
    store_id: str,
    edge_run_id: str,
    t0_ns: int,
    period_ns: int,
) -> tuple[list[Event], dict[tuple[str, int], int]]:
    """TrackFrames (one per camera per frame, cameras in order) and TrackCloseds from each camera's view.

    views[c]: what camera c's tracker reports (rows sorted by frame) and the track id of each row.
    """
    rows = [
        CameraRows(cam.camera_id, obs.frame, track_ids, obs.person, boxes(cam, obs.xy), obs.xy)
        for cam, (obs, track_ids) in zip(cams, views, strict=True)
    ]
    return track_events(rows, n_frames=traj.n_frames, store_id=store_id, edge_run_id=edge_run_id, t0_ns=t0_ns,
                        period_ns=period_ns)  # fmt: skip


def _pos_events(truth: GroundTruth, store_id: str, seed: int) -> list[PosTransaction]:
    rng = np.random.default_rng(seed + 2)
    out = []
    for n, (ts, _party) in enumerate(truth.purchases):
        items = int(rng.integers(1, 12))
        out.append(PosTransaction(store_id=store_id, ts_ns=ts, terminal_id="till-1", transaction_id=f"t{n + 1}",
                                  item_count=items, amount_minor=int(items * rng.integers(150, 900)),
                                  currency="EUR"))  # fmt: skip
    return out


# -- ground truth as plain values / JSON -------------------------------------------------------------


def median_dwell(truth: GroundTruth) -> dict[str, float]:
    """Median dwell (seconds) per zone over customer zone visits."""
    by_zone: dict[str, list[float]] = {}
    for zv in truth.zone_visits:
        by_zone.setdefault(zv.zone_id, []).append(zv.dwell_s)
    return {z: float(np.median(v)) for z, v in sorted(by_zone.items())}


def transition_totals(truth: GroundTruth) -> Counter[tuple[str, str]]:
    """Transition counts over the whole day, (from, to) -> count."""
    totals: Counter[tuple[str, str]] = Counter()
    for (_, a, b), n in truth.transitions.items():
        totals[(a, b)] += n
    return totals


def top_transitions(counts: Counter[tuple[str, str]], n: int = 5) -> list[list[Any]]:
    """The n most frequent transitions as [from, to, count], ties broken by name (deterministic)."""
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
    return [[a, b, c] for (a, b), c in ranked]


def truth_summary(truth: GroundTruth) -> dict[str, Any]:
    """The headline numbers of the truth."""
    queue = {z: int(truth.occupancy[z].max()) if len(truth.ticks_ns) else 0 for z in truth.queue_zones}
    return {
        "visits": len(truth.visits),
        "group_visits": truth.parties,
        "entries": sum(n for (_, d), n in truth.crossings.items() if d == "in"),
        "exits": sum(n for (_, d), n in truth.crossings.items() if d == "out"),
        "median_dwell_s": median_dwell(truth),
        "top_transitions": top_transitions(transition_totals(truth)),
        "peak_queue": queue,
        "transactions": len(truth.purchases),
        "staff": len(truth.staff),
    }


def truth_json(truth: GroundTruth) -> dict[str, Any]:
    """Everything in the truth as JSON-ready values (ns timestamps, seconds, counts)."""
    return {
        "summary": truth_summary(truth),
        "visits": [[v.person, v.party, v.start_ns, v.end_ns] for v in truth.visits],
        "visit_fields": ["person", "party", "start_ns", "end_ns"],
        "zone_visits": [[z.person, z.zone_id, z.enter_ns, z.exit_ns] for z in truth.zone_visits],
        "zone_visit_fields": ["person", "zone_id", "enter_ns", "exit_ns"],
        "crossings": [[b, d, n] for (b, d), n in sorted(truth.crossings.items())],
        "transitions": [[b, a, c, n] for (b, a, c), n in sorted(truth.transitions.items())],
        "stages": [truth.stages[i] for i in range(len(truth.visits))],
        "ticks_ns": truth.ticks_ns.tolist(),
        "occupancy": {z or "_store": v.tolist() for z, v in truth.occupancy.items()},
        "heat": [[b, x, y, s, n] for (b, x, y), (s, n) in sorted(truth.heat.items())],
        "heat_fields": ["bucket_start_ns", "cell_x", "cell_y", "presence_s", "people"],
        "staff": sorted(truth.staff),
        "purchases": [[t, p] for t, p in truth.purchases],
    }


def write_truth(truth: GroundTruth, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(truth_json(truth)))


def customers(traj: Trajectories) -> int:
    return int(np.count_nonzero(traj.kind == CUSTOMER))
