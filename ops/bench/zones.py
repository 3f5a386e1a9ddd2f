"""`footfall bench zones`: the zone processor alone and every projection together, on a simulated store day.

One run: simulate a crowded day (footfall simulate's model), publish it to an embedded log, then time
(a) the raw ordered read of FF_TRACKS (the peer: nothing can fold faster than the log is read),
(b) the zone processor alone through the projection runner, with its rate over the day's first and last
hour of frame time (its cost must stay flat as the day goes on), and
(c) every projection together from an empty store, staged as `footfall project --until-caught-up` does.
"""

from __future__ import annotations

import asyncio
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
import numpy as np

from ops.bench.project import cpus, ordered_read
from ops.runtime import by_stream, catch_up, freeze_start_up_objects, make_units, members, runner_connections, unit_name
from ops.simulation.simulate import SimulatedDay
from projections.migrations import migrate
from projections.registry import PROJECTIONS, make
from projections.runner import Progress, ProjectionRunner
from projections.shared_read import SharedReadRunner
from projections.sizing import DEFAULT_BATCH, SMALL_MESSAGE_BATCH
from projections.store import ChdbStore
from projections.zones.processor import ZoneProcessor
from schemas.events import TrackFrame
from stream.embedded import EmbeddedNats

HOUR_NS = 3600 * 1_000_000_000


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class _TrackLog:
    """Per FF_TRACKS message in stream order (seq = index + 1): frame time (ns) and observations (0: not a frame)."""

    ts_ns: np.ndarray  # (n,) int64
    observations: np.ndarray  # (n,) int64
    is_frame: np.ndarray  # (n,) bool


def _track_log(day: SimulatedDay) -> _TrackLog:
    ts = np.fromiter((e.ts_ns for e in day.events), dtype=np.int64, count=len(day.events))
    obs = np.fromiter(
        (len(e.tracks) if isinstance(e, TrackFrame) else 0 for e in day.events), dtype=np.int64, count=len(day.events)
    )
    frames = np.fromiter((isinstance(e, TrackFrame) for e in day.events), dtype=np.bool_, count=len(day.events))
    return _TrackLog(ts, obs, frames)


def _window_rate(marks: list[Progress], log: _TrackLog, first_seq: int, last_seq: int) -> dict[str, float]:
    """Frames/s and observations/s over the batches that cover stream sequences first_seq..last_seq.

    A batch is the unit the runner reports, so the window is widened to whole batches: from the end of the
    last batch before first_seq to the end of the first batch reaching last_seq.
    """
    before = [m for m in marks if m.seq < first_seq]
    start_seq, start_s = (before[-1].seq, before[-1].elapsed_s) if before else (0, 0.0)
    end = next(m for m in marks if m.seq >= last_seq)
    rows = slice(start_seq, end.seq)  # seqs start_seq+1 .. end.seq, as 0-based indices
    frames = int(log.is_frame[rows].sum())
    observations = int(log.observations[rows].sum())
    return {**_rates(end.elapsed_s - start_s, frames, observations), "frames": frames, "observations": observations}


def _rates(seconds: float, frames: int, observations: int) -> dict[str, float]:
    return {
        "seconds": round(seconds, 3),
        "frames_per_s": round(frames / seconds),
        "observations_per_s": round(observations / seconds),
    }


async def _zones_alone(url: str, store: ChdbStore, batch: int | None) -> tuple[float, list[Progress]]:
    marks: list[Progress] = []
    nc = await nats.connect(url, name="footfall-bench-zones")
    try:
        runner = ProjectionRunner(nc, store, ZoneProcessor(), key="bench-zones", batch=batch, progress=marks.append)
        started = time.perf_counter()
        await runner.run(until_caught_up=True)
        return time.perf_counter() - started, marks
    finally:
        await nc.close()


