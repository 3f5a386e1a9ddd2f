"""One ordered read of a stream feeding several projections: each keeps its own checkpoint and tables.

Every projection of FF_TRACKS (the zone processor, track_points, line_counts, the heatmap) reads the
same messages, and reading and parsing them is most of what the cheaper ones cost: one consumer each
read the crowded day's log four times and parsed it four times. Here one durable consumer fetches a
batch, a TrackFold's columns are parsed once for every member, and each member folds, seals and writes
exactly as its own ProjectionRunner would (intent, rows, done mark under its own key), so its tables and
checkpoints are those of a run alone and a member can later run alone, or be replayed, from them.

Positions stay per member: the shared consumer starts after the member that is furthest behind, and a
member ahead of a batch (replayed, or just added) skips what its checkpoint covers. A batch is acked once
every member has marked it done; the ack is only flow control (the checkpoints are the positions).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Sequence

from nats.aio.client import Client as NatsClient

from projections.columns import TrackFold
from projections.partition import Partition
from projections.projection import Projection
from projections.runner import (
    Folded,
    Messages,
    ParsedTracks,
    Progress,
    ProjectionRunner,
    RunStats,
    finished,
    fresh_in_order,
    in_partition,
    parse_tracks,
    partition_filters,
)
from projections.sizing import default_batch
from projections.store import Store
from stream.consumer import DeliveredBatch, PullConsumer


def shared_key(names: Sequence[str], partition: Partition | None = None) -> str:
    """The shared consumer's name for these members (in a partition): stable for the same set, whatever their
    order."""
    joined = ",".join(sorted(names))
    key = "shared-" + hashlib.blake2b(joined.encode(), digest_size=6).hexdigest()
    return key if partition is None else partition.key(key)


class SharedReadRunner:
    """Runs `projections` (all of one stream and subject filter) from one ordered read into `store`.

    members: one ProjectionRunner per projection, in the given order (their stats are the run's figures);
    partition: every member folds only these stores (projections.partition).
    """

    def __init__(
        self,
        nc: NatsClient,
        store: Store,
        projections: Sequence[Projection],
        *,
        batch: int | None = None,
        idle_timeout_s: float = 0.5,
        ack_wait_s: float = 60.0,
        progress: Callable[[Progress], None] | None = None,
        partition: Partition | None = None,
    ) -> None:
        if not projections:
            raise ValueError("a shared read needs at least one projection")
        sources = {(p.stream, p.filter_subject) for p in projections}
        if len(sources) != 1:
            raise ValueError(
                "a shared read's projections must read one stream with one filter, got "
                + ", ".join(f"{p.name}: {p.stream} {p.filter_subject or '(all subjects)'}" for p in projections)
            )
        names = [p.name for p in projections]
        if len(set(names)) != len(names):
            raise ValueError(f"a projection is named twice in a shared read: {names}")
        self._nc = nc
        self._js = nc.jetstream()
        self.members = [
            ProjectionRunner(nc, store, p, batch=batch, ack_wait_s=ack_wait_s, partition=partition) for p in projections
        ]
        ((self._stream, self._filter),) = sources
        self.partition = partition
        self._filters = partition_filters(projections[0], partition)
        self.key = shared_key(names, partition)
        self._origin = shared_key(names)  # ff.dlq.v1.<origin> takes one subject token: no partition in it
        self._batch = batch or default_batch(self._stream)
        self._idle_timeout_s = idle_timeout_s
        self._ack_wait_s = ack_wait_s
        self._progress = progress
        self._unacked: DeliveredBatch | None = None
        self.fetch_s = 0.0  # waiting for, receiving and parsing messages, for every member at once
        self.dead_lettered = 0  # messages the consumer itself gave up on (each member's own are in its stats)

    @property
    def names(self) -> list[str]:
        return [m.key for m in self.members]

    @property
    def stream(self) -> str:
        return self._stream

    @property
    def emits_to(self) -> frozenset[str]:
        return frozenset().union(*(m.emits_to for m in self.members))

    async def run(self, *, until_caught_up: bool = True, stop: asyncio.Event | None = None) -> list[RunStats]:
        """Fold until the stream is drained (until_caught_up) or `stop` is set; every member resumes from its
        own checkpoint. Returns the members' stats in their order."""
        started = time.monotonic()
        self._unacked = None
        positions = [await m.start() for m in self.members]
        consumer = PullConsumer(
            self._nc, self._stream, f"proj-{self.key}", filter_subject=self._filter, filter_subjects=self._filters,
            batch=self._batch, ack_wait_s=self._ack_wait_s, origin=self._origin, start_seq=min(positions) + 1,
            reposition=True, ack_all=True,
        )  # fmt: skip
        await consumer.open()
        parses = any(isinstance(m.projection, TrackFold) for m in self.members)
        writing: asyncio.Task[None] | None = None
        try:
            while stop is None or not stop.is_set():
                fetch_started = time.perf_counter()
                delivered = await consumer.fetch_batch(self._idle_timeout_s)
                self.fetch_s += time.perf_counter() - fetch_started
                self.dead_lettered += consumer.dead_lettered
                consumer.dead_lettered = 0
                fresh = in_partition(fresh_in_order(delivered, min(positions)), self.partition)
                if not fresh:
                    await finished(writing)
                    writing = None
                    await self._flush(consumer)
                    if delivered:
                        await consumer.ack(delivered, confirm=False)
                        if until_caught_up and delivered.last().num_pending == 0:
                            break
                    elif until_caught_up and await consumer.pending() == 0:
                        break
                    continue
                for member in self.members:  # before the prefetch, whose messages would queue ahead of the answers
                    await member.read_layouts()
                await consumer.prefetch()
                batch = Messages(fresh.stream_seq, fresh.subject, fresh.data)
                tracks: ParsedTracks | None = None
                if parses:  # once for every member that takes the whole batch
                    parse_started = time.perf_counter()
                    tracks = await parse_tracks(batch)
                    self.fetch_s += time.perf_counter() - parse_started
                folded: list[tuple[ProjectionRunner, Folded]] = []
                for k, member in enumerate(self.members):
                    if positions[k] >= fresh.stream_seq[-1]:
                        continue  # its checkpoint covers the batch already
                    if positions[k] < fresh.stream_seq[0]:
                        mine, own_tracks = batch, tracks
                    else:  # part of the batch is covered: it folds the rest, parsed for it alone
                        rest = fresh_in_order(fresh, positions[k])
                        mine, own_tracks = Messages(rest.stream_seq, rest.subject, rest.data), None
                    folded.append((member, await member.fold_step(mine, member.layout_position, own_tracks)))
                    positions[k] = fresh.stream_seq[-1]
                    member.stats.seq = positions[k]
                await finished(writing)
                writing = asyncio.create_task(self._store_and_ack(folded, consumer, delivered))
                if self._progress is not None:
                    info = await self._js.stream_info(self._stream)
                    events = sum(m.stats.events for m in self.members)
                    self._progress(Progress(min(positions), int(info.state.last_seq), events,
                                            time.monotonic() - started))  # fmt: skip
                if until_caught_up and delivered.last().num_pending == 0:
                    break
        finally:
            try:
                await finished(writing)  # the batch in hand is written (and marked done) before stopping
                await self._flush(consumer)
            finally:
                await consumer.close()
        return [m.stats for m in self.members]

    async def _store_and_ack(
        self, folded: list[tuple[ProjectionRunner, Folded]], consumer: PullConsumer, delivered: DeliveredBatch
    ) -> None:
        """Write every member's batch in order; ack the batch once all have marked it done (or the one before
        it, which the members' intents of this batch marked)."""
        for member, batch in folded:
            await member.commit(batch)
        if not any(m.done_pending for m in self.members):
            self._unacked = None
            await consumer.ack(delivered, confirm=False)
            return
        previous, self._unacked = self._unacked, delivered
        if previous is not None:
            await consumer.ack(previous, confirm=False)

    async def _flush(self, consumer: PullConsumer) -> None:
        for member in self.members:
            await member.write_pending_done()
        if self._unacked is not None:
            unacked, self._unacked = self._unacked, None
            await consumer.ack(unacked, confirm=False)
