"""Shared pieces of the projections that fold the zone processor's derived events (FF_DERIVED).

Zone events of a visit arrive before its VisitEnded; whether the visit was
staff is known only then, so per-visit projections buffer a visit's zone
stays and write its rows when it ends (staff visits write none).
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from projections.layouts import LayoutHistory
from projections.projection import Rejected, SeqEvent
from schemas.events import (
    Event,
    LineCrossed,
    OccupancySampled,
    QueueSampled,
    VisitEnded,
    ZoneEntered,
    ZoneExited,
)
from schemas.layout import ZoneKind

BUCKET_NS = 300 * 1_000_000_000  # the finest grain stored; coarser buckets are grouped at query time
K_ANONYMITY = 5  # shared views hide cells built from fewer distinct tracks or visits (DESIGN.md §6.6)
ENTRANCE_STATE = "_entrance"  # not a valid zone id, so it never clashes with one
EXIT_STATE = "_exit"


def bucket_start_s(ts_ns: int) -> int:
    """Start of the 5-minute bucket holding ts_ns, in seconds since the epoch."""
    return (ts_ns // BUCKET_NS) * (BUCKET_NS // 1_000_000_000)


def visit_key(event: ZoneEntered | ZoneExited | VisitEnded) -> str:
    """The buffer key of a visit's events: person identity and processor version (which names the layout)."""
    return f"{event.camera_id}:{event.edge_run_id}:{event.track_id}:{event.processor_version}"


def visit_id(event: VisitEnded) -> str:
    """A visit's id in the tables: the person's first track and the visit's start."""
    return f"{event.camera_id}:{event.edge_run_id}:{event.track_id}:{event.started_ts_ns}"


def party_id(event: VisitEnded) -> str:
    """Its group id, or the visit's own id for a visit alone: count distinct party ids for group visits."""
    return event.group_id or visit_id(event)


class Stay(msgspec.Struct, array_like=True, frozen=True):
    """One zone stay of a visit: zone, entered and exited ts_ns."""

    zone_id: str
    entered_ns: int
    exited_ns: int


@dataclass(frozen=True)
class CompletedVisit:
    """A visit that ended, with its zone stays in order of entry."""

    end: VisitEnded
    stays: list[Stay]


class VisitBuffer:
    """Zone stays of open visits, keyed by visit_key; state is snapshot-able."""

    def __init__(self) -> None:
        self._open: dict[str, list[Stay]] = {}

    def reset(self) -> None:
        self._open = {}

    def snapshot(self) -> bytes:
        return msgspec.msgpack.encode(sorted(self._open.items()))

    def restore(self, data: bytes) -> None:
        self._open = dict(msgspec.msgpack.decode(data, type=list[tuple[str, list[Stay]]]))

    def add(self, event: ZoneEntered | ZoneExited | VisitEnded) -> CompletedVisit | None:
        """Record a zone exit; on VisitEnded return the completed visit (stays sorted by entry)."""
        if isinstance(event, ZoneExited):
            stay = Stay(event.zone_id, event.entered_ts_ns, event.ts_ns)
            self._open.setdefault(visit_key(event), []).append(stay)
            return None
        if isinstance(event, VisitEnded):
            stays = self._open.pop(visit_key(event), [])
            return CompletedVisit(event, sorted(stays, key=lambda s: (s.entered_ns, s.zone_id)))
        return None  # entries are implied by exits: a visit closes every stay before it ends


def zone_kinds(layouts: dict[str, LayoutHistory], store_id: str, version: int) -> dict[str, ZoneKind]:
    """Zone id -> kind in the given layout version of a store (empty when unknown)."""
    history = layouts.get(store_id)
    layout = history.version(version) if history is not None else None
    return {} if layout is None else {z.zone_id: z.kind for z in layout.zones}


# Everything the zone processor publishes on FF_DERIVED: a projection ignores the types it does not fold
# and dead-letters anything else.
DERIVED_EVENTS = (LineCrossed, VisitEnded, ZoneEntered, ZoneExited, QueueSampled, OccupancySampled)


def ignored_except(*folded: type[Event]) -> tuple[type[Event], ...]:
    """The derived event types a projection folding only `folded` ignores (its `ignored_types`)."""
    return tuple(t for t in DERIVED_EVENTS if t not in folded)


class VisitBuffered:
    """Base of projections that fold whole customer visits: FF_DERIVED, state is the open visits."""

    name: str
    stream = "FF_DERIVED"
    filter_subject: str | None = None
    ignored_types = ignored_except(ZoneEntered, ZoneExited, VisitEnded)

    def __init__(self) -> None:
        self._buffer = VisitBuffer()

    def reset(self) -> None:
        self._buffer.reset()

    def snapshot(self) -> bytes:
        return self._buffer.snapshot()

    def restore(self, data: bytes) -> None:
        self._buffer.restore(data)

    def _customer_visits(self, events: list[SeqEvent]) -> tuple[list[CompletedVisit], list[Rejected]]:
        """Feed the batch to the buffer; return the customer (non-staff) visits it completes, and rejects."""
        done: list[CompletedVisit] = []
        rejected = []
        for item in events:
            event = item.event
            if isinstance(event, ZoneEntered | ZoneExited | VisitEnded):
                visit = self._buffer.add(event)
                if visit is not None and not visit.end.is_staff:
                    done.append(visit)
            elif not isinstance(event, DERIVED_EVENTS):
                rejected.append(Rejected(item.stream_seq, f"{self.name} cannot fold {type(event).__name__}"))
        return done, rejected
