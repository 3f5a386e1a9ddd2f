"""The projections footfall knows, by name."""

from __future__ import annotations

from collections.abc import Callable

from projections.dwell import DwellProjection
from projections.footfall import FootfallProjection
from projections.funnel import FunnelProjection, PosProjection
from projections.heatmap import HeatmapProjection
from projections.line_counts import LineCountsProjection
from projections.occupancy import OccupancyProjection
from projections.projection import Projection
from projections.queue import QueueProjection
from projections.track_points import TrackPointsProjection
from projections.transitions import TransitionsProjection
from projections.zones.processor import ZoneProcessor

PROJECTIONS: dict[str, Callable[[], Projection]] = {
    "line_counts": LineCountsProjection,
    "track_points": TrackPointsProjection,
    "zones": ZoneProcessor,
    "footfall": FootfallProjection,
    "dwell": DwellProjection,
    "transitions": TransitionsProjection,
    "funnel": FunnelProjection,
    "pos": PosProjection,
    "queue": QueueProjection,
    "occupancy": OccupancyProjection,
    "heatmap": HeatmapProjection,
}

# Fed by other projections' output (FF_DERIVED): run after the processors when catching up.
ANALYTICS: tuple[str, ...] = ("footfall", "dwell", "transitions", "funnel", "pos", "queue", "occupancy", "heatmap")


def make(name: str) -> Projection:
    """Return a fresh instance of the named projection; KeyError lists the known names."""
    try:
        return PROJECTIONS[name]()
    except KeyError:
        raise KeyError(f"unknown projection {name!r}; known: {', '.join(sorted(PROJECTIONS))}") from None
