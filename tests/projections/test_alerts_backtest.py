"""The alert backtest: a rules file checked strictly, and the backtest of a log equal to what the live alert
processor published on FF_ALERTS for the same rules, publishing and writing nothing (real nats-server, chDB)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path

import msgspec
import nats
import pytest

from ml_core.sim.agents import ShopperConfig
from ml_core.sim.noise import REALISTIC
from ops.cli import main
from ops.runtime import catch_up
from ops.simulation.pipeline import publish_day
from ops.simulation.simulate import simulate_day
from projections.alerts.backtest import (
    Interval,
    RulesFileError,
    backtest,
    check_rules,
    in_window,
    parse_rules,
    read_layouts,
)
from projections.alerts.processor import AlertProcessor
from projections.migrations import migrate
from projections.runner import ProjectionRunner
from projections.store import ChdbStore
from projections.zones.processor import ZoneProcessor
from schemas.codec import decode
from schemas.events import AlertCleared, AlertRaised, LayoutPublished
from schemas.layout import AlertRule, StoreLayout, Zone, ZoneKind
from stream.embedded import EmbeddedNats

LIVE_RULES = (
    AlertRule(rule_id="queue-long", zone_id="queue", metric="queue_length", threshold=3.0, min_duration_s=20.0,
              clear_below=2.0, clear_after_s=10.0, severity="critical"),
    AlertRule(rule_id="produce-busy", zone_id="produce", metric="occupancy", threshold=2.0, min_duration_s=15.0),
    # Counts staff on the floor from zone and visit events: a backtest of samples alone counted none.
    AlertRule(rule_id="staff-gap", metric="customers_per_staff", threshold=15.0, min_duration_s=20.0,
              clear_below=10.5, clear_after_s=10.0),
)  # fmt: skip
CANDIDATE = {"rule_id": "queue-long", "zone_id": "queue", "metric": "queue_length", "threshold": 2.0,
             "min_duration_s": 10.0, "clear_below": 1.0, "clear_after_s": 5.0}  # fmt: skip


# --- the rules file ---------------------------------------------------------------------------------------


def _layout() -> LayoutPublished:
    zones = (
        Zone("queue", ZoneKind.QUEUE, ((0.0, 0.0), (4.0, 0.0), (4.0, 2.0), (0.0, 2.0))),
        Zone("produce", ZoneKind.PRODUCT, ((5.0, 0.0), (9.0, 0.0), (9.0, 2.0), (5.0, 2.0))),
    )
    return LayoutPublished(store_id="s1", ts_ns=0, version=3, effective_from_ns=0, layout=StoreLayout(zones=zones))


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"threshhold": 1.0}, "rules[1] (rule_id 'bad'): field threshhold"),
        ({"metric": "queue_lenght"}, "rules[1] (rule_id 'bad'): field metric"),
        ({"threshold": -1.0}, "rules[1] (rule_id 'bad'): field threshold"),
        ({"severity": "urgent"}, "rules[1] (rule_id 'bad'): field severity"),
        ({"active_hours": [{"start": "9:00", "end": "10:00"}]},
         "rules[1] (rule_id 'bad'): field active_hours[0].start"),
    ],
)  # fmt: skip
def test_a_bad_rule_is_refused_naming_the_rule_and_the_field(change: dict[str, object], named: str) -> None:
    with pytest.raises(RulesFileError) as caught:
        parse_rules([CANDIDATE, {**CANDIDATE, "rule_id": "bad", **change}], "f.json")
    assert str(caught.value).startswith(f"f.json: {named}")


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"zone_id": "bakery"}, "field zone_id: 'bakery' is not a zone of this layout"),
        ({"zone_id": "produce"}, "field zone_id: 'produce' has kind product"),
        ({"clear_below": 5.0}, "field clear_below"),
    ],
)
def test_a_rule_is_checked_against_the_layout_in_force(change: dict[str, object], named: str) -> None:
    rules = parse_rules([{**CANDIDATE, "rule_id": "bad", **change}])
    with pytest.raises(RulesFileError, match=r"rules\[0\] \(rule_id 'bad'\): " + named) as caught:
        check_rules(rules, [_layout()])
    assert "layout version 3 of store 's1'" in str(caught.value)


def test_duplicate_ids_unknown_keys_and_toml() -> None:
    with pytest.raises(RulesFileError, match=r"rules\[1\] \(rule_id 'queue-long'\): field rule_id: used twice"):
        parse_rules([CANDIDATE, CANDIDATE])
    with pytest.raises(RulesFileError, match="unknown key 'rule'"):
        parse_rules({"rule": [CANDIDATE]})
    toml = b'[[rules]]\nrule_id = "q"\nzone_id = "queue"\nmetric = "wait_s"\nthreshold = 60\n' \
           b'active_hours = [{start = "09:00", end = "21:00"}]\n'  # fmt: skip
    (rule,) = parse_rules(msgspec.toml.decode(toml))
    assert (rule.metric, rule.threshold, rule.active_hours[0].end) == ("wait_s", 60.0, "21:00")
    check_rules((rule,), [_layout()])


def test_the_layouts_in_force_in_a_window() -> None:
    first = _layout()
    second = msgspec.structs.replace(first, version=4, effective_from_ns=100)
    assert in_window([first, second], None, None) == [first, second]
    assert in_window([first, second], None, 100) == [first]
    assert in_window([first, second], 100, None) == [second]
    assert in_window([first, second], 50, 150) == [first, second]


# --- against the live processor on a real log -------------------------------------------------------------


def _intervals(events: list[object]) -> dict[str, list[tuple[int, int | None]]]:
    """Raised/cleared pairs per rule from AlertRaised/AlertCleared in order."""
    out: dict[str, list[tuple[int, int | None]]] = {}
    for event in events:
        if isinstance(event, AlertRaised):
            out.setdefault(event.rule_id, []).append((event.ts_ns, None))
        elif isinstance(event, AlertCleared):
            raised, _ = out[event.rule_id][-1]
            out[event.rule_id][-1] = (raised, event.ts_ns)
    return out


def _pairs(items: list[Interval]) -> list[tuple[int, int | None]]:
    return [(i.raised_ns, i.cleared_ns) for i in items]


async def _live(url: str, store: ChdbStore) -> tuple[list[object], list[object]]:
    """Publish a short crowded day whose layout carries LIVE_RULES, run zones and alerts under the runner;
    return what FF_ALERTS holds and the alerts table's rows."""
    day = simulate_day(2, shopper=ShopperConfig(duration_s=1200.0, parties_per_hour=300.0), cameras=2,
                       noise=REALISTIC)  # fmt: skip
    layout = msgspec.structs.replace(day.layout, layout=msgspec.structs.replace(day.layout.layout, rules=LIVE_RULES))
    nc = await nats.connect(url)
    try:
        await publish_day(nc, dataclasses.replace(day, layout=layout))
        migrate(store)
        runners = [ProjectionRunner(nc, store, ZoneProcessor()), ProjectionRunner(nc, store, AlertProcessor())]
        await catch_up(runners, lambda r: r.run(until_caught_up=True))
        js = nc.jetstream()
        last = (await js.stream_info("FF_ALERTS")).state.last_seq
        published = [decode((await js.get_msg("FF_ALERTS", seq)).data) for seq in range(1, last + 1)]
    finally:
        await nc.close()
    rows = store.query_rows(f"SELECT rule_id, toUnixTimestamp64Milli(raised_at), peak, reason "
                            f"FROM {store.database}.alerts FINAL ORDER BY rule_id, raised_at")  # fmt: skip
    return published, rows


