"""NATS subjects and the streams that hold them (DESIGN.md §3).

    ff.v1.<store>.<camera>.tracks    TrackFrame, TrackClosed     FF_TRACKS
    ff.v1.<store>.<camera>.status    EdgeStatus                  FF_STATUS
    ff.v1.<store>.layout             LayoutPublished             FF_LAYOUT
    ff.v1.<store>.zones              zone/line/visit/queue/occupancy events   FF_DERIVED
    ff.v1.<store>.alerts             AlertRaised, AlertCleared   FF_ALERTS
    ff.v1.<store>.pos                PosTransaction              FF_POS
    ff.dlq.v1.<origin>               undecodable or unappliable messages     FF_DLQ

DESIGN.md writes the dead-letter subject as ff.v1.dlq.<origin>, but
JetStream refuses streams with overlapping subjects and ff.v1.dlq.> overlaps
ff.v1.*.layout (a store named "dlq"), so dead letters live under ff.dlq.v1.
"""

from __future__ import annotations

import enum
import functools

import msgspec

from schemas.errors import SchemaError
from schemas.events import (
    AlertCleared,
    AlertRaised,
    EdgeStatus,
    Event,
    LayoutPublished,
    LineCrossed,
    OccupancySampled,
    PosTransaction,
    QueueSampled,
    TrackClosed,
    TrackFrame,
    VisitEnded,
    ZoneEntered,
    ZoneExited,
)
from schemas.ids import is_valid_id

PREFIX = "ff.v1"
DLQ_PREFIX = "ff.dlq.v1"


class Channel(enum.Enum):
    """The last token of a subject: what kind of events it carries."""

    TRACKS = "tracks"
    STATUS = "status"
    LAYOUT = "layout"
    ZONES = "zones"
    ALERTS = "alerts"
    POS = "pos"


# Channels whose subjects carry a camera token.
_PER_CAMERA = frozenset({Channel.TRACKS, Channel.STATUS})

STREAM_OF_CHANNEL: dict[Channel, str] = {
    Channel.TRACKS: "FF_TRACKS",
    Channel.STATUS: "FF_STATUS",
    Channel.LAYOUT: "FF_LAYOUT",
    Channel.ZONES: "FF_DERIVED",
    Channel.ALERTS: "FF_ALERTS",
    Channel.POS: "FF_POS",
}
DLQ_STREAM = "FF_DLQ"

_CHANNEL_OF_TYPE: dict[type[Event], Channel] = {
    TrackFrame: Channel.TRACKS,
    TrackClosed: Channel.TRACKS,
    EdgeStatus: Channel.STATUS,
    LayoutPublished: Channel.LAYOUT,
    ZoneEntered: Channel.ZONES,
    ZoneExited: Channel.ZONES,
    LineCrossed: Channel.ZONES,
    VisitEnded: Channel.ZONES,
    QueueSampled: Channel.ZONES,
    OccupancySampled: Channel.ZONES,
    AlertRaised: Channel.ALERTS,
    AlertCleared: Channel.ALERTS,
    PosTransaction: Channel.POS,
}


class Subject(msgspec.Struct, frozen=True):
    """A parsed footfall subject; camera_id is set for per-camera channels only."""

    store_id: str
    channel: Channel
    camera_id: str | None = None

    def __str__(self) -> str:
        return subject(self.channel, self.store_id, self.camera_id)


def channel_of(event_type: type[Event]) -> Channel:
    """Return the channel an event type is published on."""
    return _CHANNEL_OF_TYPE[event_type]


@functools.lru_cache(maxsize=4096)
def subject(channel: Channel, store_id: str, camera_id: str | None = None) -> str:
    """Build the subject for a channel; per-camera channels need camera_id, the others refuse it.

    Cached: a processor publishes tens of thousands of derived events a minute to a handful of subjects, and
    checking the tokens cost more than encoding the event (measured, `footfall bench zones`). An error is
    not cached, so a bad token is reported every time.
    """
    _check_token("store_id", store_id)
    if channel in _PER_CAMERA:
        if camera_id is None:
            raise SchemaError(f"channel {channel.value!r} needs a camera_id", "$.camera_id", None, True)
        _check_token("camera_id", camera_id)
        return f"{PREFIX}.{store_id}.{camera_id}.{channel.value}"
    if camera_id is not None:
        raise SchemaError(f"channel {channel.value!r} takes no camera_id", "$.camera_id", camera_id, True)
    return f"{PREFIX}.{store_id}.{channel.value}"


def subject_for(event: Event) -> str:
    """Return the subject an event is published on."""
    channel = _CHANNEL_OF_TYPE[type(event)]
    camera_id = getattr(event, "camera_id", None) if channel in _PER_CAMERA else None
    return subject(channel, event.store_id, camera_id)


def stream_subjects(channel: Channel) -> list[str]:
    """Return the subject filter(s) a channel's stream captures, for every store."""
    if channel in _PER_CAMERA:
        return [f"{PREFIX}.*.*.{channel.value}"]
    return [f"{PREFIX}.*.{channel.value}"]


def dlq_subject(origin: str) -> str:
    """Return the dead-letter subject for messages from `origin` (a stream or processor id)."""
    _check_token("origin", origin)
    return f"{DLQ_PREFIX}.{origin}"


def parse_subject(value: str) -> Subject:
    """Parse `ff.v1.<store>[.<camera>].<channel>`; SchemaError names what is wrong."""
    parts = value.split(".")
    if len(parts) < 4 or parts[0] != "ff" or parts[1] != "v1":
        raise SchemaError("subject must look like ff.v1.<store>[.<camera>].<channel>", "$.subject", value, True)
    try:
        channel = Channel(parts[-1])
    except ValueError:
        raise SchemaError(
            f"unknown channel {parts[-1]!r} (expected one of {[c.value for c in Channel]})", "$.subject", value, True
        ) from None
    expected = 5 if channel in _PER_CAMERA else 4
    if len(parts) != expected:
        raise SchemaError(f"channel {channel.value!r} subjects have {expected} tokens", "$.subject", value, True)
    _check_token("store_id", parts[2])
    camera_id = parts[3] if channel in _PER_CAMERA else None
    if camera_id is not None:
        _check_token("camera_id", camera_id)
    return Subject(store_id=parts[2], channel=channel, camera_id=camera_id)


def _check_token(name: str, value: str) -> None:
    if not is_valid_id(value):
        raise SchemaError(f"{name} must match [a-z0-9][a-z0-9_-]{{0,31}}", f"$.{name}", value, True)
