"""`footfall bench project`: fold rate through the runner into chDB vs the raw ordered read of the same stream."""

from __future__ import annotations

import asyncio
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nats

from ops.runtime import freeze_start_up_objects
from ops.synthetic_tracks import layout_event, synthetic_events
from projections.batch import SealedBatch
from projections.columns import TrackBatch
from projections.line_counts import LineCountsProjection
from projections.migrations import migrate
from projections.projection import Projection
from projections.runner import ProjectionRunner
from projections.store import ChdbStore
from projections.track_points import TrackPointsProjection
from schemas.codec import decode, encode
from schemas.events import TrackFrame
from stream.embedded import EmbeddedNats
from stream.provision import LogConfig, ensure_streams
from stream.publisher import Publisher


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def _fill(url: str, frames: int, tracks: int) -> tuple[int, int]:
    nc = await nats.connect(url)
    js = nc.jetstream()
    await ensure_streams(js, LogConfig())
    publisher = Publisher(js)
    await publisher.publish(layout_event())
    messages = observations = 0
    # Dated from now: track_points keeps 30 days, so frames from the generator's fixed past would expire at once.
    t0_ns = (time.time_ns() // 1_000_000_000) * 1_000_000_000
    for event in synthetic_events(frames, tracks, seed=1, t0_ns=t0_ns):
        await publisher.publish(event)
        messages += 1
        if isinstance(event, TrackFrame):
            observations += len(event.tracks)
    await publisher.flush()
    await nc.close()
    return messages, observations


async def _ordered_read(url: str, expected: int, decode_frames: bool) -> float:
    """Seconds to read every FF_TRACKS message with an ordered consumer (decoding each, if asked)."""
    nc = await nats.connect(url)
    js = nc.jetstream()
    done = asyncio.Event()
    seen = 0

    async def on_msg(msg: Any) -> None:
        nonlocal seen
        if decode_frames:
            decode(msg.data)
        seen += 1
        if seen >= expected:
            done.set()

    started = time.perf_counter()
    sub = await js.subscribe("ff.v1.*.*.tracks", stream="FF_TRACKS", cb=on_msg, ordered_consumer=True)
    await asyncio.wait_for(done.wait(), timeout=600)
    elapsed = time.perf_counter() - started
    await sub.unsubscribe()
    await nc.close()
    return elapsed


async def _fold(
    url: str, store: ChdbStore, projections: list[Projection], batch: int
) -> tuple[float, dict[str, dict[str, float]]]:
    nc = await nats.connect(url)
    runners = [ProjectionRunner(nc, store, p, batch=batch) for p in projections]
    started = time.perf_counter()
    results = await asyncio.gather(*(r.run(until_caught_up=True) for r in runners))
    elapsed = time.perf_counter() - started
    await nc.close()
    split = {
        r.key: {"fetch_s": round(s.fetch_s, 3), "fold_s": round(s.fold_s, 3), "store_s": round(s.store_s, 3)}
        for r, s in zip(runners, results, strict=True)
    }
    return elapsed, split


def _warm_up(store: ChdbStore) -> None:
    """Load once what a long-running projector loads once: the numba parser (from its cache), pyarrow's and
    chDB's readers. The timed folds then measure folding, as the raw reads measure reading on a warm client."""
    t0_ns = (time.time_ns() // 1_000_000_000) * 1_000_000_000
    payloads = [encode(e) for e in synthetic_events(50, 5, seed=2, t0_ns=t0_ns)]
    batch, _ = TrackBatch.from_payloads(range(1, len(payloads) + 1), payloads)
    target = store.in_database("bench_warm_up")
    for projection in (TrackPointsProjection(), LineCountsProjection()):
        result = projection.fold_tracks(batch, {})
        for table, ddl in projection.table_ddl().items():
            target.execute(ddl.format(db=target.database, table=table))
            target.insert(SealedBatch("warm-up", table, 1, len(payloads), result.rows[table]))


def run_bench(frames: int, tracks: int, batch: int, repeat: int = 3) -> dict[str, Any]:
    """Pre-fill, then time the ordered reads and the folds `repeat` times each; return the JSON-ready report.

    Each figure is the median of its repeats (all of them are reported): on two shared cores one run of
    under a second varies by 20% or more, and a ratio of two single runs varies with both.
    """
    with tempfile.TemporaryDirectory(prefix="footfall-bench-") as tmp, EmbeddedNats(Path(tmp) / "nats") as server:
        _say(f"pre-filling FF_TRACKS with {frames} frames x {tracks} tracks ...")
        messages, observations = asyncio.run(_fill(server.url, frames, tracks))
        store = ChdbStore(Path(tmp) / "chdb")
        _warm_up(store)
        freeze_start_up_objects()  # as `footfall project` does; the reads below get the same quiet heap
        _say("ordered read (raw, then decoded) ...")
        raw_runs = [asyncio.run(_ordered_read(server.url, messages, decode_frames=False)) for _ in range(repeat)]
        decoded_runs = [asyncio.run(_ordered_read(server.url, messages, decode_frames=True)) for _ in range(repeat)]
        raw_s, decoded_s = statistics.median_high(raw_runs), statistics.median_high(decoded_runs)
        results: dict[str, Any] = {}
        cases: list[tuple[str, Callable[[], list[Projection]]]] = [
            ("track_points", lambda: [TrackPointsProjection()]),
            ("line_counts", lambda: [LineCountsProjection()]),
            ("track_points+line_counts", lambda: [TrackPointsProjection(), LineCountsProjection()]),
        ]
        for label, factory in cases:
            _say(f"folding {label} ...")
            runs: list[tuple[float, dict[str, dict[str, float]]]] = []
            for i in range(repeat):  # each from scratch, into its own database
                target = store.in_database(f"bench_{label.replace('+', '_and_')}_{i}")
                migrate(target)
                runs.append(asyncio.run(_fold(server.url, target, factory(), batch)))
            seconds, split = sorted(runs, key=lambda run: run[0])[len(runs) // 2]  # the median run (median_high)
            results[label] = {
                "seconds": round(seconds, 3),
                "runs_seconds": [round(run[0], 3) for run in runs],
                "time_split": split,
                "observations_per_s": round(observations / seconds),
                "ratio_to_raw_ordered_read": round(raw_s / seconds, 3),
                "ratio_to_decoded_ordered_read": round(decoded_s / seconds, 3),
            }
        rows = store.query_rows("SELECT count() FROM bench_track_points_0.track_points")
        store.close()
    return {
        "machine": {"python": platform.python_version(), "cpus": _cpus()},
        "stream": {"frames": frames, "tracks_per_frame": tracks, "messages": messages, "observations": observations},
        "ordered_read": {
            "raw_seconds": round(raw_s, 3),
            "raw_runs_seconds": [round(r, 3) for r in raw_runs],
            "raw_observations_per_s": round(observations / raw_s),
            "decoded_seconds": round(decoded_s, 3),
            "decoded_runs_seconds": [round(r, 3) for r in decoded_runs],
            "decoded_observations_per_s": round(observations / decoded_s),
        },
        "fold": results,
        "check": {"track_points_rows": int(rows[0][0]), "expected_rows": observations},
        "batch": batch,
        "repeat": repeat,
    }


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))