async def _every_projection(
    url: str, store: ChdbStore, batch: int | None
) -> tuple[float, dict[str, dict[str, float]], dict[str, dict[str, Any]]]:
    """Every projection from an empty store, composed as `footfall project` composes them (one read per
    stream); the time, and per projection and per shared read where their time went."""
    groups = by_stream([make(name) for name in PROJECTIONS])  # as `footfall project` composes them
    async with runner_connections(url, [unit_name(g) for g in groups]) as connections:
        units = make_units(connections, store, groups, batch)
        started = time.perf_counter()
        await catch_up(units, lambda u: u.run(until_caught_up=True))
        elapsed_s = time.perf_counter() - started
    split = {runner.key: {"events": runner.stats.events, "fetch_s": round(runner.stats.fetch_s, 3),
                          "fold_s": round(runner.stats.fold_s, 3), "store_s": round(runner.stats.store_s, 3)}
             for unit in units for runner in members(unit)}  # fmt: skip
    shared = {unit.stream: {"projections": unit.names, "fetch_s": round(unit.fetch_s, 3)}
              for unit in units if isinstance(unit, SharedReadRunner)}  # fmt: skip
    return elapsed_s, split, shared


def run_bench(day: SimulatedDay, *, simulate_s: float, batch: int | None) -> dict[str, Any]:
    """Publish `day`, then time the raw read, the zone processor alone and every projection; the JSON report."""
    from ops.simulation.pipeline import publish_day

    log = _track_log(day)
    n = len(log.ts_ns)
    frames, observations = int(log.is_frame.sum()), int(log.observations.sum())
    t0, t_end = int(log.ts_ns.min()), int(log.ts_ns.max())
    first_hour_last_seq = int(np.flatnonzero(log.ts_ns < t0 + HOUR_NS)[-1]) + 1
    last_hour_first_seq = int(np.flatnonzero(log.ts_ns >= t_end - HOUR_NS)[0]) + 1
    with tempfile.TemporaryDirectory(prefix="footfall-bench-zones-") as tmp, EmbeddedNats(Path(tmp) / "nats") as srv:
        _say(f"publishing {n} track messages ({frames} frames, {observations} observations) ...")

        async def publish() -> int:
            nc = await nats.connect(srv.url)
            try:
                return await publish_day(nc, day)
            finally:
                await nc.close()

        started = time.perf_counter()
        asyncio.run(publish())
        publish_s = time.perf_counter() - started
        store = ChdbStore(Path(tmp) / "chdb")
        try:
            freeze_start_up_objects()
            _say("raw ordered read of FF_TRACKS ...")
            raw_s = asyncio.run(ordered_read(srv.url, n, decode_frames=False))
            _say("zone processor alone ...")
            zones_db = store.in_database("bench_zones_alone")
            migrate(zones_db)
            zones_s, marks = asyncio.run(_zones_alone(srv.url, zones_db, batch))
            _say("every projection together, from an empty store ...")
            all_db = store.in_database("bench_every_projection")
            migrate(all_db)
            all_s, split, shared = asyncio.run(_every_projection(srv.url, all_db, batch))
        finally:
            store.close()
    first = _window_rate(marks, log, 1, first_hour_last_seq)
    last = _window_rate(marks, log, last_hour_first_seq, n)
    return {
        "machine": {"python": platform.python_version(), "cpus": cpus()},
        "day": {
            "hours": round((t_end - t0) / HOUR_NS, 2),
            "cameras": len(day.cameras),
            "messages": n,
            "frames": frames,
            "observations": observations,
            "simulate_s": round(simulate_s, 3),
            "publish_s": round(publish_s, 3),
        },
        "raw_ordered_read": _rates(raw_s, frames, observations),
        "zones_alone": {
            **_rates(zones_s, frames, observations),
            "ratio_to_raw_read": round(raw_s / zones_s, 4),
            "first_hour": first,
            "last_hour": last,
            "last_to_first_hour": round(last["frames_per_s"] / first["frames_per_s"], 3),
        },
        "every_projection": {
            **_rates(all_s, frames, observations),
            "ratio_to_raw_read": round(raw_s / all_s, 4),
            "per_projection": split,
            "shared_reads": shared,
        },
        "batch": batch or {"FF_TRACKS": DEFAULT_BATCH, "others": SMALL_MESSAGE_BATCH},
    }
