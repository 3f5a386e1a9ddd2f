"""Event types of the footfall log (DESIGN.md §2).

Every event is a frozen msgspec Struct tagged by `type`. Evolution rule: new
fields go last with defaults, a field's type never changes, a breaking change
is a new tag. Unknown fields are ignored when decoding, so replays survive
newer writers. No event may carry pixels, biometrics or free text about a
person (tests/schemas/test_privacy.py walks every type).
"""

from __future__ import annotations

import enum
from typing import Annotated, Literal

import msgspec

from schemas.ids import Count, FiniteFloat, Id, Metres, NonNegFloat, Seq, TrackId, TsNs, Unit
from schemas.layout import StoreLayout

Version = Annotated[
    str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}(?!\n)$", description="software version")
]
EventId = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
LayoutVersion = Annotated[int, msgspec.Meta(ge=0, description="0 means no layout was in force")]


class TrackState(enum.Enum):
    """A track's state in the tracker that produced the frame."""

    TRACKED = "tracked"  # matched to a detection in this frame
    LOST = "lost"  # not matched this frame; position is the motion model's prediction


class Event(msgspec.Struct, frozen=True, tag_field="type"):
    """Base of every event: the store it belongs to and when it happened (ns since epoch, UTC)."""

    store_id: Id
    ts_ns: TsNs

    @property
    def event_id(self) -> str:
        """Deterministic identity, sent as Nats-Msg-Id so the log drops republished duplicates."""
        raise NotImplementedError


class Track(msgspec.Struct, frozen=True, gc=False):
    """One live track in one frame.

    x1, y1, x2, y2: box in normalised image coordinates (0..1, y down).
    floor_x_m, floor_y_m: foot point on the floor in metres, both set when
    the camera is calibrated, both None otherwise.
    """

    track_id: TrackId
    x1: Unit
    y1: Unit
    x2: Unit
    y2: Unit
    score: Unit
    state: TrackState = TrackState.TRACKED
    floor_x_m: Metres | None = None
    floor_y_m: Metres | None = None

    def __post_init__(self) -> None:
        if self.x2 < self.x1 or self.y2 < self.y1:
            raise ValueError(f"box must have x1 <= x2 and y1 <= y2, got ({self.x1}, {self.y1}, {self.x2}, {self.y2})")
        if (self.floor_x_m is None) != (self.floor_y_m is None):
            raise ValueError(
                f"floor_x_m and floor_y_m must both be set or both None, got {self.floor_x_m}, {self.floor_y_m}"
            )


class TrackFrame(Event, frozen=True, tag="track_frame"):
    """All live tracks of one analysed frame of one camera (one message per frame, not per box)."""

    camera_id: Id
    edge_run_id: Id
    frame_seq: Seq
    tracks: tuple[Track, ...] = ()

    @property
    def event_id(self) -> str:
        return f"{self.camera_id}:{self.edge_run_id}:{self.frame_seq}"


class TrackClosed(Event, frozen=True, tag="track_closed"):
    """A track ended (left the view or expired from the lost buffer); ts_ns is when it was closed."""

    camera_id: Id
    edge_run_id: Id
    track_id: TrackId
    first_ts_ns: TsNs
    last_ts_ns: TsNs

    @property
    def event_id(self) -> str:
        return f"{self.camera_id}:{self.edge_run_id}:closed:{self.track_id}"


class EdgeStatus(Event, frozen=True, tag="edge_status"):
    """Periodic health and privacy attestation of one camera's edge process.

    buffer_purges counts purges of the in-memory frame buffer so far;
    buffer_max_age_s is the oldest frame the buffer may hold, in seconds.
    events_dropped counts frames lost because the on-disk spool was full.
    """

    camera_id: Id
    edge_run_id: Id
    status_seq: Seq
    fps: NonNegFloat
    frames_processed: Count
    frames_dropped: Count
    buffer_purges: Count
    buffer_max_age_s: NonNegFloat
    events_spooled: Count
    events_dropped: Count
    detector: Version
    tracker: Version

    @property
    def event_id(self) -> str:
        return f"{self.camera_id}:{self.edge_run_id}:status:{self.status_seq}"


class LayoutPublished(Event, frozen=True, tag="layout_published"):
    """A new version of a store's layout, in force for events with ts_ns >= effective_from_ns."""

    version: Annotated[int, msgspec.Meta(ge=1)]
    effective_from_ns: TsNs
    layout: StoreLayout

    @property
    def event_id(self) -> str:
        return f"{self.store_id}:layout:{self.version}"


class _TrackDerived(Event, frozen=True):
    """Base of events derived from one track's frames; ids follow from the source event and processor."""

    camera_id: Id
    edge_run_id: Id
    track_id: TrackId
    layout_version: LayoutVersion
    processor_version: Version
    source_event_id: EventId


