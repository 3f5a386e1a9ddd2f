"""A layout's zones and lines as arrays, and raw (un-smoothed) membership of a frame's points."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ml_core.geometry.lines import along_line, signed_distance
from ml_core.geometry.polygons import points_in_polygon
from schemas.layout import StoreLayout, ZoneKind


@dataclass(frozen=True)
class LineGeometry:
    """A counting line: a -> b in metres, inward side sign (+1 left), length, and whether it is an entrance."""

    line_id: str
    a: tuple[float, float]
    b: tuple[float, float]
    inward: int
    length_m: float
    entrance: bool


@dataclass(frozen=True)
class LayoutGeometry:
    """One layout version's zones (ids, kinds, polygons (k, 2) metres) and lines."""

    version: int
    zone_ids: tuple[str, ...]
    kinds: tuple[ZoneKind, ...]
    polygons: tuple[npt.NDArray[np.float64], ...]
    lines: tuple[LineGeometry, ...]

    @classmethod
    def of(cls, version: int, layout: StoreLayout, entrance_line_ids: tuple[str, ...] | None) -> LayoutGeometry:
        lines = tuple(
            LineGeometry(
                ln.line_id, ln.a, ln.b, 1 if ln.inward == "left" else -1,
                float(np.hypot(ln.b[0] - ln.a[0], ln.b[1] - ln.a[1])),
                entrance_line_ids is None or ln.line_id in entrance_line_ids,
            )
            for ln in layout.lines
        )  # fmt: skip
        return cls(
            version,
            tuple(z.zone_id for z in layout.zones),
            tuple(z.kind for z in layout.zones),
            tuple(np.array(z.polygon, dtype=np.float64) for z in layout.zones),
            lines,
        )

    def inside(self, points: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
        """(n, zones) raw membership of (n, 2) points."""
        out = np.zeros((len(points), len(self.zone_ids)), dtype=np.bool_)
        for k, polygon in enumerate(self.polygons):
            out[:, k] = points_in_polygon(points, polygon)
        return out

    def line_positions(
        self, points: npt.NDArray[np.float64]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """(n, lines) signed distances and (n, lines) positions along each line, metres."""
        d = np.zeros((len(points), len(self.lines)))
        s = np.zeros((len(points), len(self.lines)))
        for j, line in enumerate(self.lines):
            d[:, j] = signed_distance(points, line.a, line.b)
            s[:, j] = along_line(points, line.a, line.b)
        return d, s
