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
from ml_core.sim.noise import NO_NOISE, NoiseConfig, Observations, observe
from ml_core.sim.plan import FloorPlan, default_plan
from ml_core.sim.truth import GroundTruth, TruthConfig, compute_truth
from schemas.events import Event, LayoutPublished, PosTransaction, Track, TrackClosed, TrackFrame
from schemas.layout import CameraCalibration, CountingLine, StoreLayout, Zone, ZoneKind

STORE = "sim-store"
EDGE_RUN = "sim-run-1"
T0_NS = 1_767_261_600_000_000_000  # 2026-01-01T10:00:00Z
IMAGE_W, IMAGE_H = 960, 540
BODY_WIDTH_M, BODY_HEIGHT_M = 0.5, 1.7
# Where a camera's floor strip lands in its (normalised) image: a view from the door side, tilted.
_IMAGE_QUAD = np.array([[0.06, 0.96], [0.94, 0.96], [0.78, 0.22], [0.22, 0.22]])


@dataclass(frozen=True)
class SimCamera:
    """One simulated camera: the floor strip it sees (x_min..x_max metres) and its floor->image homography."""

    camera_id: str
    x_range: tuple[float, float]
    floor_to_image: npt.NDArray[np.float64]

    @property
    def image_to_floor(self) -> npt.NDArray[np.float64]:
        h = np.linalg.inv(self.floor_to_image)
        return np.asarray(h / h[2, 2])


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


# No camera boundary within this distance (metres) of the door: a hand-over on the door line would make
# one person's entry look like a track appearing inside the store, which no zone processor can tell apart.
DOOR_CLEARANCE_M = 2.0


def sim_cameras(plan: FloorPlan, count: int) -> tuple[SimCamera, ...]:
    """`count` cameras side by side, each seeing a strip of the floor (metres); no boundary crosses the door."""
    if count < 1:
        raise ValueError(f"cameras must be at least 1, got {count}")
    x0, y0, x1, y1 = plan.bounds
    edges = np.linspace(x0, x1, count + 1)
    door_lo = min(plan.door[0][0], plan.door[1][0]) - DOOR_CLEARANCE_M
    door_hi = max(plan.door[0][0], plan.door[1][0]) + DOOR_CLEARANCE_M
    for i in range(1, count):
        if door_lo < edges[i] < door_hi:
            edges[i] = door_hi if door_hi < edges[i + 1] else door_lo
    if np.any(np.diff(edges) <= 0):
        raise ValueError(f"{count} cameras cannot split the floor without a boundary near the door")
    out = []
    for c in range(count):
        quad = np.array([[edges[c], y0], [edges[c + 1], y0], [edges[c + 1], y1], [edges[c], y1]])
        out.append(SimCamera(f"cam-{c + 1}", (float(edges[c]), float(edges[c + 1])),
                             fit_homography(quad, _IMAGE_QUAD).matrix))  # fmt: skip
    return tuple(out)


def store_layout(plan: FloorPlan, cameras: tuple[SimCamera, ...]) -> StoreLayout:
    """The plan as a StoreLayout: cameras with their image->floor homographies, zones and the door line."""
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
        lines=(CountingLine("door", plan.door[0], plan.door[1], "left", "Main door"),),
    )


def simulate_day(
    seed: int,
    *,
    shopper: ShopperConfig | None = None,
    noise: NoiseConfig = NO_NOISE,
    cameras: int = 1,
    truth_config: TruthConfig | None = None,
    t0_ns: int = T0_NS,
    store_id: str = STORE,
    edge_run_id: str = EDGE_RUN,
) -> SimulatedDay:
    """Simulate a day (seeded), observe it through `noise`, and build events and truth.

    Frame ids are camera:edge_run:seq, so two days published to one log need different edge_run_ids.
    """
    plan = default_plan()
    traj = simulate(plan, shopper or ShopperConfig(), seed)
    truth = compute_truth(traj, plan, truth_config or TruthConfig(), t0_ns)
    obs = observe(traj, noise, seed + 1)
    cams = sim_cameras(plan, cameras)
    layout = LayoutPublished(store_id=store_id, ts_ns=t0_ns, version=1, effective_from_ns=0,
                             layout=store_layout(plan, cams))  # fmt: skip
    events, person_of_track = _track_events(
        traj,
        obs=obs,
        cams=cams,
        store_id=store_id,
        edge_run_id=edge_run_id,
        t0_ns=t0_ns,
        period_ns=truth.frame_period_ns,
    )
    pos = _pos_events(truth, store_id, seed)
    return SimulatedDay(seed, plan, cams, layout, events, pos, truth, traj, obs, person_of_track)


