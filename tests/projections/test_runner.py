"""The runner against a real nats-server and real chDB: determinism, redelivery, dead letters, tokens."""

from __future__ import annotations

import asyncio
import hashlib

import msgspec
import nats
import pyarrow as pa
import pytest
from nats.aio.client import Client as NatsClient

import schemas
from ops.bench.synthetic_tracks import layout_event, synthetic_events
from projections.batch import SealedBatch
from projections.checkpoints import BatchMark, Checkpoints
from projections.line_counts import LineCountsProjection
from projections.migrations import migrate
from projections.replay import replay
from projections.runner import ProjectionError, ProjectionRunner
from projections.store import ChdbStore
from projections.swap import latest_swap
from projections.track_points import TrackPointsProjection
from stream.consumer import DLQ_REASON_HEADER, DeliveredBatch, PullConsumer
from stream.embedded import EmbeddedNats
from stream.provision import LogConfig, ensure_streams
from stream.publisher import Publisher

NOW_NS = 1_795_000_000_000_000_000  # 2026-11-18, inside track_points' 30-day TTL for years of test runs
T0_NS = NOW_NS

LINE_COUNTS_SQL = (
    "SELECT store_id, line_id, layout_version, bucket_start, sum(entries), sum(exits) FROM {db}.line_counts "
    "GROUP BY ALL ORDER BY ALL"
)
POINTS_SQL = "SELECT * FROM {db}.track_points ORDER BY ALL"


async def _fill(nc: NatsClient, frames: int, tracks: int, *, seed: int = 3) -> int:
    js = nc.jetstream()
    await ensure_streams(js, LogConfig())
    publisher = Publisher(js)
    await publisher.publish(layout_event())
    count = 0
    for event in synthetic_events(frames, tracks, seed=seed, t0_ns=_fresh_t0()):
        await publisher.publish(event)
        count += 1
    await publisher.flush()
    return count


