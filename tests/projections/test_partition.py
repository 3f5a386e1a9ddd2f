"""Projectors partitioned by store (projections.partition): each share exactly once, together the whole log.

Two logs hold the same four simulated stores, their messages interleaved. On one, every projection folds
the whole log; on the other, the same projections run as two hash partitions (1/2, then 2/2) into one
store, and on a third database as two named-store partitions. Every table must equal the whole-log run's,
and the zone processor's derived events, store by store, too.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import nats
import pytest

from ml_core.sim.agents import ShopperConfig
from ml_core.sim.noise import REALISTIC
from ops.bench.serve import free_port
from ops.runtime import by_stream, catch_up, make_units, members
from ops.simulation.pipeline import publish_events
from ops.simulation.simulate import SimulatedDay, simulate_day
from projections.migrations import migrate
from projections.partition import Partition, PartitionError, conflict, fnv1a_32, parse_key, store_of
from projections.registry import PROJECTIONS, make
from projections.replay import ReplayError, replay
from projections.store import ChdbStore
from stream.embedded import EmbeddedNats
from stream.ranges import read_range
from stream.server_process import ServerProcess
from tests.projections.test_shared_read import _tables

STORES = ("store-a", "store-b", "store-c", "store-d")


def test_parse_refuses_what_is_no_partition() -> None:
    for text in ("3/2", "0/2", "1/0", "a/b", "2", "", "1/2/3"):
        with pytest.raises(PartitionError, match="--partition") as info:
            Partition.parse(text)
        assert repr(text) in str(info.value)
    with pytest.raises(PartitionError, match="'Bad Store'"):
        Partition.of_stores(["store-a", "Bad Store"])
    with pytest.raises(PartitionError, match="at least one"):
        Partition.of_stores(["", " "])
    assert Partition.parse(" 2/4 ") == Partition(index=2, count=4)
    assert Partition.of_stores(["b", "a", "b"]).stores == ("a", "b")


def test_hash_partitions_cover_every_store_once() -> None:
    stores = [f"store-{i:03d}" for i in range(200)]
    for n in range(1, 6):
        parts = [Partition(index=k, count=n) for k in range(1, n + 1)]
        for store in stores:
            assert sum(p.holds(store) for p in parts) == 1
        sizes = [sum(p.holds(s) for s in stores) for p in parts]
        assert min(sizes) > 0.6 * len(stores) / n  # the hash spreads them
    assert fnv1a_32(b"") == 0x811C9DC5 and fnv1a_32(b"a") == 0xE40C292C  # the FNV-1a reference values


def test_hash_partitions_are_those_of_nats_servers_partition_mapping(tmp_path: Path) -> None:
    """The same assignment as nats-server's own `partition(N, token)` subject mapping."""
    port, monitor = free_port(), free_port()
    config = tmp_path / "nats.conf"
    config.write_text(
        f"listen: 127.0.0.1:{port}\nhttp: 127.0.0.1:{monitor}\n"
        f"jetstream {{ store_dir: {str(tmp_path / 'js')!r} }}\n"
        'mappings { "in.*": "out.{{partition(5,1)}}.{{wildcard(1)}}" }\n'
    )
    stores = [f"store-{i}" for i in range(40)]

    async def partitions() -> dict[str, int]:
        nc = await nats.connect(f"nats://127.0.0.1:{port}")
        try:
            seen: dict[str, int] = {}
            sub = await nc.subscribe("out.>")
            for store in stores:
                await nc.publish(f"in.{store}", b"")
            await nc.flush()
            for _ in stores:
                msg = await sub.next_msg(timeout=5)
                _, part, store = msg.subject.split(".")
                seen[store] = int(part)
            return seen
        finally:
            await nc.close()

    server = ServerProcess(config, tmp_path / "nats.log", f"http://127.0.0.1:{monitor}").start()
    try:
        by_server = asyncio.run(partitions())
    finally:
        server.stop()
    for store in stores:
        assert Partition(index=by_server[store] + 1, count=5).holds(store), store


def test_conflicts_name_the_checkpoints_in_the_way() -> None:
    half = Partition(index=1, count=2)
    assert conflict("zones", half, ["zones@2of2"]) is None
    assert conflict("zones", None, []) is None
    assert "'zones@1of2'" in (conflict("zones", None, ["zones@1of2"]) or "")
    assert "'zones'" in (conflict("zones", half, ["zones"]) or "")
    assert "K/4" in (conflict("zones", half, ["zones@3of4"]) or "")
    named = Partition.of_stores(["a", "b"])
    assert "other way" in (conflict("zones", named, ["zones@1of2"]) or "")
    assert "folds b" in (conflict("zones", named, ["zones@stores:b,c"]) or "")
    assert conflict("zones", named, ["zones@stores:c,d"]) is None
    assert parse_key("zones", named.key("zones")) == named
    assert parse_key("zones", "zones@2of3") == Partition(index=2, count=3)
    assert store_of("ff.v1.store-a.cam-1.tracks") == "store-a" and store_of("junk") == ""


