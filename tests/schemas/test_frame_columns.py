"""The columnar fast path agrees with the codec: whatever it accepts, the codec accepts with the same values."""

from __future__ import annotations

import math
from pathlib import Path

import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.codec import decode, encode
from schemas.errors import SchemaError
from schemas.events import EdgeStatus, Track, TrackClosed, TrackFrame, TrackState
from schemas.frame_columns import STATE_LOST, STATE_TRACKED, FrameColumns, frame_columns

VECTORS = Path(__file__).resolve().parents[2] / "schemas" / "vectors"

ids = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,31}", fullmatch=True)
unit = st.floats(0.0, 1.0)
metres = st.floats(-1e5, 1e5)
int64 = st.integers(0, 2**63 - 1)


@st.composite
def tracks(draw: st.DrawFn) -> Track:
    x1, x2 = sorted((draw(unit), draw(unit)))
    y1, y2 = sorted((draw(unit), draw(unit)))
    floor = draw(st.none() | st.tuples(metres, metres))
    return Track(
        track_id=draw(int64),
        x1=x1,
        y1=y1,
        x2=x2,
        y2=y2,
        score=draw(unit),
        state=draw(st.sampled_from(TrackState)),
        floor_x_m=None if floor is None else floor[0],
        floor_y_m=None if floor is None else floor[1],
    )


frames = st.builds(
    TrackFrame,
    store_id=ids,
    ts_ns=int64,
    camera_id=ids,
    edge_run_id=ids,
    frame_seq=int64,
    tracks=st.lists(tracks(), max_size=20).map(tuple),
)


def frame_at(parsed: FrameColumns, i: int) -> TrackFrame:
    """Rebuild message i's TrackFrame from the columns (for comparison with the codec's)."""
    rows = range(int(parsed.first[i]), int(parsed.first[i] + parsed.count[i]))

    def metres_or_none(value: float) -> float | None:
        return None if math.isnan(value) else value

    return TrackFrame(
        store_id=str(parsed.store_id[i]),
        ts_ns=int(parsed.ts_ns[i]),
        camera_id=str(parsed.camera_id[i]),
        edge_run_id=str(parsed.edge_run_id[i]),
        frame_seq=int(parsed.frame_seq[i]),
        tracks=tuple(
            Track(
                track_id=int(parsed.track_id[r]),
                x1=float(parsed.x1[r]),
                y1=float(parsed.y1[r]),
                x2=float(parsed.x2[r]),
                y2=float(parsed.y2[r]),
                score=float(parsed.score[r]),
                state=TrackState.LOST if parsed.state[r] == STATE_LOST else TrackState.TRACKED,
                floor_x_m=metres_or_none(float(parsed.floor_x_m[r])),
                floor_y_m=metres_or_none(float(parsed.floor_y_m[r])),
            )
            for r in rows
        ),
    )


def assert_agrees(messages: list[bytes]) -> FrameColumns:
    """Every message the fast path accepts decodes with the codec to the same TrackFrame."""
    parsed = frame_columns(messages)
    for i, data in enumerate(messages):
        if parsed.ok[i]:
            assert decode(data) == frame_at(parsed, i), f"message {i}: {data!r}"
    return parsed


@settings(max_examples=200, deadline=None)
@given(st.lists(frames, min_size=1, max_size=8))
def test_canonical_frames_take_the_fast_path_with_the_codecs_values(batch: list[TrackFrame]) -> None:
    parsed = assert_agrees([encode(f) for f in batch])
    assert parsed.ok.all()
    assert len(parsed.track_id) == sum(len(f.tracks) for f in batch)


@settings(max_examples=300, deadline=None)
@given(frames, st.data())
def test_mutated_messages_are_accepted_only_as_the_codec_reads_them(frame: TrackFrame, data: st.DataObject) -> None:
    raw = bytearray(encode(frame))
    for _ in range(data.draw(st.integers(1, 4))):
        kind = data.draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        at = data.draw(st.integers(0, len(raw) - 1)) if raw else 0
        if kind == "flip" and raw:
            raw[at] = data.draw(st.integers(0, 255))
        elif kind == "insert":
            raw.insert(at, data.draw(st.integers(0, 255)))
        elif kind == "delete" and raw:
            del raw[at]
        elif raw:
            del raw[at:]
    parsed = frame_columns([encode(frame), bytes(raw), encode(frame)])
    assert parsed.ok[0] and parsed.ok[2]  # a bad neighbour leaves the others alone
    if parsed.ok[1]:
        assert decode(bytes(raw)) == frame_at(parsed, 1)


