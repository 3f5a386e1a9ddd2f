"""Shared fold of the processor's per-tick samples into a series table (queue.py, occupancy.py)."""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa

from projections.projection import FoldResult, Rejected, SeqEvent
from schemas.events import (
    Event,
    LineCrossed,
    OccupancySampled,
    QueueSampled,
    VisitEnded,
    ZoneEntered,
    ZoneExited,
)

DERIVED = (LineCrossed, VisitEnded, ZoneEntered, ZoneExited, QueueSampled, OccupancySampled)


def fold_samples(
    name: str, table: str, events: list[SeqEvent], wanted: type[Event], columns: Callable[[list[Event]], pa.Table]
) -> FoldResult:
    picked: list[Event] = []
    rejected = []
    for item in events:
        if isinstance(item.event, wanted):
            picked.append(item.event)
        elif not isinstance(item.event, DERIVED):
            rejected.append(Rejected(item.stream_seq, f"{name} cannot fold {type(item.event).__name__}"))
    return FoldResult({table: columns(picked)}, rejected)
