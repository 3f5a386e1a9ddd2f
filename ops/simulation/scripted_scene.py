"""A scripted entrance scene for the demo: people cross a door line at known times.

The truth (which crossings happen, and in which 5-minute bucket they are
first observable) is computed from the script analytically, not by the
geometry code the projection uses, so the demo checks that code.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass

from schemas.events import Event, LayoutPublished, Track, TrackClosed, TrackFrame
from schemas.layout import CameraCalibration, CountingLine, StoreLayout, Zone, ZoneKind

STORE = "demo-store"
CAMERA = "cam-door"
EDGE_RUN = "demo-run-1"
LINE = "door"
SCENE_START_NS = 1_767_261_420_000_000_000  # 2026-01-01T09:57:00Z
BUCKET_NS = 300 * 1_000_000_000
FRAME_PERIOD_NS = 500_000_000  # 2 analysed frames per second
DOOR_Y_M = 1.0  # the line y = 1 m; inside the store is y > 1 m
# Normalised image -> floor metres: x = 5 (u - 0.1), y = 5 (0.9 - v).
HOMOGRAPHY = (5.0, 0.0, -0.5, 0.0, -5.0, 4.5, 0.0, 0.0, 1.0)


@dataclass(frozen=True)
class Walk:
    """One track: a straight walk at constant speed between two floor points (metres, seconds)."""

    track_id: int
    start_s: float
    start: tuple[float, float]
    end: tuple[float, float]
    speed_m_s: float

    @property
    def duration_s(self) -> float:
        return math.dist(self.start, self.end) / self.speed_m_s

    def position(self, t_s: float) -> tuple[float, float]:
        f = (t_s - self.start_s) / self.duration_s
        return (self.start[0] + f * (self.end[0] - self.start[0]), self.start[1] + f * (self.end[1] - self.start[1]))


@dataclass(frozen=True)
class Scene:
    """The scripted events in log order and the truth: {(bucket_start_ns, "in"|"out"): count}."""

    events: list[Event]
    truth: Counter[tuple[int, str]]
    frames: int
    walks: int


def layout() -> StoreLayout:
    """The demo store: one camera over the door, the door line, and the entrance area as a zone."""
    return StoreLayout(
        cameras=(CameraCalibration(CAMERA, HOMOGRAPHY, 768, 576, "over the main door"),),
        zones=(Zone("entrance", ZoneKind.ENTRANCE, ((0.0, 0.0), (4.0, 0.0), (4.0, 4.0), (0.0, 4.0)), "Entrance"),),
        lines=(CountingLine(LINE, (0.0, DOOR_Y_M), (4.0, DOOR_Y_M), "left", "Main door"),),
    )


def _script(rng: random.Random, people: int, duration_s: float) -> list[Walk]:
    walks: list[Walk] = []
    next_id = 1
    for _ in range(people):
        lane = rng.uniform(0.3, 3.7)
        speed = rng.uniform(0.8, 1.5)
        start = rng.uniform(0.0, duration_s - 120.0)
        kind = rng.random()
        if kind < 0.15:  # walks past outside, never crosses
            walks.append(Walk(next_id, start, (0.05, 0.4 + rng.uniform(0, 0.4)), (3.95, 0.5), speed))
            next_id += 1
            continue
        walks.append(Walk(next_id, start, (lane, 0.2), (lane, 3.0), speed))  # enters
        next_id += 1
        if kind < 0.25:  # hesitates: steps back out on a new track soon after
            walks.append(Walk(next_id, start + 8.0, (lane, 3.0), (lane, 0.2), speed))
            next_id += 1
        elif kind < 0.75:  # shops, then leaves through the same door
            stay = rng.uniform(30.0, 100.0)
            walks.append(Walk(next_id, start + stay, (rng.uniform(0.3, 3.7), 3.0), (lane, 0.2), speed))
            next_id += 1
    return walks


def build_scene(seed: int = 7, people: int = 40, duration_s: float = 720.0, start_ns: int = SCENE_START_NS) -> Scene:
    """Script `people` visitors over `duration_s` seconds from start_ns; return events in log order and the truth."""
    rng = random.Random(seed)
    walks = _script(rng, people, duration_s)
    events: list[Event] = [
        LayoutPublished(store_id=STORE, ts_ns=start_ns, version=1, effective_from_ns=0, layout=layout())
    ]
    truth: Counter[tuple[int, str]] = Counter()
    period_s = FRAME_PERIOD_NS / 1e9
    n_frames = int(duration_s / period_s)
    for walk in walks:
        y0, y1 = walk.start[1], walk.end[1]
        if (y0 - DOOR_Y_M) * (y1 - DOOR_Y_M) < 0:
            t_cross = walk.start_s + walk.duration_s * (DOOR_Y_M - y0) / (y1 - y0)
            first_tick = math.floor(t_cross / period_s) + 1  # first frame strictly past the line
            bucket = ((start_ns + first_tick * FRAME_PERIOD_NS) // BUCKET_NS) * BUCKET_NS
            truth[(bucket, "in" if y1 > y0 else "out")] += 1
    frames = 0
    for tick in range(n_frames):
        t_s = tick * period_s
        ts_ns = start_ns + tick * FRAME_PERIOD_NS
        tracks = []
        for walk in walks:
            if walk.start_s <= t_s <= walk.start_s + walk.duration_s:
                tracks.append(_track(walk, t_s))
        events.append(
            TrackFrame(
                store_id=STORE,
                ts_ns=ts_ns,
                camera_id=CAMERA,
                edge_run_id=EDGE_RUN,
                frame_seq=tick,
                tracks=tuple(tracks),
            )
        )
        frames += 1
        for walk in walks:
            end_s = walk.start_s + walk.duration_s
            if end_s < t_s <= end_s + period_s:
                events.append(
                    TrackClosed(
                        store_id=STORE,
                        ts_ns=ts_ns,
                        camera_id=CAMERA,
                        edge_run_id=EDGE_RUN,
                        track_id=walk.track_id,
                        first_ts_ns=start_ns + int(walk.start_s * 1e9),
                        last_ts_ns=start_ns + int(end_s * 1e9),
                    )
                )
    return Scene(events=events, truth=truth, frames=frames, walks=len(walks))


def _track(walk: Walk, t_s: float) -> Track:
    x, y = walk.position(t_s)
    u, v = x / 5.0 + 0.1, 0.9 - y / 5.0  # inverse of HOMOGRAPHY: the foot point in the image
    half_w, height = 0.03, 0.2
    return Track(
        track_id=walk.track_id,
        x1=round(u - half_w, 6),
        y1=round(v - height, 6),
        x2=round(u + half_w, 6),
        y2=round(v, 6),
        score=0.9,
        floor_x_m=x,
        floor_y_m=y,
    )
