"""The alert processor: raising and clearing in frame time, active hours, a store going dark, its snapshot,
and the whole path (tracks -> zone processor -> alert processor -> FF_ALERTS and the alerts table) against
a real nats-server and chDB."""

from __future__ import annotations

import dataclasses
import datetime as dt

import msgspec
import nats
import pytest
from nats.aio.client import Client as NatsClient

from ml_core.sim.agents import ShopperConfig
from ops.runtime import catch_up
from ops.simulation.pipeline import publish_day
from ops.simulation.simulate import simulate_day
from projections.alerts.processor import AlertProcessor, zone_area_m2
from projections.layouts import LayoutHistory
from projections.migrations import migrate
from projections.projection import SeqEvent
from projections.runner import ProjectionRunner
from projections.store import ChdbStore
from projections.zones.processor import ZoneProcessor
from schemas.codec import decode, encode
from schemas.events import (
    AlertCleared,
    AlertRaised,
    LayoutPublished,
    OccupancySampled,
    QueueSampled,
    VisitEnded,
    ZoneEntered,
    ZoneExited,
)
from schemas.layout import AlertRule, StoreLayout, TimeWindow, Zone, ZoneKind
from stream.embedded import EmbeddedNats

STORE = "s1"
T0_NS = 1_795_000_000_000_000_000  # 2026-11-18 10:46:40 UTC
S = 1_000_000_000
QUEUE = Zone("queue", ZoneKind.QUEUE, ((0.0, 0.0), (4.0, 0.0), (4.0, 2.0), (0.0, 2.0)))
RULE = AlertRule(rule_id="long-queue", zone_id="queue", metric="queue_length", threshold=3.0, min_duration_s=30.0,
                 clear_below=2.0, clear_after_s=10.0, severity="critical")  # fmt: skip


def _layouts(*rules: AlertRule, time_zone: str = "UTC") -> dict[str, LayoutHistory]:
    history = LayoutHistory(STORE)
    history.add(LayoutPublished(store_id=STORE, ts_ns=0, version=1, effective_from_ns=0,
                                layout=StoreLayout(zones=(QUEUE,), rules=rules, time_zone=time_zone)))  # fmt: skip
    return {STORE: history}


def _queue(values: list[int], t0_ns: int = T0_NS) -> list[SeqEvent]:
    """One QueueSampled a second."""
    return [
        SeqEvent(
            i + 1,
            QueueSampled(
                store_id=STORE,
                ts_ns=t0_ns + i * S,
                zone_id="queue",
                queue_length=v,
                est_wait_s=10.0 * v,
                layout_version=1,
                processor_version="2+l1",
            ),
        )
        for i, v in enumerate(values)
    ]


def _at(events: list[object]) -> list[tuple[str, float, float]]:
    return [(type(e).__name__, (e.ts_ns - T0_NS) / S, e.value) for e in events]  # type: ignore[attr-defined]


def test_raised_after_min_duration_and_cleared_after_clear_after() -> None:
    values = [0] * 5 + [5] * 40 + [1] * 20 + [5] * 10 + [0] * 5
    result = AlertProcessor().fold(_queue(values), _layouts(RULE))
    # above from t=5, held 30 s: raised at 35; below 2 from t=45, held 10 s: cleared at 55; 10 s above: nothing.
    assert _at(result.events) == [("AlertRaised", 35.0, 5.0), ("AlertCleared", 55.0, 1.0)]
    raised, cleared = result.events
    assert isinstance(raised, AlertRaised) and isinstance(cleared, AlertCleared)
    assert raised.event_id == f"{STORE}:1+l1:raised:long-queue:{T0_NS + 35 * S}"
    rows = result.rows["alerts"].to_pylist()
    assert [(r["reason"], r["row_version"], r["peak"], r["duration_s"]) for r in rows] == [
        ("open", 0, 5.0, None), ("cleared", 1, 5.0, 20.0),
    ]  # fmt: skip


