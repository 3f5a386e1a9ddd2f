"""Subjects (DESIGN.md §3): built from events, parsed back, bad tokens refused."""

from __future__ import annotations

import pytest

import schemas
from schemas.samples import sample_events
from schemas.subjects import Channel, stream_subjects

EXPECTED = {
    "track_frame": "ff.v1.store-001.cam-entrance.tracks",
    "track_closed": "ff.v1.store-001.cam-entrance.tracks",
    "edge_status": "ff.v1.store-001.cam-entrance.status",
    "layout_published": "ff.v1.store-001.layout",
    "zone_entered": "ff.v1.store-001.zones",
    "zone_exited": "ff.v1.store-001.zones",
    "line_crossed": "ff.v1.store-001.zones",
    "visit_ended": "ff.v1.store-001.zones",
    "queue_sampled": "ff.v1.store-001.zones",
    "occupancy_sampled": "ff.v1.store-001.zones",
    "alert_raised": "ff.v1.store-001.alerts",
    "alert_cleared": "ff.v1.store-001.alerts",
    "pos_transaction": "ff.v1.store-001.pos",
}


@pytest.mark.parametrize("event", sample_events(), ids=lambda e: type(e).__name__)
def test_subject_for_event_and_parse_back(event: schemas.Event) -> None:
    subject = schemas.subject_for(event)
    assert subject == EXPECTED[schemas.event_tag(type(event))]
    parsed = schemas.parse_subject(subject)
    assert parsed.store_id == event.store_id
    assert str(parsed) == subject


BAD_SUBJECTS = [
    ("ff.v1.store.cam.unknown", "unknown channel"),
    ("ff.v2.store.cam.tracks", "must look like"),
    ("ff.v1.store.tracks", "5 tokens"),
    ("ff.v1.store.cam.layout", "4 tokens"),
    ("ff.v1.Store.cam.tracks", "store_id"),
    ("ff.v1.store.c*m.tracks", "camera_id"),
    ("nats", "must look like"),
]


@pytest.mark.parametrize(("subject", "text"), BAD_SUBJECTS)
def test_bad_subject_is_refused(subject: str, text: str) -> None:
    with pytest.raises(schemas.SchemaError, match=text) as info:
        schemas.parse_subject(subject)
    assert info.value.has_value


def test_builders_refuse_bad_tokens() -> None:
    with pytest.raises(schemas.SchemaError, match="needs a camera_id"):
        schemas.subject(Channel.TRACKS, "store")
    with pytest.raises(schemas.SchemaError, match="takes no camera_id"):
        schemas.subject(Channel.LAYOUT, "store", "cam")
    with pytest.raises(schemas.SchemaError, match="origin"):
        schemas.dlq_subject("bad.origin")


def test_stream_subjects_do_not_overlap_the_dlq() -> None:
    patterns = [p for ch in Channel for p in stream_subjects(ch)]
    assert all(p.startswith("ff.v1.") for p in patterns)
    assert schemas.dlq_subject("line-counts").startswith("ff.dlq.v1.")
