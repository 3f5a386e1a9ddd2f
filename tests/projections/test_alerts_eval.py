"""`footfall eval alerts`: on a noise-free scenario day, the alerts of the real path (nats-server, zone
processor, alert processor, FF_ALERTS and the alerts table) equal the true intervals exactly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nats

from ops.eval.alerts import RULES, alert_day, read_alerts, report, run_path, truth_alerts
from projections.migrations import migrate
from projections.store import ChdbStore
from stream.embedded import EmbeddedNats

REPO = Path(__file__).resolve().parents[2]


async def test_noise_free_alert_intervals_equal_the_truth(fresh_nats: EmbeddedNats, store: ChdbStore) -> None:
    day = alert_day(2, 2, "none")
    truth = truth_alerts(day)
    # Every rule is breached, and the day exercises clearing by the value and by active hours.
    assert all(truth[r.rule_id] for r in RULES), {k: len(v) for k, v in truth.items()}
    assert {a.reason for intervals in truth.values() for a in intervals} >= {"cleared", "inactive"}
    migrate(store)
    nc = await nats.connect(fresh_nats.url)
    try:
        await run_path(nc, store, [day])
        measured = await read_alerts(nc, store)
    finally:
        await nc.close()
    assert measured[day.layout.store_id] == truth
    result = report([day], measured, 40.0)
    (run,) = result["runs"]
    assert (run["precision"], run["recall"], run["median_onset_delay_s"], run["exact"]) == (1.0, 1.0, 0.0, True)
    assert result["pass"]


def test_eval_alerts_cli_prints_the_report(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-m", "ops.cli", "--log-level", "warning", "eval", "alerts", "--seed", "1",
                           "--noise", "none", "--json"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["noise_free_exact"] and [(r["seed"], r["cameras"], r["noise"]) for r in result["runs"]] == [
        (1, 1, "none")
    ]
