"""A layout's zones and lines as arrays, and raw (un-smoothed) membership of a frame's points."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from ml_core.geometry.crossings import line_positions
from ml_core.geometry.polygons import pack_polygons, points_in_polygons
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
    # The polygons packed for the compiled test (ml_core.geometry.polygons.pack_polygons).
    _vertices: npt.NDArray[np.float64] = field(init=False, repr=False, compare=False)
    _offsets: npt.NDArray[np.int64] = field(init=False, repr=False, compare=False)
    _staff_zone_ids: tuple[str, ...] = field(init=False, repr=False, compare=False)
    # The lines as (lines, 2) start and end points and (lines,) lengths, metres, for the compiled positions.
    _line_a: npt.NDArray[np.float64] = field(init=False, repr=False, compare=False)
    _line_b: npt.NDArray[np.float64] = field(init=False, repr=False, compare=False)
    _line_length: npt.NDArray[np.float64] = field(init=False, repr=False, compare=False)

    @property
    def staff_zone_ids(self) -> tuple[str, ...]:
        """The zones of kind STAFF (time in them makes a person staff)."""
        return self._staff_zone_ids

    def __post_init__(self) -> None:
        staff = tuple(z for z, kind in zip(self.zone_ids, self.kinds, strict=True) if kind is ZoneKind.STAFF)
        object.__setattr__(self, "_staff_zone_ids", staff)
        vertices, offsets = pack_polygons(self.polygons)
        object.__setattr__(self, "_vertices", vertices)
        object.__setattr__(self, "_offsets", offsets)
        a = np.array([ln.a for ln in self.lines], dtype=np.float64).reshape(-1, 2)
        b = np.array([ln.b for ln in self.lines], dtype=np.float64).reshape(-1, 2)
        # np.hypot of the differences, as lines.signed_distance and along_line compute the length.
        length = np.array([float(np.hypot(ln.b[0] - ln.a[0], ln.b[1] - ln.a[1])) for ln in self.lines])
        if (length == 0.0).any():
            bad = self.lines[int(np.flatnonzero(length == 0.0)[0])]
            raise ValueError(f"line {bad.line_id!r}: end points must differ, got a={bad.a!r} b={bad.b!r}")
        object.__setattr__(self, "_line_a", a)
        object.__setattr__(self, "_line_b", b)
        object.__setattr__(self, "_line_length", length.astype(np.float64))

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
        pts = np.ascontiguousarray(points, dtype=np.float64)
        result: npt.NDArray[np.bool_] = points_in_polygons(pts, self._vertices, self._offsets)
        return result

    def line_positions(
        self, points: npt.NDArray[np.float64]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """(n, lines) signed distances and (n, lines) positions along each line, metres (lines.signed_distance
        and lines.along_line, compiled)."""
        pts = np.ascontiguousarray(points, dtype=np.float64).reshape(-1, 2)
        result: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]] = line_positions(
            pts, self._line_a, self._line_b, self._line_length
        )
        return result
