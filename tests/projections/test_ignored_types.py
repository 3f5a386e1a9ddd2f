"""Derived events a projection never folds are dropped unread, and change nothing: the same rows and the
same dead letters as a run that decodes every message."""

from __future__ import annotations

import nats
import pytest
from nats.aio.client import Client as NatsClient

import schemas
from ml_core.sim.agents import ShopperConfig
from ops.simulation.pipeline import publish_day
from ops.simulation.simulate import simulate_day
from projections.dwell import DwellProjection
from projections.footfall import FootfallProjection
from projections.migrations import migrate
from projections.occupancy import OccupancyProjection
from projections.queue import QueueProjection
from projections.runner import ProjectionRunner
from projections.store import ChdbStore
from projections.zones.processor import ZoneProcessor
from stream.embedded import EmbeddedNats


@pytest.fixture()
async def nc(fresh_nats: EmbeddedNats):  # type: ignore[no-untyped-def]
    client = await nats.connect(fresh_nats.url)
    yield client
    await client.close()


@pytest.mark.parametrize("projection", [FootfallProjection, DwellProjection, OccupancyProjection, QueueProjection])
async def test_ignored_types_change_no_row_and_no_dead_letter(
    nc: NatsClient, store: ChdbStore, projection: type
) -> None:
    day = simulate_day(2, shopper=ShopperConfig(duration_s=300.0), cameras=2)
    await publish_day(nc, day)
    migrate(store)
    await ProjectionRunner(nc, store, ZoneProcessor(), batch=500).run()
    js = nc.jetstream()
    # On the derived stream beside the processor's events: garbage, and an event no projection folds.
    await js.publish("ff.v1.sim-store.zones", b"\x00garbage")
    await js.publish("ff.v1.sim-store.zones", schemas.encode(day.events[0]))

    class DecodesEverything(projection):  # type: ignore[misc,valid-type]
        ignored_types = ()

    assert projection.ignored_types, "nothing is ignored: the test would prove nothing"
    plain = store.in_database(store.database + "_plain")
    migrate(plain)
    runner = ProjectionRunner(nc, store, projection(), batch=700)
    skipping = await runner.run()
    decoding = await ProjectionRunner(nc, plain, DecodesEverything(), key=projection.name, batch=700).run()
    assert skipping.dead_lettered == decoding.dead_lettered == 2
    for table in runner.tables.values():
        sql = f"SELECT count(), cityHash64(groupArray(tuple(*))) FROM (SELECT * FROM {{db}}.{table} ORDER BY ALL)"
        ours, theirs = store.query_rows(sql.format(db=store.database)), plain.query_rows(sql.format(db=plain.database))
        assert ours == theirs and ours[0][0] > 0, table
