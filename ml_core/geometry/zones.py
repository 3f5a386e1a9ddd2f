"""Point-in-polygon and signed distance to a line on floor coordinates (metres)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def points_in_polygon(points: FloatArray, polygon: FloatArray) -> BoolArray:
    """Return whether each point lies inside a simple polygon (even-odd rule).

    points: (n, 2) metres; polygon: (k, 2) metres, k >= 3, open (the last
    vertex is joined to the first). Points exactly on an edge may fall either
    way: callers that need a stable answer keep their points off edges.
    """
    points = np.asarray(points, dtype=np.float64)
    polygon = np.asarray(polygon, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"points must have shape (n, 2), got {points.shape}")
    if polygon.ndim != 2 or polygon.shape[1] != 2 or polygon.shape[0] < 3:
        raise ValueError(f"polygon must have shape (k >= 3, 2), got {polygon.shape}")
    x, y = points[:, 0:1], points[:, 1:2]
    x0, y0 = polygon[:, 0], polygon[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    straddles = (y0 > y) != (y1 > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_cross = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
    hits = straddles & (x < x_cross)
    return np.asarray(np.count_nonzero(hits, axis=1) % 2 == 1)


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