def test_golden_vectors_python_and_go() -> None:
    messages = [(VECTORS / "track_frame.msgpack").read_bytes(), (VECTORS / "go" / "track_frame.msgpack").read_bytes()]
    parsed = assert_agrees(messages)
    assert parsed.ok.all()


def _frame_dict(**changes: object) -> dict[str, object]:
    base = msgspec.to_builtins(
        TrackFrame(
            store_id="s1",
            ts_ns=5,
            camera_id="cam-1",
            edge_run_id="run-1",
            frame_seq=7,
            tracks=(Track(3, 0.1, 0.2, 0.3, 0.4, 0.9, TrackState.LOST, 1.5, -2.5),),
        )
    )
    track = dict(base["tracks"][0])
    for key, value in changes.items():
        if key.startswith("track."):
            name = key.removeprefix("track.")
            if value is _DROP:
                track.pop(name)
            else:
                track[name] = value
        elif value is _DROP:
            base.pop(key)
        else:
            base[key] = value
    if "tracks" not in changes:
        base["tracks"] = [track]
    return base


_DROP = object()


def test_key_order_does_not_matter() -> None:
    reordered = dict(reversed(list(_frame_dict().items())))
    reordered["tracks"] = [dict(reversed(list(reordered["tracks"][0].items())))]
    parsed = assert_agrees([msgspec.msgpack.encode(reordered)])
    assert parsed.ok[0]
    assert parsed.state[0] == STATE_LOST
    assert (parsed.floor_x_m[0], parsed.floor_y_m[0]) == (1.5, -2.5)


def test_defaults_apply_when_optional_fields_are_absent() -> None:
    message = msgspec.msgpack.encode(
        _frame_dict(**{"track.state": _DROP, "track.floor_x_m": _DROP, "track.floor_y_m": _DROP})
    )
    parsed = assert_agrees([message])
    assert parsed.ok[0] and parsed.state[0] == STATE_TRACKED
    assert np.isnan(parsed.floor_x_m[0]) and np.isnan(parsed.floor_y_m[0])
    no_tracks = _frame_dict()
    no_tracks.pop("tracks")
    parsed = assert_agrees([msgspec.msgpack.encode(no_tracks)])
    assert parsed.ok[0] and parsed.count[0] == 0


class _F32(msgspec.Struct):
    """x1 as a MessagePack float32 (msgspec writes float64; a float32 is left to the codec)."""

    x1: float


@pytest.mark.parametrize(
    ("changes", "codec_accepts"),
    [
        ({"extra": 1}, True),  # unknown fields: the codec ignores them, the fast path leaves them to it
        ({"track.x1": 0}, True),  # an int where a float goes
        ({"track.x1": float("nan")}, False),
        ({"track.x1": 1.5}, False),
        ({"track.x1": 0.35}, False),  # x2 < x1
        ({"track.floor_y_m": None}, False),  # floor_x_m without floor_y_m
        ({"track.floor_x_m": 2e5}, False),
        ({"track.state": "gone"}, False),
        ({"track.track_id": -1}, False),
        ({"track.track_id": 2**64 - 1}, False),
        ({"track.score": _DROP}, False),
        ({"camera_id": "Cam-1"}, False),
        ({"camera_id": "c" * 33}, False),
        ({"camera_id": "-cam"}, False),
        ({"store_id": "s1\n"}, False),
        ({"ts_ns": -5}, False),
        ({"frame_seq": _DROP}, False),
        ({"type": "track_closed"}, False),
        ({"tracks": None}, False),
    ],
)
def test_anything_unusual_is_left_to_the_codec(changes: dict[str, object], codec_accepts: bool) -> None:
    message = msgspec.msgpack.encode(_frame_dict(**changes))
    parsed = frame_columns([message])
    assert not parsed.ok[0]
    if codec_accepts:
        decode(message)
    else:
        with pytest.raises(SchemaError):
            decode(message)


