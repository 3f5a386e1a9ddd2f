"""An edge box's load for topology fault runs: synthetic cameras at 10 frames/s, paced in real time.

Also what a fault run checks afterwards: which frames reached the hub, how
many times and in what order (per camera subject), and whether projections
folded on the hub equal one clean run over the same events.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from itertools import groupby
from pathlib import Path

import msgspec
import nats
from nats.aio.client import Client as NatsClient
from nats.js import api as js_api

from ops.bench.synthetic_tracks import FRAME_PERIOD_NS, layout_event, synthetic_events
from schemas.events import Event, LayoutPublished
from stream.embedded import EmbeddedNats
from stream.publisher import MAX_PAYLOAD_BYTES, to_record
from stream.spool import SpoolRecord

REPO = Path(__file__).resolve().parents[2]
TICK_S = FRAME_PERIOD_NS / 1e9  # the synthetic cameras' frame period, seconds
# The projections a fault run compares with a clean run (the crash test's, tests/projections/test_crash.py).
DUMPS = {
    "line_counts": "SELECT store_id, line_id, layout_version, bucket_start, sum(entries), sum(exits) "
    "FROM line_counts GROUP BY ALL ORDER BY ALL",
    "track_points": "SELECT * FROM track_points ORDER BY ALL",
}


class Delivery(msgspec.Struct, frozen=True):
    """What reached the hub of what the edge had acknowledged: per camera subject, each id once and in order.

    lost: acknowledged ids missing on the hub; duplicated: ids stored more than once;
    out_of_order: subjects whose ids on the hub are not in publish order; unexpected: ids on the hub
    that the edge never had acknowledged (an unacknowledged publish that was stored after all).
    """

    acked: int
    on_hub: int
    lost: int
    duplicated: int
    out_of_order: int
    unexpected: int


class EdgeLoad:
    """`cameras` synthetic cameras of one store, `seconds` long at 10 frames/s each, as ticks of events."""

    def __init__(self, store_id: str, *, cameras: int = 4, seconds: float = 60.0, tracks: int = 5, seed: int = 7):
        frames = max(1, round(seconds / TICK_S))
        # Dated an hour ago: inside track_points' 30-day TTL, so every row stays to be compared.
        t0_ns = (time.time_ns() // 10**9 - 3600) * 10**9
        self.store_id = store_id
        self.cameras = cameras
        events = synthetic_events(frames, tracks, seed=seed, cameras=cameras, store_id=store_id, t0_ns=t0_ns)
        self.ticks: list[list[Event]] = [list(g) for _, g in groupby(events, key=lambda e: e.ts_ns)]
        self.layout: LayoutPublished = layout_event(store_id, cameras)

    @property
    def events(self) -> list[Event]:
        """Every event, in publish order."""
        return [e for tick in self.ticks for e in tick]

    @property
    def frames_per_s(self) -> float:
        """Frames per second of all cameras together."""
        return self.cameras / TICK_S


async def paced(
    load: EdgeLoad, send: Callable[[SpoolRecord], Awaitable[None]], on_tick: Callable[[int], Awaitable[None]]
) -> None:
    """Send every tick's records at its real time (one tick per frame period); on_tick(i) runs before tick i.

    A tick that falls behind (a slow send) is sent at once, so the rate catches up rather than drifts.
    """
    start = time.monotonic()
    for i, tick in enumerate(load.ticks):
        await on_tick(i)
        delay = start + i * TICK_S - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        for event in tick:
            await send(to_record(event, MAX_PAYLOAD_BYTES))


async def hub_ids(nc: NatsClient, stream: str, filter_subject: str) -> dict[str, list[str]]:
    """Nats-Msg-Id of every message on `stream` under filter_subject, in stream order, per subject."""
    js = nc.jetstream()
    total = (await js.stream_info(stream)).state.messages
    out: dict[str, list[str]] = {}
    read = 0
    # Ephemeral, so nothing is left behind; no acks, so max_ack_pending (1000) never stops the read.
    config = js_api.ConsumerConfig(ack_policy=js_api.AckPolicy.NONE)
    sub = await js.pull_subscribe(filter_subject, stream=stream, config=config)
    try:
        while read < total:
            try:
                msgs = await sub.fetch(1000, timeout=2.0)
            except nats.errors.TimeoutError:
                break  # the filter matches fewer messages than the stream holds
            for msg in msgs:
                out.setdefault(msg.subject, []).append((msg.headers or {}).get("Nats-Msg-Id", ""))
            read += len(msgs)
    finally:
        await sub.unsubscribe()
    return out


def delivery(acked: dict[str, list[str]], on_hub: dict[str, list[str]]) -> Delivery:
    """Compare what the edge had acknowledged (per subject, in publish order) with what the hub holds."""
    lost = duplicated = out_of_order = unexpected = 0
    for subject in acked.keys() | on_hub.keys():
        want, got = acked.get(subject, []), on_hub.get(subject, [])
        got_set, want_set = set(got), set(want)
        lost += len(want_set - got_set)
        duplicated += len(got) - len(got_set)
        unexpected += len(got_set - want_set)
        order = {msg_id: i for i, msg_id in enumerate(want)}
        positions = [order[m] for m in dict.fromkeys(got) if m in order]
        if positions != sorted(positions):
            out_of_order += 1
    return Delivery(
        acked=sum(map(len, acked.values())),
        on_hub=sum(map(len, on_hub.values())),
        lost=lost,
        duplicated=duplicated,
        out_of_order=out_of_order,
        unexpected=unexpected,
    )


def _footfall(*args: str) -> list[str]:
    return [sys.executable, "-m", "ops.cli", "--log-format", "json", "--log-level", "warning", *args]


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(REPO))


# With the zone processor: FF_DERIVED written under the faults, and a projection of it (footfall_lines).
PROCESSED = ["line_counts", "track_points", "zones", "footfall"]
PROCESSED_DUMPS = DUMPS | {
    "footfall_lines": "SELECT store_id, line_id, layout_version, bucket_start, sum(entries), sum(exits) "
    "FROM footfall_lines GROUP BY ALL ORDER BY ALL",
}


def project_live(url: str, data_dir: Path, names: list[str]) -> subprocess.Popen[str]:
    """`footfall project NAMES` following the log at url until SIGTERM (a process of its own)."""
    return subprocess.Popen(_footfall("project", *names, "--url", url, "--data-dir", str(data_dir)),
                            env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip


def project_and_dump(
    url: str, data_dir: Path, names: list[str] | None = None, dumps: dict[str, str] | None = None,
    timeout_s: float = 600.0,
) -> dict[str, str]:  # fmt: skip
    """Fold the log at `url` into chDB under data_dir (`footfall project --until-caught-up`, a process of its
    own: one chDB directory per process) and return each compared table as CSV."""
    dumps = dumps or DUMPS
    names = names or list(DUMPS)
    done = subprocess.run(_footfall("project", *names, "--until-caught-up", "--url", url, "--data-dir", str(data_dir)),
                          env=_env(), capture_output=True, text=True, timeout=timeout_s, check=False)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"footfall project on {url} failed ({done.returncode}): {done.stderr[-2000:]}")
    out = {}
    for table, sql in dumps.items():
        result = subprocess.run(_footfall("sql", "--data-dir", str(data_dir), "--format", "CSV", sql),
                                env=_env(), capture_output=True, text=True, timeout=timeout_s, check=True)  # fmt: skip
        out[table] = result.stdout
    return out


async def _fill_clean(url: str, load: EdgeLoad) -> None:
    # Here, not at the top: the pipeline loads the projections (numba), which only the clean run needs.
    from ops.simulation.pipeline import publish_events

    nc = await nats.connect(url)
    try:
        await publish_events(nc, [load.layout], load.events)
    finally:
        await nc.close()


def clean_run_dump(
    load: EdgeLoad, work_dir: Path, names: list[str] | None = None, dumps: dict[str, str] | None = None
) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The compared tables from one clean run (the same events on one fresh server, folded once), and the
    ids of what the zone processor wrote to FF_DERIVED, per subject."""
    with EmbeddedNats(work_dir / "clean-nats") as server:
        asyncio.run(_fill_clean(server.url, load))
        tables = project_and_dump(server.url, work_dir / "clean-store", names, dumps)
        return tables, asyncio.run(read_ids(server.url, "FF_DERIVED", "ff.v1.*.zones"))


async def read_ids(url: str, stream: str, filter_subject: str) -> dict[str, list[str]]:
    """hub_ids() on a connection of its own."""
    nc = await nats.connect(url)
    try:
        return await hub_ids(nc, stream, filter_subject)
    finally:
        await nc.close()


def tables_equal(a: dict[str, str], b: dict[str, str]) -> dict[str, bool]:
    """Per compared table: equal, and not empty (an empty table would compare equal and prove nothing)."""
    return {table: a[table] == b[table] and a[table].count("\n") > 0 for table in b}
