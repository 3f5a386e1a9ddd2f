"""Each observation's previous floor position on the same track, in one compiled pass over a batch.

A track projection that looks at steps (line crossings) needs, for every
observation, where the same track was last seen: earlier in the batch or in
the state carried from the batch before. Sorting a batch by track for that
costs more than the rest of the fold; this walks it once in log order with an
open-addressing table keyed by (source, track id), where a TrackClosed removes
its track so nothing after it steps from a position before it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numba import njit

_EMPTY = -1
_DELETED = -2  # a tombstone: probing goes on past it


@njit(cache=True, inline="always")
def _slot(key_src: npt.NDArray[np.int64], key_tid: npt.NDArray[np.int64], src: int, tid: int) -> tuple[int, int]:
    """(slot holding the key or -1, first free slot on its probe path or -1)."""
    mask = len(key_src) - 1
    h = (np.uint64(tid) * np.uint64(0x9E3779B97F4A7C15)) ^ (np.uint64(src) * np.uint64(0xC2B2AE3D27D4EB4F))
    i = int(h >> np.uint64(20)) & mask
    free = -1
    while True:
        s = key_src[i]
        if s == _EMPTY:
            return -1, i if free < 0 else free
        if s == _DELETED:
            if free < 0:
                free = i
        elif s == src and key_tid[i] == tid:
            return i, free
        i = (i + 1) & mask


@njit(cache=True)
def _walk(  # noqa: PLR0917 - a numba kernel: positional arrays
    src: npt.NDArray[np.int64],
    tid: npt.NDArray[np.int64],
    frame: npt.NDArray[np.int64],
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
    close_src: npt.NDArray[np.int64],
    close_tid: npt.NDArray[np.int64],
    close_frame: npt.NDArray[np.int64],
    state_src: npt.NDArray[np.int64],
    state_tid: npt.NDArray[np.int64],
    state_x: npt.NDArray[np.float64],
    state_y: npt.NDArray[np.float64],
) -> tuple[
    npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.bool_], npt.NDArray[np.int64],
    npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.float64],
]:  # fmt: skip
    n = len(src)
    capacity = 16
    while capacity < 2 * (n + len(state_src) + 1):
        capacity *= 2
    key_src = np.full(capacity, _EMPTY, dtype=np.int64)
    key_tid = np.zeros(capacity, dtype=np.int64)
    last_x = np.zeros(capacity, dtype=np.float64)
    last_y = np.zeros(capacity, dtype=np.float64)
    for j in range(len(state_src)):
        _, free = _slot(key_src, key_tid, state_src[j], state_tid[j])
        key_src[free], key_tid[free], last_x[free], last_y[free] = state_src[j], state_tid[j], state_x[j], state_y[j]
    prev_x = np.empty(n, dtype=np.float64)
    prev_y = np.empty(n, dtype=np.float64)
    has_prev = np.zeros(n, dtype=np.bool_)
    c = 0
    for i in range(n):
        while c < len(close_src) and close_frame[c] <= frame[i]:  # closed before this frame
            found, _ = _slot(key_src, key_tid, close_src[c], close_tid[c])
            if found >= 0:
                key_src[found] = _DELETED
            c += 1
        found, free = _slot(key_src, key_tid, src[i], tid[i])
        if found >= 0:
            prev_x[i], prev_y[i], has_prev[i] = last_x[found], last_y[found], True
        else:
            found = free
            key_src[found], key_tid[found] = src[i], tid[i]
        last_x[found], last_y[found] = x[i], y[i]
    while c < len(close_src):
        found, _ = _slot(key_src, key_tid, close_src[c], close_tid[c])
        if found >= 0:
            key_src[found] = _DELETED
        c += 1
    live = np.flatnonzero(key_src >= 0)
    return prev_x, prev_y, has_prev, key_src[live], key_tid[live], last_x[live], last_y[live]


@dataclass(frozen=True)
class Steps:
    """Per observation (n,): prev_x_m, prev_y_m (floor metres, meaningful where has_prev) and has_prev.
    After the batch: the last position of every track still open, as (source code, track id) -> (x_m, y_m)."""

    prev_x_m: npt.NDArray[np.float64]
    prev_y_m: npt.NDArray[np.float64]
    has_prev: npt.NDArray[np.bool_]
    open_last: dict[tuple[int, int], tuple[float, float]]


def track_steps(
    src: npt.NDArray[np.int64],
    track_id: npt.NDArray[np.int64],
    frame: npt.NDArray[np.int64],
    x_m: npt.NDArray[np.float64],
    y_m: npt.NDArray[np.float64],
    *,
    closes: list[tuple[int, int, int]],
    state: dict[tuple[int, int], tuple[float, float]],
) -> Steps:
    """Walk observations in log order (frame (n,) non-decreasing); closes: (frame position, source, track id)
    in log order, each ending its track before that frame; state: last positions carried in."""
    if len(frame) > 1 and bool(np.any(frame[1:] < frame[:-1])):
        raise ValueError("observations must be in log order (frame non-decreasing)")
    close = np.array(closes, dtype=np.int64).reshape(-1, 3)
    keys = np.array(list(state), dtype=np.int64).reshape(-1, 2)
    values = np.array(list(state.values()), dtype=np.float64).reshape(-1, 2)
    prev_x, prev_y, has_prev, out_src, out_tid, out_x, out_y = _walk(
        src, track_id, frame, x_m, y_m, close[:, 1].copy(), close[:, 2].copy(), close[:, 0].copy(),
        keys[:, 0].copy(), keys[:, 1].copy(), values[:, 0].copy(), values[:, 1].copy(),
    )  # fmt: skip
    open_last = {
        (s, t): (px, py)
        for s, t, px, py in zip(out_src.tolist(), out_tid.tolist(), out_x.tolist(), out_y.tolist(), strict=True)
    }
    return Steps(prev_x, prev_y, has_prev, open_last)
