"""Cross-camera fusion: whether a new track is another camera's view of a person already tracked.

Cameras with overlapping views each track a person in the band they share,
under their own track ids and with their own noise. The zone processor holds
a new track back for a moment (stitch_defer_s); this module scores that held
track against each person's recent floor positions as seen by *other*
cameras: observations at about the same time (within a skew) closer than a
gate are evidence of one person, any farther one is proof of two. Pure
functions over plain values, so the processor's fold stays deterministic and
snapshot-able.
"""

from __future__ import annotations

import bisect
import math

import msgspec

# (ts_ns, x_m, y_m, camera_id) of one observation a person was updated with.
Sighting = tuple[int, float, float, str]
# (ts_ns, x_m, y_m) of one observation of a held track.
Point = tuple[int, float, float]


class CoObservation(msgspec.Struct, frozen=True):
    """How a held track and a person compare where both were seen at about the same time.

    near: pairs within the gate; far: pairs beyond it; mean_dist_m: mean distance of the near pairs
    (metres; inf when there are none).
    """

    near: int
    far: int
    mean_dist_m: float


def remember(recent: list[Sighting], sighting: Sighting, horizon_ns: int) -> None:
    """Append a sighting (ts_ns ascending) and forget those more than horizon_ns older than it."""
    recent.append(sighting)
    cutoff = sighting[0] - horizon_ns
    drop = 0
    while drop < len(recent) and recent[drop][0] < cutoff:
        drop += 1
    if drop:
        del recent[:drop]


def co_observe(held: list[Point], recent: list[Sighting], camera_id: str, gate_m: float, skew_ns: int) -> CoObservation:
    """Pair each held observation with the person's sighting nearest in time from another camera.

    A pair needs the two within skew_ns of each other; sightings by camera_id itself never pair (one
    camera does not see one person as two simultaneous tracks). recent is sorted by ts_ns.
    """
    others = [s for s in recent if s[3] != camera_id]
    times = [s[0] for s in others]
    near = far = 0
    total_m = 0.0
    for ts, x, y in held:
        k = bisect.bisect_left(times, ts)
        around = [others[j] for j in (k - 1, k) if 0 <= j < len(others) and abs(others[j][0] - ts) <= skew_ns]
        if not around:
            continue
        best = min(around, key=lambda s: abs(s[0] - ts))
        d = math.hypot(x - best[1], y - best[2])
        if d <= gate_m:
            near += 1
            total_m += d
        else:
            far += 1
    return CoObservation(near, far, total_m / near if near else math.inf)


def approach_m(held: list[Point], recent: list[Sighting], camera_id: str, speed_m_s: float, within_ns: int) -> float:
    """How close the person came to the held track as seen by another camera, allowing for the time between.

    The least, over held observations and the person's sightings by cameras other than camera_id, of
    their distance less speed_m_s x the time between them (metres, at least 0; inf without such a pair).
    A sighting a frame away where the other camera missed the held track's time still counts: a person
    cannot have walked farther than that.
    """
    best = math.inf
    for ts, x, y in held:
        for s_ts, s_x, s_y, s_cam in recent:
            if s_cam != camera_id and abs(s_ts - ts) <= within_ns:
                slack = speed_m_s * abs(s_ts - ts) / 1e9
                best = min(best, max(0.0, math.hypot(x - s_x, y - s_y) - slack))
    return best


def same_person(co: CoObservation, min_observations: int, handed_over: bool) -> bool:
    """Whether the comparison makes the held track the person: never a far pair, and enough near ones.

    handed_over: the person's other tracks stopped before the held track's latest observation, so the
    held track carries them on (a hand-over across a narrow overlap): one near pair is then enough.
    """
    if co.far or not co.near:
        return False
    return co.near >= min_observations or handed_over
