"""`footfall eval alerts`: alert intervals of the real path scored against the simulator's true intervals.

A seeded day with opt-in scenarios that breach rules (a checkout surge, a crowd at a promotion) is
published to an embedded nats-server and run through the zone processor and the alert processor exactly
as a store's would be; the alerts are read back from FF_ALERTS (times) and the `alerts` table (reason and
peak). The truth applies the same rules, by the same definitions (ml_core/sim/alert_truth.py), to series
computed from true positions (ml_core/sim/truth.py: customers in a zone or the store at each tick).

Matching: per run and rule, truth and measured intervals (each ordered and disjoint; an open one lasts to
the day's last tick) are paired one to one, each truth interval in time order with the earliest unpaired
measured interval that overlaps it. Precision = paired measured / measured, recall = paired truth / truth
(1.0 where there is nothing to pair). Onset delay = measured raise - true raise (seconds) of each pair.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import statistics
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import msgspec
import nats
import numpy as np
from nats.aio.client import Client as NatsClient

from ml_core.sim.agents import ShopperConfig
from ml_core.sim.alert_truth import AlertInterval, RuleSpec, alert_intervals, staff_on_floor
from ml_core.sim.noise import NO_NOISE, REALISTIC, NoiseConfig
from ml_core.sim.scenarios import StaffBreak, checkout_surge, promotion_crowd
from ops.runtime import catch_up
from ops.simulation.pipeline import publish_day
from ops.simulation.simulate import SimulatedDay, simulate_day
from projections.alerts.processor import CLOSED_AFTER_S, AlertProcessor, zone_area_m2
from projections.migrations import migrate
from projections.runner import ProjectionRunner
from projections.store import ChdbStore, Store
from projections.zones.config import ZoneProcessorConfig
from projections.zones.processor import ZoneProcessor
from schemas.codec import decode
from schemas.events import AlertCleared, AlertRaised
from schemas.layout import AlertRule, StoreLayout, TimeWindow

NOISES: dict[str, NoiseConfig] = {"none": NO_NOISE, "realistic": REALISTIC}
MINUTES = 40.0
TIME_ZONE = "Europe/Berlin"  # the simulated day opens at 11:00 local (10:00 UTC)
PROMOTION_ZONE = "drinks"
PARTIES_PER_HOUR = 80.0  # a quiet day, so the scenarios' alerts stand apart
SERVICE_MEAN_S = 15.0  # a quick till: the queue drains between surges
# Parties queued beyond the queue zone (its slots past the 8th) stand on its edge, where a frame in and out
# is a brief entry the zone processor rightly ignores: a full queue turns arriving parties away instead.
BALK_AT_PARTIES = 8
# The scenarios, seconds after opening: checkout surges (3 minutes each), crowds at a promotion (5 minutes).
SURGES_AT_S = (240.0, 1200.0)
PROMOTIONS_AT_S = (600.0, 1620.0)  # the second is still on at 11:30 local, when promo-full's hours end
# Staff: three on the floor most of the time (short rests, long tasks), all in the back office for a break.
FLOOR_STAFF, STAFF_REST_MEAN_S, STAFF_TASK_S = 3, 30.0, (120.0, 300.0)
STAFF_BREAK = StaffBreak(1380.0, 300.0)

RULES: tuple[AlertRule, ...] = (
    AlertRule(rule_id="checkout-surge", zone_id="queue", metric="queue_length", threshold=8.0, min_duration_s=30.0,
              clear_below=4.0, clear_after_s=20.0, severity="critical"),
    AlertRule(rule_id="queue-wait", zone_id="queue", metric="wait_s", threshold=180.0, min_duration_s=30.0,
              clear_below=90.0, clear_after_s=20.0),
    AlertRule(rule_id="promo-crowd", zone_id=PROMOTION_ZONE, metric="density_per_m2", threshold=0.5,
              min_duration_s=20.0, clear_below=0.3, clear_after_s=20.0),
    AlertRule(rule_id="promo-full", zone_id=PROMOTION_ZONE, metric="occupancy", threshold=9.0, min_duration_s=20.0,
              clear_below=5.0, clear_after_s=20.0, active_hours=(TimeWindow("11:00", "11:30"),)),
    AlertRule(rule_id="store-busy", metric="occupancy", threshold=30.0, min_duration_s=30.0, clear_below=22.0,
              clear_after_s=30.0, severity="info"),
    AlertRule(rule_id="staff-gap", metric="customers_per_staff", threshold=15.0, min_duration_s=30.0,
              clear_below=10.0, clear_after_s=30.0),
)  # fmt: skip
TARGETS = {"precision": 0.95, "recall": 0.95, "onset_delay_s": 2.0}


def scenario_day(minutes: float = MINUTES) -> ShopperConfig:
    """The day the evaluation simulates: a quiet day, two checkout surges, two promotion crowds, a staff break."""
    surges = [checkout_surge(at, duration_s=180.0, parties_per_hour=600.0) for at in SURGES_AT_S]
    crowds = [promotion_crowd(PROMOTION_ZONE, at, duration_s=300.0) for at in PROMOTIONS_AT_S]
    bursts = tuple(sorted((*surges, *crowds), key=lambda b: b.start_s))
    return ShopperConfig(duration_s=minutes * 60.0, parties_per_hour=PARTIES_PER_HOUR, service_mean_s=SERVICE_MEAN_S,
                         balk_at_parties=BALK_AT_PARTIES, floor_staff=FLOOR_STAFF,
                         staff_rest_mean_s=STAFF_REST_MEAN_S, staff_task_s=STAFF_TASK_S, bursts=bursts,
                         staff_breaks=(STAFF_BREAK,))  # fmt: skip


def alert_day(seed: int, cameras: int, noise: str, *, minutes: float = MINUTES) -> SimulatedDay:
    """The seeded scenario day seen by `cameras` cameras under `noise`, its layout carrying RULES."""
    store_id = f"alerts-s{seed}-c{cameras}-{noise}"
    day = simulate_day(seed, shopper=scenario_day(minutes), noise=NOISES[noise], cameras=cameras,
                       store_id=store_id, edge_run_id=f"{store_id}-1")  # fmt: skip
    layout = msgspec.structs.replace(day.layout.layout, rules=RULES, time_zone=TIME_ZONE)
    return replace(day, layout=msgspec.structs.replace(day.layout, layout=layout))


def _series(day: SimulatedDay, rule: AlertRule, layout: StoreLayout) -> np.ndarray:
    """The rule's metric at each truth tick, from true positions (what the zone processor samples)."""
    truth = day.truth
    people = truth.occupancy[rule.zone_id or ""].astype(np.float64)
    if rule.metric in ("queue_length", "occupancy"):
        return people
    if rule.metric == "density_per_m2":
        zone = next(z for z in layout.zones if z.zone_id == rule.zone_id)
        return people / zone_area_m2(zone.polygon)
    if rule.metric == "wait_s":
        return _true_wait(day, people)
    if rule.metric == "customers_per_staff":
        staff = staff_on_floor(day.trajectories, day.plan, truth.ticks_ns, truth.t0_ns)
        return people / np.maximum(staff, 1)
    raise ValueError(f"rule {rule.rule_id!r}: metric {rule.metric!r} has no truth series")