def test_other_encodings_and_shapes_are_left_to_the_codec() -> None:
    good = encode(TrackFrame(store_id="s1", ts_ns=1, camera_id="c", edge_run_id="r", frame_seq=1))
    closed = encode(TrackClosed(store_id="s1", ts_ns=1, camera_id="c", edge_run_id="r", track_id=1, first_ts_ns=0,
                                last_ts_ns=1))  # fmt: skip
    status = encode(
        EdgeStatus(store_id="s1", ts_ns=1, camera_id="c", edge_run_id="r", status_seq=1, fps=1.0, frames_processed=1,
                   frames_dropped=0, buffer_purges=0, buffer_max_age_s=60.0, events_spooled=0, events_dropped=0,
                   detector="mog2", tracker="bytetrack")
    )  # fmt: skip
    float32 = msgspec.msgpack.encode(_frame_dict()).replace(
        msgspec.msgpack.encode(_F32(0.1))[4:], b"\xca" + np.float32(0.1).astype(">f4").tobytes()
    )
    messages = [good + b"\x00", good[:-1], b"", b"\xc0", closed, status, float32, good]
    parsed = frame_columns(messages)
    assert parsed.ok.tolist() == [False] * 7 + [True]
    assert parsed.store_id[:7] == [None] * 7 and parsed.store_id[7] == "s1"


def test_repeated_keys_are_left_to_the_codec() -> None:
    body = msgspec.msgpack.encode(_frame_dict())
    assert body[0] == 0x87  # a fixmap of 7 fields
    repeated = bytes([0x88]) + body[1:] + msgspec.msgpack.encode("frame_seq") + msgspec.msgpack.encode(8)
    assert not frame_columns([repeated]).ok[0]


@settings(max_examples=400, deadline=None)
@given(track=tracks(), data=st.data())
def test_the_fixed_layout_reader_agrees_with_the_key_by_key_reader(track: Track, data: st.DataObject) -> None:
    """_canonical_track reads a Track the codec wrote at fixed offsets; whatever it accepts, _track reads the same.

    Bytes are mutated at random (keys, type bytes, values), and the track may sit at the end of its message.
    """
    from schemas.frame_columns import _canonical_track, _track

    encoded = bytearray(msgspec.msgpack.encode(track))
    for _ in range(data.draw(st.integers(0, 3))):
        at = data.draw(st.integers(0, len(encoded) - 1))
        encoded[at] = data.draw(st.integers(0, 255) | st.sampled_from([0xC0, 0xCB, 0xCA, 0xA4, 0xA7, 0x88]))
    end = len(encoded)
    buf = np.frombuffer(bytes(encoded) + bytes(data.draw(st.sampled_from([0, 16]))) + bytes(8), dtype=np.uint8)
    rows = [(np.zeros(1, np.int64), np.zeros(1, np.int8), np.zeros((1, 7))) for _ in range(2)]
    fast = _canonical_track(buf.ctypes.data, 0, end, 0, *rows[0])
    slow = _track(buf.ctypes.data, 0, end, 0, *rows[1])
    if fast >= 0:
        assert fast == slow
        for a, b in zip(rows[0], rows[1], strict=True):
            assert np.array_equal(a, b, equal_nan=True)
    elif encoded == bytearray(msgspec.msgpack.encode(track)):
        # Unmutated: only a nil floor_y_m at the very end is left to _track.
        assert track.floor_y_m is None


def test_the_codecs_tracks_take_the_fixed_layout_reader() -> None:
    from schemas.frame_columns import _canonical_track

    for track in (
        Track(1, 0.1, 0.2, 0.3, 0.4, 0.9, TrackState.LOST, 1.0, -2.0),
        Track(2**63 - 1, 0.0, 0.0, 1.0, 1.0, 1.0, floor_x_m=0.0, floor_y_m=1e5),
    ):
        buf = np.frombuffer(msgspec.msgpack.encode(track) + bytes(16), dtype=np.uint8)
        end = len(buf) - 16
        assert _canonical_track(buf.ctypes.data, 0, end, 0, np.zeros(1, np.int64), np.zeros(1, np.int8),
                                np.zeros((1, 7))) == end  # fmt: skip


def test_the_fixed_layout_reader_leaves_one_floor_coordinate_without_the_other() -> None:
    from schemas.frame_columns import _canonical_track

    body = msgspec.to_builtins(Track(1, 0.1, 0.2, 0.3, 0.4, 0.9, floor_x_m=1.0, floor_y_m=2.0))
    for floor in ("floor_x_m", "floor_y_m"):
        buf = np.frombuffer(msgspec.msgpack.encode({**body, floor: None}) + bytes(16), dtype=np.uint8)
        rows = np.zeros(1, np.int64), np.zeros(1, np.int8), np.zeros((1, 7))
        assert _canonical_track(buf.ctypes.data, 0, len(buf) - 16, 0, *rows) == -1