def _camera_of(xy: npt.NDArray[np.float64], cams: tuple[SimCamera, ...]) -> npt.NDArray[np.int64]:
    edges = np.array([c.x_range[1] for c in cams[:-1]])
    return np.searchsorted(edges, xy[:, 0], side="right").astype(np.int64)


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
    obs: Observations,
    cams: tuple[SimCamera, ...],
    store_id: str,
    edge_run_id: str,
    t0_ns: int,
    period_ns: int,
) -> tuple[list[Event], dict[tuple[str, int], int]]:
    cam_index = _camera_of(obs.xy, cams) if len(cams) > 1 else np.zeros(len(obs.frame), dtype=np.int64)
    # A person walking into another camera's view is a new track there (ids are per camera).
    _, track_ids = np.unique(obs.track * len(cams) + cam_index, return_inverse=True)
    track_ids = track_ids.astype(np.int64) + 1
    person_of_track = {(cams[int(c)].camera_id, int(t)): int(p)
                       for c, t, p in zip(cam_index, track_ids, obs.person, strict=True)}  # fmt: skip
    box = np.zeros((len(obs.frame), 4))
    for c, cam in enumerate(cams):
        sel = cam_index == c
        if sel.any():
            box[sel] = boxes(cam, obs.xy[sel])
    last_frame: dict[tuple[int, int], int] = {}
    first_frame: dict[tuple[int, int], int] = {}
    for f, c, t in zip(obs.frame.tolist(), cam_index.tolist(), track_ids.tolist(), strict=True):
        last_frame[(c, t)] = f
        first_frame.setdefault((c, t), f)
    closing: dict[int, list[tuple[int, int]]] = {}
    for (c, t), f in last_frame.items():
        closing.setdefault(min(f + 1, traj.n_frames - 1), []).append((c, t))
    starts = np.searchsorted(obs.frame, np.arange(traj.n_frames + 1))
    events: list[Event] = []
    xs, ys = obs.xy[:, 0].tolist(), obs.xy[:, 1].tolist()
    bl = box.tolist()
    cam_list, tid_list = cam_index.tolist(), track_ids.tolist()
    for f in range(traj.n_frames):
        ts = t0_ns + f * period_ns
        per_cam: list[list[Track]] = [[] for _ in cams]
        for i in range(starts[f], starts[f + 1]):
            x1, y1, x2, y2 = bl[i]
            per_cam[cam_list[i]].append(Track(tid_list[i], x1, y1, x2, y2, 0.9, floor_x_m=xs[i], floor_y_m=ys[i]))
        for c, cam in enumerate(cams):
            tracks = tuple(sorted(per_cam[c], key=lambda t: t.track_id))
            events.append(TrackFrame(store_id=store_id, ts_ns=ts, camera_id=cam.camera_id, edge_run_id=edge_run_id,
                                     frame_seq=f, tracks=tracks))  # fmt: skip
        for c, t in sorted(closing.get(f, [])):
            events.append(TrackClosed(store_id=store_id, ts_ns=ts, camera_id=cams[c].camera_id, edge_run_id=edge_run_id,
                                      track_id=t, first_ts_ns=t0_ns + first_frame[(c, t)] * period_ns,
                                      last_ts_ns=t0_ns + last_frame[(c, t)] * period_ns))  # fmt: skip
    return events, person_of_track


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
