"""The compiled kernel behind lines.crosses_segment, apart so that importing lines does not load numba.

The zone processor uses lines for distances only and never needs it.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import njit

from ml_core.geometry.lines import FloatArray


@njit(cache=True, nogil=True)
def crossing_sides(  # noqa: PLR0917 - a numba kernel: positional arrays
    sx: FloatArray, sy: FloatArray, ex: FloatArray, ey: FloatArray,
    ax: float, ay: float, bx: float, by: float, out: npt.NDArray[np.int8],
) -> None:  # fmt: skip
    """For each step (sx, sy) -> (ex, ey), metres, write to out the side of a->b it crossed to (+1, -1) or 0."""
    # One pass instead of some fifteen array operations (a line_counts batch has 200k steps per line).
    # Each product is the array formulation's term for term (kept in tests/projections/test_line_counts.py
    # as the oracle), so the answers are the same bit for bit.
    dx, dy = bx - ax, by - ay
    for i in range(len(sx)):
        s0 = np.sign(dx * (sy[i] - ay) - dy * (sx[i] - ax))
        s1 = np.sign(dx * (ey[i] - ay) - dy * (ex[i] - ax))
        out[i] = 0
        if s0 * s1 < 0:  # strictly one side to strictly the other
            step_x, step_y = ex[i] - sx[i], ey[i] - sy[i]
            oa = step_x * (ay - sy[i]) - step_y * (ax - sx[i])
            ob = step_x * (by - sy[i]) - step_y * (bx - sx[i])
            if oa * ob <= 0:  # the step's own line separates a from b (or touches one of them)
                out[i] = np.int8(s1)


@njit(cache=True, nogil=True)
def line_positions(
    points: FloatArray, a: FloatArray, b: FloatArray, length_m: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """(n, lines) lines.signed_distance and (n, lines) lines.along_line of (n, 2) points (metres) against
    lines a[j] -> b[j] ((lines, 2) each) of length_m[j] (np.hypot of the line, as those functions take it).

    One call for a held track's few points: the per-line array calls cost the zone processor about
    20 us each for 51k held tracks on a crowded day. Term for term the array formulation, so the answers
    are the same bit for bit (tests/projections/test_zones_golden.py).
    """
    n, m = points.shape[0], a.shape[0]
    dist = np.zeros((n, m))
    along = np.zeros((n, m))
    for j in range(m):
        ax, ay = a[j, 0], a[j, 1]
        dx, dy = b[j, 0] - ax, b[j, 1] - ay
        for i in range(n):
            px, py = points[i, 0], points[i, 1]
            dist[i, j] = (dx * (py - ay) - dy * (px - ax)) / length_m[j]
            along[i, j] = ((px - ax) * dx + (py - ay) * dy) / length_m[j]
    return dist, along
