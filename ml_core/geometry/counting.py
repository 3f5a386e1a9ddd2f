"""Counting people through lines and into zones from per-track floor trajectories (metres).

Trajectories come as three aligned columns: track ids (n,), time order keys (n,)
and floor points (n, 2); rows of one track are taken in time order. NaN points
are skipped. Line crossings use a dead band (hysteresis_m) around the line so a
track jittering on the line counts once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ml_core.geometry.lines import crosses_segment
from ml_core.geometry.polygons import points_in_polygon


@dataclass(frozen=True, slots=True)
class LineCount:
    """Crossings of a directed line a->b: `left` ended on its left side, `right` on its right."""

    left: int
    right: int

    @property
    def total(self) -> int:
        return self.left + self.right


def _tracks(ids: npt.ArrayLike, order: npt.ArrayLike, points: npt.ArrayLike) -> list[npt.NDArray[np.float64]]:
    i = np.asarray(ids).reshape(-1)
    o = np.asarray(order).reshape(-1)
    p = np.asarray(points, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 2 or p.shape[0] != i.shape[0] or o.shape != i.shape:
        raise ValueError(f"ids (n,), order (n,) and points (n, 2) must align, got {i.shape}, {o.shape}, {p.shape}")
    keep = np.isfinite(p).all(axis=1)
    i, o, p = i[keep], o[keep], p[keep]
    sort = np.lexsort((o, i))
    i, p = i[sort], p[sort]
    bounds = np.nonzero(np.diff(i))[0] + 1
    return [seg for seg in np.split(p, bounds) if seg.shape[0]]


def count_line_crossings(
    ids: npt.ArrayLike,
    order: npt.ArrayLike,
    points: npt.ArrayLike,
    a: tuple[float, float],
    b: tuple[float, float],
    *,
    hysteresis_m: float = 0.25,
) -> LineCount:
    """Count crossings of segment a-b (metres).

    A track must go from beyond the dead band on one side to beyond it on the other.
    """
    direction = np.array([b[0] - a[0], b[1] - a[1]], dtype=np.float64)
    length = float(np.hypot(*direction))
    if length == 0.0:
        raise ValueError(f"line end points must differ, got a={a!r} b={b!r}")
    left = right = 0
    for path in _tracks(ids, order, points):
        signed = (direction[0] * (path[:, 1] - a[1]) - direction[1] * (path[:, 0] - a[0])) / length
        firm = np.abs(signed) > hysteresis_m
        firm_idx = np.nonzero(firm)[0]
        if firm_idx.size < 2:
            continue
        sides = np.sign(signed[firm_idx])
        change = np.nonzero(sides[1:] != sides[:-1])[0]
        for k in change:
            start, end = path[firm_idx[k]], path[firm_idx[k + 1]]
            # The path between the two firm points must pass through the segment, not beside it.
            crossed = crosses_segment(start[None, :], end[None, :], a, b)[0]
            if crossed > 0:
                left += 1
            elif crossed < 0:
                right += 1
    return LineCount(left=left, right=right)


def count_zone_entries(
    ids: npt.ArrayLike, order: npt.ArrayLike, points: npt.ArrayLike, polygon: npt.ArrayLike, min_points: int = 2
) -> int:
    """Count entries into a polygon: outside-to-inside transitions held for `min_points` consecutive points."""
    entries = 0
    for path in _tracks(ids, order, points):
        inside = points_in_polygon(path, polygon)
        state = bool(inside[0])
        run = 0
        for value in inside[1:].tolist():
            if value == state:
                run = 0
                continue
            run += 1
            if run >= min_points:
                state = value
                run = 0
                entries += int(value)
    return entries
