"""The demo: a scripted entrance scene through a real nats-server into chDB, checked against its script."""

from __future__ import annotations

import asyncio
import shutil
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import nats

from ops.logging import get_logger
from ops.paths import DataDir
from ops.scripted_scene import LINE, build_scene
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
class DemoResult:
    """Per 5-minute bucket (ISO time): (entries, exits) from SQL and from the script."""

    measured: dict[str, tuple[int, int]]
    expected: dict[str, tuple[int, int]]
    published: int
    duplicates: int
    stats: RunStats

    @property
    def matches(self) -> bool:
        return self.measured == self.expected


def _bucket_label(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns // 1_000_000_000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def _expected(truth: Counter[tuple[int, str]]) -> dict[str, tuple[int, int]]:
    buckets = sorted({bucket for bucket, _ in truth})
    return {_bucket_label(b): (truth[(b, "in")], truth[(b, "out")]) for b in buckets}


async def _publish_and_project(url: str, store: ChdbStore, seed: int, people: int) -> DemoResult:
    scene = build_scene(seed=seed, people=people)
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


def run_demo(data_dir: Path, seed: int = 7, people: int = 40, keep: bool = False) -> DemoResult:
    """Run the scripted scene end to end in `data_dir` (wiped first unless keep) and return the comparison."""
    if data_dir.exists() and not keep:
        shutil.rmtree(data_dir)
    dirs = DataDir(data_dir)
    with EmbeddedNats(dirs.nats) as server:
        log.info("nats-server started", url=server.url, server_name=server.server_name, pid=server.pid)
        store = ChdbStore(dirs.chdb)
        try:
            migrate(store)
            return asyncio.run(_publish_and_project(server.url, store, seed, people))
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
        if result.matches
        else ("MISMATCH: the counts read back by SQL differ from the script.")
    )
    lines.append(verdict)
    return "\n".join(lines)
