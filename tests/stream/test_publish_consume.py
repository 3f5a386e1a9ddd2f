"""Publishing and consuming against a real nats-server: dedup by event id, provisioning, dead letters."""

from __future__ import annotations

import msgspec
import nats
import pytest
from nats.js import JetStreamContext

import schemas
from schemas.samples import sample_events
from stream.consumer import DLQ_REASON_HEADER, DLQ_SEQ_HEADER, DLQ_SUBJECT_HEADER, PullConsumer
from stream.embedded import EmbeddedNats
from stream.errors import PayloadTooLarge
from stream.provision import LogConfig, StreamLimits, ensure_streams
from stream.publisher import Publisher

FRAME = sample_events()[0]
assert isinstance(FRAME, schemas.TrackFrame)


async def test_provisioning_is_idempotent_and_reports_changes(js: JetStreamContext) -> None:
    first = await ensure_streams(js, LogConfig())
    assert {c.action for c in first} == {"created"}
    second = await ensure_streams(js, LogConfig())
    assert {c.action for c in second} == {"unchanged"}
    changed = LogConfig(limits={**LogConfig().limits, "FF_TRACKS": StreamLimits(7 * 86_400.0)})
    third = {c.stream: c for c in await ensure_streams(js, changed)}
    assert third["FF_TRACKS"].action == "updated"
    assert "max_age" in third["FF_TRACKS"].changes[0]
    info = await js.stream_info("FF_TRACKS")
    assert info.config.deny_delete and info.config.deny_purge


async def test_same_event_twice_is_stored_once(js: JetStreamContext) -> None:
    await ensure_streams(js, LogConfig())
    publisher = Publisher(js)
    await publisher.publish(FRAME)
    await publisher.publish(FRAME)
    result = await publisher.flush()
    assert (result.stored, result.duplicates) == (1, 1)
    info = await js.stream_info("FF_TRACKS")
    assert info.state.messages == 1


async def test_records_published_in_pieces_of_the_window_keep_their_order(js: JetStreamContext) -> None:
    from stream.publisher import MAX_PAYLOAD_BYTES, to_record

    await ensure_streams(js, LogConfig())
    frames = [msgspec.structs.replace(FRAME, frame_seq=i, ts_ns=FRAME.ts_ns + i) for i in range(95)]
    records = [to_record(f, MAX_PAYLOAD_BYTES) for f in frames]
    publisher = Publisher(js, max_in_flight=10)  # 95 records: ten pieces, the window full between them
    await publisher.publish_records(records[:60])
    await publisher.publish_records(records)  # the first 60 again: dropped by their ids
    result = await publisher.flush()
    assert (result.stored, result.duplicates) == (95, 60)
    stored = [await js.get_msg("FF_TRACKS", seq) for seq in range(1, 96)]
    assert [m.data for m in stored] == [r.data for r in records]


async def test_oversized_payload_is_refused(js: JetStreamContext) -> None:
    await ensure_streams(js, LogConfig())
    publisher = Publisher(js, max_payload_bytes=200)
    with pytest.raises(PayloadTooLarge, match="privacy bound"):
        await publisher.publish(FRAME)
    assert (await js.stream_info("FF_TRACKS")).state.messages == 0


async def test_consumer_dead_letters_bad_messages_and_moves_on(js: JetStreamContext) -> None:
    await ensure_streams(js, LogConfig())
    subject = schemas.subject_for(FRAME)
    await js.publish(subject, b"\xc1 not msgpack")
    await js.publish(subject, b"")
    good = [msgspec.structs.replace(FRAME, frame_seq=i) for i in range(3)]
    publisher = Publisher(js)
    for frame in good:
        await publisher.publish(frame)
    await publisher.flush()
    consumer = PullConsumer(js._nc, "FF_TRACKS", durable="test", batch=10, origin="test")
    await consumer.open()
    delivered = await consumer.fetch(timeout_s=2)
    await consumer.ack(delivered)
    assert [d.event for d in delivered] == good
    assert consumer.dead_lettered == 2
    assert await consumer.pending() == 0
    dlq = await js.pull_subscribe("ff.dlq.v1.test", durable="dlq-reader", stream="FF_DLQ")
    letters = await dlq.fetch(2, timeout=2)
    assert [m.headers[DLQ_SEQ_HEADER] for m in letters if m.headers] == ["1", "2"]
    for letter in letters:
        assert letter.headers is not None
        assert letter.headers[DLQ_SUBJECT_HEADER] == subject
        assert "at `$`" in letter.headers[DLQ_REASON_HEADER]
    await consumer.close()


async def test_requests_capped_in_bytes_still_fill_a_batch_in_order(
    js: JetStreamContext, fresh_nats: EmbeddedNats, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each pull request brings at most REQUEST_MAX_BYTES (a shared connection's server-side buffer is finite);
    a batch of bigger total size is filled by several, prefetched or not, with nothing skipped or repeated."""
    import stream.consumer

    await ensure_streams(js, LogConfig())
    publisher = Publisher(js)
    frames = [msgspec.structs.replace(FRAME, frame_seq=i) for i in range(60)]
    for frame in frames:
        await publisher.publish(frame)
    await publisher.flush()
    size = len(schemas.encode(FRAME))
    monkeypatch.setattr(stream.consumer, "REQUEST_MAX_BYTES", size * 7 + size // 2)  # 7 messages per request
    nc = await nats.connect(fresh_nats.url)
    consumer = PullConsumer(nc, "FF_TRACKS", "capped", batch=25, reposition=True, ack_all=True, start_seq=1)
    await consumer.open()
    seen: list[int] = []
    sizes = []
    try:
        first = await consumer.fetch_raw(1.0)
        sizes.append(len(first))
        seen += [d.stream_seq for d in first]
        await consumer.prefetch()  # fills the next batch in the background, 7 messages at a time
        await consumer.ack(first)
        while len(seen) < len(frames):
            batch = await consumer.fetch_raw(1.0)
            assert batch, f"stalled after {len(seen)} messages"
            sizes.append(len(batch))
            seen += [d.stream_seq for d in batch]
            await consumer.ack(batch)
    finally:
        await consumer.close()
        await nc.close()
    assert seen == list(range(1, len(frames) + 1))
    assert sizes == [25, 25, 10]


def test_hpub_is_the_command_nats_py_would_write() -> None:
    from nats.protocol.command import hpub_cmd

    from stream.publisher import _hpub

    data = schemas.encode(sample_events()[0])
    ours = _hpub("ff.v1.s1.cam1.tracks", "_INBOX.abc.12", "cam1:run:7", data)
    header = b"NATS/1.0\r\nNats-Msg-Id: cam1:run:7\r\n\r\n"  # what Client._send_publish builds for one header
    assert ours == hpub_cmd("ff.v1.s1.cam1.tracks", "_INBOX.abc.12", header, data)
    with pytest.raises(ValueError, match="line break"):
        _hpub("ff.v1.s1.cam1.tracks", "_INBOX.abc.13", "cam1:run:7\r\nX: y", data)
