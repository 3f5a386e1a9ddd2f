"""`footfall eval store`, `footfall simulate` and `footfall heatmap` through the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import matplotlib.image
import numpy as np

REPO = Path(__file__).resolve().parents[2]


def _footfall(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "ops.cli", "--log-format", "json", "--log-level", "warning", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=600)  # fmt: skip


def test_eval_store_prints_targets_and_noise_free_is_exact(tmp_path: Path) -> None:
    result = _footfall("eval", "store", "--minutes", "6", "--seed", "3", cwd=tmp_path)
    report = json.loads(result.stdout)
    assert report["noise_free_exact"], report["runs"]["noise_free"]["exact"]
    assert set(report["runs"]) == {"noise_free", "realistic"}
    for run in report["runs"].values():
        assert set(run["targets"]) == {"visits", "median_dwell", "transition_tvd", "queue_mae", "staff_precision"}
    assert result.returncode == (0 if report["pass"] else 1)


def test_simulate_writes_truth_and_video_then_heatmap_renders(tmp_path: Path) -> None:
    data = tmp_path / "data"
    # A recent day (as `footfall simulate` defaults to), so track_points' 30-day TTL keeps it too.
    start = (datetime.now(UTC) - timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)
    sim = _footfall("simulate", "--minutes", "3", "--truth", str(tmp_path / "truth.json"), "--video",
                    str(tmp_path / "v.mp4"), "--video-frames", "20", "--publish", "--data-dir", str(data),
                    "--start", start.isoformat(), cwd=tmp_path)  # fmt: skip
    assert sim.returncode == 0, sim.stderr
    summary = json.loads(sim.stdout)
    truth = json.loads((tmp_path / "truth.json").read_text())
    assert truth["summary"] == summary and summary["visits"] == len(truth["visits"]) > 0
    assert (tmp_path / "v.mp4").stat().st_size > 0
    project = _footfall("project", "--until-caught-up", "zones", "heatmap", "track_points", "--data-dir", str(data),
                        cwd=tmp_path)  # fmt: skip
    assert project.returncode == 0, project.stderr
    points = _footfall("sql", "--data-dir", str(data), "--format", "TSV",
                       "SELECT count() > 0, toDate(min(ts)) FROM track_points",
                       cwd=tmp_path)  # fmt: skip
    assert points.stdout.split() == ["1", start.date().isoformat()], points.stdout + points.stderr
    out = tmp_path / "heat.png"
    end = start + timedelta(hours=1)
    window = ("--from", start.isoformat(), "--to", end.isoformat(), "--data-dir", str(data))
    heat = _footfall("heatmap", *window, "--out", str(out), cwd=tmp_path)
    assert heat.returncode == 0, heat.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    plan = tmp_path / "plan.png"
    matplotlib.image.imsave(plan, np.full((40, 60, 3), 0.8))
    over = tmp_path / "heat-plan.png"
    with_plan = _footfall("heatmap", *window, "--out", str(over), "--plan", str(plan), "--plan-extent-m", "0", "0",
                          "30", "20", cwd=tmp_path)  # fmt: skip
    assert with_plan.returncode == 0, with_plan.stderr
    assert over.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and over.read_bytes() != out.read_bytes()
    flat = _footfall("heatmap", *window, "--out", str(over), "--plan", str(plan), "--plan-extent-m", "0", "0", "0",
                     "20", cwd=tmp_path)  # fmt: skip
    assert flat.returncode == 2 and "x_right > x_left" in flat.stderr
    missing = _footfall("heatmap", *window, "--out", str(over), "--plan", str(tmp_path / "none.png"),
                        "--plan-extent-m", "0", "0", "30", "20", cwd=tmp_path)  # fmt: skip
    assert missing.returncode == 2 and "none.png" in missing.stderr
    bad = _footfall("simulate", "--minutes", "0", cwd=tmp_path)
    assert bad.returncode == 2 and "duration_s" in bad.stderr
    no_zone = _footfall("simulate", "--start", "2026-12-05T09:00", cwd=tmp_path)
    assert no_zone.returncode == 2 and "--start" in no_zone.stderr and "has no time zone" in no_zone.stderr
