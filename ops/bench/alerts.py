"""`footfall bench alerts`: how long after the frame that completes a rule's condition its alert is on the log.

Five simulated stores of five cameras each (25 cameras) at 10 frames/s. Each store's day is published in
two parts: its first `warm_s` seconds as fast as the log takes them (the queue and the zones fill up),
then `paced_s` seconds at the cameras' own pace, while the zone processor and the alert processor run
live (`footfall project`, not catching up). For each alert raised in the paced part the latency is the
time between two stored timestamps of the log (the server's clock, so no two clocks are compared):
- the TrackFrame that completed the condition: the store's first frame later than the sample's tick
  plus the zone processor's sample_delay_s (a tick is sampled on the first frame past that);
- the AlertRaised on FF_ALERTS.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import nats
import numpy as np
from nats.aio.client import Client as NatsClient

from ml_core.sim.agents import ShopperConfig
from ml_core.sim.noise import REALISTIC
from ops.runtime import runner_connections
from ops.simulation.simulate import simulate_day
from projections.alerts.processor import AlertProcessor
from projections.migrations import migrate
from projections.projection import Projection
from projections.runner import ProjectionRunner
from projections.store import ChdbStore
from projections.zones.config import ZoneProcessorConfig
from projections.zones.processor import ZoneProcessor
from schemas.codec import decode
from schemas.events import AlertRaised, Event, LayoutPublished, TrackFrame
from schemas.layout import AlertRule
from stream.consumer import PullConsumer
from stream.embedded import EmbeddedNats
from stream.provision import LogConfig, ensure_streams
from stream.publisher import Publisher

STORES = 5
CAMERAS_PER_STORE = 5
S = 1_000_000_000
# Rules that a busy store breaks every few minutes: a queue of more than two, a product zone with more
# than one customer; short holds so that the paced part raises many alerts.
RULES = (
    AlertRule(rule_id="queue", zone_id="queue", metric="queue_length", threshold=2.0, min_duration_s=3.0,
              clear_below=1.0, clear_after_s=2.0),
    *(AlertRule(rule_id=f"busy-{z}", zone_id=z, metric="occupancy", threshold=1.0, min_duration_s=2.0)
      for z in ("produce", "bakery", "snacks", "dairy", "drinks")),
)  # fmt: skip


@dataclass(frozen=True)
class _Days:
    layouts: list[LayoutPublished]
    warm: list[Event]  # in frame time order, every store
    paced: list[Event]
    paced_from_ns: int
    frames: int


def _days(warm_s: float, paced_s: float, fps: float, t0_ns: int) -> _Days:
    layouts: list[LayoutPublished] = []
    events: list[Event] = []
    for k in range(STORES):
        day = simulate_day(k + 1, shopper=ShopperConfig(duration_s=warm_s + paced_s, parties_per_hour=300.0,
                                                        frame_period_s=1.0 / fps),
                           noise=REALISTIC, cameras=CAMERAS_PER_STORE, t0_ns=t0_ns, store_id=f"store-{k + 1}",
                           edge_run_id=f"bench-{k + 1}")  # fmt: skip
        layouts.append(msgspec.structs.replace(day.layout, layout=msgspec.structs.replace(day.layout.layout,
                                                                                         rules=RULES)))  # fmt: skip
        events.extend(day.events)
    events.sort(key=lambda e: e.ts_ns)  # stable: each store's cameras stay in their order
    paced_from = t0_ns + round(warm_s * S)
    paced_to = paced_from + round(paced_s * S)
    warm = [e for e in events if e.ts_ns < paced_from]
    paced = [e for e in events if paced_from <= e.ts_ns < paced_to]
    return _Days(layouts, warm, paced, paced_from, len(events))


async def _publish_warm(publisher: Publisher, days: _Days) -> None:
    for layout in days.layouts:
        await publisher.publish(layout)
    for event in days.warm:
        await publisher.publish(event)
    await publisher.flush()


async def _publish_paced(publisher: Publisher, days: _Days) -> float:
    """Publish the paced part in frame time; return its wall seconds."""
    started = time.monotonic()
    for event in days.paced:
        wait = started + (event.ts_ns - days.paced_from_ns) / S - time.monotonic()
        if wait > 0:
            await publisher.flush()  # everything due so far is stored before waiting
            await asyncio.sleep(wait)
        await publisher.publish(event)
    await publisher.flush()
    return time.monotonic() - started


async def _caught_up(nc: NatsClient, runners: list[ProjectionRunner]) -> None:
    """Wait until every runner has folded all its stream holds now (the warm part: live from here)."""
    js = nc.jetstream()
    while True:
        last = {s: (await js.stream_info(s)).state.last_seq for s in {r.projection.stream for r in runners}}
        if all(r.stats.seq >= last[r.projection.stream] for r in runners):
            return
        await asyncio.sleep(0.2)


async def _stored(url: str, stream: str) -> tuple[list[str], list[bytes], np.ndarray]:
    """Every message of `stream`: subject, payload and stored time (ns, the server's clock)."""
    nc = await nats.connect(url, name="footfall-bench-alerts-read")
    subjects: list[str] = []
    payloads: list[bytes] = []
    stored: list[int] = []
    try:
        pending = (await nc.jetstream().stream_info(stream)).state.messages
        consumer = PullConsumer(nc, stream, f"bench-read-{stream.lower()}", batch=5000, start_seq=1)
        await consumer.open()
        try:
            while len(subjects) < pending:
                batch = await consumer.fetch_batch(5.0)
                if not batch:
                    break
                subjects += batch.subject
                payloads += batch.data
                stored += batch.stored_ts_ns
                await consumer.ack(batch, confirm=False)  # unacked, the server stops at max_ack_pending
        finally:
            await consumer.close()
    finally:
        await nc.close()
    return subjects, payloads, np.asarray(stored, dtype=np.int64)


async def _run(url: str, store: ChdbStore, days: _Days) -> float:
    stop = asyncio.Event()
    processors: list[Projection] = [ZoneProcessor(), AlertProcessor()]
    async with runner_connections(url, ["edge", *(p.name for p in processors)]) as (edge, *connections):
        publisher = Publisher(edge.jetstream())
        await _publish_warm(publisher, days)
        runners = [ProjectionRunner(nc, store, p) for nc, p in zip(connections, processors, strict=True)]
        tasks = [asyncio.ensure_future(r.run(until_caught_up=False, stop=stop)) for r in runners]
        await _caught_up(edge, runners)
        await asyncio.sleep(1.0)  # the zone processor's samples of the warm part's end reach the alerts
        paced_s = await _publish_paced(publisher, days)
        await asyncio.sleep(3.0)  # the last frames' alerts are folded and published
        stop.set()
        await asyncio.gather(*tasks)
    return paced_s


def run_bench(*, warm_s: float, paced_s: float, fps: float) -> dict[str, Any]:
    """Simulate, publish and fold live; the JSON report of alert latencies (ms)."""
    t0_ns = (time.time_ns() // S - round(warm_s + paced_s) - 3600) * S
    days = _days(warm_s, paced_s, fps, t0_ns)
    delay_ns = round(ZoneProcessorConfig().sample_delay_s * S)
    with tempfile.TemporaryDirectory(prefix="footfall-bench-alerts-") as tmp, EmbeddedNats(Path(tmp) / "n") as srv:
        store = ChdbStore(Path(tmp) / "chdb")
        try:
            migrate(store)

            async def provision() -> None:
                nc = await nats.connect(srv.url)
                await ensure_streams(nc.jetstream(), LogConfig())
                await nc.close()

            asyncio.run(provision())
            paced_wall_s = asyncio.run(_run(srv.url, store, days))
            _, payloads, stored = asyncio.run(_stored(srv.url, "FF_TRACKS"))
            _, alert_payloads, alert_stored = asyncio.run(_stored(srv.url, "FF_ALERTS"))
        finally:
            store.close()
    # Per store: its frames' times and stored times, in stream order (a store's frames are in time order).
    rows: dict[str, list[tuple[int, int]]] = {}
    for payload, at in zip(payloads, stored.tolist(), strict=True):
        event = decode(payload)
        if isinstance(event, TrackFrame):  # not a TrackClosed
            rows.setdefault(event.store_id, []).append((event.ts_ns, at))
    frames = {k: (np.array([r[0] for r in v], dtype=np.int64), np.array([r[1] for r in v], dtype=np.int64))
              for k, v in rows.items()}  # fmt: skip
    latencies = []
    for payload, at in zip(alert_payloads, alert_stored.tolist(), strict=True):
        alert = decode(payload)
        if not isinstance(alert, AlertRaised) or alert.ts_ns < days.paced_from_ns:
            continue
        ts, frame_stored = frames[alert.store_id]
        k = int(np.searchsorted(ts, alert.ts_ns + delay_ns, side="right"))  # first frame past tick + delay
        if k < len(ts):
            latencies.append((at - int(frame_stored[k])) / 1e6)
    lat = np.array(latencies, dtype=np.float64)
    return {
        "cameras": STORES * CAMERAS_PER_STORE,
        "stores": STORES,
        "fps": fps,
        "warm_s": warm_s,
        "paced_s": paced_s,
        "paced_wall_s": round(paced_wall_s, 2),
        "paced_messages_per_s": round(len(days.paced) / paced_wall_s) if paced_wall_s > 0 else None,
        "alerts_raised": len(latencies),
        "latency_ms": None
        if not len(lat)
        else {
            "p50": round(float(np.percentile(lat, 50)), 1),
            "p99": round(float(np.percentile(lat, 99)), 1),
            "max": round(float(lat.max()), 1),
        },
        "measured_between": "stored time of the frame completing the condition -> stored time of its AlertRaised",
    }
