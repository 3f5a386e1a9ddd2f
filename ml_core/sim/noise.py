"""Sensing noise on true trajectories: dropped observations, jitter, id switches and fragmented tracks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numba import njit

from ml_core.sim.agents import Trajectories
from ml_core.sim.queue import counting_order

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
    """Turn true trajectories into tracker observations under `noise` (deterministic for a seed).

    Per person, in person order: one uniform draw per frame after the first (outside a fragment's gap) for an
    id switch, one for a fragment (and one more for its gap length), then the drops, then the jitter.
    """
    rng = np.random.default_rng(seed)
    dt = traj.frame_period_s
    # Thresholds as the scalar code computed them (rate * dt), so comparisons are bit for bit the same.
    switch_p, fragment_p = noise.id_switch_per_s * dt, noise.fragment_per_s * dt
    draws_per_frame = int(bool(noise.id_switch_per_s)) + 2 * int(bool(noise.fragment_per_s))
    gap_lo, gap_hi = (float(v) for v in noise.fragment_gap_s)
    gap_range = gap_hi - gap_lo  # what Generator.uniform computes: low + (high - low) * u
    bitgen = rng.bit_generator
    frames_out, persons_out, tracks_out, xy_out = [], [], [], []
    next_id = 1
    for person in range(traj.n_people):
        present = traj.frames_of(person)
        if present.size == 0:
            continue
        if draws_per_frame:
            # Draw the most the frames could use, let the kernel use what the scalar loop would have drawn,
            # then rewind and draw exactly that many, so the stream goes on where the scalar loop left it.
            state = bitgen.state
            uniforms = rng.random(draws_per_frame * (present.size - 1))
            track, keep, used, next_id = _track_ids(present, uniforms, next_id, bool(noise.id_switch_per_s),
                                                    switch_p, bool(noise.fragment_per_s), fragment_p, gap_lo,
                                                    gap_range, dt)  # fmt: skip
            bitgen.state = state
            rng.random(used)
        else:
            track = np.full(present.size, next_id, dtype=np.int64)
            keep = np.ones(present.size, dtype=np.bool_)
            next_id += 1
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
    # Track ids never decrease along these rows (they are handed out in person order, and only grow within a
    # person), and (frame, track) is unique: a stable counting sort by frame gives the (frame, track) order.
    order, _ = counting_order(frame, traj.n_frames)
    return Observations(frame[order], person_arr[order], track_arr[order], xy_arr[order])


@njit(cache=True)
def _track_ids(  # noqa: PLR0917 - numba kernels take their arguments positionally
    present: IntArray,
    uniforms: FloatArray,
    next_id: int,
    switches: bool,
    switch_p: float,
    fragments: bool,
    fragment_p: float,
    gap_lo_s: float,
    gap_range_s: float,
    dt_s: float,
) -> tuple[IntArray, npt.NDArray[np.bool_], int, int]:
    """One person's tracker ids per frame, whether each frame is kept (not in a fragment's gap), how many
    uniforms were used, and the next free id: the scalar loop's logic, drawing from `uniforms` in order."""
    n = present.shape[0]
    track = np.empty(n, dtype=np.int64)
    keep = np.ones(n, dtype=np.bool_)
    current = next_id
    next_id += 1
    gap_until = -1
    used = 0
    for k in range(n):
        f = present[k]
        if f <= gap_until:
            keep[k] = False
        elif k > 0:
            if switches:
                u = uniforms[used]
                used += 1
                if u < switch_p:
                    current, next_id = next_id, next_id + 1
            if fragments:
                u = uniforms[used]
                used += 1
                if u < fragment_p:
                    gap_s = gap_lo_s + gap_range_s * uniforms[used]
                    used += 1
                    gap_until = f + int(np.rint(gap_s / dt_s))  # Python's round(): half to even, as rint
                    current, next_id = next_id, next_id + 1
                    keep[k] = False
        track[k] = current
    return track, keep, used, next_id