async def _backtest(url: str, rules: tuple[AlertRule, ...], **kwargs: object):  # type: ignore[no-untyped-def]
    nc = await nats.connect(url)
    try:
        versions = (await read_layouts(nc))["sim-store"]
        check_rules(rules, versions)
        return await backtest(nc, rules, versions, batch=700, **kwargs)  # type: ignore[arg-type]
    finally:
        await nc.close()


async def _alert_messages(url: str) -> int:
    nc = await nats.connect(url)
    try:
        return int((await nc.jetstream().stream_info("FF_ALERTS")).state.messages)
    finally:
        await nc.close()


def test_backtest_equals_the_live_processor_and_publishes_nothing(
    fresh_nats: EmbeddedNats, store: ChdbStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    published, rows = asyncio.run(_live(fresh_nats.url, store))
    live = _intervals(published)
    assert live.get("queue-long") and live.get("produce-busy") and live.get("staff-gap")  # the day breaches them
    tables_before = store.query_rows(f"SELECT name FROM system.tables WHERE database = '{store.database}'")

    # The live rules as candidates (batches of another size than the runner's): the same intervals and peaks.
    result = asyncio.run(_backtest(fresh_nats.url, LIVE_RULES, compare=True))
    for name in ("candidate", "current"):
        assert {rule_id: _pairs(r.intervals) for rule_id, r in result.sets[name].items()} == live
        assert result.events[name] == [e for e in published if isinstance(e, AlertRaised | AlertCleared)]
    folded = sorted(
        [rule_id, i.raised_ns // 1_000_000, i.peak, i.reason]
        for rule_id, r in result.sets["candidate"].items() for i in r.intervals
    )  # fmt: skip
    assert folded == sorted([list(r) for r in rows])

    # A window: samples from its start only, alerts open at its end reported open.
    first_raised, first_cleared = live["queue-long"][0]
    assert first_cleared is not None
    windowed = asyncio.run(_backtest(fresh_nats.url, LIVE_RULES, to_ns=first_cleared - 1))
    tail = windowed.sets["candidate"]["queue-long"].intervals[-1]
    assert (tail.raised_ns, tail.cleared_ns, tail.reason) == (first_raised, None, "open")
    assert windowed.last_sample_ns is not None and windowed.last_sample_ns < first_cleared

    # The command: candidates beside the current rules, JSON on stdout; nothing published, no table created.
    rules_file = tmp_path / "rules.json"
    rules_file.write_text(json.dumps([CANDIDATE]))
    data_dir = tmp_path / "data"
    argv = ["alerts", "backtest", "--rules", str(rules_file), "--url", fresh_nats.url, "--data-dir", str(data_dir)]
    assert main([*argv, "--compare", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    (candidate,) = report["candidate"]
    current = {s["rule_id"]: s for s in report["current"]}
    assert current["queue-long"]["alerts"] == len(live["queue-long"])
    assert current["queue-long"]["intervals"][0]["raised"] is not None
    assert candidate["alerts"] >= 1 and candidate["rule_id"] == "queue-long"
    assert report["timing"]["ratio_to_real_time"] > 0
    assert main([*argv, "--compare"]) == 0
    table = capsys.readouterr().out
    assert "current    queue-long" in table and "candidate  queue-long" in table
    assert asyncio.run(_alert_messages(fresh_nats.url)) == len(published)
    assert store.query_rows(f"SELECT name FROM system.tables WHERE database = '{store.database}'") == tables_before
    assert not (data_dir / "chdb").exists()

    # A bad rules file: exit code 2, the rule and the field named, nothing read.
    rules_file.write_text(json.dumps([CANDIDATE, {**CANDIDATE, "rule_id": "ghost", "zone_id": "nowhere"}]))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "rules[1] (rule_id 'ghost'): field zone_id: 'nowhere' is not a zone" in err
    rules_file.write_text(json.dumps([{**CANDIDATE, "threshold": -1}]))
    assert main(argv) == 2
    assert "rules[0] (rule_id 'queue-long'): field threshold" in capsys.readouterr().err
