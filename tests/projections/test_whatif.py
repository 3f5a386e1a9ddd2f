"""What-if layouts: the live layout gives the live rows exactly, a redrawn zone changes only its own numbers,
live tables and FF_DERIVED are untouched, scratch versions list, drop and expire."""

from __future__ import annotations

import asyncio
import functools
import hashlib
from pathlib import Path

import msgspec
import nats
import pytest
from nats.aio.client import Client as NatsClient

from ml_core.sim.agents import ShopperConfig
from ml_core.sim.noise import REALISTIC
from ops.commands.whatif import owned
from ops.serve.sql_socket import ReplayFailed, WhatIfJob, serving, whatif_via_owner
from ops.simulation.pipeline import publish_day, run_analytics
from ops.simulation.simulate import SimulatedDay, simulate_day
from ops.whatif import run_whatif
from projections.measures import Window, read_units, summarise
from projections.migrations import migrate
from projections.store import ChdbStore
from projections.whatif import (
    DERIVED_ANALYTICS,
    REGISTRY,
    WhatIfError,
    drop_scratch,
    expire,
    list_scratch,
)
from schemas.layout import StoreLayout, Zone
from stream.embedded import EmbeddedNats

SEED = 5
NS = 1_000_000_000


@functools.cache
def _day() -> SimulatedDay:
    print(f"simulator seed {SEED}, realistic noise, 2 cameras, 10 minutes of arrivals")
    return simulate_day(SEED, shopper=ShopperConfig(duration_s=600.0), noise=REALISTIC, cameras=2)


def _window(day: SimulatedDay) -> tuple[int, int]:
    ts = [e.ts_ns for e in day.events]
    return min(ts), max(ts) + 1


@pytest.fixture()
async def live(fresh_nats: EmbeddedNats, store: ChdbStore) -> tuple[NatsClient, ChdbStore, SimulatedDay]:
    day = _day()
    nc = await nats.connect(fresh_nats.url)
    await publish_day(nc, day)
    migrate(store)
    await run_analytics(nc, store)
    yield nc, store, day  # type: ignore[misc]
    await nc.close()


def _live_tables(store: ChdbStore) -> dict[str, str]:
    """Every table of the database but the what-if's own: its UUID, bytes on disk and a digest of its rows."""
    tables = store.query_rows(f"SELECT name, toString(uuid), total_bytes FROM system.tables "
                              f"WHERE database = '{store.database}' ORDER BY name")  # fmt: skip
    out = {}
    for name, table_uuid, size in tables:
        if "__whatif_" in name or name == REGISTRY:
            continue
        rows = store.query_text(f"SELECT * FROM {store.database}.`{name}` ORDER BY ALL", "TSVWithNamesAndTypes")
        out[str(name)] = f"{table_uuid}:{size}:{hashlib.sha256(rows.encode()).hexdigest()}"
    return out


def _tables(store: ChdbStore) -> set[str]:
    return {str(r[0]) for r in store.query_rows(f"SELECT name FROM system.tables WHERE database = '{store.database}'")}


def _table_rows(store: ChdbStore, table: str) -> str:
    return store.query_text(f"SELECT * FROM {store.database}.{table} ORDER BY ALL", "TSV")


def _redrawn(layout: StoreLayout, zone_id: str, shrink_m: float) -> StoreLayout:
    zones = []
    for zone in layout.zones:
        if zone.zone_id == zone_id:
            xs, ys = [p[0] for p in zone.polygon], [p[1] for p in zone.polygon]
            x0, x1, y0, y1 = min(xs) + shrink_m, max(xs) - shrink_m, min(ys) + shrink_m, max(ys) - shrink_m
            zones.append(Zone(zone.zone_id, zone.kind, ((x0, y0), (x1, y0), (x1, y1), (x0, y1)), zone.label))
        else:
            zones.append(zone)
    return msgspec.structs.replace(layout, zones=tuple(zones))


async def test_live_layout_gives_the_live_rows_and_leaves_live_untouched(
    live: tuple[NatsClient, ChdbStore, SimulatedDay], fresh_nats: EmbeddedNats
) -> None:
    nc, store, day = live
    before = _live_tables(store)
    derived_before = (await nc.jetstream().stream_info("FF_DERIVED")).state.last_seq
    start, end = _window(day)
    report = await run_whatif(fresh_nats.url, store, day.layout.layout, start, end)
    assert report.version.layout_version == day.layout.version  # the live layout's own version
    assert report.version.status == "ready" and report.version.frames > 0
    # Exactly the live rows, table by table, and so exactly the live numbers.
    from projections.registry import make

    for name in DERIVED_ANALYTICS:
        for base in make(name).table_ddl():
            assert _table_rows(store, f"{base}{report.version.suffix}") == _table_rows(store, base), base
    assert report.rows and all(d.a == d.b or (d.a != d.a and d.b != d.b) for d in report.rows)
    assert any(d.measure == "visits" and d.a > 0 for d in report.rows)
    assert _live_tables(store) == before
    assert (await nc.jetstream().stream_info("FF_DERIVED")).state.last_seq == derived_before


