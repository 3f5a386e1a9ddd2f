"""The footfall contract: event and config types, subjects, codecs. Imports nothing else of footfall."""

from schemas.codec import convert, decode, decode_json, decode_layout_json, decode_track_frame, encode, encode_json
from schemas.errors import SchemaError
from schemas.events import (
    EVENT_TYPES,
    AlertCleared,
    AlertRaised,
    AnyEvent,
    EdgeStatus,
    Event,
    LayoutPublished,
    LineCrossed,
    OccupancySampled,
    PosTransaction,
    QueueSampled,
    Track,
    TrackClosed,
    TrackFrame,
    TrackState,
    VisitEnded,
    ZoneEntered,
    ZoneExited,
    event_tag,
)
from schemas.ids import ID_PATTERN, is_valid_id
from schemas.layout import AlertRule, CameraCalibration, CountingLine, StoreLayout, Zone, ZoneKind
from schemas.subjects import Channel, Subject, channel_of, dlq_subject, parse_subject, subject, subject_for

__all__ = [
    "EVENT_TYPES", "ID_PATTERN", "AlertCleared", "AlertRaised", "AlertRule", "AnyEvent", "CameraCalibration",
    "Channel", "CountingLine", "EdgeStatus", "Event", "LayoutPublished", "LineCrossed", "OccupancySampled",
    "PosTransaction", "QueueSampled", "SchemaError", "StoreLayout", "Subject", "Track", "TrackClosed",
    "TrackFrame", "TrackState", "VisitEnded", "Zone", "ZoneEntered", "ZoneExited", "ZoneKind", "channel_of",
    "convert", "decode", "decode_json", "decode_layout_json", "decode_track_frame", "dlq_subject", "encode",
    "encode_json", "event_tag", "is_valid_id", "parse_subject", "subject", "subject_for",
]
