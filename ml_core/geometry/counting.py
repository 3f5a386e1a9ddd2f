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

from ml_core.geometry.floor_gate import StepGate, hidden_in_frame
from ml_core.geometry.lines import crosses_segment, signed_distance
from ml_core.geometry.polygons import points_in_polygon


@dataclass(frozen=True, slots=True)
class LineCount:
    """Crossings of a directed line a->b: `left` ended on its left side, `right` on its right."""

    left: int
    right: int

    @property
    def total(self) -> int:
        return self.left + self.right


@dataclass(frozen=True, slots=True)
class CountEvents:
    """Counting events as aligned columns, one row per crossing or entry, sorted by (track, order).

    Attributes:
        ids: (k,) track ids of the events.
        order: (k,) the order key (e.g. frame number) of the point at which each event became firm.
        direction: (k,) int8: for lines +1 = ended on the left of a->b, -1 = on its right; for zones +1.
    """

    ids: npt.NDArray[np.int64]
    order: npt.NDArray[np.float64]
    direction: npt.NDArray[np.int8]

    def __len__(self) -> int:
        return int(self.ids.shape[0])


def _tracks(
    ids: npt.ArrayLike, order: npt.ArrayLike, points: npt.ArrayLike
) -> list[tuple[int, npt.NDArray[np.float64], npt.NDArray[np.float64]]]:
    """Per track, in id order: (track id, order keys (m,), floor points (m, 2)), rows in order."""
    i = np.asarray(ids).reshape(-1)
    o = np.asarray(order, dtype=np.float64).reshape(-1)
    p = np.asarray(points, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 2 or p.shape[0] != i.shape[0] or o.shape != i.shape:
        raise ValueError(f"ids (n,), order (n,) and points (n, 2) must align, got {i.shape}, {o.shape}, {p.shape}")
    keep = np.isfinite(p).all(axis=1)
    i, o, p = i[keep], o[keep], p[keep]
    sort = np.lexsort((o, i))
    i, o, p = i[sort], o[sort], p[sort]
    bounds = np.nonzero(np.diff(i))[0] + 1
    return [
        (int(ti[0]), to, tp)
        for ti, to, tp in zip(np.split(i, bounds), np.split(o, bounds), np.split(p, bounds), strict=True)
        if tp.shape[0]
    ]


def _events(rows: list[tuple[int, float, int]]) -> CountEvents:
    return CountEvents(
        np.asarray([r[0] for r in rows], dtype=np.int64),
        np.asarray([r[1] for r in rows], dtype=np.float64),
        np.asarray([r[2] for r in rows], dtype=np.int8),
    )


def hidden_foot_points(frames: npt.ArrayLike, boxes_xyxy: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Mask (n,) of boxes whose foot point (bottom centre) lies inside another box of the same frame
    that reaches lower in the image, i.e. a nearer person standing in front of this one: the batch
    form of `floor_gate.hidden_in_frame` (why such points are unreliable: `ml_core.geometry.floor_gate`).

    Args:
        frames: (n,) frame keys. boxes_xyxy: (n, 4) pixels (x1, y1, x2, y2), y down.
    """
    f = np.asarray(frames).reshape(-1)
    b = np.asarray(boxes_xyxy, dtype=np.float64)
    if b.shape != (f.shape[0], 4):
        raise ValueError(f"boxes_xyxy must have shape ({f.shape[0]}, 4) like frames, got {b.shape}")
    hidden = np.zeros(f.shape[0], dtype=np.bool_)
    order = np.argsort(f, kind="stable")
    bounds = np.nonzero(np.diff(f[order]))[0] + 1
    for rows in np.split(order, bounds):
        hidden[rows] = hidden_in_frame(b[rows])
    return hidden


def plausible_steps(
    ids: npt.ArrayLike,
    time_s: npt.ArrayLike,
    points: npt.ArrayLike,
    *,
    max_speed_m_s: float = 2.5,
    slack_m: float = 0.5,
) -> npt.NDArray[np.bool_]:
    """Mask (n,) of the floor points a person could have walked to: False for a point farther from
    the track's last kept point than slack_m + max_speed_m_s * elapsed seconds (the batch form of
    `floor_gate.StepGate`). NaN points are dropped (False). Rows of each track are taken in time order.

    Args:
        ids: (n,) track ids. time_s: (n,) seconds. points: (n, 2) metres.
    """
    gate = StepGate(max_speed_m_s, slack_m)
    i = np.asarray(ids).reshape(-1)
    t = np.asarray(time_s, dtype=np.float64).reshape(-1)
    p = np.asarray(points, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 2 or p.shape[0] != i.shape[0] or t.shape != i.shape:
        raise ValueError(f"ids (n,), time_s (n,) and points (n, 2) must align, got {i.shape}, {t.shape}, {p.shape}")
    keep = np.zeros(i.shape[0], dtype=np.bool_)
    for row in np.lexsort((t, i)).tolist():
        keep[row] = gate.admit(i[row].item(), float(t[row]), float(p[row, 0]), float(p[row, 1]))
    return keep


def line_crossing_events(
    ids: npt.ArrayLike,
    order: npt.ArrayLike,
    points: npt.ArrayLike,
    a: tuple[float, float],
    b: tuple[float, float],
    *,
    hysteresis_m: float = 0.25,
) -> CountEvents:
    """Crossings of segment a-b (metres), one event per crossing.

    A track must go from beyond the dead band (hysteresis_m, metres) on one side to beyond it on
    the other, and the step between those two firm points must pass through the segment.
    """
    signed_distance(np.empty((0, 2)), a, b)  # a degenerate line is an error even without tracks
    rows: list[tuple[int, float, int]] = []
    for track_id, keys, path in _tracks(ids, order, points):
        signed = signed_distance(path, a, b)
        firm_idx = np.nonzero(np.abs(signed) > hysteresis_m)[0]
        if firm_idx.size < 2:
            continue
        sides = np.sign(signed[firm_idx])
        for k in np.nonzero(sides[1:] != sides[:-1])[0].tolist():
            start, end = path[firm_idx[k]], path[firm_idx[k + 1]]
            crossed = int(crosses_segment(start[None, :], end[None, :], a, b)[0])
            if crossed != 0:
                rows.append((track_id, float(keys[firm_idx[k + 1]]), crossed))
    return _events(rows)


def count_line_crossings(
    ids: npt.ArrayLike,
    order: npt.ArrayLike,
    points: npt.ArrayLike,
    a: tuple[float, float],
    b: tuple[float, float],
    *,
    hysteresis_m: float = 0.25,
) -> LineCount:
    """Count crossings of segment a-b (metres): `line_crossing_events` summed per direction."""
    events = line_crossing_events(ids, order, points, a, b, hysteresis_m=hysteresis_m)
    return LineCount(left=int(np.sum(events.direction > 0)), right=int(np.sum(events.direction < 0)))


def zone_entry_events(
    ids: npt.ArrayLike, order: npt.ArrayLike, points: npt.ArrayLike, polygon: npt.ArrayLike, min_points: int = 2
) -> CountEvents:
    """Entries into a polygon: outside-to-inside transitions held for `min_points` consecutive points.

    A track first seen inside is not an entry (it was already there, or appeared there).
    """
    rows: list[tuple[int, float, int]] = []
    for track_id, keys, path in _tracks(ids, order, points):
        inside = points_in_polygon(path, polygon)
        state = bool(inside[0])
        run = 0
        for index, value in enumerate(inside[1:].tolist(), start=1):
            if value == state:
                run = 0
                continue
            run += 1
            if run >= min_points:
                state = value
                run = 0
                if value:
                    rows.append((track_id, float(keys[index]), 1))
    return _events(rows)


def count_zone_entries(
    ids: npt.ArrayLike, order: npt.ArrayLike, points: npt.ArrayLike, polygon: npt.ArrayLike, min_points: int = 2
) -> int:
    """Count entries into a polygon: the number of `zone_entry_events`."""
    return len(zone_entry_events(ids, order, points, polygon, min_points))