async def test_redrawn_zone_changes_its_numbers_only(
    live: tuple[NatsClient, ChdbStore, SimulatedDay], fresh_nats: EmbeddedNats
) -> None:
    _, store, day = live
    start, end = _window(day)
    before = _live_tables(store)
    product = [z.zone_id for z in day.layout.layout.zones if z.kind.value == "product"]
    target = product[0]
    report = await run_whatif(fresh_nats.url, store, _redrawn(day.layout.layout, target, 0.8), start, end)
    assert report.version.layout_version == day.layout.version + 1
    rows = {(d.measure, d.subject): d for d in report.rows}
    # A smaller zone: people stand in it for less time (and some graze its new edge more often).
    assert rows[("dwell_median_s", target)].b < rows[("dwell_median_s", target)].a
    for (measure, subject), d in rows.items():
        zone_measure = measure in ("stays", "dwell_median_s", "dwell_p90_s", "occupancy_mean", "occupancy_peak")
        if (zone_measure and subject not in (target, "store")) or measure in ("visits", "entries", "exits"):
            assert d.a == d.b or (d.a != d.a and d.b != d.b), (measure, subject, d)
    assert _live_tables(store) == before
    # The scratch rows carry the candidate's version; the live side of the comparison is the live version.
    window = Window(start, end, 3600)
    scratch = summarise(read_units(store, day.layout.store_id, window, suffix=report.version.suffix,
                                   versions=[day.layout.version + 1]))  # fmt: skip
    assert scratch[("visits", "")] == rows[("visits", "")].b


async def test_scratch_versions_list_drop_and_expire(
    live: tuple[NatsClient, ChdbStore, SimulatedDay], fresh_nats: EmbeddedNats
) -> None:
    _, store, day = live
    start, end = _window(day)
    first = await run_whatif(fresh_nats.url, store, day.layout.layout, start, end, ttl_s=3600)
    second = await run_whatif(fresh_nats.url, store, day.layout.layout, start, end, ttl_s=7200)
    listed = {v.whatif_id: v for v in list_scratch(store)}
    assert set(listed) == {first.version.whatif_id, second.version.whatif_id}
    assert all(v.status == "ready" for v in listed.values())
    assert drop_scratch(store, first.version.whatif_id)
    assert not drop_scratch(store, first.version.whatif_id)
    tables = _tables(store)
    assert not any(first.version.suffix in t for t in tables)
    assert any(second.version.suffix in t for t in tables)
    # Expiry is a time checked on list: before it nothing goes, after it the version and its tables do.
    assert expire(store, second.version.expires_ns - 1) == []
    assert expire(store, second.version.expires_ns) == [second.version.whatif_id]
    assert list_scratch(store) == []
    tables = _tables(store)
    assert not any("__whatif_" in t for t in tables)


async def test_a_window_without_frames_is_an_error(
    live: tuple[NatsClient, ChdbStore, SimulatedDay], fresh_nats: EmbeddedNats
) -> None:
    _, store, day = live
    start, _ = _window(day)
    with pytest.raises(WhatIfError, match="no frame"):
        await run_whatif(fresh_nats.url, store, day.layout.layout, start - 86_400 * NS, start - 80_000 * NS,
                         warmup_s=0, tail_s=0)  # fmt: skip
    assert list_scratch(store) == []


async def test_a_store_owned_by_footfall_project_refuses_a_whatif_clearly(store: ChdbStore, tmp_path: Path) -> None:
    """`footfall project` answers SQL on its socket but carries out no what-if (serve does: tests/ops/
    test_serve.py): the client gets the reason, and nothing is written."""
    job = WhatIfJob(b"{}", 0, 1)
    assert not owned(tmp_path)
    assert whatif_via_owner(tmp_path, job, lambda _: None) is None
    async with serving(store, tmp_path) as sock:  # as footfall project serves it: no what-if handler
        assert sock is not None
        assert await asyncio.to_thread(owned, tmp_path)
        answer = await asyncio.to_thread(whatif_via_owner, tmp_path, job, lambda _: None)
    assert isinstance(answer, ReplayFailed)
    assert "footfall serve" in answer.error and "stop it" in answer.error
    assert not owned(tmp_path)