def _fresh_t0() -> int:
    import time

    return (time.time_ns() // 10**9 - 3600) * 10**9  # an hour ago: inside the 30-day TTL


@pytest.fixture()
async def nc(fresh_nats: EmbeddedNats):  # type: ignore[no-untyped-def]
    client = await nats.connect(fresh_nats.url)
    yield client
    await client.close()


def _hash(store: ChdbStore, sql: str) -> list[list[object]]:
    return store.query_rows(f"SELECT count(), cityHash64(groupArray(tuple(*))) FROM ({sql.format(db=store.database)})")


async def test_two_runs_of_the_same_log_give_identical_tables(nc: NatsClient, store: ChdbStore) -> None:
    await _fill(nc, 400, 20)
    other = store.in_database(store.database + "_b")
    for target in (store, other):
        migrate(target)
        for projection in (LineCountsProjection(), TrackPointsProjection()):
            await ProjectionRunner(nc, target, projection, batch=97).run()
    for sql in (LINE_COUNTS_SQL, POINTS_SQL):
        first, second = _hash(store, sql), _hash(other, sql)
        assert first == second
        assert first[0][0] > 0


class _LosesAcks(ProjectionRunner):
    """Drops every ack, as a broken network would, until the server redelivers after ack_wait.

    (With AckPolicy.ALL a later ack would cover a lost one, so all are lost.)
    """

    async def _ack(self, consumer: PullConsumer, delivered: DeliveredBatch) -> None:
        if self.stats.skipped_redeliveries == 0:
            return
        await super()._ack(consumer, delivered)


async def test_redelivery_after_ack_wait_changes_nothing(nc: NatsClient, store: ChdbStore) -> None:
    await _fill(nc, 300, 10)
    clean = store.in_database(store.database + "_clean")
    for target in (store, clean):
        migrate(target)
    await ProjectionRunner(nc, clean, LineCountsProjection(), key="clean", batch=50).run()
    runner = _LosesAcks(nc, store, LineCountsProjection(), batch=50, ack_wait_s=1.0)
    stats = await asyncio.wait_for(runner.run(), timeout=60)
    assert stats.skipped_redeliveries > 0, "the server never redelivered: the test proved nothing"
    assert _hash(store, LINE_COUNTS_SQL) == _hash(clean, LINE_COUNTS_SQL)


async def test_unfoldable_and_undecodable_messages_go_to_the_dlq(nc: NatsClient, store: ChdbStore) -> None:
    await _fill(nc, 50, 5)
    js = nc.jetstream()
    wrong = schemas.PosTransaction(store_id="bench-store", ts_ns=T0_NS, terminal_id="t1", transaction_id="x1",
                                   item_count=1, amount_minor=100, currency="EUR")  # fmt: skip
    await js.publish("ff.v1.bench-store.cam-0.tracks", schemas.encode(wrong))
    await js.publish("ff.v1.bench-store.cam-0.tracks", b"\x00garbage")
    migrate(store)
    stats = await ProjectionRunner(nc, store, LineCountsProjection(), batch=20).run()
    assert stats.dead_lettered == 2
    dlq = await js.pull_subscribe("ff.dlq.v1.line_counts", durable="check", stream="FF_DLQ")
    reasons = sorted(m.headers[DLQ_REASON_HEADER] for m in await dlq.fetch(5, timeout=2) if m.headers)
    assert "cannot fold PosTransaction" in reasons[1]
    assert "malformed" in reasons[0] or "Expected" in reasons[0]


def test_a_different_batch_cannot_carry_an_old_token() -> None:
    rows_a = pa.table({"a": [1, 2]})
    rows_b = pa.table({"a": [1, 3]})
    a = SealedBatch("p", "t", 1, 10, rows_a)
    assert SealedBatch("p", "t", 1, 10, rows_a).token == a.token
    assert SealedBatch("p", "t", 1, 10, rows_b).token != a.token
    with pytest.raises(TypeError):
        SealedBatch("p", "t", 1, 10, rows_b, token=a.token)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="first_seq"):
        SealedBatch("p", "t", 5, 4, rows_a)


async def test_recovery_refuses_a_rebuilt_batch_whose_token_differs(nc: NatsClient, store: ChdbStore) -> None:
    await _fill(nc, 60, 5)
    migrate(store)
    # An intent for 1..30 recorded with a token the fold cannot reproduce: an old token for other content.
    Checkpoints(store, "line_counts", "1").write_intent(1, 30, "not-the-token-of-these-rows", layout_seq=1)
    with pytest.raises(ProjectionError, match="not deterministic"):
        await ProjectionRunner(nc, store, LineCountsProjection(), batch=30).run()


async def test_recovery_rebuilds_a_batch_left_in_flight(nc: NatsClient, store: ChdbStore) -> None:
    await _fill(nc, 120, 8)
    clean = store.in_database(store.database + "_clean")
    migrate(clean)
    migrate(store)
    await ProjectionRunner(nc, clean, LineCountsProjection(), key="clean", batch=40).run()

    class _DiesAfterInsert(ProjectionRunner):
        async def _ack(self, consumer: PullConsumer, delivered: DeliveredBatch) -> None:
            raise RuntimeError("killed between insert and ack")

    with pytest.raises(RuntimeError, match="killed"):
        await _DiesAfterInsert(nc, store, LineCountsProjection(), batch=40).run()
    # The first ack comes once batch 1's done mark is in, written with batch 2's intent: batch 2's rows are
    # in too, but its done mark is not. It is an intent whose rows may or may not have landed.
    kinds = store.query_rows(f"SELECT toString(kind) FROM {store.database}.projection_checkpoints ORDER BY write_no")
    assert [k for (k,) in kinds] == ["intent", "done", "intent"]
    stats = await ProjectionRunner(nc, store, LineCountsProjection(), batch=40).run()
    assert stats.recovered_batches == 1
    assert _hash(store, LINE_COUNTS_SQL) == _hash(clean, LINE_COUNTS_SQL)


