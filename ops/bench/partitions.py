"""`footfall bench project --stores N`: one projector process against P processes partitioned by store.

A chain's hub folds many stores; `footfall project --partition K/P` lets P processes share them
(projections.partition). This bench simulates N crowded store days, publishes them interleaved in time
(as a hub receives them) to an embedded nats-server, and then, for each process count P, runs P
`footfall project --until-caught-up` processes at once (every projection, each process with its own chDB
directory: chDB lets one process open a directory, as a ClickHouse server would be shared instead), and
times them from launch to the last exit. Beside them, in the same run: the raw ordered read of FF_TRACKS
(the peer) and the start-up of one process that folds nothing (imports, migrations, consumers), which
every process pays once.
"""

from __future__ import annotations

import asyncio
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nats

from ml_core.sim.agents import ShopperConfig
from ml_core.sim.noise import REALISTIC
from ops.bench.project import cpus, ordered_read
from ops.bench.serve import footfall_command, footfall_env
from ops.simulation.pipeline import publish_events
from ops.simulation.simulate import SimulatedDay, simulate_day
from projections.partition import Partition
from schemas.events import TrackFrame
from stream.embedded import EmbeddedNats

HOUR_NS = 3600 * 10**9
# A store id no partition run holds: the start-up process folds nothing.
_NO_STORE = "bench-no-such-store"


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def store_ids(count: int) -> list[str]:
    return [f"store-{i:02d}" for i in range(1, count + 1)]