def test_a_value_between_clear_below_and_the_threshold_keeps_the_alert_open() -> None:
    values = [5] * 31 + [3] * 30 + [2] * 5  # 3 is not above the threshold, nor below clear_below
    result = AlertProcessor().fold(_queue(values), _layouts(RULE))
    assert _at(result.events) == [("AlertRaised", 30.0, 5.0)]


def test_outside_active_hours_nothing_is_raised_and_an_open_alert_clears() -> None:
    # From 09:53:20 in Berlin (08:53:20 UTC): active until 10:00 local, 400 s later.
    start_ns = int(dt.datetime(2026, 11, 18, 8, 53, 20, tzinfo=dt.UTC).timestamp()) * S
    rule = msgspec.structs.replace(RULE, min_duration_s=0.0, active_hours=(TimeWindow("09:00", "10:00"),))
    result = AlertProcessor().fold(_queue([5] * 500, t0_ns=start_ns), _layouts(rule, time_zone="Europe/Berlin"))
    at = [(type(e).__name__, (e.ts_ns - start_ns) / S) for e in result.events]
    assert at == [("AlertRaised", 0.0), ("AlertCleared", 400.0)]
    assert result.rows["alerts"].to_pylist()[-1]["reason"] == "inactive"


def test_an_alert_open_when_the_store_goes_dark_clears_at_its_last_sample() -> None:
    evening = _queue([5] * 40)
    morning = _queue([0] * 5, t0_ns=T0_NS + 12 * 3600 * S)
    result = AlertProcessor().fold([*evening, *morning], _layouts(RULE))
    assert _at(result.events) == [("AlertRaised", 30.0, 5.0), ("AlertCleared", 39.0, 5.0)]
    assert result.rows["alerts"].to_pylist()[-1]["reason"] == "closed"


def test_density_and_wait_rules_and_the_snapshot() -> None:
    rules = (
        AlertRule(rule_id="dense", zone_id="queue", metric="density_per_m2", threshold=0.5, min_duration_s=5.0),
        AlertRule(rule_id="wait", zone_id="queue", metric="wait_s", threshold=40.0, min_duration_s=10.0),
    )
    assert zone_area_m2(QUEUE.polygon) == 8.0
    occupancy = [
        SeqEvent(
            100 + i,
            OccupancySampled(
                store_id=STORE,
                ts_ns=T0_NS + i * S,
                zone_id="queue",
                people=v,
                layout_version=1,
                processor_version="2+l1",
            ),
        )
        for i, v in enumerate([2] * 5 + [5] * 20)  # 5 people on 8 m^2: 0.625 per m^2 from t=5
    ]
    events = sorted([*occupancy, *_queue([3] * 5 + [5] * 20)], key=lambda e: (e.event.ts_ns, e.stream_seq))
    whole = AlertProcessor().fold(events, _layouts(*rules))
    assert sorted((e.rule_id, (e.ts_ns - T0_NS) / S) for e in whole.events) == [("dense", 10.0), ("wait", 15.0)]
    first, second = AlertProcessor(), AlertProcessor()
    part = first.fold(events[:17], _layouts(*rules)).events
    second.restore(first.snapshot())
    assert [*part, *second.fold(events[17:], _layouts(*rules)).events] == whole.events


def _occupancy(zone_id: str | None, values: list[int], first_seq: int = 1) -> list[SeqEvent]:
    """One OccupancySampled a second, of a zone or (zone_id None) the whole store."""

    def sample(i: int, people: int) -> OccupancySampled:
        return OccupancySampled(store_id=STORE, ts_ns=T0_NS + i * S, zone_id=zone_id, people=people,
                                layout_version=1, processor_version="2+l1")  # fmt: skip

    return [SeqEvent(first_seq + i, sample(i, v)) for i, v in enumerate(values)]