async def test_replay_builds_beside_live_and_swaps(nc: NatsClient, store: ChdbStore) -> None:
    await _fill(nc, 200, 10)
    migrate(store)
    await ProjectionRunner(nc, store, LineCountsProjection(), batch=64).run()
    before = _hash(store, LINE_COUNTS_SQL)
    result = await replay(nc, store, LineCountsProjection(), batch=50)
    assert result.layout_versions == (1,)
    assert _hash(store, LINE_COUNTS_SQL) == before
    previous = store.query_rows(f"SELECT count() FROM {store.database}.line_counts__previous")
    assert previous[0][0] > 0
    record = latest_swap(store, "line_counts")
    assert record is not None and record.status == "swapped"
    # The live projection continues from the build's position: new events, no double counting.
    await _fill(nc, 200, 10)  # republished: same ids, JetStream drops them
    stats = await ProjectionRunner(nc, store, LineCountsProjection(), batch=64).run()
    assert stats.events == 0
    assert _hash(store, LINE_COUNTS_SQL) == before


def test_state_snapshot_is_canonical() -> None:
    projection = LineCountsProjection()
    projection.restore(msgspec.msgpack.encode([[["c", "r", 2, 1.0, 2.0], ["c", "r", 1, 0.5, 0.5]]]))
    again = LineCountsProjection()
    again.restore(projection.snapshot())
    assert again.snapshot() == projection.snapshot()


def test_batch_token_digest_is_the_sha256_of_the_arrow_ipc_stream() -> None:
    """Tokens must not change between builds: an intent recorded by one build is rebuilt by the next and
    compared. The digest is taken from a reused buffer; it must equal hashing the whole stream."""
    rows = pa.table({"a": pa.array(range(1000), pa.uint64()), "s": [f"cam-{i % 7}" for i in range(1000)]})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, rows.schema) as writer:
        writer.write_table(rows)
    expected = hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()[:24]
    assert SealedBatch("p", "t", 1, 10, rows).token == f"p:t:1-10:{expected}"


def test_batch_token_digest_is_unchanged_when_the_stream_outgrows_the_scratch_buffer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import projections.batch as batch_module

    rows = pa.table({"s": pa.array(["x" * 100] * 50).slice(10, 5), "n": pa.array(range(5), pa.int64())})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, rows.schema) as writer:
        writer.write_table(rows)
    expected = hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()[:24]
    # A buffer with room for 16 bytes (the stream outgrows it: measured, then written), then a roomy one.
    for slack, free in ((16 - 2 * rows.nbytes, []), (0, [pa.allocate_buffer(1 << 16)])):
        monkeypatch.setattr(batch_module, "_IPC_SLACK", slack)
        monkeypatch.setattr(batch_module, "_free_scratch", free)
        assert SealedBatch("p", "t", 1, 10, rows).token == f"p:t:1-10:{expected}"


def test_a_done_mark_written_with_the_next_intent_is_read_back_with_it(store: ChdbStore) -> None:
    migrate(store)
    checkpoints = Checkpoints(store, "p", "1")
    checkpoints.write_intent(1, 10, "t1", layout_seq=1)
    checkpoints.write_intent(11, 20, "t2", layout_seq=2, after=BatchMark(1, 10, "t1", 1, b"state after 10"))
    done, intent = Checkpoints(store, "p", "1").load()
    assert done is not None and (done.last_seq, done.layout_seq, done.state) == (10, 1, b"state after 10")
    assert intent is not None and (intent.first_seq, intent.last_seq, intent.batch_token) == (11, 20, "t2")
    checkpoints.write_done(11, 20, "t2", 2, b"state after 20")
    done, intent = Checkpoints(store, "p", "1").load()
    assert done is not None and done.last_seq == 20 and intent is None
