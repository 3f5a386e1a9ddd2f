"""Seeded synthetic track streams for benchmarks and fault tests: many people milling around a door.

Each of `tracks_per_frame` slots holds one person doing a bounded random walk
(metres) across the door line y = 1; a person leaves after a random lifetime
and a new track id takes the slot, with a TrackClosed for the old one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from schemas.events import Event, LayoutPublished, Track, TrackClosed, TrackFrame
from schemas.layout import CameraCalibration, CountingLine, StoreLayout

STORE = "bench-store"
T0_NS = 1_767_261_600_000_000_000  # 2026-01-01T10:00:00Z
FRAME_PERIOD_NS = 100_000_000  # 10 fps
HOMOGRAPHY = (10.0, 0.0, 0.0, 0.0, -10.0, 10.0, 0.0, 0.0, 1.0)  # u, v in [0, 1] -> x, y in [0, 10] m


def layout_event(store_id: str = STORE, cameras: int = 1) -> LayoutPublished:
    """Version 1 of the synthetic store: the cameras and one door line at y = 1 m."""
    layout = StoreLayout(
        cameras=tuple(CameraCalibration(f"cam-{c}", HOMOGRAPHY, 768, 576) for c in range(cameras)),
        lines=(CountingLine("door", (0.0, 1.0), (10.0, 1.0), "left"),),
    )
    return LayoutPublished(store_id=store_id, ts_ns=T0_NS, version=1, effective_from_ns=0, layout=layout)


def synthetic_events(
    frames: int, tracks_per_frame: int, *, seed: int = 0, cameras: int = 1, store_id: str = STORE, t0_ns: int = T0_NS
) -> Iterator[Event]:
    """Yield TrackFrames (and TrackClosed when a person leaves), camera by camera interleaved per frame.

    t0_ns: time of the first frame (track_points keeps 30 days: older frames expire at once).
    """
    rng = np.random.default_rng(seed)
    n = tracks_per_frame
    walkers = [_Walkers.start(rng, n, first_id=1 + camera * 10_000_000) for camera in range(cameras)]
    for frame in range(frames):
        ts_ns = t0_ns + frame * FRAME_PERIOD_NS
        for camera, w in enumerate(walkers):
            camera_id = f"cam-{camera}"
            w.pos += rng.normal(0.0, 0.08, size=w.pos.shape) + np.array([0.0, 0.02])
            np.clip(w.pos, [0.05, 0.0], [9.95, 3.9], out=w.pos)
            u = w.pos[:, 0] / 10.0
            v = 1.0 - w.pos[:, 1] / 10.0
            # Plain floats: a Track must encode without numpy scalars.
            x1, x2 = np.clip(u - 0.02, 0.0, 1.0).tolist(), np.clip(u + 0.02, 0.0, 1.0).tolist()
            y1, y2 = np.clip(v - 0.1, 0.0, 1.0).tolist(), v.tolist()
            fx, fy, tid = w.pos[:, 0].tolist(), w.pos[:, 1].tolist(), w.ids.tolist()
            tracks = tuple(
                Track(tid[i], x1[i], y1[i], x2[i], y2[i], 0.9, floor_x_m=fx[i], floor_y_m=fy[i]) for i in range(n)
            )
            yield TrackFrame(store_id=store_id, ts_ns=ts_ns, camera_id=camera_id, edge_run_id="synthetic",
                             frame_seq=frame, tracks=tracks)  # fmt: skip
            for i in np.flatnonzero(frame - w.born >= w.life).tolist():
                yield TrackClosed(store_id=store_id, ts_ns=ts_ns, camera_id=camera_id, edge_run_id="synthetic",
                                  track_id=int(w.ids[i]), first_ts_ns=t0_ns + int(w.born[i]) * FRAME_PERIOD_NS,
                                  last_ts_ns=ts_ns)  # fmt: skip
                w.ids[i] = w.next_id
                w.next_id += 1
                w.born[i] = frame + 1
                w.life[i] = rng.integers(20, 400)
                w.pos[i] = rng.uniform([0.5, 0.0], [9.5, 0.5])


@dataclass
class _Walkers:
    """One camera's people: ids (n,), floor positions (n, 2) metres, lifetimes and birth frames (n,)."""

    ids: npt.NDArray[np.int64]
    pos: npt.NDArray[np.float64]
    life: npt.NDArray[np.int64]
    born: npt.NDArray[np.int64]
    next_id: int

    @classmethod
    def start(cls, rng: np.random.Generator, n: int, first_id: int) -> _Walkers:
        ids = np.arange(n, dtype=np.int64) + first_id
        return cls(ids, rng.uniform([0.5, 0.0], [9.5, 3.0], size=(n, 2)), rng.integers(20, 400, size=n),
                   np.zeros(n, dtype=np.int64), first_id + n)  # fmt: skip
