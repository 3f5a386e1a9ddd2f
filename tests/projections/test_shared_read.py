"""One ordered read feeding several projections (projections.shared_read) gives what separate runs give.

Two logs hold the same simulated day. On one, every projection runs with its own consumer; on the other,
the projections of each stream share one read, as `footfall project` runs them. The derived events (the
zone processor's output, byte for byte and in order) and every table must be equal; so must they when
the shared read starts with its members at different checkpoints.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import nats
import pytest

from ml_core.sim.agents import ShopperConfig
from ml_core.sim.noise import REALISTIC
from ops.runtime import by_stream, catch_up, make_units
from ops.simulation.pipeline import publish_day
from ops.simulation.simulate import SimulatedDay, simulate_day
from projections.migrations import migrate
from projections.registry import PROJECTIONS, make
from projections.runner import ProjectionRunner
from projections.shared_read import SharedReadRunner
from projections.store import ChdbStore
from stream.embedded import EmbeddedNats
from stream.ranges import read_range

# Rounded sums: batch boundaries may fall differently between two runs, and the heatmap's presence
# seconds are float sums over them.
_HEATMAP = (
    "SELECT store_id, layout_version, bucket_start, cell_m, cell_x, cell_y, track, round(sum(presence_s), 6) "
    "FROM {db}.heatmap GROUP BY ALL ORDER BY ALL"
)


@pytest.fixture(scope="module")
def day() -> SimulatedDay:
    t0_ns = (time.time_ns() // 10**9 - 7200) * 10**9  # inside every table's TTL
    return simulate_day(2, shopper=ShopperConfig(duration_s=1200.0, parties_per_hour=300.0), noise=REALISTIC,
                        cameras=2, t0_ns=t0_ns)  # fmt: skip


def _tables(store: ChdbStore, names: list[str]) -> dict[str, list[tuple[object, ...]]]:
    out = {}
    for name in names:
        for table in make(name).table_ddl():
            engine = store.query_rows(
                f"SELECT engine FROM system.tables WHERE database = '{store.database}' AND name = '{table}'"
            )[0][0]
            final = " FINAL" if engine != "MergeTree" else ""
            sql = _HEATMAP if table == "heatmap" else f"SELECT * FROM {{db}}.{table}{final} ORDER BY ALL"
            out[table] = [tuple(r) for r in store.query_rows(sql.format(db=store.database))]
    return out


async def _derived(url: str) -> list[bytes]:
    nc = await nats.connect(url)
    try:
        info = await nc.jetstream().stream_info("FF_DERIVED")
        return [data for _, _, data in await read_range(nc.jetstream(), "FF_DERIVED", 1, int(info.state.last_seq))]
    finally:
        await nc.close()


async def _publish(url: str, day: SimulatedDay) -> None:
    nc = await nats.connect(url)
    try:
        await publish_day(nc, day)
    finally:
        await nc.close()


async def _separately(url: str, store: ChdbStore) -> None:
    nc = await nats.connect(url)
    try:
        runners = [ProjectionRunner(nc, store, make(name), batch=700) for name in sorted(PROJECTIONS)]
        await catch_up(runners, lambda r: r.run(until_caught_up=True))
    finally:
        await nc.close()


async def _shared(url: str, store: ChdbStore) -> list[SharedReadRunner | ProjectionRunner]:
    groups = by_stream([make(name) for name in sorted(PROJECTIONS)])
    connections = [await nats.connect(url) for _ in groups]
    try:
        units = make_units(connections, store, groups, 700)
        await catch_up(units, lambda u: u.run(until_caught_up=True))
        return units
    finally:
        for nc in connections:
            await nc.close()


def test_shared_reads_equal_separate_runs(tmp_path: Path, day: SimulatedDay, store: ChdbStore) -> None:
    alone, shared = store.in_database(store.database + "_alone"), store.in_database(store.database + "_shared")
    with EmbeddedNats(tmp_path / "a") as log_a, EmbeddedNats(tmp_path / "b") as log_b:
        for log, target in ((log_a, alone), (log_b, shared)):
            asyncio.run(_publish(log.url, day))
            migrate(target)
        asyncio.run(_separately(log_a.url, alone))
        units = asyncio.run(_shared(log_b.url, shared))
        derived_a, derived_b = asyncio.run(_derived(log_a.url)), asyncio.run(_derived(log_b.url))
    groups = sorted(u.names for u in units if isinstance(u, SharedReadRunner))
    assert groups == [["alerts", "dwell", "footfall", "funnel", "occupancy", "queue", "transitions"],
                      ["heatmap", "line_counts", "track_points", "zones"]]  # fmt: skip
    assert len(derived_a) > 1000
    assert derived_b == derived_a
    tables_a, tables_b = _tables(alone, sorted(PROJECTIONS)), _tables(shared, sorted(PROJECTIONS))
    assert all(tables_a[t] for t in ("track_points", "line_counts", "heatmap", "zone_visits", "footfall_lines"))
    for table, rows in tables_a.items():
        assert tables_b[table] == rows, table


def test_members_at_different_checkpoints(tmp_path: Path, day: SimulatedDay, store: ChdbStore) -> None:
    """track_points and line_counts folded part of the log alone first: the shared read starts after the
    member furthest behind, each member skips what its checkpoint covers, and the tables equal a clean run."""
    clean, mixed = store.in_database(store.database + "_clean"), store.in_database(store.database + "_mixed")
    half = len(day.events) // 2
    first = SimulatedDay(**{**day.__dict__, "events": day.events[:half], "pos": []})
    rest = SimulatedDay(**{**day.__dict__, "events": day.events[half:]})
    projections = ["heatmap", "line_counts", "track_points"]

    async def run(url: str) -> None:
        await _publish(url, first)
        nc = await nats.connect(url)
        try:
            await ProjectionRunner(nc, mixed, make("track_points"), batch=300).run()
            await _publish(url, rest)  # the layout again: dropped by its message id
            await ProjectionRunner(nc, mixed, make("line_counts"), batch=300).run()
            runner = SharedReadRunner(nc, mixed, [make(n) for n in projections], batch=700)
            await runner.run()
            await SharedReadRunner(nc, clean, [make(n) for n in projections], batch=700).run()
            assert [m.stats.events > 0 for m in runner.members] == [True, False, True]
        finally:
            await nc.close()

    with EmbeddedNats(tmp_path / "nats") as log:
        for target in (clean, mixed):
            migrate(target)
        asyncio.run(run(log.url))
    tables_clean, tables_mixed = _tables(clean, projections), _tables(mixed, projections)
    for table in ("heatmap", "line_counts", "track_points"):
        assert tables_clean[table], table
        assert tables_mixed[table] == tables_clean[table], table
