"""Cross-camera fusion: whether a new track is another camera's view of a person already tracked.

Cameras with overlapping views each track a person in the band they share,
under their own track ids and with their own noise. The zone processor holds
a new track back for a moment (stitch_defer_s); this module scores that held
track against each person's recent floor positions as seen by *other*
cameras: observations at about the same time (within a skew) closer than a
gate are evidence of one person, any farther one is proof of two. The
pairing runs compiled over every person at once (kernel.fusion_scores); the
decision on its counts is here.
"""

from __future__ import annotations

from numba import njit

# (ts_ns, x_m, y_m, camera_id) of one observation a person was updated with.
Sighting = tuple[int, float, float, str]


@njit(cache=True)
def same_person(near: int, far: int, min_observations: int, handed_over: bool) -> bool:
    """Whether a held track's pairs with a person (near: within the gate, far: beyond it) make it that
    person: never a far pair, and enough near ones.

    handed_over: the person's other tracks stopped before the held track's latest observation, so the
    held track carries them on (a hand-over across a narrow overlap): one near pair is then enough.
    Compiled: the zone kernel's held-track decision (kernel.decide_held) calls it.
    """
    if far or not near:
        return False
    return near >= min_observations or handed_over