def simulate_stores(count: int, hours: float, parties_per_hour: float, cameras: int) -> list[SimulatedDay]:
    """A crowded day per store (seed i for store i), dated to end an hour ago so every table keeps it."""
    t0_ns = (time.time_ns() // 10**9) * 10**9 - int((hours + 1.5) * HOUR_NS)
    shopper = ShopperConfig(duration_s=hours * 3600.0, parties_per_hour=parties_per_hour)
    return [
        simulate_day(
            seed,
            shopper=shopper,
            noise=REALISTIC,
            cameras=cameras,
            store_id=store,
            edge_run_id=f"sim-run-{seed}",
            t0_ns=t0_ns,
        )
        for seed, store in enumerate(store_ids(count), start=1)
    ]


async def _publish(url: str, days: list[SimulatedDay]) -> int:
    events = sorted((e for d in days for e in d.events), key=lambda e: (e.ts_ns, e.store_id))
    nc = await nats.connect(url)
    try:
        return await publish_events(nc, [d.layout for d in days], events, [p for d in days for p in d.pos])
    finally:
        await nc.close()


def _project(url: str, data_dir: Path, share: list[str], batch: int | None) -> subprocess.Popen[bytes]:
    extra = ["--batch", str(batch)] if batch is not None else []
    command = footfall_command("project", "--url", url, "--data-dir", str(data_dir), "--until-caught-up", *share,
                               *extra)  # fmt: skip
    return subprocess.Popen(command, env=footfall_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _run_processes(url: str, root: Path, shares: list[list[str]], batch: int | None) -> tuple[float, list[float]]:
    """Launch one `footfall project` per share at once; the seconds until the last exits, and each one's."""
    started = time.perf_counter()
    procs = [_project(url, root / f"p{k}", share, batch) for k, share in enumerate(shares)]
    ends: list[float] = []
    for proc in procs:
        _, err = proc.communicate(timeout=3600)
        ends.append(time.perf_counter() - started)
        if proc.returncode != 0:
            raise RuntimeError(f"footfall project {' '.join(shares[len(ends) - 1])} exited {proc.returncode}: "
                               f"{err.decode(errors='replace')[-2000:]}")  # fmt: skip
    return max(ends), ends


_CHECK_SQL = (
    "SELECT (SELECT count() FROM track_points), (SELECT sum(entries) FROM line_counts), "
    "(SELECT count() FROM zone_visits)"
)


def _rows(root: Path, processes: int) -> list[int]:
    """track_points rows, line entries and zone visits over the `processes` data directories under root
    (`footfall sql`: chDB opens one directory per process)."""
    totals = [0, 0, 0]
    for k in range(processes):
        command = footfall_command("sql", "--data-dir", str(root / f"p{k}"), "--format", "TSV", _CHECK_SQL)
        out = subprocess.run(command, env=footfall_env(), capture_output=True, text=True, check=True, timeout=600)
        totals = [t + int(v or 0) for t, v in zip(totals, out.stdout.split(), strict=True)]
    return totals


def run_bench(
    stores: int, processes: list[int], *, hours: float, parties_per_hour: float, cameras: int, batch: int | None,
    repeat: int,
) -> dict[str, Any]:  # fmt: skip
    """Simulate and publish `stores` days, then time every projection in P processes for each P, `repeat`
    rounds of all of them (each round from empty stores); return the JSON-ready report."""
    _say(f"simulating {stores} stores x {hours} h at {parties_per_hour} parties/h, {cameras} cameras ...")
    started = time.perf_counter()
    days = simulate_stores(stores, hours, parties_per_hour, cameras)
    simulate_s = time.perf_counter() - started
    frames = [e for d in days for e in d.events if isinstance(e, TrackFrame)]
    observations = sum(len(f.tracks) for f in frames)
    partitions = {p: [Partition(index=k, count=p) for k in range(1, p + 1)] for p in processes}
    with tempfile.TemporaryDirectory(prefix="footfall-bench-") as tmp, EmbeddedNats(Path(tmp) / "nats") as server:
        _say(f"publishing {len(frames)} frames ({observations} observations) of {stores} stores ...")
        messages = asyncio.run(_publish(server.url, days))
        track_messages = sum(len(d.events) for d in days)
        raw_runs: list[float] = []
        start_up_runs: list[float] = []
        runs: dict[int, list[tuple[float, list[float]]]] = {p: [] for p in processes}
        for i in range(repeat):
            _say(f"round {i + 1}/{repeat}: raw read, an idle process's start-up, then {processes} processes ...")
            raw_runs.append(asyncio.run(ordered_read(server.url, track_messages, decode_frames=False)))
            idle, _ = _run_processes(server.url, Path(tmp) / f"r{i}-idle", [["--stores", _NO_STORE]], batch)
            start_up_runs.append(idle)
            for p in processes:
                shares = [[] if p == 1 else ["--partition", f"{k}/{p}"] for k in range(1, p + 1)]
                runs[p].append(_run_processes(server.url, Path(tmp) / f"r{i}-p{p}", shares, batch))
        # Every process count built the same tables between its processes (the last round's, checked).
        check = {str(p): _rows(Path(tmp) / f"r{repeat - 1}-p{p}", p) for p in processes}
    one = statistics.median(run[0] for run in runs[processes[0]])
    results = {}
    for p, trials in runs.items():
        seconds = statistics.median(run[0] for run in trials)
        results[str(p)] = {
            "seconds": round(seconds, 3),
            "runs_seconds": [round(run[0], 3) for run in trials],
            "process_seconds": [[round(s, 3) for s in run[1]] for run in trials],
            "observations_per_s": round(observations / seconds),
            "speedup_over_first": round(one / seconds, 3),
            "stores_per_process": [[s for s in store_ids(stores) if part.holds(s)] for part in partitions[p]],
        }
    return {
        "machine": {"python": platform.python_version(), "cpus": cpus()},
        "log": {
            "stores": stores,
            "hours_per_store": hours,
            "parties_per_hour": parties_per_hour,
            "cameras": cameras,
            "frames": len(frames),
            "observations": observations,
            "messages_stored": messages,
            "simulate_seconds": round(simulate_s, 1),
        },
        "raw_ordered_read_seconds": round(statistics.median(raw_runs), 3),
        "start_up_seconds": round(statistics.median(start_up_runs), 3),
        "processes": results,
        "check": {"track_points_rows_line_entries_zone_visits": check, "expected_track_points_rows": observations},
        "repeat": repeat,
        "note": "each process folds every projection into its own chDB directory; a hash partition reads the "
        "whole stream and folds its stores' share",
    }
