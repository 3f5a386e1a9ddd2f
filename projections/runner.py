"""The projection runner: exactly-once effect from an at-least-once log (DESIGN.md §4).

For each batch (a run of stream sequences first..last) the runner folds the
events, records an intent with the batch's token, inserts the rows (each
table's block deduplicated by a token derived from its own content), records
done with the fold's state snapshot, and only then acks. On start it
recovers: an intent without a done mark is rebuilt from exactly the same
range, from the state before it and under the same layouts, and must produce
the same token, so ClickHouse drops whatever part of it had already landed.

The position that counts is the checkpoint in the store; the durable consumer
is re-created at checkpoint + 1 on every start, so delivery is in order and a
message at or below the checkpoint (a redelivery) is acknowledged and skipped.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import msgspec
from nats.aio.client import Client as NatsClient

from projections.batch import SealedBatch, combined_token, events_digest
from projections.checkpoints import BatchMark, Checkpoints, Intent, live_keys
from projections.columns import TrackBatch, TrackFold
from projections.layouts import LayoutHistory
from projections.partition import Partition, PartitionError, conflict
from projections.projection import FoldResult, Projection, Rejected, SeqEvent
from projections.sizing import default_batch
from projections.store import Store
from projections.swap import complete_pending_swap
from schemas.codec import decode
from schemas.errors import SchemaError
from schemas.events import LayoutPublished, event_tag
from schemas.frame_columns import FrameParse
from stream.consumer import DeliveredBatch, PullConsumer, dead_letter_data
from stream.layouts import LayoutReader
from stream.publisher import MAX_PAYLOAD_BYTES, Publisher, to_record
from stream.ranges import read_range
from stream.spool import SpoolRecord


class EventSink(Protocol):
    """Where a processor's derived events go, encoded (subject, Nats-Msg-Id = event id, payload); publish
    returns once they are durable."""

    async def publish(self, records: Sequence[SpoolRecord]) -> None: ...


class LogSink:
    """Publishes derived events to the log with Nats-Msg-Id = event_id (a republished event is dropped)."""

    def __init__(self, nc: NatsClient) -> None:
        self._publisher = Publisher(nc.jetstream())

    async def publish(self, records: Sequence[SpoolRecord]) -> None:
        """Publish events encoded already (to_record: the runner encodes them once, for its token too)."""
        await self._publisher.publish_records(records)
        await self._publisher.flush()

    @property
    def duplicates(self) -> int:
        """Events the log had already (a rebuilt batch's, or a replay's with unchanged ids)."""
        return self._publisher.result.duplicates


class _Tagged(msgspec.Struct):
    """Only the `type` tag of an encoded event (the rest is skipped, not decoded)."""

    type: str = ""


_tag_decoder = msgspec.msgpack.Decoder(_Tagged)


def _peek_tag(data: bytes) -> str:
    """The event type tag of a payload, or "" if it has none (the full decode then says what is wrong).

    About a tenth of a full decode: a projection of FF_DERIVED that folds visits skips the occupancy
    samples, nine in ten of the stream, unread.
    """
    try:
        return _tag_decoder.decode(data).type
    except msgspec.DecodeError:
        return ""


@dataclass(frozen=True)
class Messages:
    """One batch to fold, in stream order, as three lists of one length."""

    stream_seq: list[int]
    subject: list[str]
    data: list[bytes]


def fresh_in_order(delivered: DeliveredBatch, last_done: int) -> DeliveredBatch:
    """The messages after last_done (the rest are redeliveries of what is folded), by stream sequence."""
    seqs = delivered.stream_seq
    if seqs and seqs[0] > last_done and all(map(int.__lt__, seqs, seqs[1:])):
        return delivered  # the usual case, checked without a Python call per message
    keep = sorted((i for i, seq in enumerate(seqs) if seq > last_done), key=seqs.__getitem__)
    return delivered.select(keep)


@dataclass(frozen=True)
class Folded:
    """One batch folded, with all its write needs: the fold's state snapshot after it included."""

    messages: Messages
    layout_seq: int
    result: FoldResult
    undecodable: list[Rejected]
    snapshot: bytes


# A batch of FF_TRACKS parsed into columns, and the messages that are no valid event (with the reason).
ParsedTracks = tuple[TrackBatch, Sequence[Rejected]]


def in_partition(batch: DeliveredBatch, partition: Partition | None) -> DeliveredBatch:
    """The messages of `batch` that `partition` folds (all of them without one, or when the server filtered)."""
    positions = None if partition is None else partition.mine(batch.subject)
    return batch if positions is None or len(positions) == len(batch) else batch.select(positions)