class ZoneEntered(_TrackDerived, frozen=True, tag="zone_entered"):
    """A track entered a zone (after the processor's hysteresis)."""

    zone_id: Id

    @property
    def event_id(self) -> str:
        return f"{self.source_event_id}:{self.processor_version}:enter:{self.zone_id}:{self.track_id}"


class ZoneExited(_TrackDerived, frozen=True, tag="zone_exited"):
    """A track left a zone it had entered at entered_ts_ns."""

    zone_id: Id
    entered_ts_ns: TsNs

    @property
    def event_id(self) -> str:
        return f"{self.source_event_id}:{self.processor_version}:exit:{self.zone_id}:{self.track_id}"


class LineCrossed(_TrackDerived, frozen=True, tag="line_crossed"):
    """A track crossed a counting line; "in" means it ended on the line's inward side."""

    line_id: Id
    direction: Literal["in", "out"]

    @property
    def event_id(self) -> str:
        return f"{self.source_event_id}:{self.processor_version}:line:{self.line_id}:{self.track_id}"


class VisitEnded(_TrackDerived, frozen=True, tag="visit_ended"):
    """A visit (one track's time in the store) ended; staff visits are flagged, not dropped."""

    started_ts_ns: TsNs
    is_staff: bool = False
    group_id: Id | None = None

    @property
    def event_id(self) -> str:
        return f"{self.source_event_id}:{self.processor_version}:visit:{self.track_id}"


class QueueSampled(Event, frozen=True, tag="queue_sampled"):
    """Queue length (people) and estimated wait (seconds) of one queue zone at one sampling tick."""

    zone_id: Id
    queue_length: Count
    est_wait_s: NonNegFloat
    layout_version: LayoutVersion
    processor_version: Version

    @property
    def event_id(self) -> str:
        return f"{self.store_id}:{self.processor_version}:queue:{self.zone_id}:{self.ts_ns}"


class OccupancySampled(Event, frozen=True, tag="occupancy_sampled"):
    """People in one zone (or the whole store when zone_id is None) at one sampling tick."""

    zone_id: Id | None
    people: Count
    layout_version: LayoutVersion
    processor_version: Version

    @property
    def event_id(self) -> str:
        return f"{self.store_id}:{self.processor_version}:occupancy:{self.zone_id or '_store'}:{self.ts_ns}"


class _AlertEvent(Event, frozen=True):
    """Base of alert events: a rule's metric in a zone (or the whole store when zone_id is None) against its threshold.

    zone_id is required on the wire (it may be null, not missing), as in OccupancySampled.
    """

    rule_id: Id
    zone_id: Id | None
    value: FiniteFloat
    threshold: FiniteFloat
    processor_version: Version


class AlertRaised(_AlertEvent, frozen=True, tag="alert_raised"):
    """A rule's metric stayed above its threshold long enough."""

    @property
    def event_id(self) -> str:
        return f"{self.store_id}:{self.processor_version}:raised:{self.rule_id}:{self.ts_ns}"


class AlertCleared(_AlertEvent, frozen=True, tag="alert_cleared"):
    """A raised alert's metric fell back to or below its threshold."""

    @property
    def event_id(self) -> str:
        return f"{self.store_id}:{self.processor_version}:cleared:{self.rule_id}:{self.ts_ns}"


class PosTransaction(Event, frozen=True, tag="pos_transaction"):
    """A point-of-sale transaction, counts only: no customer data.

    amount_minor is the total in the currency's minor unit (cents).
    """

    terminal_id: Id
    transaction_id: Id
    item_count: Count
    amount_minor: Annotated[int, msgspec.Meta(ge=-(2**62), le=2**62)]
    currency: Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{3}(?!\n)$", description="ISO 4217 code")]

    @property
    def event_id(self) -> str:
        return f"{self.store_id}:pos:{self.terminal_id}:{self.transaction_id}"


EVENT_TYPES: tuple[type[Event], ...] = (
    TrackFrame,
    TrackClosed,
    EdgeStatus,
    LayoutPublished,
    ZoneEntered,
    ZoneExited,
    LineCrossed,
    VisitEnded,
    QueueSampled,
    OccupancySampled,
    AlertRaised,
    AlertCleared,
    PosTransaction,
)

AnyEvent = (
    TrackFrame
    | TrackClosed
    | EdgeStatus
    | LayoutPublished
    | ZoneEntered
    | ZoneExited
    | LineCrossed
    | VisitEnded
    | QueueSampled
    | OccupancySampled
    | AlertRaised
    | AlertCleared
    | PosTransaction
)


def event_tag(event_type: type[Event]) -> str:
    """Return the wire tag (`type` field value) of an event type."""
    tag = event_type.__struct_config__.tag
    if not isinstance(tag, str):
        raise TypeError(f"{event_type.__name__} has no string tag, got {tag!r}")
    return tag
