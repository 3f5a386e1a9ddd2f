"""Consumers and replay against a real nats-server: a killed consumer, exact dead letters, poison messages,
replay from a sequence and from a time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import msgspec
import nats
import pytest
from nats.js import JetStreamContext

from schemas.codec import encode
from schemas.subjects import subject_for
from stream.consumer import (
    DLQ_REASON_HEADER,
    DLQ_SEQ_HEADER,
    DLQ_STREAM_HEADER,
    DLQ_SUBJECT_HEADER,
    PullConsumer,
)
from stream.embedded import EmbeddedNats
from stream.provision import LogConfig, ensure_streams
from stream.publisher import Publisher
from stream.replay import collect, replay
from tests.stream.helpers import camera_frames

REPO = Path(__file__).resolve().parents[2]
GOOD = camera_frames(1)[0]
SUBJECT = subject_for(GOOD)

# Bad messages injected among good ones: (payload, what the DLQ reason must say).
BAD = {
    "garbage": (b"\xc1\xff garbage", "malformed message"),
    "wrong-tag": (encode(GOOD).replace(b"track_frame", b"track_fraxx"), "Invalid value 'track_fraxx' - at `$.type`"),
    "invalid-id": (encode(msgspec.structs.replace(GOOD, camera_id="cam-1")).replace(b"cam-1", b"CAM!1"), "$.camera_id"),
}


async def publish_mixed(js: JetStreamContext, n_good: int) -> tuple[set[int], dict[int, str]]:
    """Publish n_good frames with the BAD payloads at fixed spots; return good and bad stream sequences."""
    await ensure_streams(js, LogConfig())
    publisher = Publisher(js)
    frames = camera_frames(n_good, seed=3)
    bad_at = {n_good // 4: "garbage", n_good // 2: "wrong-tag", 3 * n_good // 4: "invalid-id"}
    good, bad = set(), {}
    for i, frame in enumerate(frames):
        if i in bad_at:
            await publisher.flush()
            ack = await js.publish(SUBJECT, BAD[bad_at[i]][0])
            bad[ack.seq] = bad_at[i]
        await publisher.publish(frame)
    await publisher.flush()
    info = await js.stream_info("FF_TRACKS")
    good = set(range(1, info.state.last_seq + 1)) - set(bad)
    return good, bad


async def read_dlq(js: JetStreamContext, origin: str) -> dict[int, dict[str, str]]:
    sub = await js.pull_subscribe(f"ff.dlq.v1.{origin}", durable=f"dlq-{origin}", stream="FF_DLQ")
    out: dict[int, dict[str, str]] = {}
    while True:
        try:
            msgs = await sub.fetch(100, timeout=1)
        except nats.errors.TimeoutError:
            return out
        for msg in msgs:
            assert msg.headers is not None
            seq = int(msg.headers[DLQ_SEQ_HEADER])
            assert seq not in out, f"dead letter for seq {seq} stored twice"
            out[seq] = msg.headers
            await msg.ack()


async def test_killed_consumer_restarts_and_processes_everything(fresh_nats: EmbeddedNats, tmp_path: Path) -> None:
    nc = await nats.connect(fresh_nats.url)
    js = nc.jetstream()
    good, bad = await publish_mixed(js, 1000)
    out = tmp_path / "processed.txt"
    child = [sys.executable, str(REPO / "tests/stream/consumer_child.py"), fresh_nats.url, str(out)]
    env = {"PYTHONPATH": str(REPO)}
    first = subprocess.Popen([*child, "350"], stdout=subprocess.PIPE, text=True, env=env)
    assert first.stdout is not None
    assert first.stdout.readline().strip() == "stopped"  # mid-batch: 350 recorded, the last 50 not acked
    first.kill()
    first.wait()
    second = subprocess.run([*child, "0"], capture_output=True, text=True, env=env, timeout=120)
    assert second.returncode == 0, second.stderr
    processed = [int(line) for line in out.read_text().split()]
    assert set(processed) == good  # at least once: every good message, nothing else
    assert len(processed) >= len(good)
    letters = await read_dlq(js, "proj-kill")
    assert set(letters) == set(bad)
    for seq, kind in bad.items():
        headers = letters[seq]
        assert headers[DLQ_SUBJECT_HEADER] == SUBJECT
        assert headers[DLQ_STREAM_HEADER] == "FF_TRACKS"
        assert BAD[kind][1] in headers[DLQ_REASON_HEADER], (kind, headers[DLQ_REASON_HEADER])
    await nc.close()


async def test_poison_message_goes_to_the_dlq_after_max_deliver(js: JetStreamContext) -> None:
    await ensure_streams(js, LogConfig())
    publisher = Publisher(js)
    await publisher.publish(GOOD)
    await publisher.flush()
    consumer = PullConsumer(js._nc, "FF_TRACKS", "poison", batch=10, max_deliver=2, origin="poison")
    await consumer.open()
    for attempt in (1, 2):
        (item,) = await consumer.fetch(2)
        assert item.num_delivered == attempt
        await consumer.nak(item)  # processing failed
    assert await consumer.fetch(2) == []  # third delivery: dead-lettered, not returned
    assert consumer.dead_lettered == 1
    assert await consumer.pending() == 0
    letters = await read_dlq(js, "poison")
    assert "delivered 3 times without an ack (max_deliver 2)" in letters[1][DLQ_REASON_HEADER]
    await consumer.close()


async def test_replay_from_a_sequence_and_from_a_time_is_exact(js: JetStreamContext) -> None:
    await ensure_streams(js, LogConfig())
    frames = camera_frames(300, seed=5)
    for chunk in range(0, 300, 60):  # several flushes, so stored times spread out
        publisher = Publisher(js)
        for frame in frames[chunk : chunk + 60]:
            await publisher.publish(frame)
        await publisher.flush()
    nc = js._nc
    everything = await collect(replay(nc, "FF_TRACKS", batch=64))
    assert [r.event for r in everything] == frames
    assert [r.stream_seq for r in everything] == list(range(1, 301))
    for pick in (1, 61, 150, 299, 300):
        from_seq = await collect(replay(nc, "FF_TRACKS", start_seq=pick))
        assert [r.stream_seq for r in from_seq] == list(range(pick, 301))
        t = everything[pick - 1].stored_ts_ns
        for start in (t, t + 1, t - 1):
            from_time = await collect(replay(nc, "FF_TRACKS", start_time_ns=start))
            expected = [r.stream_seq for r in everything if r.stored_ts_ns >= start]
            assert [r.stream_seq for r in from_time] == expected, (pick, start)
    after_end = await collect(replay(nc, "FF_TRACKS", start_time_ns=everything[-1].stored_ts_ns + 1))
    assert after_end == []
    assert await collect(replay(nc, "FF_TRACKS", start_seq=301)) == []


async def test_durable_consumer_starts_at_a_time(js: JetStreamContext) -> None:
    await ensure_streams(js, LogConfig())
    publisher = Publisher(js)
    for frame in camera_frames(50):
        await publisher.publish(frame)
    await publisher.flush()
    everything = await collect(replay(js._nc, "FF_TRACKS"))
    t = everything[20].stored_ts_ns
    consumer = PullConsumer(js._nc, "FF_TRACKS", "from-t", batch=100, start_time_ns=t)
    await consumer.open()
    got = await consumer.fetch(2)
    assert [d.stream_seq for d in got] == [r.stream_seq for r in everything if r.stored_ts_ns >= t]
    await consumer.ack(got)
    await consumer.close()


def test_start_positions_are_exclusive() -> None:
    with pytest.raises(ValueError, match="not both"):
        PullConsumer(None, "FF_TRACKS", "x", start_seq=1, start_time_ns=1)  # type: ignore[arg-type]