def test_a_whole_store_occupancy_rule_folds_the_whole_store_samples() -> None:
    rule = AlertRule(rule_id="store-full", metric="occupancy", threshold=10.0, min_duration_s=5.0, clear_after_s=3.0)
    store_wide = _occupancy(None, [8] * 5 + [12] * 10 + [6] * 10)  # above from t=5, below from t=15
    in_the_queue = _occupancy("queue", [50] * 25, first_seq=100)  # a zone's sample is not the store's
    events = sorted([*store_wide, *in_the_queue], key=lambda e: (e.event.ts_ns, e.stream_seq))
    result = AlertProcessor().fold(events, _layouts(rule))
    assert _at(result.events) == [("AlertRaised", 10.0, 12.0), ("AlertCleared", 18.0, 6.0)]
    assert all(e.zone_id is None for e in result.events)  # type: ignore[attr-defined]
    assert [decode(encode(e)) for e in result.events] == result.events
    rows = result.rows["alerts"].to_pylist()
    assert [(r["rule_id"], r["zone_id"], r["reason"], r["peak"]) for r in rows] == [
        ("store-full", "", "open", 12.0), ("store-full", "", "cleared", 12.0),
    ]  # fmt: skip


def test_rules_the_samples_cannot_measure_are_skipped() -> None:
    product = Zone("shelf", ZoneKind.PRODUCT, ((5.0, 0.0), (7.0, 0.0), (7.0, 2.0), (5.0, 2.0)))
    history = LayoutHistory(STORE)
    rules = (
        AlertRule(rule_id="store-full", metric="occupancy", threshold=1.0),  # whole store: raises
        AlertRule(rule_id="alone", zone_id="shelf", metric="unattended_dwell_s", threshold=1.0, radius_m=2.0),
    )
    history.add(LayoutPublished(store_id=STORE, ts_ns=0, version=1, effective_from_ns=0,
                                layout=StoreLayout(zones=(QUEUE, product), rules=rules)))  # fmt: skip
    result = AlertProcessor().fold([*_queue([5] * 60), *_occupancy(None, [5] * 60, first_seq=100)], {STORE: history})
    assert [(type(e).__name__, e.rule_id, e.zone_id) for e in result.events] == [  # type: ignore[attr-defined]
        ("AlertRaised", "store-full", None)
    ]
    assert result.rejected == []


STAFF_ROOM = Zone("office", ZoneKind.STAFF, ((10.0, 0.0), (12.0, 0.0), (12.0, 2.0), (10.0, 2.0)))


def _track(kind: type, track_id: int, t_s: float, zone_id: str = "office") -> SeqEvent:
    common = {"store_id": STORE, "ts_ns": T0_NS + round(t_s * S), "camera_id": "cam-1", "edge_run_id": "run-1",
              "track_id": track_id, "layout_version": 1, "processor_version": "2+l1",
              "source_event_id": "x"}  # fmt: skip
    if kind is ZoneEntered:
        return SeqEvent(0, ZoneEntered(zone_id=zone_id, **common))  # type: ignore[arg-type]
    if kind is ZoneExited:
        return SeqEvent(0, ZoneExited(zone_id=zone_id, entered_ts_ns=T0_NS, **common))  # type: ignore[arg-type]
    return SeqEvent(0, VisitEnded(started_ts_ns=T0_NS, **common))  # type: ignore[arg-type]