def _true_wait(day: SimulatedDay, queue: np.ndarray) -> np.ndarray:
    """Estimated wait (s) at each tick: queue length x trailing-window seconds / checkout exits in the window.

    The window is the zone processor's wait_window_s, cut at the day's first frame; exits are customers'
    true exits from the checkout zones.
    """
    truth = day.truth
    window_ns = round(ZoneProcessorConfig().wait_window_s * 1e9)
    checkout = {z.zone_id for z in day.plan.zones if z.kind == "checkout"}
    exits = np.sort(np.array([zv.exit_ns for zv in truth.zone_visits if zv.zone_id in checkout], dtype=np.int64))
    ticks = truth.ticks_ns
    done = np.searchsorted(exits, ticks, "right") - np.searchsorted(exits, ticks - window_ns, "right")
    span_s = np.minimum(window_ns, ticks - truth.t0_ns) / 1e9
    out = np.zeros(len(ticks))
    for i, (n, d, s) in enumerate(zip(queue.tolist(), done.tolist(), span_s.tolist(), strict=True)):
        out[i] = round(n * s / d, 3) if d and s > 0 else 0.0
    return out


def truth_alerts(day: SimulatedDay) -> dict[str, list[AlertInterval]]:
    """rule_id -> the true alert intervals of each of the day's rules."""
    layout = day.layout.layout
    ticks = day.truth.ticks_ns
    minutes = [
        (local.hour * 60 + local.minute)
        for local in (dt.datetime.fromtimestamp(t / 1e9, tz=layout.tz) for t in ticks.tolist())
    ]
    out = {}
    for rule in layout.rules:
        spec = RuleSpec(rule.rule_id, rule.threshold, round(rule.min_duration_s * 1e9), rule.clear_level,
                        round(rule.clear_after_s * 1e9))  # fmt: skip
        active = np.array([rule.is_active(m) for m in minutes], dtype=np.bool_)
        out[rule.rule_id] = alert_intervals(spec, ticks, _series(day, rule, layout), active,
                                            round(CLOSED_AFTER_S * 1e9))  # fmt: skip
    return out


