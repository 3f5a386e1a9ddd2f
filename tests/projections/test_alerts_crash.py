"""The alert processor killed with SIGKILL during a checkout surge ends equal to one clean run: the alerts on
FF_ALERTS (ids and content, in order) and the rows of the `alerts` table.

Two servers get the same surge (a crowded half hour with a queue rule). On the first, zones and alerts
run once. On the second, zones run once, then `footfall project alerts` is started and killed again and
again (small batches, so most kills land mid-batch), then run to the end. FOOTFALL_CRASH_SEED repeats a run.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import msgspec
import nats

from ml_core.sim.agents import ShopperConfig
from ops.simulation.pipeline import publish_day
from ops.simulation.simulate import simulate_day
from schemas.layout import AlertRule
from stream.embedded import EmbeddedNats

REPO = Path(__file__).resolve().parents[2]
KILLS = int(os.environ.get("FOOTFALL_CRASH_KILLS", "8"))
RULES = (
    AlertRule(rule_id="queue-long", zone_id="queue", metric="queue_length", threshold=3.0, min_duration_s=10.0,
              clear_below=2.0, clear_after_s=5.0, severity="critical"),
    AlertRule(rule_id="queue-wait", zone_id="queue", metric="wait_s", threshold=60.0, min_duration_s=5.0),
    AlertRule(rule_id="bakery-busy", zone_id="bakery", metric="occupancy", threshold=2.0),
)  # fmt: skip
BATCH = ("--batch", "200")  # small batches: more of them, and more kills land inside one
ALERT_ROWS = "SELECT * EXCEPT row_version FROM alerts FINAL ORDER BY ALL"


def _footfall(*args: str) -> list[str]:
    return [sys.executable, "-m", "ops.cli", "--log-format", "json", "--log-level", "warning", *args]


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(REPO))


def _run(*args: str) -> None:
    result = subprocess.run(_footfall(*args), env=_env(), capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]


async def _publish(url: str, t0_ns: int) -> None:
    day = simulate_day(5, shopper=ShopperConfig(duration_s=1800.0, parties_per_hour=300.0), cameras=2, t0_ns=t0_ns)
    layout = msgspec.structs.replace(day.layout, layout=msgspec.structs.replace(day.layout.layout, rules=RULES))
    nc = await nats.connect(url)
    await publish_day(nc, dataclasses.replace(day, layout=layout))
    await nc.close()


async def _alerts_on_the_log(url: str) -> list[tuple[str, bytes]]:
    nc = await nats.connect(url)
    js = nc.jetstream()
    count = (await js.stream_info("FF_ALERTS")).state.messages
    messages = [await js.get_msg("FF_ALERTS", seq) for seq in range(1, count + 1)]
    await nc.close()
    return [(m.headers["Nats-Msg-Id"] if m.headers else "", m.data) for m in messages]


def _rows(data_dir: Path) -> str:
    result = subprocess.run(_footfall("sql", "--data-dir", str(data_dir), "--format", "CSV", ALERT_ROWS),
                            env=_env(), capture_output=True, text=True, check=True)  # fmt: skip
    return result.stdout


def test_sigkilled_alert_processor_equals_one_clean_run(tmp_path: Path) -> None:
    seed = int(os.environ.get("FOOTFALL_CRASH_SEED", random.randrange(2**32)))
    print(f"alert crash test seed: {seed} (FOOTFALL_CRASH_SEED={seed} repeats it)")
    rng = random.Random(seed)
    with EmbeddedNats(tmp_path / "nats-clean") as clean_log, EmbeddedNats(tmp_path / "nats-crashed") as crashed_log:
        t0_ns = (time.time_ns() // 10**9 - 3 * 3600) * 10**9  # one day for both logs
        for server in (clean_log, crashed_log):
            asyncio.run(_publish(server.url, t0_ns))
        clean_dir, crashed_dir = tmp_path / "clean", tmp_path / "crashed"
        _run("project", "zones", "alerts", "--until-caught-up", "--url", clean_log.url, "--data-dir", str(clean_dir))
        _run("project", "zones", "--until-caught-up", "--url", crashed_log.url, "--data-dir", str(crashed_dir))
        # How long a start takes, and the work after it: timed on the clean log, into a scratch store.
        scratch = str(tmp_path / "timing")
        started = time.monotonic()
        _run("project", "alerts", "--until-caught-up", *BATCH, "--url", clean_log.url, "--data-dir", scratch)
        whole_s = time.monotonic() - started
        startup_runs = []
        for _ in range(2):  # the shorter of two: one slowed by the machine would let every start finish
            started = time.monotonic()
            _run("project", "alerts", "--until-caught-up", "--url", clean_log.url, "--data-dir", scratch)
            startup_runs.append(time.monotonic() - started)
        startup_s = min(startup_runs)
        work_s = max(whole_s - startup_s, 0.5)
        kills = 0
        for _ in range(KILLS):
            proc = subprocess.Popen(
                _footfall("project", "alerts", "--until-caught-up", *BATCH, "--url", crashed_log.url,
                          "--data-dir", str(crashed_dir)),
                env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            try:
                # From late in start-up to a sixteenth of the work in: the kills together consume less than
                # half the work, so every start has some left and most die mid-batch; a start that runs
                # slower than the timed ones is killed earlier in its run, not let finish.
                proc.wait(timeout=rng.uniform(startup_s * 0.7, startup_s + work_s / (2 * KILLS)))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                kills += 1
        _run("project", "alerts", "--until-caught-up", "--url", crashed_log.url, "--data-dir", str(crashed_dir))
        clean_alerts, crashed_alerts = (
            asyncio.run(_alerts_on_the_log(clean_log.url)),
            asyncio.run(_alerts_on_the_log(crashed_log.url)),
        )
    print(f"alerts={len(clean_alerts)} kills={kills} startup_s={startup_s:.1f} work_s={work_s:.1f}")
    assert len(clean_alerts) >= 4, "the surge raised too few alerts: the test would prove little"
    assert crashed_alerts == clean_alerts, f"FF_ALERTS differs after crashes (seed {seed})"
    assert _rows(crashed_dir) == _rows(clean_dir), f"the alerts table differs after crashes (seed {seed})"
    assert kills >= KILLS // 2, f"only {kills} of {KILLS} starts were killed mid-run (seed {seed})"