def partition_filters(projection: Projection, partition: Partition | None) -> list[str] | None:
    """The consumer's subject filters for `projection` in `partition`; PartitionError if it has its own filter."""
    if partition is None:
        return None
    if projection.filter_subject is not None:
        raise PartitionError(f"{projection.name} reads only {projection.filter_subject}; it cannot be partitioned")
    return partition.filter_subjects()


async def parse_tracks(messages: Messages) -> ParsedTracks:
    """Parse a batch for a TrackFold: the compiled parse holds no GIL and runs in a worker (see fold_step)."""
    parse = FrameParse(messages.data)
    await asyncio.to_thread(parse.run)
    return TrackBatch.from_payloads(messages.stream_seq, messages.data, parse.columns())


async def finished(task: asyncio.Task[None] | None) -> None:
    """Wait for `task`, if any, and raise its error."""
    if task is not None:
        await task


class ProjectionError(RuntimeError):
    """A projection cannot go on safely (for example, a rebuilt batch differs from the one recorded)."""


@dataclass
class RunStats:
    """What one run of a projection did; seq is the last stream sequence folded."""

    events: int = 0
    batches: int = 0
    rows: int = 0
    dead_lettered: int = 0
    recovered_batches: int = 0
    skipped_redeliveries: int = 0
    seq: int = 0
    published: int = 0  # derived events published (processors only)
    fetch_s: float = 0.0  # waiting for, receiving and decoding messages
    fold_s: float = 0.0  # the projection's own work
    store_s: float = 0.0  # checkpoints, inserts and derived-event publishing


@dataclass(frozen=True)
class Progress:
    """Reported after each batch: position, the stream's last sequence, and events folded so far."""

    seq: int
    stream_last_seq: int
    events: int
    elapsed_s: float


