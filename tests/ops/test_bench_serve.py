"""`footfall bench serve` through the real CLI on a small store: the analysts' load and the dashboard's
figures are all reported (no timing is asserted)."""

from __future__ import annotations

import json
import subprocess

from ops.bench.dashboard import PAGES
from ops.bench.serve import footfall_command, footfall_env


def test_bench_serve_reports_the_dashboards_routes_live_tile_and_pages() -> None:
    command = footfall_command("bench", "serve", "--days", "2", "--hours", "0.1", "--cameras", "1", "--clients",
                               "1", "--seconds", "2", "--no-clean-run")  # fmt: skip
    result = subprocess.run(command, env=footfall_env(), capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert report["errors"] == 0 and report["queries"] > 0
    dashboard = report["dashboard"]
    assert set(dashboard["routes"]) >= {"overview", "trends_1d", "zones", "journeys", "queue", "compare", "layout"}
    assert all(r["n"] == 10 and r["p95_ms"] > 0 for r in dashboard["routes"].values())
    live = dashboard["live_tile"]
    assert live["lost"] == 0 and live["n"] == 20
    first = dashboard["first_render"]
    assert "skipped" in first or set(first) == set(PAGES)
