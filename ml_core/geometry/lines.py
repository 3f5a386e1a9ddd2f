"""Vectorised line-crossing tests on floor coordinates (metres)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def crosses_segment(
    start: FloatArray, end: FloatArray, a: tuple[float, float], b: tuple[float, float]
) -> npt.NDArray[np.int8]:
    """For each step start[i] -> end[i], return the side of a->b it crossed to (+1 left, -1 right) or 0.

    A step crosses when it goes from strictly one side to strictly the other
    and the crossing point lies within the segment a-b (ends included).
    start, end: (n, 2) floor coordinates in metres.
    """
    start = np.asarray(start, dtype=np.float64)
    end = np.asarray(end, dtype=np.float64)
    if start.shape != end.shape:
        raise ValueError(f"start and end must have the same shape, got {start.shape} and {end.shape}")
    if start.ndim != 2 or start.shape[1] != 2:
        raise ValueError(f"points must have shape (n, 2), got {start.shape}")
    from ml_core.geometry.crossings import crossing_sides  # numba: loaded only where crossings are counted

    out = np.empty(len(start), dtype=np.int8)
    crossing_sides(
        start[:, 0], start[:, 1], end[:, 0], end[:, 1], float(a[0]), float(a[1]), float(b[0]), float(b[1]), out
    )
    return out


def signed_distance(points: FloatArray, a: tuple[float, float], b: tuple[float, float]) -> FloatArray:
    """Signed perpendicular distance (metres) of each point to the line through a->b: > 0 on its left.

    points: (n, 2) metres.
    """
    points = np.asarray(points, dtype=np.float64)
    dx, dy = b[0] - a[0], b[1] - a[1]
    length = float(np.hypot(dx, dy))
    if length == 0.0:
        raise ValueError(f"line end points must differ, got a={a!r} b={b!r}")
    return np.asarray((dx * (points[:, 1] - a[1]) - dy * (points[:, 0] - a[0])) / length)


def along_line(points: FloatArray, a: tuple[float, float], b: tuple[float, float]) -> FloatArray:
    """Position of each point's projection along a->b, in metres from a (0 at a, |ab| at b)."""
    points = np.asarray(points, dtype=np.float64)
    dx, dy = b[0] - a[0], b[1] - a[1]
    length = float(np.hypot(dx, dy))
    return np.asarray(((points[:, 0] - a[0]) * dx + (points[:, 1] - a[1]) * dy) / length)
