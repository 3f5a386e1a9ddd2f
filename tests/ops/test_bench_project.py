"""`footfall bench project --all` through the real CLI on a small stream: every case folds every row, and
the shared read reports its members (no timing is asserted)."""

from __future__ import annotations

import json
import subprocess

from ops.bench.serve import footfall_command, footfall_env


def test_bench_project_all_folds_every_track_projection_both_ways() -> None:
    command = footfall_command("bench", "project", "--all", "--frames", "400", "--tracks", "6", "--batch", "150",
                               "--repeat", "1")  # fmt: skip
    result = subprocess.run(command, env=footfall_env(), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["check"]["track_points_rows"] == report["check"]["expected_rows"] > 0
    fold = report["fold"]
    every = {"line_counts", "track_points", "zones", "heatmap"}
    assert set(fold["every_track_projection_own_reads"]["time_split"]) == every
    shared = fold["every_track_projection_shared_read"]["time_split"]
    assert set(shared) == every | {"shared_read"}
    assert all(run > 0 for case in fold.values() for run in case["ratio_runs"])
