"""The demo: a scripted entrance scene, then a simulated store day, through a real nats-server into chDB.

The door scene is checked against its script (line_counts); the simulated
day runs through the zone processor and every analytics projection and is
checked against the simulator's exact truth, and its heatmap is drawn.
"""

from __future__ import annotations

import asyncio
import shutil
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nats

from ops.clock import yesterday_opening_ns
from ops.logging import get_logger
from ops.paths import DataDir
from ops.simulation.pipeline import Measured
from ops.simulation.scripted_scene import LINE, build_scene
from ops.simulation.simulate import top_transitions
from projections.line_counts import LineCountsProjection
from projections.migrations import migrate
from projections.runner import ProjectionRunner, RunStats
from projections.store import ChdbStore
from stream.embedded import EmbeddedNats
from stream.provision import LogConfig, ensure_streams
from stream.publisher import Publisher

log = get_logger("footfall.demo")

COUNTS_SQL = """
SELECT toString(bucket_start) AS bucket, sum(entries) AS entries, sum(exits) AS exits
FROM {db}.line_counts
WHERE store_id = 'demo-store' AND line_id = '{line}'
GROUP BY bucket_start ORDER BY bucket_start
"""


@dataclass(frozen=True)
class StoreDemo:
    """The simulated store part: truth summary, what SQL read back, and the heatmap written."""

    truth: dict[str, Any]
    measured: Measured
    heatmap: Path | None

    @property
    def matches(self) -> bool:
        m, t = self.measured, self.truth
        return (
            m.visits == t["visits"]
            and m.group_visits == t["group_visits"]
            and m.median_dwell_s == t["median_dwell_s"]
            and top_transitions(m.transitions) == t["top_transitions"]
            and m.peak_queue == t["peak_queue"]
            and m.transactions == t["transactions"]
        )


@dataclass(frozen=True)
class DemoResult:
    """Per 5-minute bucket (ISO time): (entries, exits) from SQL and from the script."""

    measured: dict[str, tuple[int, int]]
    expected: dict[str, tuple[int, int]]
    published: int
    duplicates: int
    stats: RunStats
    store: StoreDemo | None = None

    @property
    def matches(self) -> bool:
        return self.measured == self.expected and (self.store is None or self.store.matches)


