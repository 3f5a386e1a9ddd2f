"""Codec round trips and bad input: every failure is one SchemaError naming the path and the value."""

from __future__ import annotations

import math

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import schemas
from schemas.samples import sample_events, sample_values

SAMPLES = sample_events()
FRAME = msgspec.to_builtins(SAMPLES[0])


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: type(e).__name__)
def test_msgpack_and_json_round_trip(event: schemas.Event) -> None:
    assert schemas.decode(schemas.encode(event)) == event
    assert schemas.decode_json(schemas.encode_json(event)) == event


def test_event_ids_are_deterministic_and_unique() -> None:
    ids = [e.event_id for e in SAMPLES]
    assert len(set(ids)) == len(ids)
    assert SAMPLES[0].event_id == "cam-entrance:run-7f3a9c:1200"


def _with(path: list[str | int], value: object) -> dict[str, object]:
    doc = msgspec.to_builtins(SAMPLES[0])
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return doc


# (case id, message as builtins, expected path, text expected in the message)
BAD_DOCUMENTS = [
    ("wrong type", _with(["frame_seq"], "twelve"), "$.frame_seq", "'twelve'"),
    ("unknown tag", _with(["type"], "track_frame_v9"), "$.type", "track_frame_v9"),
    ("bad camera id", _with(["camera_id"], "Cam 1"), "$.camera_id", "'Cam 1'"),
    ("id too long", _with(["store_id"], "s" * 33), "$.store_id", "sss"),
    ("id with trailing newline", _with(["store_id"], "store-001\n"), "$.store_id", "'store-001\\n'"),
    ("ts beyond int64", _with(["ts_ns"], 2**63), "$.ts_ns", str(2**63)),
    ("nan coordinate", _with(["tracks", 1, "x1"], math.nan), "$.tracks[1].x1", "nan"),
    ("infinite floor", _with(["tracks", 0, "floor_x_m"], math.inf), "$.tracks[0].floor_x_m", "inf"),
    ("box inverted", _with(["tracks", 0, "x2"], 0.01), "$.tracks[0]", "x1 <= x2"),
    ("half floor point", _with(["tracks", 0, "floor_y_m"], None), "$.tracks[0]", "floor_x_m and floor_y_m"),
    ("negative ts", _with(["ts_ns"], -5), "$.ts_ns", "-5"),
    ("score above one", _with(["tracks", 0, "score"], 1.5), "$.tracks[0].score", "1.5"),
    ("bad state", _with(["tracks", 0, "state"], "dancing"), "$.tracks[0].state", "'dancing'"),
    ("missing field", {k: v for k, v in FRAME.items() if k != "edge_run_id"}, "$", "edge_run_id"),
]


@pytest.mark.parametrize("codec", ["msgpack", "json"])
@pytest.mark.parametrize(("doc", "path", "text"), [c[1:] for c in BAD_DOCUMENTS], ids=[c[0] for c in BAD_DOCUMENTS])
def test_bad_message_names_path_and_value(codec: str, doc: dict[str, object], path: str, text: str) -> None:
    if codec == "json" and any(isinstance(v, float) and not math.isfinite(v) for v in _floats(doc)):
        pytest.skip("JSON has no NaN or infinity literal")
    data = msgspec.msgpack.encode(doc) if codec == "msgpack" else msgspec.json.encode(doc)
    decode = schemas.decode if codec == "msgpack" else schemas.decode_json
    with pytest.raises(schemas.SchemaError) as info:
        decode(data)
    assert info.value.path == path
    assert f"`{path}`" in str(info.value)
    assert text in str(info.value)


def _floats(node: object) -> list[float]:
    if isinstance(node, float):
        return [node]
    if isinstance(node, dict):
        return [f for v in node.values() for f in _floats(v)]
    if isinstance(node, (list, tuple)):
        return [f for v in node for f in _floats(v)]
    return []


@pytest.mark.parametrize(
    "data",
    [b"", b"\xc1", b"\x93\x01\x02\x03", b"\x81\xa4type", schemas.encode(SAMPLES[0])[:-3], b"\xff" * 64],
    ids=["empty", "reserved opcode", "array", "truncated map", "truncated frame", "garbage"],
)
def test_malformed_bytes_raise_schema_error(data: bytes) -> None:
    with pytest.raises(schemas.SchemaError) as info:
        schemas.decode(data)
    assert info.value.path.startswith("$")


def test_unknown_fields_are_ignored_in_events() -> None:
    doc = dict(FRAME, added_by_a_newer_writer=[1, 2, 3])
    assert schemas.decode(msgspec.msgpack.encode(doc)) == SAMPLES[0]


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=512))
def test_arbitrary_bytes_raise_only_schema_error(data: bytes) -> None:
    try:
        schemas.decode(data)
    except schemas.SchemaError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64), st.integers(min_value=0, max_value=400))
def test_corrupted_frames_raise_only_schema_error(noise: bytes, at: int) -> None:
    valid = schemas.encode(SAMPLES[0])
    at = min(at, len(valid))
    try:
        schemas.decode(valid[:at] + noise + valid[at + len(noise) :])
    except schemas.SchemaError:
        pass


_unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
_metres = st.floats(min_value=-1e5, max_value=1e5, allow_nan=False)


@st.composite
def tracks(draw: st.DrawFn) -> schemas.Track:
    x = sorted([draw(_unit), draw(_unit)])
    y = sorted([draw(_unit), draw(_unit)])
    floor = draw(st.one_of(st.none(), st.tuples(_metres, _metres)))
    return schemas.Track(
        track_id=draw(st.integers(min_value=0, max_value=2**63 - 1)),
        x1=x[0], y1=y[0], x2=x[1], y2=y[1], score=draw(_unit),
        state=draw(st.sampled_from(list(schemas.TrackState))),
        floor_x_m=None if floor is None else floor[0],
        floor_y_m=None if floor is None else floor[1],
    )  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(
    st.lists(tracks(), max_size=20),
    st.integers(min_value=0, max_value=2**63 - 1),
    st.integers(min_value=0, max_value=2**63 - 1),
)
def test_any_valid_frame_round_trips(track_list: list[schemas.Track], seq: int, ts_ns: int) -> None:
    frame = schemas.TrackFrame(
        store_id="s", ts_ns=ts_ns, camera_id="c", edge_run_id="r", frame_seq=seq, tracks=tuple(track_list)
    )
    assert schemas.decode(schemas.encode(frame)) == frame
    assert schemas.decode_json(schemas.encode_json(frame)) == frame


def test_decode_track_frame_refuses_other_tags() -> None:
    with pytest.raises(schemas.SchemaError, match="type"):
        schemas.decode_track_frame(schemas.encode(SAMPLES[1]))


def test_every_sample_type_is_registered() -> None:
    assert {type(e) for e in SAMPLES} == set(schemas.EVENT_TYPES)
    assert set(sample_values()) == {schemas.event_tag(t) for t in schemas.EVENT_TYPES} | {"store_layout"}


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=256))
def test_arbitrary_json_bytes_raise_only_schema_error(data: bytes) -> None:
    try:
        schemas.decode_json(data)
    except schemas.SchemaError:
        pass