def test_customers_per_staff_counts_staff_on_the_floor_from_the_zone_events() -> None:
    """Staff: first seen in a staff zone (track 1, 2); on the floor once out of it, until back in or gone.
    Track 3 enters the staff room later, but was first seen elsewhere: a customer, never staff."""
    rule = AlertRule(rule_id="thin", metric="customers_per_staff", threshold=4.0, min_duration_s=2.0,
                     clear_below=3.0)  # fmt: skip
    history = LayoutHistory(STORE)
    history.add(LayoutPublished(store_id=STORE, ts_ns=0, version=1, effective_from_ns=0,
                                layout=StoreLayout(zones=(QUEUE, STAFF_ROOM), rules=(rule,))))  # fmt: skip
    zone_events = [
        _track(ZoneEntered, 1, 0.0), _track(ZoneEntered, 2, 0.0), _track(ZoneEntered, 3, 0.5, "queue"),
        _track(ZoneExited, 1, 1.0), _track(ZoneExited, 2, 1.0), _track(ZoneEntered, 3, 2.0),  # 2 staff out
        _track(ZoneEntered, 1, 10.0),  # 1 staff out from t=10
        _track(ZoneExited, 1, 20.0),  # 2 again from 20 (emitted ahead of the samples, dated 20)
        _track(VisitEnded, 2, 30.0), _track(VisitEnded, 1, 30.0),  # none from 30: counts as one
    ]  # fmt: skip
    samples = _occupancy(None, [6] * 40, first_seq=100)  # 6 customers all along
    # The zone processor emits its events up to its sample delay (3 s) ahead of the samples of their time.
    events = sorted([*zone_events, *samples], key=lambda e: e.event.ts_ns - (3 * S if e in zone_events else 0))
    events = [SeqEvent(i + 1, e.event) for i, e in enumerate(events)]
    result = AlertProcessor().fold(events, {STORE: history})
    # 6/2 = 3 until 10, 6/1 = 6 from 10 (raised at 12), 3 from 20 (not below 3: open), 6 from 30.
    assert _at(result.events) == [("AlertRaised", 12.0, 6.0)]
    rule_cleared = msgspec.structs.replace(rule, clear_below=3.5)
    history2 = LayoutHistory(STORE)
    history2.add(LayoutPublished(store_id=STORE, ts_ns=0, version=1, effective_from_ns=0,
                                 layout=StoreLayout(zones=(QUEUE, STAFF_ROOM), rules=(rule_cleared,))))  # fmt: skip
    first, second = AlertProcessor(), AlertProcessor()
    part = first.fold(events[:20], {STORE: history2}).events
    second.restore(first.snapshot())
    whole = [*part, *second.fold(events[20:], {STORE: history2}).events]
    assert _at(whole) == [("AlertRaised", 12.0, 6.0), ("AlertCleared", 20.0, 3.0), ("AlertRaised", 32.0, 6.0)]
    assert whole == AlertProcessor().fold(events, {STORE: history2}).events


@pytest.fixture()
async def nc(fresh_nats: EmbeddedNats):  # type: ignore[no-untyped-def]
    client = await nats.connect(fresh_nats.url)
    yield client
    await client.close()


async def test_crowded_checkout_raises_alerts_on_ff_alerts_and_in_the_table(nc: NatsClient, store: ChdbStore) -> None:
    day = simulate_day(1, shopper=ShopperConfig(duration_s=1800.0, parties_per_hour=300.0), cameras=2)
    rule = AlertRule(rule_id="queue-long", zone_id="queue", metric="queue_length", threshold=4.0, min_duration_s=20.0,
                     clear_below=2.0, clear_after_s=10.0)  # fmt: skip
    layout = msgspec.structs.replace(day.layout, layout=msgspec.structs.replace(day.layout.layout, rules=(rule,)))
    await publish_day(nc, dataclasses.replace(day, layout=layout))
    migrate(store)

    async def run_all(db: ChdbStore) -> list[object]:
        runners = [ProjectionRunner(nc, db, ZoneProcessor()), ProjectionRunner(nc, db, AlertProcessor())]
        return await catch_up(runners, lambda r: r.run(until_caught_up=True))

    _, alerts = await run_all(store)
    js = nc.jetstream()
    info = await js.stream_info("FF_ALERTS")
    assert info.state.messages == alerts.published > 0  # type: ignore[attr-defined]
    published = [decode((await js.get_msg("FF_ALERTS", seq)).data) for seq in range(1, info.state.messages + 1)]
    raised = [e for e in published if isinstance(e, AlertRaised)]
    assert raised and all(e.rule_id == "queue-long" and e.value > 4.0 for e in raised)
    rows = store.query_rows(
        f"SELECT count(), countIf(cleared_at IS NOT NULL) FROM {store.database}.alerts FINAL"
    )  # fmt: skip
    cleared = sum(isinstance(e, AlertCleared) for e in published)
    assert rows == [[len(raised), cleared]]
    # A second run into another database republishes the same ids: the log keeps one of each.
    again = store.in_database(store.database + "_again")
    migrate(again)
    await run_all(again)
    assert (await js.stream_info("FF_ALERTS")).state.messages == info.state.messages
    assert again.query_rows(f"SELECT count() FROM {again.database}.alerts FINAL") == [[len(raised)]]
