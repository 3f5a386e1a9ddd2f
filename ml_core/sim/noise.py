"""Sensing noise on true trajectories: dropped observations, jitter, id switches and fragmented tracks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ml_core.sim.agents import Trajectories

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class NoiseConfig:
    """How a tracker's output differs from the truth.

    drop_prob: chance an observation is missing; jitter_m: standard deviation of position noise per
    axis (metres); id_switch_per_s: rate of id switches per second of track time (the track goes on
    under a new id from the next frame); fragment_per_s: rate at which a track is lost for
    fragment_gap_s (uniform, seconds) and comes back under a new id.
    """

    drop_prob: float = 0.0
    jitter_m: float = 0.0
    id_switch_per_s: float = 0.0
    fragment_per_s: float = 0.0
    fragment_gap_s: tuple[float, float] = (1.0, 3.0)

    def __post_init__(self) -> None:
        if not 0.0 <= self.drop_prob < 1.0:
            raise ValueError(f"drop_prob must be in [0, 1), got {self.drop_prob}")
        for name in ("jitter_m", "id_switch_per_s", "fragment_per_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")


NO_NOISE = NoiseConfig()
# The "realistic" tracker: 5% dropped, 0.15 m jitter, 1 id switch per 200 track-seconds.
REALISTIC = NoiseConfig(drop_prob=0.05, jitter_m=0.15, id_switch_per_s=1 / 200, fragment_per_s=1 / 600)


@dataclass(frozen=True)
class Observations:
    """What the tracker reports, one row per observation, sorted by (frame, track).

    frame, person (the true person behind it), track (tracker id, from 1) (n,) int64; xy (n, 2) metres.
    """

    frame: IntArray
    person: IntArray
    track: IntArray
    xy: FloatArray


def observe(traj: Trajectories, noise: NoiseConfig, seed: int) -> Observations:
    """Turn true trajectories into tracker observations under `noise` (deterministic for a seed)."""
    rng = np.random.default_rng(seed)
    dt = traj.frame_period_s
    frames_out, persons_out, tracks_out, xy_out = [], [], [], []
    next_id = 1
    for person in range(traj.n_people):
        present = traj.frames_of(person)
        if present.size == 0:
            continue
        track = np.empty(present.size, dtype=np.int64)
        keep = np.ones(present.size, dtype=np.bool_)
        current = next_id
        next_id += 1
        gap_until = -1
        for k, f in enumerate(present):
            if f <= gap_until:
                keep[k] = False
            elif k > 0:
                if noise.id_switch_per_s and rng.random() < noise.id_switch_per_s * dt:
                    current, next_id = next_id, next_id + 1
                if noise.fragment_per_s and rng.random() < noise.fragment_per_s * dt:
                    gap_until = int(f) + round(rng.uniform(*noise.fragment_gap_s) / dt)
                    current, next_id = next_id, next_id + 1
                    keep[k] = False
            track[k] = current
        if noise.drop_prob:
            keep &= rng.random(present.size) >= noise.drop_prob
        xy = traj.xy_of(person).copy()
        if noise.jitter_m:
            xy += rng.normal(0.0, noise.jitter_m, size=xy.shape)
        frames_out.append(present[keep])
        persons_out.append(np.full(int(keep.sum()), person, dtype=np.int64))
        tracks_out.append(track[keep])
        xy_out.append(xy[keep])
    frame = np.concatenate(frames_out) if frames_out else np.zeros(0, dtype=np.int64)
    person_arr = np.concatenate(persons_out) if persons_out else np.zeros(0, dtype=np.int64)
    track_arr = np.concatenate(tracks_out) if tracks_out else np.zeros(0, dtype=np.int64)
    xy_arr = np.concatenate(xy_out) if xy_out else np.zeros((0, 2))
    order = np.lexsort((track_arr, frame))
    return Observations(frame[order], person_arr[order], track_arr[order], xy_arr[order])
