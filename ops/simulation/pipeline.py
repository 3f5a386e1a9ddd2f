"""The analytics path end to end: publish a simulated day, run the zone processor, then the projections.

Also reads the analytics tables back by SQL into plain values, so the demo
and `footfall eval store` compare the same things with the simulator's truth.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from nats.aio.client import Client as NatsClient

from ops.simulation.simulate import SimulatedDay
from projections.registry import ANALYTICS, make
from projections.runner import Progress, ProjectionRunner, RunStats
from projections.store import Store
from projections.zones.processor import ZoneProcessor
from schemas.events import Event
from stream.provision import LogConfig, ensure_streams
from stream.publisher import Publisher


async def publish_day(nc: NatsClient, day: SimulatedDay) -> int:
    """Publish the day's layout, track events and POS transactions; return how many the log stored."""
    return await publish_events(nc, [day.layout], day.events, day.pos)


async def publish_events(nc: NatsClient, *events: Iterable[Event]) -> int:
    """Provision footfall's streams if missing, publish `events` in order (each iterable after the one
    before) and wait for every ack; return how many the log stored (the rest were duplicates)."""
    js = nc.jetstream()
    await ensure_streams(js, LogConfig())
    publisher = Publisher(js)
    for event in itertools.chain(*events):
        await publisher.publish(event)
    return (await publisher.flush()).stored


async def run_analytics(
    nc: NatsClient, store: Store, *, batch: int | None = None, progress: Callable[[str, Progress], None] | None = None
) -> dict[str, RunStats]:
    """Run the zone processor until caught up, then every analytics projection until caught up."""
    stats = {}

    def report(name: str) -> Callable[[Progress], None] | None:
        return None if progress is None else (lambda p: progress(name, p))

    stats["zones"] = await ProjectionRunner(nc, store, ZoneProcessor(), batch=batch, progress=report("zones")).run()
    for name in ANALYTICS:
        stats[name] = await ProjectionRunner(nc, store, make(name), batch=batch, progress=report(name)).run()
    return stats


@dataclass(frozen=True)
class Measured:
    """What the analytics tables say about one store (read by SQL)."""

    visits: int
    group_visits: int
    staff_visits: list[str]  # visit ids flagged staff
    entries: int
    exits: int
    median_dwell_s: dict[str, float]
    transitions: Counter[tuple[str, str]]
    queue: dict[str, dict[int, int]]  # zone -> tick ms -> length
    store_occupancy: dict[int, int]  # tick ms -> people
    peak_queue: dict[str, int]
    transactions: int
    stages: Counter[str]


def measure(store: Store, store_id: str) -> Measured:
    """Read the headline analytics of `store_id` back from the tables."""
    db = store.database
    where = f"store_id = '{store_id}'"
    visits, groups = store.query_rows(
        f"SELECT countIf(NOT is_staff), uniqExactIf(party_id, NOT is_staff) FROM {db}.visits WHERE {where}"
    )[0]
    staff = [str(r[0]) for r in store.query_rows(f"SELECT visit_id FROM {db}.visits WHERE {where} AND is_staff")]
    entries, exits = store.query_rows(f"SELECT sum(entries), sum(exits) FROM {db}.footfall_lines WHERE {where}")[0]
    dwell = {
        str(z): float(m)
        for z, m in store.query_rows(
            f"SELECT zone_id, quantileExactInclusive(0.5)(dwell_s) FROM {db}.zone_visits WHERE {where} GROUP BY zone_id"
        )
    }
    transitions: Counter[tuple[str, str]] = Counter()
    for a, b, n in store.query_rows(
        f"SELECT from_state, to_state, sum(transitions) FROM {db}.zone_transitions WHERE {where} GROUP BY ALL"
    ):
        transitions[(str(a), str(b))] = int(n)
    queue: dict[str, dict[int, int]] = {}
    for zone, ts, n in store.query_rows(
        f"SELECT zone_id, toUnixTimestamp64Milli(ts), queue_length FROM {db}.queue_series WHERE {where}"
    ):
        queue.setdefault(str(zone), {})[int(ts)] = int(n)
    occupancy = {
        int(ts): int(n)
        for ts, n in store.query_rows(
            f"SELECT toUnixTimestamp64Milli(ts), people FROM {db}.occupancy_series WHERE {where} AND zone_id = ''"
        )
    }
    tx = int(store.query_rows(f"SELECT count() FROM {db}.pos_transactions WHERE {where}")[0][0])
    stages = Counter(
        {
            str(s): int(n)
            for s, n in store.query_rows(f"SELECT stage, count() FROM {db}.funnel_visits WHERE {where} GROUP BY stage")
        }
    )
    return Measured(int(visits), int(groups), staff, int(entries or 0), int(exits or 0), dwell, transitions, queue,
                    occupancy, {z: max(v.values(), default=0) for z, v in queue.items()}, tx, stages)  # fmt: skip


def total_variation(a: Counter[tuple[str, str]], b: Counter[tuple[str, str]]) -> float:
    """Total-variation distance between two transition count tables, each normalised to a distribution."""
    sa, sb = sum(a.values()), sum(b.values())
    if sa == 0 or sb == 0:
        return 1.0 if sa != sb else 0.0
    return 0.5 * sum(abs(a[k] / sa - b[k] / sb) for k in set(a) | set(b))


def queue_mae(measured: dict[int, int], ticks_ns: np.ndarray, truth: np.ndarray) -> float:
    """Mean absolute error of queue length over the truth's ticks (a tick not measured counts as 0)."""
    if len(ticks_ns) == 0:
        return 0.0
    got = np.array([measured.get(int(t) // 1_000_000, 0) for t in ticks_ns])
    return float(np.mean(np.abs(got - truth)))
