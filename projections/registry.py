"""The projections footfall knows, by name."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from projections.projection import Projection


def _lazy(module: str, cls: str) -> Callable[[], Projection]:
    """A factory that imports its projection's module on first use.

    Listing the names (`footfall --help`, `footfall project --help`) then loads no projection code,
    and with it neither numba nor pyarrow.
    """

    def factory() -> Projection:
        return cast("Projection", getattr(importlib.import_module(module), cls)())

    return factory


PROJECTIONS: dict[str, Callable[[], Projection]] = {
    "line_counts": _lazy("projections.line_counts", "LineCountsProjection"),
    "track_points": _lazy("projections.track_points", "TrackPointsProjection"),
    "zones": _lazy("projections.zones.processor", "ZoneProcessor"),
    "footfall": _lazy("projections.footfall", "FootfallProjection"),
    "dwell": _lazy("projections.dwell", "DwellProjection"),
    "transitions": _lazy("projections.transitions", "TransitionsProjection"),
    "funnel": _lazy("projections.funnel", "FunnelProjection"),
    "pos": _lazy("projections.funnel", "PosProjection"),
    "queue": _lazy("projections.queue", "QueueProjection"),
    "occupancy": _lazy("projections.occupancy", "OccupancyProjection"),
    "heatmap": _lazy("projections.heatmap", "HeatmapProjection"),
    "alerts": _lazy("projections.alerts.processor", "AlertProcessor"),
}

# Fed by other projections' output (FF_DERIVED): run after the processors when catching up.
ANALYTICS: tuple[str, ...] = ("footfall", "dwell", "transitions", "funnel", "pos", "queue", "occupancy", "heatmap")


def make(name: str) -> Projection:
    """Return a fresh instance of the named projection; KeyError lists the known names."""
    try:
        return PROJECTIONS[name]()
    except KeyError:
        raise KeyError(f"unknown projection {name!r}; known: {', '.join(sorted(PROJECTIONS))}") from None