@pytest.fixture(scope="module")
def days() -> list[SimulatedDay]:
    # Frame ids are camera:edge_run:seq, without the store: each store's edge runs under its own run id.
    t0_ns = (time.time_ns() // 10**9 - 3600) * 10**9  # inside every table's TTL
    return [
        simulate_day(
            seed,
            shopper=ShopperConfig(duration_s=600.0, parties_per_hour=240.0),
            noise=REALISTIC,
            store_id=store,
            edge_run_id=f"sim-run-{seed}",
            t0_ns=t0_ns,
        )
        for seed, store in enumerate(STORES, start=1)
    ]


def _interleaved(days: list[SimulatedDay], part: slice) -> list[object]:
    """The days' track events in time order across stores (as a chain's hub receives them), then their POS."""
    events = sorted((e for d in days for e in d.events[part]), key=lambda e: (e.ts_ns, e.store_id))
    return [*events, *(p for d in days for p in d.pos[part])]


async def _publish(url: str, days: list[SimulatedDay], part: slice = slice(None)) -> None:
    nc = await nats.connect(url)
    try:
        await publish_events(nc, [d.layout for d in days], _interleaved(days, part))
    finally:
        await nc.close()


async def _fold(url: str, store: ChdbStore, partition: Partition | None) -> None:
    groups = by_stream([make(name) for name in sorted(PROJECTIONS)])
    connections = [await nats.connect(url) for _ in groups]
    try:
        units = make_units(connections, store, groups, 700, partition)
        await catch_up(units, lambda u: u.run(until_caught_up=True))
        assert all(r.partition == partition for u in units for r in members(u))
    finally:
        for nc in connections:
            await nc.close()


async def _derived_by_store(url: str) -> dict[str, list[bytes]]:
    nc = await nats.connect(url)
    try:
        info = await nc.jetstream().stream_info("FF_DERIVED")
        out: dict[str, list[bytes]] = {}
        for _, subject, data in await read_range(nc.jetstream(), "FF_DERIVED", 1, int(info.state.last_seq)):
            out.setdefault(store_of(subject), []).append(data)
        return out
    finally:
        await nc.close()


def test_partitions_together_equal_the_whole_log(tmp_path: Path, days: list[SimulatedDay], store: ChdbStore) -> None:
    whole = store.in_database(store.database + "_whole")
    hashed = store.in_database(store.database + "_hashed")
    named = store.in_database(store.database + "_named")
    halves = [Partition(index=1, count=2), Partition(index=2, count=2)]
    assert {s for s in STORES if halves[0].holds(s)} not in (set(), set(STORES))  # both halves fold something
    first, rest = slice(0, len(days[0].events) // 2), slice(len(days[0].events) // 2, None)
    with EmbeddedNats(tmp_path / "a") as log_a, EmbeddedNats(tmp_path / "b") as log_b:
        for log in (log_a, log_b):
            asyncio.run(_publish(log.url, days, first))
        for target in (whole, hashed, named):
            migrate(target)
        asyncio.run(_fold(log_a.url, whole, None))
        for half in halves:  # each partition folds the first half of the day, then resumes from its checkpoint
            asyncio.run(_fold(log_b.url, hashed, half))
        for log in (log_a, log_b):
            asyncio.run(_publish(log.url, days, rest))
        asyncio.run(_fold(log_a.url, whole, None))
        for half in reversed(halves):
            asyncio.run(_fold(log_b.url, hashed, half))
        for stores in (STORES[:1], STORES[1:]):  # named stores: the server filters
            asyncio.run(_fold(log_b.url, named, Partition.of_stores(stores)))
        derived_a, derived_b = asyncio.run(_derived_by_store(log_a.url)), asyncio.run(_derived_by_store(log_b.url))

        # Another scheme over tables already folded one way is refused before it folds anything.
        with pytest.raises(PartitionError, match="@1of2'"):
            asyncio.run(_fold(log_b.url, hashed, None))
        with pytest.raises(PartitionError, match="K/2"):
            asyncio.run(_fold(log_b.url, hashed, Partition(index=1, count=3)))

        async def replay_zones() -> None:
            nc = await nats.connect(log_b.url)
            try:
                await replay(nc, hashed, make("zones"))
            finally:
                await nc.close()

        with pytest.raises(ReplayError, match="partition"):
            asyncio.run(replay_zones())

    assert sorted(derived_a) == sorted(STORES) and all(len(v) > 100 for v in derived_a.values())
    assert derived_b == derived_a
    tables = {name: _tables(db, sorted(PROJECTIONS)) for name, db in (("whole", whole), ("hashed", hashed),
                                                                        ("named", named))}  # fmt: skip
    assert all(
        tables["whole"][t] for t in ("track_points", "line_counts", "heatmap", "zone_visits", "pos_transactions")
    )
    for table, rows in tables["whole"].items():
        assert tables["hashed"][table] == rows, table
        assert tables["named"][table] == rows, table
