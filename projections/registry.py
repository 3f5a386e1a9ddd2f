"""The projections footfall knows, by name."""

from __future__ import annotations

from collections.abc import Callable

from projections.line_counts import LineCountsProjection
from projections.projection import Projection
from projections.track_points import TrackPointsProjection

PROJECTIONS: dict[str, Callable[[], Projection]] = {
    "line_counts": LineCountsProjection,
    "track_points": TrackPointsProjection,
}


def make(name: str) -> Projection:
    """Return a fresh instance of the named projection; KeyError lists the known names."""
    try:
        return PROJECTIONS[name]()
    except KeyError:
        raise KeyError(f"unknown projection {name!r}; known: {', '.join(sorted(PROJECTIONS))}") from None
