"""Every analytics table equals the simulator's exact truth on noise-free input (real nats-server + chDB).

With one camera, and with two and three whose views overlap: a person seen by two cameras at once is
still one visit, one dwell, one occupant and one heatmap presence.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import nats
import numpy as np
import pytest

from ml_core.sim.agents import ShopperConfig
from ops.simulation.pipeline import publish_day, run_analytics
from ops.simulation.simulate import SimulatedDay, simulate_day
from projections.migrations import migrate
from projections.store import ChdbStore
from stream.embedded import EmbeddedNats

SEED = 11
MINUTES = 12.0


@pytest.fixture(scope="module", params=[1, 2, 3], ids=lambda n: f"{n}cam")
def pipeline(
    chdb_session: ChdbStore, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[tuple[SimulatedDay, ChdbStore]]:
    cameras = int(request.param)
    print(f"simulator seed {SEED}, {MINUTES} minutes, {cameras} cameras")
    day = simulate_day(SEED, shopper=ShopperConfig(duration_s=MINUTES * 60), cameras=cameras)
    if cameras > 1:  # the scenario must put people in the overlap bands, or it proves nothing about fusion
        shared = [sum(1 for cam in day.cameras if cam.sees(xy[None, :])[0]) for xy in day.observations.xy]
        assert max(shared) >= 2
    store = chdb_session.in_database(f"t_truth_exact_{cameras}cam")
    migrate(store)

    async def run(url: str) -> None:
        nc = await nats.connect(url)
        try:
            await publish_day(nc, day)
            await run_analytics(nc, store, batch=700)
        finally:
            await nc.close()

    with EmbeddedNats(Path(tmp_path_factory.mktemp("nats"))) as server:
        asyncio.run(run(server.url))
    yield day, store


def _rows(store: ChdbStore, sql: str) -> list[list[object]]:
    return store.query_rows(sql.format(db=store.database))


def test_footfall_lines_and_visits(pipeline: tuple[SimulatedDay, ChdbStore]) -> None:
    day, store = pipeline
    got = Counter()
    for bucket, entries, exits in _rows(store, "SELECT toUnixTimestamp(bucket_start), sum(entries), sum(exits) "
                                               "FROM {db}.footfall_lines GROUP BY ALL"):  # fmt: skip
        got[(int(bucket) * 10**9, "in")] += int(entries)
        got[(int(bucket) * 10**9, "out")] += int(exits)
    assert +got == day.truth.crossings
    visits, groups = _rows(store, "SELECT countIf(NOT is_staff), uniqExactIf(party_id, NOT is_staff) FROM {db}.visits")[
        0
    ]
    assert (int(visits), int(groups)) == (len(day.truth.visits), day.truth.parties)
    starts = sorted(int(r[0]) for r in _rows(store, "SELECT toUnixTimestamp64Nano(started) FROM {db}.visits "
                                                     "WHERE NOT is_staff"))  # fmt: skip
    assert starts == sorted(v.start_ns for v in day.truth.visits)


def test_dwell_rows_equal_the_truth_to_the_tick(pipeline: tuple[SimulatedDay, ChdbStore]) -> None:
    day, store = pipeline
    got = sorted(
        (str(z), int(a), int(b))
        for z, a, b in _rows(
            store, "SELECT zone_id, toUnixTimestamp64Nano(entered), toUnixTimestamp64Nano(exited) FROM {db}.zone_visits"
        )
    )
    assert got == sorted((z.zone_id, z.enter_ns, z.exit_ns) for z in day.truth.zone_visits)


def test_transitions_per_bucket(pipeline: tuple[SimulatedDay, ChdbStore]) -> None:
    day, store = pipeline
    sql = ("SELECT toUnixTimestamp(bucket_start), from_state, to_state, sum(transitions) "
           "FROM {db}.zone_transitions GROUP BY ALL")  # fmt: skip
    got = Counter({(int(b) * 10**9, str(f), str(t)): int(n) for b, f, t, n in _rows(store, sql)})
    assert got == day.truth.transitions


def test_funnel_stages_and_conversion(pipeline: tuple[SimulatedDay, ChdbStore]) -> None:
    day, store = pipeline
    got = sorted(
        (int(s), str(st))
        for s, st in _rows(store, "SELECT toUnixTimestamp64Nano(started), stage FROM {db}.funnel_visits")
    )
    want = sorted((v.start_ns, day.truth.stages[i]) for i, v in enumerate(day.truth.visits))
    assert got == want
    tx = _rows(store, "SELECT count() FROM {db}.pos_transactions")[0][0]
    assert int(tx) == len(day.truth.purchases)


def test_queue_and_occupancy_per_tick(pipeline: tuple[SimulatedDay, ChdbStore]) -> None:
    day, store = pipeline
    truth = day.truth
    ticks_ms = (truth.ticks_ns // 1_000_000).tolist()
    queue = _rows(store, "SELECT toUnixTimestamp64Milli(ts), queue_length FROM {db}.queue_series "
                         "WHERE zone_id = 'queue' ORDER BY ts")  # fmt: skip
    assert [int(t) for t, _ in queue] == ticks_ms
    assert np.array_equal(np.array([int(n) for _, n in queue]), truth.occupancy["queue"])
    for zone, series in truth.occupancy.items():
        got = _rows(store, f"SELECT people FROM {{db}}.occupancy_series WHERE zone_id = '{zone}' ORDER BY ts")
        assert np.array_equal(np.array([int(r[0]) for r in got]), series), zone or "store"
    assert truth.occupancy["queue"].max() > 0, "the queue never formed: the test proved little"


def test_heatmap_cells(pipeline: tuple[SimulatedDay, ChdbStore]) -> None:
    day, store = pipeline
    got = {(int(b) * 10**9, int(x), int(y)): (float(s), int(n)) for b, x, y, s, n in _rows(
        store, "SELECT toUnixTimestamp(bucket_start), cell_x, cell_y, sum(presence_s), uniqExact(track) "
               "FROM {db}.heatmap GROUP BY ALL")}  # fmt: skip
    assert got.keys() == day.truth.heat.keys()
    for key, (seconds, people) in day.truth.heat.items():
        assert got[key][1] == people
        assert got[key][0] == pytest.approx(seconds, abs=1e-6)


def test_shared_views_suppress_small_cells(pipeline: tuple[SimulatedDay, ChdbStore]) -> None:
    _, store = pipeline
    small = _rows(store, "SELECT count() FROM {db}.shared_heatmap WHERE tracks < 5")[0][0]
    kept = _rows(store, "SELECT count() FROM {db}.shared_heatmap")[0][0]
    raw = _rows(store, "SELECT count() FROM (SELECT 1 FROM {db}.heatmap GROUP BY bucket_start, cell_x, cell_y)")[0][0]
    assert int(small) == 0 and 0 < int(kept) < int(raw)
    assert int(_rows(store, "SELECT count() FROM {db}.shared_zone_dwell WHERE visits < 5")[0][0]) == 0
