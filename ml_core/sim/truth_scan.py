"""Per-person scans of the truth over a whole day's rows at once (numba): visits, door crossings, zone runs.

Rows are a Trajectories' rows (sorted by person, then frame; person p's are offsets[p]:offsets[p + 1]).
Each kernel is the per-person loop compute_truth used to run in Python, run over every person in one call;
outputs are flat arrays in person order, then row order, so whoever builds objects from them keeps the
order the Python loops had.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import njit

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@njit(cache=True)
def visits(
    side: FloatArray, frame: IntArray, offsets: IntArray, ts_ns: IntArray
) -> tuple[IntArray, IntArray, IntArray]:
    """(person, start_ns, end_ns) of each stay on the inward side (side > 0) after being outside (side < 0).

    side: (n,) sign of each row's distance to the door line, 0 on it (those rows are skipped). A stay ends at
    the first row back outside, or at the person's last row.
    """
    person_out, start_out, end_out = [], [], []
    for p in range(offsets.shape[0] - 1):
        lo, hi = offsets[p], offsets[p + 1]
        if lo == hi:
            continue
        start = -1
        open_ = False
        last = 0.0
        for k in range(lo, hi):
            s = side[k]
            if s == 0:
                continue
            if s > 0 and last < 0 and not open_:
                start = ts_ns[frame[k]]
                open_ = True
            elif s < 0 and open_:
                person_out.append(p)
                start_out.append(start)
                end_out.append(ts_ns[frame[k]])
                open_ = False
            last = s
        if open_:
            person_out.append(p)
            start_out.append(start)
            end_out.append(ts_ns[frame[hi - 1]])
    return _ints(person_out), _ints(start_out), _ints(end_out)


@njit(cache=True)
def crossings(side: FloatArray, frame: IntArray, offsets: IntArray, ts_ns: IntArray) -> tuple[IntArray, BoolArray]:
    """(ts_ns, inward) of each door crossing: a row whose side differs from the last non-zero side before it."""
    ts_out, inward = [], []
    for p in range(offsets.shape[0] - 1):
        last = 0.0
        for k in range(offsets[p], offsets[p + 1]):
            s = side[k]
            if s == 0:
                continue
            if last != 0 and last != s:  # noqa: PLR1714 - plain compares compile in numba
                ts_out.append(ts_ns[frame[k]])
                inward.append(s > 0)
            last = s
    flags = np.zeros(len(inward), dtype=np.bool_)
    for i, v in enumerate(inward):
        flags[i] = v
    return _ints(ts_out), flags


@njit(cache=True)
def runs(
    inside: BoolArray, frame: IntArray, offsets: IntArray, people: IntArray
) -> tuple[IntArray, IntArray, IntArray]:
    """(person, first frame inside, first frame outside or last frame seen) of each run of inside rows.

    Only the persons in `people` (increasing) are scanned.
    """
    person_out, f0_out, f1_out = [], [], []
    for p in people:
        k, n = offsets[p], offsets[p + 1]
        while k < n:
            if not inside[k]:
                k += 1
                continue
            j = k
            while j < n and inside[j]:
                j += 1
            person_out.append(p)
            f0_out.append(frame[k])
            f1_out.append(frame[j] if j < n else frame[n - 1])
            k = j
    return _ints(person_out), _ints(f0_out), _ints(f1_out)


@njit(cache=True)
def _ints(values: list[int]) -> IntArray:
    out = np.empty(len(values), dtype=np.int64)
    for i, v in enumerate(values):
        out[i] = v
    return out
