"""`footfall bench alerts-backtest`: a backtest of a simulated day, its wall time against the day's length.

Simulate (footfall simulate's model), publish to an embedded log, fold the zone processor through the
projection runner into a scratch chDB (not timed), then time the backtest alone: reading FF_LAYOUT and
FF_DERIVED, and folding the samples with a rule set on the day's queue and product zones.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nats

from ml_core.sim.agents import ShopperConfig
from ml_core.sim.noise import REALISTIC
from ops.simulation.pipeline import publish_day
from ops.simulation.simulate import simulate_day
from projections.alerts.backtest import backtest, check_rules, read_layouts
from projections.migrations import migrate
from projections.runner import ProjectionRunner
from projections.store import ChdbStore
from projections.zones.processor import ZoneProcessor
from schemas.layout import AlertRule
from stream.embedded import EmbeddedNats

BENCH_RULES = (
    AlertRule(rule_id="queue-long", zone_id="queue", metric="queue_length", threshold=4.0, min_duration_s=20.0,
              clear_below=2.0, clear_after_s=10.0),
    AlertRule(rule_id="wait-long", zone_id="queue", metric="wait_s", threshold=120.0, min_duration_s=30.0),
    AlertRule(rule_id="produce-busy", zone_id="produce", metric="occupancy", threshold=6.0, min_duration_s=60.0),
    AlertRule(rule_id="checkout-dense", zone_id="checkout", metric="density_per_m2", threshold=0.5,
              min_duration_s=30.0, clear_after_s=30.0),
)  # fmt: skip


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def run_bench(hours: float, parties_per_hour: float, cameras: int, seed: int) -> dict[str, Any]:
    """Simulate, publish, fold zones, then time the backtest; the JSON report."""
    start_ns = (time.time_ns() // 1_000_000_000) * 1_000_000_000 - int((hours + 1.5) * 3600 * 1e9)
    _say(f"simulating {hours} h at {parties_per_hour} parties/h, {cameras} cameras ...")
    started = time.perf_counter()
    day = simulate_day(seed, shopper=ShopperConfig(duration_s=hours * 3600.0, parties_per_hour=parties_per_hour),
                       noise=REALISTIC, cameras=cameras, t0_ns=start_ns)  # fmt: skip
    simulate_s = time.perf_counter() - started
    with tempfile.TemporaryDirectory(prefix="footfall-bench-backtest-") as tmp, EmbeddedNats(Path(tmp) / "nats") as srv:
        store = ChdbStore(Path(tmp) / "chdb")
        try:
            migrate(store)
            return asyncio.run(_measure(srv.url, store, day, simulate_s))
        finally:
            store.close()


async def _measure(url: str, store: ChdbStore, day: Any, simulate_s: float) -> dict[str, Any]:
    nc = await nats.connect(url, name="footfall-bench-alerts-backtest")
    try:
        _say("publishing ...")
        await publish_day(nc, day)
        _say("folding zones through the runner (minutes for a 12 h day) ...")
        started = time.perf_counter()
        zones = await ProjectionRunner(nc, store, ZoneProcessor()).run()
        zones_s = time.perf_counter() - started
        _say("backtest ...")
        started = time.perf_counter()
        versions = (await read_layouts(nc))[day.layout.store_id]
        check_rules(BENCH_RULES, versions)
        result = await backtest(nc, BENCH_RULES, versions, compare=True)
        wall_s = time.perf_counter() - started
    finally:
        await nc.close()
    simulated_s = (max(e.ts_ns for e in day.events) - min(e.ts_ns for e in day.events)) / 1e9
    report = result.report(intervals=2)
    return {
        "day": {"simulated_s": round(simulated_s, 1), "track_events": len(day.events),
                "derived_events": zones.published, "simulate_s": round(simulate_s, 1),
                "zones_runner_s": round(zones_s, 1)},
        "backtest": {"wall_s": round(wall_s, 3), "fold_wall_s": round(result.wall_s, 3),
                     "messages_read": result.messages, "samples": result.samples,
                     "ratio_to_real_time": round(simulated_s / wall_s, 1)},
        "rules": {r["rule_id"]: {k: r[k] for k in ("alerts", "open", "alert_minutes", "median_duration_s",
                                                    "longest_duration_s")} for r in report["candidate"]},
    }  # fmt: skip