class ProjectionRunner:
    """Runs one projection over its stream into `store`.

    key: checkpoint and consumer identity (default: the projection's name);
    table_suffix: appended to every table name (a replay builds `<table>__build`);
    sink: where derived events of a processor go (default: the log, see LogSink);
    partition: fold only these stores' messages (projections.partition), under the key `<name>@<partition>`.
    """

    def __init__(
        self,
        nc: NatsClient,
        store: Store,
        projection: Projection,
        *,
        key: str | None = None,
        table_suffix: str = "",
        batch: int | None = None,
        idle_timeout_s: float = 0.5,
        ack_wait_s: float = 60.0,
        progress: Callable[[Progress], None] | None = None,
        sink: EventSink | None = None,
        partition: Partition | None = None,
    ) -> None:
        self._nc = nc
        self.partition = partition
        self._filters = partition_filters(projection, partition)
        self._sink = sink
        # Event types on its stream the projection never folds (`ignored_types`): dropped before decoding.
        self._ignored_tags = frozenset(event_tag(t) for t in getattr(projection, "ignored_types", ()))
        self._table_suffix = table_suffix
        self._js = nc.jetstream()
        self._store = store
        self.projection = projection
        self.key = key or (projection.name if partition is None else partition.key(projection.name))
        # Dead letters go to ff.dlq.v1.<origin>, one subject token: a partition's share to its projection's.
        self.origin = self.key if partition is None else projection.name
        self.tables = {base: f"{base}{table_suffix}" for base in projection.table_ddl()}
        self._batch = batch or default_batch(projection.stream)
        self._idle_timeout_s = idle_timeout_s
        self._ack_wait_s = ack_wait_s
        self._progress = progress
        self._checkpoints = Checkpoints(store, self.key, projection.version)
        self._layout_reader = LayoutReader(self._js)
        self._layouts: dict[str, LayoutHistory] = {}
        # The last batch's done mark goes into the store with the next batch's intent (one insert, not two),
        # and that batch is acked once it has: both wait here. Written alone when the runner pauses or stops.
        self._pending_done: BatchMark | None = None
        self._unacked: DeliveredBatch | None = None
        self.stats = RunStats()
        self.layout_versions: set[int] = set()

    def ensure_tables(self) -> None:
        """Create the projection's tables if missing."""
        for base, ddl in self.projection.table_ddl().items():
            self._store.execute(ddl.format(db=self._store.database, table=self.tables[base]))
        # Optional: views over the live tables (by name, so they follow a swap); a build has none.
        view_ddl: Callable[[], dict[str, str]] | None = getattr(self.projection, "view_ddl", None)
        if view_ddl is not None and not self._table_suffix:
            for ddl in view_ddl().values():
                self._store.execute(ddl.format(db=self._store.database))

    @property
    def stream(self) -> str:
        return self.projection.stream

    @property
    def emits_to(self) -> frozenset[str]:
        """The streams this runner's projection publishes to (a processor's `emits_to`)."""
        target = getattr(self.projection, "emits_to", None)
        return frozenset([target]) if target else frozenset()

    async def start(self, from_seq: int = 1) -> int:
        """Restore the projection from its checkpoint and rebuild a batch left without its done mark; return
        the last stream sequence folded (from_seq - 1 if none)."""
        if self.key == self.projection.name:
            complete_pending_swap(self._store, self.projection)
        self.ensure_tables()
        self.check_partitioning()
        self._pending_done, self._unacked = None, None  # what a run that failed left is in the store or not at all
        done, intent = self._checkpoints.load()
        self.projection.reset()
        last_done = from_seq - 1
        if done is not None:
            self.projection.restore(done.state)
            last_done = done.last_seq
        if intent is not None:
            await self.read_layouts(upto_seq=intent.layout_seq)
            await self._recover(intent)
            last_done = intent.last_seq
        self.stats.seq = last_done
        return last_done

    def check_partitioning(self) -> None:
        """PartitionError if the live tables are folded under another partitioning (projections.partition)."""
        name = self.projection.name
        live = self.partition.key(name) if self.partition is not None else name
        if self.key != live:
            return  # a build (replay) folds the whole log into tables of its own
        reason = conflict(name, self.partition, live_keys(self._store, name))
        if reason is not None:
            raise PartitionError(reason)

    async def run(
        self, *, until_caught_up: bool = True, stop: asyncio.Event | None = None, from_seq: int = 1
    ) -> RunStats:
        """Fold until the stream is drained (until_caught_up) or `stop` is set; resume from the checkpoint."""
        started = time.monotonic()
        last_done = await self.start(from_seq)
        consumer = PullConsumer(
            self._nc, self.projection.stream, f"proj-{self.key}", filter_subject=self.projection.filter_subject,
            filter_subjects=self._filters, batch=self._batch, ack_wait_s=self._ack_wait_s, origin=self.origin,
            start_seq=last_done + 1, reposition=True, ack_all=True,
        )  # fmt: skip
        await consumer.open()
        # Folding runs one batch ahead of writing: batch k+1 is folded while batch k's intent and inserts
        # are written. The writes themselves stay strictly in order (intent k, rows k, then done k with
        # intent k+1 in one insert, ack k, rows k+1), so recovery sees what it saw without the overlap.
        writing: asyncio.Task[None] | None = None
        try:
            while stop is None or not stop.is_set():
                fetch_started = time.perf_counter()
                delivered = await consumer.fetch_batch(self._idle_timeout_s)
                self.stats.fetch_s += time.perf_counter() - fetch_started
                self.stats.dead_lettered += consumer.dead_lettered
                consumer.dead_lettered = 0
                fresh = fresh_in_order(delivered, last_done)
                self.stats.skipped_redeliveries += len(delivered) - len(fresh)
                fresh = in_partition(fresh, self.partition)  # another partition's stores: acked, not folded
                if not fresh:
                    await finished(writing)  # an ack covers earlier batches (AckPolicy.ALL); pending counts them
                    writing = None
                    await self._flush(consumer)
                    if delivered:
                        await self._ack(consumer, delivered)
                        if until_caught_up and delivered.last().num_pending == 0:
                            break
                    elif until_caught_up and await consumer.pending() == 0:
                        break
                    continue
                # Layouts first: once the prefetch runs, a request's answer queues behind its messages.
                await self.read_layouts()
                await consumer.prefetch()
                folded = await self.fold_step(
                    Messages(fresh.stream_seq, fresh.subject, fresh.data), self.layout_position
                )
                last_done = fresh.stream_seq[-1]
                self.stats.seq = last_done
                await finished(writing)
                writing = asyncio.create_task(self._store_and_ack(folded, consumer, delivered))
                if self._progress is not None:
                    info = await self._js.stream_info(self.projection.stream)
                    self._progress(
                        Progress(last_done, int(info.state.last_seq), self.stats.events, time.monotonic() - started)
                    )
                if until_caught_up and delivered.last().num_pending == 0:
                    break  # nothing was left to deliver: caught up, without waiting out an idle fetch
        finally:
            try:
                await finished(writing)  # the batch in hand is written (and marked done) before stopping
                await self._flush(consumer)
            finally:
                await consumer.close()
        return self.stats

    async def _store_and_ack(self, folded: Folded, consumer: PullConsumer, delivered: DeliveredBatch) -> None:
        """Write the batch; then ack what is marked done: the batch before it, or this one if it is marked too."""
        await self.commit(folded)
        if self._pending_done is None:
            self._unacked = None
            await self._ack(consumer, delivered)
            return
        previous, self._unacked = self._unacked, delivered
        if previous is not None:
            await self._ack(consumer, previous)

    @property
    def done_pending(self) -> bool:
        """Whether the last batch's done mark waits for the next batch's intent (see _write)."""
        return self._pending_done is not None

    async def write_pending_done(self) -> None:
        """Write a done mark still waiting for the next batch's intent."""
        if self._pending_done is not None:
            done = self._pending_done
            await asyncio.to_thread(self._checkpoints.write_done, done.first_seq, done.last_seq, done.batch_token,
                                    done.layout_seq, done.state)  # fmt: skip
            self._pending_done = None

    @property
    def layout_position(self) -> int:
        """The layout stream's sequence up to which layouts are read (a batch records it)."""
        return self._layout_reader.position

    async def _flush(self, consumer: PullConsumer) -> None:
        """Write a done mark still waiting for the next batch's intent, and ack its batch."""
        await self.write_pending_done()
        if self._unacked is not None:
            unacked, self._unacked = self._unacked, None
            await self._ack(consumer, unacked)

    async def _ack(self, consumer: PullConsumer, delivered: DeliveredBatch) -> None:
        """Acknowledge after the batch is marked done (a seam for fault-injection tests).

        Not confirmed: the checkpoint, not the consumer, is the position (the durable is re-created at
        checkpoint + 1 on start), so a lost ack costs a redelivery that is skipped, never a wrong count.
        """
        await consumer.ack(delivered, confirm=False)

    def _fold(self, messages: Messages, tracks: ParsedTracks | None) -> tuple[FoldResult, list[Rejected]]:
        """Decode and fold one batch; messages that are no valid event come back with the codec's reason.

        A TrackFold takes the batch as columns (tracks: the batch parsed already); any other projection
        gets events.
        """
        if isinstance(self.projection, TrackFold):
            assert tracks is not None
            batch, undecodable = tracks
            return self.projection.fold_tracks(batch, self._layouts), list(undecodable)
        events: list[SeqEvent] = []
        undecodable = []
        ignored = self._ignored_tags
        for seq, data in zip(messages.stream_seq, messages.data, strict=True):
            if ignored and _peek_tag(data) in ignored:
                continue
            try:
                events.append(SeqEvent(seq, decode(data)))
            except SchemaError as exc:
                undecodable.append(Rejected(seq, str(exc)))
        return self.projection.fold(events, self._layouts), undecodable

    def _seal(self, folded: Folded) -> tuple[list[SealedBatch], str, list[SpoolRecord]]:
        """Seal a folded batch's rows per table; the token covers the rows and any derived events, which come
        back encoded for the log (encoded once, here, for both).

        In the writing thread, beside the next fold: the event loop's thread also receives, and is the
        busier of the two.
        """
        first, last = folded.messages.stream_seq[0], folded.messages.stream_seq[-1]
        sealed = [
            SealedBatch(self.key, self.tables[base], first, last, rows)
            for base, rows in sorted(folded.result.rows.items())
            if rows.num_rows
        ]
        records = [to_record(event, MAX_PAYLOAD_BYTES) for event in folded.result.events]
        digest = events_digest([r.data for r in records]) if records else ""
        return sealed, combined_token(sealed, digest), records

    async def fold_step(self, messages: Messages, layout_seq: int, tracks: ParsedTracks | None = None) -> Folded:
        """Fold one batch, in order, under layouts up to layout_seq (tracks: the batch parsed already, by a
        shared read: see projections.shared_read).

        On the event loop's thread, except the compiled parse of a TrackFold's batch, which holds no GIL
        and runs in a worker while the loop receives the next batch. A worker that ran the whole fold
        handed the GIL over at every numba and numpy call and waited up to the switch interval (5 ms)
        each time to get it back from the busy loop: measured, a 37 ms fold took 110-240 ms, and the
        run was 10-15% slower than folding on the loop. The parse takes the GIL back once.
        """
        fold_started = time.perf_counter()
        if tracks is None and isinstance(self.projection, TrackFold):
            tracks = await parse_tracks(messages)
        result, undecodable = self._fold(messages, tracks)
        # The snapshot is taken right after the fold: the next batch is folded before this one is done.
        folded = Folded(messages, layout_seq, result, undecodable, self.projection.snapshot())
        self.stats.fold_s += time.perf_counter() - fold_started
        return folded

    async def _apply(self, messages: Messages, layout_seq: int) -> str:
        """Fold one batch and write it to the store; return its token."""
        return await self.commit(await self.fold_step(messages, layout_seq))

    async def commit(self, folded: Folded) -> str:
        """Dead-letter what the batch rejected, then intent, rows, derived events and done mark, in order (the
        done mark of a batch without derived events is left pending for the next intent: see _write).

        Returns the batch's token.
        """
        messages, result = folded.messages, folded.result
        first, last, layout_seq = messages.stream_seq[0], messages.stream_seq[-1], folded.layout_seq
        rejections = [*folded.undecodable, *result.rejected]
        raw = {}
        if rejections:
            raw = dict(zip(messages.stream_seq, zip(messages.subject, messages.data, strict=True), strict=True))
        for rejected in rejections:
            subject, data = raw[rejected.stream_seq]
            # A repeat after a crash is dropped by the DLQ's message id.
            await dead_letter_data(
                self._js, self.origin, stream=self.projection.stream, seq=rejected.stream_seq, subject=subject,
                data=data, reason=rejected.reason,
            )  # fmt: skip
            self.stats.dead_lettered += 1
        store_started = time.perf_counter()
        # In a worker thread, one call when it can be: each hand-over costs a wait for the GIL.
        sealed, token, records = await asyncio.to_thread(self._write, folded, mark_done=not result.events)
        if records:  # a processor's: published between its rows and its done mark
            if self._sink is None:
                self._sink = LogSink(self._nc)
            await self._sink.publish(records)
            self.stats.published += len(result.events)
            await asyncio.to_thread(self._checkpoints.write_done, first, last, token, layout_seq, folded.snapshot)
        self.stats.store_s += time.perf_counter() - store_started
        self.stats.events += len(messages.stream_seq) - len(folded.undecodable)
        self.stats.batches += 1
        self.stats.rows += sum(b.rows.num_rows for b in sealed)
        return token

    def _write(self, folded: Folded, *, mark_done: bool) -> tuple[list[SealedBatch], str, list[SpoolRecord]]:
        """Seal the batch, record the intent (with the previous batch's done mark), insert its blocks (each
        deduplicated by its token), then leave its own done mark pending (see _pending_done); return the
        sealed blocks and the token.

        Under load a one-row checkpoint insert took 20-40 ms, as long as a batch's rows: a batch now costs
        one of them rather than two.
        """
        sealed, token, records = self._seal(folded)
        first, last = folded.messages.stream_seq[0], folded.messages.stream_seq[-1]
        self._checkpoints.write_intent(first, last, token, folded.layout_seq, after=self._pending_done)
        self._pending_done = None
        for batch in sealed:
            self._store.insert(batch)
        if mark_done:
            self._pending_done = BatchMark(first, last, token, folded.layout_seq, folded.snapshot)
        return sealed, token, records

    async def _recover(self, intent: Intent) -> None:
        raw = await read_range(
            self._js, self.projection.stream, intent.first_seq, intent.last_seq,
            filter_subject=self.projection.filter_subject, filter_subjects=self._filters,
        )  # fmt: skip
        mine = None if self.partition is None else self.partition.mine([subject for _, subject, _ in raw])
        if mine is not None:  # the batch as it was folded: this partition's messages only
            raw = [raw[i] for i in mine]
        if not raw:
            raise ProjectionError(
                f"{self.key}: cannot rebuild batch {intent.first_seq}..{intent.last_seq}: the stream no longer "
                "holds it (retention?); replay the projection into a new version"
            )
        seqs, subjects, payloads = (list(column) for column in zip(*raw, strict=True))
        token = await self._apply(Messages(seqs, subjects, payloads), intent.layout_seq)
        if token != intent.batch_token:
            raise ProjectionError(
                f"{self.key}: batch {intent.first_seq}..{intent.last_seq} rebuilt to token {token}, but "
                f"{intent.batch_token} was recorded: the fold is not deterministic. Its rows may be in the "
                "tables twice; replay the projection into a new version after fixing the fold"
            )
        self.stats.recovered_batches += 1

    async def read_layouts(self, upto_seq: int | None = None) -> None:
        for published in await self._layout_reader.read_new(upto_seq):
            self._add_layout(published)

    def _add_layout(self, published: LayoutPublished) -> None:
        self._layouts.setdefault(published.store_id, LayoutHistory(published.store_id)).add(published)
        self.layout_versions.add(published.version)
