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


def test_bench_project_stores_folds_the_same_tables_in_every_process_count() -> None:
    """Two simulated stores folded by one process and by two partitioned ones: the same rows between them."""
    command = footfall_command("bench", "project", "--stores", "2", "--processes", "1,2", "--hours", "0.05",
                               "--cameras", "1", "--repeat", "1")  # fmt: skip
    result = subprocess.run(command, env=footfall_env(), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    check = report["check"]
    one, two = (
        check["track_points_rows_line_entries_zone_visits"]["1"],
        check["track_points_rows_line_entries_zone_visits"]["2"],
    )
    assert one == two and one[0] == check["expected_track_points_rows"] > 0 and one[2] > 0
    shares = report["processes"]["2"]["stores_per_process"]
    assert sorted(s for share in shares for s in share) == ["store-01", "store-02"]


def test_project_refuses_a_partition_it_cannot_use() -> None:
    for args, quoted in ((["--partition", "3/2"], "'3/2'"), (["--stores", "Store A"], "'Store A'")):
        result = subprocess.run(footfall_command("project", *args), env=footfall_env(), capture_output=True,
                                text=True, timeout=120)  # fmt: skip
        assert result.returncode == 2 and quoted in result.stderr, result.stderr
