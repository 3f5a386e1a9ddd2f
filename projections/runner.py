"""The projection runner (thin first version): batches by stream sequence, one dedup token per batch.

Each batch's token is derived from its stream sequence range, so a batch
rebuilt after a crash from the same range carries the same token and
ClickHouse drops it as a duplicate. Acks go out only after the insert.
"""

from __future__ import annotations

from dataclasses import dataclass

from nats.aio.client import Client as NatsClient

from projections import line_counts
from projections.layouts import LayoutHistory
from projections.store import Store
from schemas.events import TrackClosed, TrackFrame
from stream.consumer import PullConsumer, dead_letter
from stream.layouts import LayoutReader


@dataclass
class RunStats:
    """What one run of a projection did."""

    events: int = 0
    batches: int = 0
    rows: int = 0
    dead_lettered: int = 0


async def run_line_counts(
    nc: NatsClient, store: Store, *, batch: int = 1000, idle_timeout_s: float = 0.5, until_caught_up: bool = True
) -> RunStats:
    """Fold FF_TRACKS into line_counts until the consumer has nothing pending (or forever)."""
    stats = RunStats()
    layouts: dict[str, LayoutHistory] = {}
    js = nc.jetstream()
    reader = LayoutReader(js)
    consumer = PullConsumer(nc, "FF_TRACKS", durable="proj-line-counts", batch=batch, origin="line-counts")
    await consumer.open()
    fold = line_counts.LineCountsFold()
    try:
        while True:
            delivered = await consumer.fetch(idle_timeout_s)
            stats.dead_lettered = consumer.dead_lettered
            if not delivered:
                if until_caught_up and await consumer.pending() == 0:
                    return stats
                continue
            for published in await reader.read_new():
                layouts.setdefault(published.store_id, LayoutHistory(published.store_id)).add(published)
            events: list[TrackFrame | TrackClosed] = []
            for item in delivered:
                if isinstance(item.event, (TrackFrame, TrackClosed)):
                    events.append(item.event)
                else:
                    await dead_letter(
                        js, "line-counts", item.msg, f"unexpected event type {type(item.event).__name__} on FF_TRACKS"
                    )
                    stats.dead_lettered += 1
            rows = fold.apply(events, layouts)
            token = f"{line_counts.VERSION}:{delivered[0].stream_seq}-{delivered[-1].stream_seq}"
            if rows.num_rows:
                store.insert_arrow("line_counts", rows, token)
            await consumer.ack(delivered)
            stats.events += len(events)
            stats.batches += 1
            stats.rows += rows.num_rows
    finally:
        await consumer.close()
