"""Anti-flicker state machines for one track against one zone or one line (pure, snapshot-able)."""

from __future__ import annotations

import msgspec


class ZoneHysteresis(msgspec.Struct, array_like=True):
    """Confirmed membership of one zone and the pending opposite state (candidate_ns -1: none)."""

    inside: bool = False
    candidate_ns: int = -1
    candidate_obs: int = 0


def step_zone(state: ZoneHysteresis, raw_inside: bool, ts_ns: int, need_obs: int, min_ns: int) -> int | None:
    """Feed one observation; return the ts_ns a confirmed change is dated at (its first observation), or None.

    need_obs: consecutive observations in the new state that confirm it; min_ns: or this long in it.
    """
    if raw_inside == state.inside:
        state.candidate_ns, state.candidate_obs = -1, 0
        return None
    if state.candidate_ns < 0:
        state.candidate_ns, state.candidate_obs = ts_ns, 0
    state.candidate_obs += 1
    if state.candidate_obs >= need_obs or ts_ns - state.candidate_ns >= min_ns:
        at = state.candidate_ns
        state.inside, state.candidate_ns, state.candidate_obs = raw_inside, -1, 0
        return at
    return None


class LineHysteresis(msgspec.Struct, array_like=True):
    """The side of a line a track last stood clearly on (+1 left, -1 right, 0 not yet) and when it left it.

    provisional: the side of the track's first observation, for a track that starts too close to the
    line to settle (an id switch at a door): settling on the other side is then still a crossing.
    """

    settled: int = 0
    candidate_ns: int = -1
    provisional: int = 0


def step_line(
    state: LineHysteresis, distance_m: float, along_m: float, length_m: float, ts_ns: int, *, min_disp_m: float,
    end_margin_m: float,
) -> tuple[int, int] | None:  # fmt: skip
    """Feed one observation; return (new side, ts_ns of the first observation past the line) on a crossing.

    distance_m: signed distance to the line (> 0 left of a->b); along_m: position along a->b.
    A side is settled only at least min_disp_m from the line and beside the segment (within
    end_margin_m of its ends), so walking round the end of a line is no crossing.
    """
    raw = 1 if distance_m > 0 else (-1 if distance_m < 0 else 0)
    if state.settled == 0 and state.provisional == 0:
        state.provisional = raw
    reference = state.settled or state.provisional
    if reference != 0:
        if raw == -reference:
            if state.candidate_ns < 0:
                state.candidate_ns = ts_ns
        elif raw == reference:
            state.candidate_ns = -1
    beside = -end_margin_m <= along_m <= length_m + end_margin_m
    if abs(distance_m) < min_disp_m or not beside:
        return None
    if state.settled == 0:
        crossed = state.provisional not in (0, raw)
        at = state.candidate_ns if state.candidate_ns >= 0 else ts_ns
        state.settled, state.candidate_ns, state.provisional = raw, -1, 0
        return (raw, at) if crossed else None
    if raw != state.settled:
        at = state.candidate_ns if state.candidate_ns >= 0 else ts_ns
        state.settled, state.candidate_ns = raw, -1
        return raw, at
    return None