def _bucket_label(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns // 1_000_000_000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def _expected(truth: Counter[tuple[int, str]]) -> dict[str, tuple[int, int]]:
    buckets = sorted({bucket for bucket, _ in truth})
    return {_bucket_label(b): (truth[(b, "in")], truth[(b, "out")]) for b in buckets}


async def _simulated_store(
    url: str, store: ChdbStore, seed: int, minutes: float, out_dir: Path, *, start_ns: int
) -> StoreDemo:
    from ml_core.sim.agents import ShopperConfig
    from ops.heatmap_plot import query_heat, render_heatmap
    from ops.simulation.pipeline import measure, publish_day, run_analytics
    from ops.simulation.simulate import simulate_day, truth_summary

    day = simulate_day(seed, shopper=ShopperConfig(duration_s=minutes * 60.0), t0_ns=start_ns)
    nc = await nats.connect(url, name="footfall-demo-store")
    try:
        stored = await publish_day(nc, day)
        log.info("published simulated day", events=stored, store=day.layout.store_id)
        stats = await run_analytics(nc, store)
        log.info("analytics projected", **{name: s.events for name, s in stats.items()})
    finally:
        await nc.drain()
    measured = measure(store, day.layout.store_id)
    t0_s = day.truth.t0_ns // 1_000_000_000
    end_s = t0_s + int(day.trajectories.n_frames * day.trajectories.frame_period_s) + 300
    cells = query_heat(store, day.layout.store_id, t0_s, end_s, 0.5)
    heatmap = out_dir / "heatmap.png"
    render_heatmap(cells, day.layout.layout, heatmap, f"{day.layout.store_id}: presence over the simulated day")
    return StoreDemo(truth_summary(day.truth), measured, heatmap)


async def _publish_and_project(url: str, store: ChdbStore, seed: int, people: int, start_ns: int) -> DemoResult:
    scene = build_scene(seed=seed, people=people, start_ns=start_ns)
    nc = await nats.connect(url, name="footfall-demo")
    try:
        js = nc.jetstream()
        for change in await ensure_streams(js, LogConfig()):
            log.debug("stream", stream=change.stream, action=change.action)
        publisher = Publisher(js)
        for event in scene.events:
            await publisher.publish(event)
        result = await publisher.flush()
        log.info(
            "published", events=result.stored, duplicates=result.duplicates, frames=scene.frames, tracks=scene.walks
        )
        stats = await ProjectionRunner(nc, store, LineCountsProjection()).run()
        log.info(
            "projected", events=stats.events, batches=stats.batches, rows=stats.rows, dead_lettered=stats.dead_lettered
        )
    finally:
        await nc.drain()
    measured = {
        str(row[0]): (int(row[1]), int(row[2]))
        for row in store.query_rows(COUNTS_SQL.format(db=store.database, line=LINE))
    }
    return DemoResult(measured, _expected(scene.truth), result.stored, result.duplicates, stats)


def run_demo(
    data_dir: Path,
    *,
    seed: int = 7,
    people: int = 40,
    keep: bool = False,
    sim_minutes: float = 30.0,
    sim_seed: int = 1,
    start_ns: int | None = None,
) -> DemoResult:
    """Run the scripted scene, then (sim_minutes > 0) a simulated store day, in `data_dir` (wiped first unless keep).

    Both start at start_ns (default: yesterday at opening), recent enough that track_points keeps them.

    The door scene is folded before the simulated day is published, so line_counts holds the scene alone.
    """
    if data_dir.exists() and not keep:
        shutil.rmtree(data_dir)
    dirs = DataDir(data_dir)
    with EmbeddedNats(dirs.nats) as server:
        log.info("nats-server started", url=server.url, server_name=server.server_name, pid=server.pid)
        store = ChdbStore(dirs.chdb)
        try:
            migrate(store)
            start = start_ns if start_ns is not None else yesterday_opening_ns()
            result = asyncio.run(_publish_and_project(server.url, store, seed, people, start))
            if sim_minutes > 0:
                simulated = asyncio.run(
                    _simulated_store(server.url, store, sim_seed, sim_minutes, data_dir, start_ns=start)
                )
                result = DemoResult(result.measured, result.expected, result.published, result.duplicates,
                                    result.stats, simulated)  # fmt: skip
            return result
        finally:
            store.close()


def format_result(result: DemoResult) -> str:
    """A table of entries and exits per bucket, SQL beside the script, and the verdict."""
    lines = [
        "Entries and exits through the door, per 5-minute bucket (UTC):",
        f"{'bucket':<21} {'entries':>8} {'exits':>6} {'script in':>10} {'script out':>11}",
    ]
    for bucket in sorted(set(result.measured) | set(result.expected)):
        m = result.measured.get(bucket, (0, 0))
        e = result.expected.get(bucket, (0, 0))
        mark = "" if m == e else "   <-- differs"
        lines.append(f"{bucket:<21} {m[0]:>8} {m[1]:>6} {e[0]:>10} {e[1]:>11}{mark}")
    total_m = tuple(sum(v[i] for v in result.measured.values()) for i in (0, 1))
    total_e = tuple(sum(v[i] for v in result.expected.values()) for i in (0, 1))
    lines.append(f"{'total':<21} {total_m[0]:>8} {total_m[1]:>6} {total_e[0]:>10} {total_e[1]:>11}")
    verdict = (
        "MATCH: the counts read back by SQL equal the script's crossings."
        if result.measured == result.expected
        else ("MISMATCH: the counts read back by SQL differ from the script.")
    )
    lines.append(verdict)
    if result.store is not None:
        lines.extend(["", *format_store(result.store)])
    return "\n".join(lines)


def format_store(demo: StoreDemo) -> list[str]:
    """The simulated store's summary: analytics read back by SQL beside the simulator's truth."""
    m, t = demo.measured, demo.truth
    rows: list[tuple[str, object, object]] = [
        ("visits (people)", m.visits, t["visits"]),
        ("visits (groups once)", m.group_visits, t["group_visits"]),
        ("door entries", m.entries, t["entries"]),
        ("door exits", m.exits, t["exits"]),
    ]
    for zone, truth_s in t["median_dwell_s"].items():
        rows.append((f"median dwell {zone} (s)", m.median_dwell_s.get(zone, "-"), truth_s))
    for zone, peak in t["peak_queue"].items():
        rows.append((f"peak queue {zone}", m.peak_queue.get(zone, "-"), peak))
    rows.append(("POS transactions", m.transactions, t["transactions"]))
    checked = m.stages.get("checked_out", 0)
    rows.append(("conversion (tx / visits)", f"{m.transactions / max(m.visits, 1):.3f}",
                 f"{t['transactions'] / max(t['visits'], 1):.3f}"))  # fmt: skip
    rows.append(("funnel: visits that checked out", checked, "-"))
    out = ["Simulated store (analytics by SQL vs the simulator's exact truth):",
           f"{'quantity':<32} {'measured':>10} {'truth':>10}"]  # fmt: skip
    for name, got, want in rows:
        mark = "" if str(got) == str(want) or want == "-" else "   <-- differs"
        out.append(f"{name:<32} {got!s:>10} {want!s:>10}{mark}")
    out.append("top transitions (measured | truth):")
    measured_top = top_transitions(m.transitions)
    for top, truth_top in zip(measured_top, t["top_transitions"], strict=False):
        out.append(
            f"  {top[0]:>10} -> {top[1]:<10} {top[2]:>5}   | {truth_top[0]:>10} -> {truth_top[1]:<10} {truth_top[2]:>5}"
        )
    if demo.heatmap is not None:
        out.append(f"heatmap written to {demo.heatmap}")
    out.append(
        "ANALYTICS MATCH: every projection read back by SQL equals the simulator's truth."
        if demo.matches
        else "ANALYTICS MISMATCH: the analytics differ from the simulator's truth."
    )
    return out