async def run_path(nc: NatsClient, store: Store, days: Sequence[SimulatedDay]) -> None:
    """Publish the days, then run the zone processor and the alert processor until both are caught up."""
    for day in days:
        await publish_day(nc, day)
    runners = [ProjectionRunner(nc, store, ZoneProcessor()), ProjectionRunner(nc, store, AlertProcessor())]
    await catch_up(runners, lambda r: r.run(until_caught_up=True))


async def read_alerts(nc: NatsClient, store: Store) -> dict[str, dict[str, list[AlertInterval]]]:
    """store_id -> rule_id -> the alerts on FF_ALERTS (ns times, values), with reason and peak from the table."""
    js = nc.jetstream()
    count = (await js.stream_info("FF_ALERTS")).state.messages
    events = [decode((await js.get_msg("FF_ALERTS", seq)).data or b"") for seq in range(1, count + 1)]
    sql = "SELECT store_id, rule_id, toUnixTimestamp64Milli(raised_at), reason, peak FROM {}.alerts FINAL"
    table = {
        (str(s), str(r), int(raised)): (str(reason), float(peak))
        for s, r, raised, reason, peak in store.query_rows(sql.format(store.database))
    }
    out: dict[str, dict[str, list[AlertInterval]]] = {}
    opened: dict[tuple[str, str], AlertRaised] = {}
    for event in events:
        key = (event.store_id, event.rule_id)  # type: ignore[union-attr]
        if isinstance(event, AlertRaised):
            opened[key] = event
        elif isinstance(event, AlertCleared):
            raised = opened.pop(key)
            reason, peak = table.get((*key, raised.ts_ns // 1_000_000), ("missing", float("nan")))
            out.setdefault(key[0], {}).setdefault(key[1], []).append(
                AlertInterval(key[1], raised.ts_ns, event.ts_ns, raised.value, peak, reason)
            )
    for (store_id, rule_id), raised in opened.items():
        _, peak = table.get((store_id, rule_id, raised.ts_ns // 1_000_000), ("missing", float("nan")))
        out.setdefault(store_id, {}).setdefault(rule_id, []).append(
            AlertInterval(rule_id, raised.ts_ns, None, raised.value, peak, "open")
        )
    for rules in out.values():
        for intervals in rules.values():
            intervals.sort(key=lambda a: a.raised_ns)
    return out


@dataclass(frozen=True)
class RuleScore:
    """One rule in one run: truth and measured alerts, pairs, and each pair's onset delay (seconds)."""

    truth: int
    measured: int
    paired: int
    onset_delays_s: list[float]
    exact: bool


def match(truth: list[AlertInterval], measured: list[AlertInterval], end_ns: int) -> list[tuple[int, int]]:
    """(truth index, measured index) pairs: each truth interval with the earliest unpaired overlapping one."""
    pairs, used = [], set()
    for i, t in enumerate(truth):
        t_end = end_ns if t.cleared_ns is None else t.cleared_ns
        for j, m in enumerate(measured):
            m_end = end_ns if m.cleared_ns is None else m.cleared_ns
            if j not in used and m.raised_ns <= t_end and t.raised_ns <= m_end:
                pairs.append((i, j))
                used.add(j)
                break
    return pairs


def _key(a: AlertInterval) -> tuple[int, int | None, float, float, str]:
    return (a.raised_ns, a.cleared_ns, a.value_at_raise, a.peak, a.reason)


def score_rule(truth: list[AlertInterval], measured: list[AlertInterval], end_ns: int) -> RuleScore:
    pairs = match(truth, measured, end_ns)
    delays = [(measured[j].raised_ns - truth[i].raised_ns) / 1e9 for i, j in pairs]
    exact = [_key(a) for a in truth] == [_key(a) for a in measured]
    return RuleScore(len(truth), len(measured), len(pairs), delays, exact)


def score_run(day: SimulatedDay, measured: dict[str, list[AlertInterval]]) -> dict[str, Any]:
    """One run's scores per rule and pooled over its rules."""
    truth = truth_alerts(day)
    end_ns = int(day.truth.ticks_ns[-1])
    rules = {rule_id: score_rule(t, measured.get(rule_id, []), end_ns) for rule_id, t in truth.items()}
    n_truth = sum(r.truth for r in rules.values())
    n_measured = sum(r.measured for r in rules.values())
    paired = sum(r.paired for r in rules.values())
    delays = [d for r in rules.values() for d in r.onset_delays_s]
    median = statistics.median(delays) if delays else None
    precision = paired / n_measured if n_measured else 1.0
    recall = paired / n_truth if n_truth else 1.0
    return {
        "truth_alerts": n_truth,
        "measured_alerts": n_measured,
        "paired": paired,
        "precision": precision,
        "recall": recall,
        "median_onset_delay_s": median,
        "max_abs_onset_delay_s": max((abs(d) for d in delays), default=None),
        "exact": all(r.exact for r in rules.values()),
        "pass": precision >= TARGETS["precision"] and recall >= TARGETS["recall"]
        and (median is None or abs(median) <= TARGETS["onset_delay_s"]),
        "rules": {
            rule_id: {"truth": r.truth, "measured": r.measured, "paired": r.paired, "exact": r.exact,
                      "onset_delays_s": r.onset_delays_s,
                      "truth_intervals": [_interval_json(a, day.truth.t0_ns) for a in truth[rule_id]],
                      "measured_intervals": [_interval_json(a, day.truth.t0_ns) for a in measured.get(rule_id, [])]}
            for rule_id, r in rules.items()
        },
    }  # fmt: skip


def _interval_json(a: AlertInterval, t0_ns: int) -> list[Any]:
    """[raised s, cleared s or None, value at raise, peak, reason], seconds after the day's first frame."""
    cleared = None if a.cleared_ns is None else (a.cleared_ns - t0_ns) / 1e9
    return [(a.raised_ns - t0_ns) / 1e9, cleared, a.value_at_raise, a.peak, a.reason]


def run_eval(
    seeds: Sequence[int], cameras: Sequence[int], noises: Sequence[str], *, minutes: float = MINUTES,
    data_dir: Path | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Score every (seed, cameras, noise) run: all days on one log, one zone and one alert processor."""
    days = [alert_day(s, c, n, minutes=minutes) for s in seeds for c in cameras for n in noises]
    with tempfile.TemporaryDirectory(prefix="footfall-eval-alerts-") as tmp:
        root = data_dir or Path(tmp)
        from stream.embedded import EmbeddedNats

        with EmbeddedNats(root / "nats") as server:
            store = ChdbStore(root / "chdb")
            try:
                migrate(store)
                measured = asyncio.run(_run(server.url, store, days))
            finally:
                store.close()
    return report(days, measured, minutes)


async def _run(url: str, store: Store, days: Sequence[SimulatedDay]) -> dict[str, dict[str, list[AlertInterval]]]:
    nc = await nats.connect(url, name="footfall-eval-alerts")
    try:
        await run_path(nc, store, days)
        return await read_alerts(nc, store)
    finally:
        await nc.close()


def report(
    days: Sequence[SimulatedDay], measured: dict[str, dict[str, list[AlertInterval]]], minutes: float
) -> dict[str, Any]:
    """The JSON report: per run (seed, cameras, noise) its scores; pass when every run passes, and every
    noise-free run's intervals equal the truth exactly."""
    runs = []
    for day in days:
        _, seed, cams, noise = day.layout.store_id.split("-")
        result = score_run(day, measured.get(day.layout.store_id, {}))
        runs.append({"seed": int(seed[1:]), "cameras": int(cams[1:]), "noise": noise, **result})
    exact = all(r["exact"] for r in runs if r["noise"] == "none")
    return {
        "minutes": minutes,
        "rules": [msgspec.to_builtins(r) for r in RULES],
        "matching": "per rule, each truth interval in time order paired with the earliest unpaired overlapping "
        "measured interval (an open interval lasts to the last tick)",
        "targets": {"noise none": "intervals equal truth exactly",
                    "noise realistic": f"precision >= {TARGETS['precision']}, recall >= {TARGETS['recall']}, "
                                       f"|median onset delay| <= {TARGETS['onset_delay_s']} s"},
        "runs": runs,
        "noise_free_exact": exact,
        "pass": exact and all(r["pass"] for r in runs),
    }  # fmt: skip
