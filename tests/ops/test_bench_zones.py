"""`footfall bench zones` through the real CLI on a small day: its JSON adds up (no timing is asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _bench(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "ops.cli", "--log-level", "warning", "bench", "zones", *args],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600)  # fmt: skip


def test_bench_zones_reports_the_processor_alone_its_hours_and_every_projection() -> None:
    result = _bench("--hours", "1", "--parties-per-hour", "40", "--cameras", "2", "--noise", "none")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    day = report["day"]
    assert day["cameras"] == 2 and day["frames"] > 0 and day["observations"] > day["frames"]
    zones = report["zones_alone"]
    for hour in ("first_hour", "last_hour"):
        assert 0 < zones[hour]["frames"] <= day["frames"]
        assert zones[hour]["observations"] <= day["observations"]
    assert zones["frames_per_s"] > 0 and report["raw_ordered_read"]["frames_per_s"] > 0
    per_projection = report["every_projection"]["per_projection"]
    from projections.registry import PROJECTIONS

    assert set(per_projection) == set(PROJECTIONS)
    assert per_projection["zones"]["events"] == day["messages"]  # the zone processor folded every track message
    assert per_projection["dwell"]["events"] > 0  # and the projections of its output saw it


def test_bench_zones_refuses_less_than_an_hour() -> None:
    result = _bench("--hours", "0.5")
    assert result.returncode == 2 and "--hours must be at least 1" in result.stderr
