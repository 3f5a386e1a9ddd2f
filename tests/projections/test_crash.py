"""Crash test (DESIGN.md §4): a projector killed with SIGKILL at random moments ends equal to one clean run.

CI runs a small stream; the full size is
    FOOTFALL_CRASH_FRAMES=20000 FOOTFALL_CRASH_TRACKS=50 FOOTFALL_CRASH_KILLS=20 \\
        .venv/bin/python -m pytest tests/projections/test_crash.py -s
(1,000,000 track observations). FOOTFALL_CRASH_SEED repeats a failing run.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import nats

from ops.bench.synthetic_tracks import layout_event, synthetic_events
from stream.embedded import EmbeddedNats
from stream.provision import LogConfig, ensure_streams
from stream.publisher import Publisher

REPO = Path(__file__).resolve().parents[2]
FRAMES = int(os.environ.get("FOOTFALL_CRASH_FRAMES", "1500"))
TRACKS = int(os.environ.get("FOOTFALL_CRASH_TRACKS", "20"))
KILLS = int(os.environ.get("FOOTFALL_CRASH_KILLS", "20"))
BATCH = int(os.environ.get("FOOTFALL_CRASH_BATCH", "100"))
DUMPS = {
    "line_counts": "SELECT store_id, line_id, layout_version, bucket_start, sum(entries), sum(exits) "
    "FROM line_counts GROUP BY ALL ORDER BY ALL",
    "track_points": "SELECT * FROM track_points ORDER BY ALL",
}


async def _fill(url: str) -> int:
    nc = await nats.connect(url)
    js = nc.jetstream()
    await ensure_streams(js, LogConfig())
    publisher = Publisher(js)
    await publisher.publish(layout_event())
    t0 = (time.time_ns() // 10**9 - 3600) * 10**9  # inside track_points' 30-day TTL
    observations = 0
    for event in synthetic_events(FRAMES, TRACKS, seed=11, t0_ns=t0):
        await publisher.publish(event)
        observations += len(getattr(event, "tracks", ()))
    await publisher.flush()
    await nc.close()
    return observations


def _footfall(*args: str) -> list[str]:
    return [sys.executable, "-m", "ops.cli", "--log-format", "json", "--log-level", "warning", *args]


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(REPO))


def _project(url: str, data_dir: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        _footfall("project", "--until-caught-up", "--batch", str(BATCH), "--url", url, "--data-dir", str(data_dir)),
        env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip


def _dump(data_dir: Path) -> dict[str, str]:
    out = {}
    for table, sql in DUMPS.items():
        result = subprocess.run(_footfall("sql", "--data-dir", str(data_dir), "--format", "CSV", sql),
                                env=_env(), capture_output=True, text=True, check=True)  # fmt: skip
        out[table] = result.stdout
    return out


def test_sigkilled_projector_equals_one_clean_run(tmp_path: Path) -> None:
    seed = int(os.environ.get("FOOTFALL_CRASH_SEED", random.randrange(2**32)))
    print(f"crash test seed: {seed} (FOOTFALL_CRASH_SEED={seed} repeats it)")
    rng = random.Random(seed)
    with EmbeddedNats(tmp_path / "nats") as server:
        observations = asyncio.run(_fill(server.url))
        started = time.monotonic()
        clean = _project(server.url, tmp_path / "clean")
        _, err = clean.communicate(timeout=900)
        assert clean.returncode == 0, err.decode()
        clean_s = time.monotonic() - started
        started = time.monotonic()
        idle = _project(server.url, tmp_path / "clean")  # nothing pending: start-up and shut-down only
        idle.communicate(timeout=300)
        startup_s = time.monotonic() - started
        work_s = max(clean_s - startup_s, 0.5)

        kills = finished_early = 0
        for _ in range(KILLS):
            proc = _project(server.url, tmp_path / "crashed")
            try:
                # Anywhere from start-up to about a tenth of the work: most starts die mid-batch.
                proc.wait(timeout=rng.uniform(0.2, startup_s + 2 * work_s / KILLS))
                finished_early += 1  # it caught up before the kill: the next start resumes at the end
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                kills += 1
        final = _project(server.url, tmp_path / "crashed")
        _, err = final.communicate(timeout=900)
        assert final.returncode == 0, err.decode()

    clean_rows, crashed_rows = _dump(tmp_path / "clean"), _dump(tmp_path / "crashed")
    print(f"observations={observations} kills={kills} finished_before_kill={finished_early} clean_run_s={clean_s:.1f}")
    for table in DUMPS:
        assert clean_rows[table].count("\n") > 0, table
        assert crashed_rows[table] == clean_rows[table], f"{table} differs after crashes (seed {seed})"
    assert kills >= KILLS // 2, f"only {kills} of {KILLS} starts were killed mid-run (seed {seed})"
