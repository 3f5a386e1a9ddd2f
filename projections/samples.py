"""Shared fold of the processor's per-tick samples into a series table (queue.py, occupancy.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import pyarrow as pa

from projections.derived import DERIVED_EVENTS
from projections.projection import FoldResult, Rejected, SeqEvent
from schemas.events import Event

E = TypeVar("E", bound=Event)


def fold_samples(
    name: str, table: str, events: list[SeqEvent], wanted: type[E], columns: Callable[[list[E]], pa.Table]
) -> FoldResult:
    """Rows of `table` from the events of type `wanted`; other derived events are skipped, the rest rejected."""
    picked: list[E] = []
    rejected = []
    for item in events:
        if isinstance(item.event, wanted):
            picked.append(item.event)
        elif not isinstance(item.event, DERIVED_EVENTS):
            rejected.append(Rejected(item.stream_seq, f"{name} cannot fold {type(item.event).__name__}"))
    return FoldResult({table: columns(picked)}, rejected)
