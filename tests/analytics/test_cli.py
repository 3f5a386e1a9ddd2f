"""`footfall eval store`, `footfall simulate` and `footfall heatmap` through the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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
    sim = _footfall("simulate", "--minutes", "3", "--truth", str(tmp_path / "truth.json"), "--video",
                    str(tmp_path / "v.mp4"), "--video-frames", "20", "--publish", "--data-dir", str(data),
                    cwd=tmp_path)  # fmt: skip
    assert sim.returncode == 0, sim.stderr
    summary = json.loads(sim.stdout)
    truth = json.loads((tmp_path / "truth.json").read_text())
    assert truth["summary"] == summary and summary["visits"] == len(truth["visits"]) > 0
    assert (tmp_path / "v.mp4").stat().st_size > 0
    project = _footfall("project", "--until-caught-up", "zones", "heatmap", "--data-dir", str(data), cwd=tmp_path)
    assert project.returncode == 0, project.stderr
    out = tmp_path / "heat.png"
    heat = _footfall("heatmap", "--from", "2026-01-01T10:00:00Z", "--to", "2026-01-01T11:00:00Z", "--out", str(out),
                     "--data-dir", str(data), cwd=tmp_path)  # fmt: skip
    assert heat.returncode == 0, heat.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    plan = tmp_path / "plan.png"
    matplotlib.image.imsave(plan, np.full((40, 60, 3), 0.8))
    window = ("--from", "2026-01-01T10:00:00Z", "--to", "2026-01-01T11:00:00Z", "--data-dir", str(data))
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
