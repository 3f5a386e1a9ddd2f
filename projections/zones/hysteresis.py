"""Anti-flicker state of one person against one zone or one line, as a snapshot holds it.

The state machines that step it run compiled, over the store's arrays (kernel.step_zone, kernel.step_line).
"""

from __future__ import annotations

import msgspec


class ZoneHysteresis(msgspec.Struct, array_like=True):
    """Confirmed membership of one zone and the pending opposite state (candidate_ns -1: none)."""

    inside: bool = False
    candidate_ns: int = -1
    candidate_obs: int = 0


class LineHysteresis(msgspec.Struct, array_like=True):
    """The side of a line a track last stood clearly on (+1 left, -1 right, 0 not yet) and when it left it.

    provisional: the side of the track's first observation, for a track that starts too close to the
    line to settle (an id switch at a door): settling on the other side is then still a crossing.
    """

    settled: int = 0
    candidate_ns: int = -1
    provisional: int = 0
