"""Replaying the zone processor gives identical derived events; a new layout is recomputed beside the old."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
import nats
import pytest
from nats.aio.client import Client as NatsClient

from ml_core.sim.agents import ShopperConfig
from ops.simulation.pipeline import publish_day
from ops.simulation.simulate import simulate_day
from projections.dwell import DwellProjection
from projections.layouts import LayoutHistory
from projections.migrations import migrate
from projections.projection import SeqEvent
from projections.replay import replay
from projections.runner import LogSink, ProjectionRunner
from projections.store import ChdbStore
from projections.zones.processor import ZoneProcessor
from schemas.codec import decode, encode
from schemas.events import Event, LayoutPublished
from stream.embedded import EmbeddedNats
from stream.publisher import Publisher
from stream.spool import SpoolRecord

SEED = 4
SHOPPER = ShopperConfig(duration_s=240.0)


class RecordingSink(LogSink):
    """Publishes like the runner's default sink and keeps what it published."""

    def __init__(self, nc: NatsClient) -> None:
        super().__init__(nc)
        self.events: list[Event] = []

    async def publish(self, records: Sequence[SpoolRecord]) -> None:
        self.events.extend(decode(r.data) for r in records)
        await super().publish(records)


@pytest.fixture()
async def nc(fresh_nats: EmbeddedNats):  # type: ignore[no-untyped-def]
    client = await nats.connect(fresh_nats.url)
    yield client
    await client.close()


@pytest.mark.parametrize("cameras", [1, 2])
@pytest.mark.parametrize("batches", [(1000,), (37, 500), (3000,)])
def test_fold_is_independent_of_batching_and_snapshots(batches: tuple[int, ...], cameras: int) -> None:
    print(f"simulator seed {SEED}, realistic noise, {cameras} cameras")
    from ml_core.sim.noise import REALISTIC

    day = simulate_day(SEED, shopper=SHOPPER, noise=REALISTIC, cameras=cameras)
    history = LayoutHistory(day.layout.store_id)
    history.add(day.layout)
    items = [SeqEvent(i + 1, e) for i, e in enumerate(day.events)]
    reference = ZoneProcessor().fold(items, {day.layout.store_id: history}).events
    processor, out, i, k = ZoneProcessor(), [], 0, 0
    while i < len(items):
        size = batches[k % len(batches)]
        out.extend(processor.fold(items[i : i + size], {day.layout.store_id: history}).events)
        restored = ZoneProcessor()
        restored.restore(processor.snapshot())
        processor, i, k = restored, i + size, k + 1
    assert [encode(e) for e in out] == [encode(e) for e in reference]


@pytest.mark.parametrize("cameras", [1, 2])
async def test_replay_republishes_the_same_ids_and_content(nc: NatsClient, store: ChdbStore, cameras: int) -> None:
    day = simulate_day(SEED, shopper=SHOPPER, cameras=cameras)
    await publish_day(nc, day)
    migrate(store)
    first = RecordingSink(nc)
    stats = await ProjectionRunner(nc, store, ZoneProcessor(), batch=300, sink=first).run()
    assert stats.published == len(first.events) > 0 and first.duplicates == 0
    again = store.in_database(store.database + "_again")
    migrate(again)
    second = RecordingSink(nc)
    await ProjectionRunner(nc, again, ZoneProcessor(), batch=128, sink=second).run()
    assert [e.event_id for e in second.events] == [e.event_id for e in first.events]
    assert [encode(e) for e in second.events] == [encode(e) for e in first.events]
    assert second.duplicates == len(second.events)  # the log dropped every republished event


async def test_a_new_layout_is_replayed_beside_the_old(nc: NatsClient, store: ChdbStore) -> None:
    day = simulate_day(SEED, shopper=SHOPPER)
    await publish_day(nc, day)
    migrate(store)
    await ProjectionRunner(nc, store, ZoneProcessor()).run()
    await ProjectionRunner(nc, store, DwellProjection()).run()
    db = store.database
    before = store.query_rows(f"SELECT layout_version, count() FROM {db}.zone_visits GROUP BY ALL ORDER BY ALL")
    assert [row[0] for row in before] == [1]
    # Version 2 widens the snacks zone by a metre, in force for all of history.
    zones = tuple(
        msgspec.structs.replace(z, polygon=((6.5, 5.5), (11.0, 5.5), (11.0, 8.0), (6.5, 8.0)))
        if z.zone_id == "snacks" else z
        for z in day.layout.layout.zones
    )  # fmt: skip
    layout_v2 = msgspec.structs.replace(day.layout.layout, zones=zones)
    v2 = LayoutPublished(store_id=day.layout.store_id, ts_ns=day.layout.ts_ns + 1, version=2, effective_from_ns=0,
                         layout=layout_v2)  # fmt: skip
    publisher = Publisher(nc.jetstream())
    await publisher.publish(v2)
    await publisher.flush()
    zones_replay = await replay(nc, store, ZoneProcessor())
    assert zones_replay.layout_versions == (1, 2)
    await replay(nc, store, DwellProjection())
    live = store.query_rows(f"SELECT layout_version, count() FROM {db}.zone_visits GROUP BY ALL ORDER BY ALL")
    previous = store.query_rows(f"SELECT layout_version, count() FROM {db}.zone_visits__previous GROUP BY ALL")
    assert [row[0] for row in live] == [1, 2]
    assert previous == before
    assert live[0] == before[0]
