"""Vectorised point-in-polygon tests on floor coordinates (metres)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from numba import njit

FloatArray = npt.NDArray[np.float64]


def points_in_polygon(points: npt.ArrayLike, polygon: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Return, for each point (n, 2), whether it lies inside the simple polygon (m, 2), m >= 3.

    Even-odd ray casting over all edges at once; points exactly on an edge may
    fall either way. NaN points are outside.
    """
    pts = np.asarray(points, dtype=np.float64)
    poly = np.asarray(polygon, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"points must have shape (n, 2), got {pts.shape}")
    if poly.ndim != 2 or poly.shape[1] != 2 or poly.shape[0] < 3:
        raise ValueError(f"polygon must have shape (m, 2) with m >= 3, got {poly.shape}")
    x = pts[:, 0:1]  # (n, 1) against (1, m) edges
    y = pts[:, 1:2]
    x1, y1 = poly[:, 0][None, :], poly[:, 1][None, :]
    x2, y2 = np.roll(poly[:, 0], -1)[None, :], np.roll(poly[:, 1], -1)[None, :]
    straddles = (y1 > y) != (y2 > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_cross = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
    hits = straddles & (x < x_cross)
    return np.asarray((hits.sum(axis=1) % 2) == 1, dtype=bool)


def pack_polygons(polygons: Sequence[npt.ArrayLike]) -> tuple[FloatArray, npt.NDArray[np.int64]]:
    """Stack polygons ((m_k, 2) each, m_k >= 3) into (sum m_k, 2) vertices and (k + 1,) offsets.

    What points_in_polygons takes.
    """
    arrays = [np.asarray(p, dtype=np.float64) for p in polygons]
    for k, poly in enumerate(arrays):
        if poly.ndim != 2 or poly.shape[1] != 2 or poly.shape[0] < 3:
            raise ValueError(f"polygon {k} must have shape (m, 2) with m >= 3, got {poly.shape}")
    offsets = np.zeros(len(arrays) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(p) for p in arrays])
    vertices = np.concatenate(arrays) if arrays else np.zeros((0, 2), dtype=np.float64)
    return np.ascontiguousarray(vertices), offsets


@njit(cache=True)
def points_in_polygons(
    points: FloatArray, vertices: FloatArray, offsets: npt.NDArray[np.int64]
) -> npt.NDArray[np.bool_]:
    """(n, k) membership of (n, 2) points in k packed polygons (pack_polygons): points_in_polygon for each, at once.

    The same even-odd test with the same arithmetic, compiled: a frame's few points against a layout's
    zones cost a numpy call per zone and edge otherwise, which was most of the zone processor's time.
    """
    n, k = points.shape[0], offsets.shape[0] - 1
    out = np.zeros((n, k), dtype=np.bool_)
    # Each polygon's bounding box, widened in x far beyond the rounding of an edge's crossing: a point
    # outside it is outside by the test below too (no edge straddles y >= the top or y < the bottom; left
    # of every crossing the ray meets all of them, an even number; right of every one, none), so most of
    # a frame's points skip most zones' edges. NaN points are not skipped and come out as before.
    lo_x, hi_x = np.empty(k), np.empty(k)
    lo_y, hi_y = np.empty(k), np.empty(k)
    for z in range(k):
        poly = vertices[offsets[z] : offsets[z + 1]]
        lo_x[z], hi_x[z] = poly[:, 0].min(), poly[:, 0].max()
        lo_y[z], hi_y[z] = poly[:, 1].min(), poly[:, 1].max()
        margin = 1e-9 * (1.0 + max(abs(lo_x[z]), abs(hi_x[z])))
        lo_x[z], hi_x[z] = lo_x[z] - margin, hi_x[z] + margin
    for i in range(n):
        x, y = points[i, 0], points[i, 1]
        for z in range(k):
            if y < lo_y[z] or y >= hi_y[z] or x < lo_x[z] or x > hi_x[z]:
                continue
            start, end = offsets[z], offsets[z + 1]
            inside = False
            for e in range(start, end):
                x1, y1 = vertices[e, 0], vertices[e, 1]
                nxt = e + 1 if e + 1 < end else start
                x2, y2 = vertices[nxt, 0], vertices[nxt, 1]
                if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
                    inside = not inside
            out[i, z] = inside
    return out
