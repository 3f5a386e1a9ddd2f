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

from ops.bench.synthetic_tracks import layout_event, synthetic_events
from ops.runtime import freeze_start_up_objects, runner_connections
from projections.batch import SealedBatch
from projections.columns import TrackBatch
from projections.line_counts import LineCountsProjection
from projections.migrations import migrate
from projections.projection import Projection
from projections.runner import ProjectionRunner
from projections.shared_read import SharedReadRunner
from projections.store import ChdbStore
from projections.track_points import TrackPointsProjection
from schemas.codec import decode, encode
from schemas.events import TrackFrame
from stream.acks import parse_ack_subjects
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


async def ordered_read(url: str, expected: int, decode_frames: bool) -> float:
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
    url: str, store: ChdbStore, projections: list[Projection], batch: int, *, shared: bool = False
) -> tuple[float, dict[str, dict[str, float]]]:
    """Fold the stream from scratch: a runner (and connection) per projection, or one shared read of them all."""
    if shared:
        async with runner_connections(url, ["shared"]) as (nc,):
            unit = SharedReadRunner(nc, store, projections, batch=batch)
            started = time.perf_counter()
            await unit.run(until_caught_up=True)
            elapsed = time.perf_counter() - started
        runners = unit.members
        split = {"shared_read": {"fetch_s": round(unit.fetch_s, 3)}}
    else:
        async with runner_connections(url, [p.name for p in projections]) as connections:
            runners = [ProjectionRunner(nc, store, p, batch=batch) for nc, p in zip(connections, projections,
                                                                                     strict=True)]  # fmt: skip
            started = time.perf_counter()
            await asyncio.gather(*(r.run(until_caught_up=True) for r in runners))
            elapsed = time.perf_counter() - started
        split = {}
    for r in runners:
        s = r.stats
        split[r.key] = {"fetch_s": round(s.fetch_s, 3), "fold_s": round(s.fold_s, 3), "store_s": round(s.store_s, 3)}
    return elapsed, split


def track_projections() -> list[Projection]:
    """A fresh instance of every projection of FF_TRACKS (the zone processor among them)."""
    from projections.registry import PROJECTIONS, make

    made = [make(name) for name in PROJECTIONS]
    return [p for p in made if p.stream == "FF_TRACKS"]


def _warm_up(store: ChdbStore, frames: int, tracks: int) -> None:
    """Do once what a long-running projector does once: load the numba parsers (from their cache), pyarrow's and
    chDB's readers, and grow its buffers to a full batch (`frames` x `tracks`). The timed folds then measure
    folding, as the raw reads measure reading on a warm client: measured, the first run of a cold process
    took half as long again as the rest."""
    parse_ack_subjects([b"$JS.ACK.S.c.1.1.1.1.0"])
    t0_ns = (time.time_ns() // 1_000_000_000) * 1_000_000_000
    payloads = [encode(e) for e in synthetic_events(frames, tracks, seed=2, t0_ns=t0_ns)]
    batch, _ = TrackBatch.from_payloads(range(1, len(payloads) + 1), payloads)
    target = store.in_database("bench_warm_up")
    for projection in (TrackPointsProjection(), LineCountsProjection()):
        result = projection.fold_tracks(batch, {})
        for table, ddl in projection.table_ddl().items():
            target.execute(ddl.format(db=target.database, table=table))
            target.insert(SealedBatch("warm-up", table, 1, len(payloads), result.rows[table]))


def run_bench(frames: int, tracks: int, batch: int, repeat: int = 3, *, every: bool = False) -> dict[str, Any]:
    """Pre-fill, then time the ordered reads and the folds in `repeat` rounds; return the JSON-ready report.

    Each round reads the stream (raw, then decoded) and folds it from scratch for every case, so a fold is
    compared with reads taken seconds before it: on two shared cores the machine's speed drifts by half
    within minutes, and a ratio of runs minutes apart measured the drift. A case's ratio is the median of its
    rounds' ratios; its seconds, the median of its runs (every run is reported).

    every: also fold every FF_TRACKS projection together, once with a consumer each and once from one
    shared read, as `footfall project` and `footfall serve` run them.
    """
    cases: list[tuple[str, Callable[[], list[Projection]], bool]] = [
        ("track_points", lambda: [TrackPointsProjection()], False),
        ("line_counts", lambda: [LineCountsProjection()], False),
        ("track_points+line_counts", lambda: [TrackPointsProjection(), LineCountsProjection()], False),
    ]
    if every:
        cases += [("track_points+line_counts_shared_read", lambda: [TrackPointsProjection(), LineCountsProjection()],
                   True),
                  ("every_track_projection_own_reads", track_projections, False),
                  ("every_track_projection_shared_read", track_projections, True)]  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="footfall-bench-") as tmp, EmbeddedNats(Path(tmp) / "nats") as server:
        _say(f"pre-filling FF_TRACKS with {frames} frames x {tracks} tracks ...")
        messages, observations = asyncio.run(_fill(server.url, frames, tracks))
        store = ChdbStore(Path(tmp) / "chdb")
        _warm_up(store, min(batch, frames), tracks)
        freeze_start_up_objects()  # as `footfall project` does; the reads below get the same quiet heap
        raw_runs: list[float] = []
        decoded_runs: list[float] = []
        fold_runs: dict[str, list[tuple[float, dict[str, dict[str, float]]]]] = {label: [] for label, _, _ in cases}
        for i in range(repeat):
            _say(f"round {i + 1}/{repeat}: ordered read (raw, then decoded), then folding each case ...")
            raw_runs.append(asyncio.run(ordered_read(server.url, messages, decode_frames=False)))
            decoded_runs.append(asyncio.run(ordered_read(server.url, messages, decode_frames=True)))
            for label, factory, shared in cases:  # each from scratch, into its own database
                target = store.in_database(f"bench_{label.replace('+', '_and_')}_{i}"[:60])
                migrate(target)
                fold_runs[label].append(asyncio.run(_fold(server.url, target, factory(), batch, shared=shared)))
        raw_s, decoded_s = statistics.median_high(raw_runs), statistics.median_high(decoded_runs)
        results: dict[str, Any] = {}
        for label, runs in fold_runs.items():
            seconds, split = sorted(runs, key=lambda run: run[0])[len(runs) // 2]  # the median run (median_high)
            ratios = [raw / run[0] for raw, run in zip(raw_runs, runs, strict=True)]
            decoded_ratios = [decoded / run[0] for decoded, run in zip(decoded_runs, runs, strict=True)]
            results[label] = {
                "seconds": round(seconds, 3),
                "runs_seconds": [round(run[0], 3) for run in runs],
                "time_split": split,
                "observations_per_s": round(observations / seconds),
                "ratio_to_raw_ordered_read": round(statistics.median(ratios), 3),
                "ratio_runs": [round(r, 3) for r in ratios],
                "ratio_to_decoded_ordered_read": round(statistics.median(decoded_ratios), 3),
            }
        rows = store.query_rows("SELECT count() FROM bench_track_points_0.track_points")
        store.close()
    return {
        "machine": {"python": platform.python_version(), "cpus": cpus()},
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


def cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))
