"""`footfall report` against the session's serve: HTML and PDF (read back with poppler's pdftoppm and
pdftotext), its headline numbers equal to SQL over the ISO week in the store's time zone."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
from pathlib import Path
from zoneinfo import ZoneInfo

import cv2
import numpy as np
import pytest

from ops.bench.serve import footfall_command, footfall_env
from tests.ops.dashboard_fixture import PASSWORDS, STORE, TZ, Dash

WEEK = "2026-W01"  # Monday 2025-12-29 to Monday 2026-01-05, Paris time: holds the main simulated day
_PARIS = ZoneInfo(TZ)
WEEK_START_S = int(dt.datetime(2025, 12, 29, tzinfo=_PARIS).timestamp())
VISITS_SQL = ("SELECT countIf(NOT is_staff) FROM visits WHERE started >= toDateTime64({a:Int64}, 9) AND "
              "started < toDateTime64({b:Int64}, 9)")  # fmt: skip


def _report(dash: Dash, out: Path, user: str = "ana") -> subprocess.CompletedProcess[str]:
    command = footfall_command("report", "--store", STORE, "--week", WEEK, "--out", str(out), "--serve",
                               f"http://127.0.0.1:{dash.port}", "--user", user)  # fmt: skip
    env = dict(footfall_env(), FOOTFALL_PASSWORD=PASSWORDS[user])
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


def _week_visits(dash: Dash, weeks_back: int = 0) -> int:
    a = WEEK_START_S - weeks_back * 7 * 86400
    return int(dash.sql(VISITS_SQL, a=a, b=a + 7 * 86400)[0][0])


def test_json_report_headlines_equal_sql(dash: Dash) -> None:
    report = dash.ok(f"/{STORE}/report?week={WEEK}&format=json")
    assert report["week_start"] == "2025-12-29T00:00:00+01:00" and report["time_zone"] == TZ
    visits = next(h for h in report["headlines"] if h["name"] == "Visits")
    this, before = _week_visits(dash), _week_visits(dash, 1)
    assert this > 0 and before > 0
    assert (visits["value"], visits["previous"]) == (this, before)
    assert visits["change_pct"] == round(100 * (this - before) / before, 1)
    assert sum(report["visits_per_day"]) == this and len(report["visits_per_day"]) == 7
    assert sum(p["visits"] for p in report["peak_hours"]) <= this and report["peak_hours"]
    assert sum(report["visits_by_hour_of_day"]) == this
    for hour in report["staff_over_target"]:
        assert hour["customers_per_staff"] > report["customers_per_staff_target"]
    assert report["largest_changes"] and all(c["change_pct"] is not None for c in report["largest_changes"])
    assert dash.api(f"/{STORE}/report?week=2026-W99", "ana")[0] == 400


def test_html_report_from_the_command(dash: Dash, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    done = _report(dash, out)
    assert done.returncode == 0, done.stderr
    page = out.read_text()
    assert f"Weekly insight report: {STORE}, {WEEK}" in page and "<script" not in page
    assert (
        f'data-measure="Visits"><div class="name">Visits</div><div class="value">{_week_visits(dash):,} visits' in page
    )
    refused = _report(dash, tmp_path / "bob.html", "bob")
    assert refused.returncode == 1 and "403" in refused.stderr and not (tmp_path / "bob.html").exists()


@pytest.mark.skipif(not (shutil.which("pdftoppm") and shutil.which("pdftotext")), reason="poppler-utils missing: "
                    "`make test` installs it")  # fmt: skip
def test_pdf_report_renders_pages_with_the_sql_numbers(dash: Dash, tmp_path: Path) -> None:
    out = tmp_path / "report.pdf"
    done = _report(dash, out)
    assert done.returncode == 0, done.stderr
    assert out.read_bytes().startswith(b"%PDF")
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(out), str(tmp_path / "page")], check=True, timeout=60)
    pages = sorted(tmp_path.glob("page*.png"))
    assert pages
    first = cv2.imread(str(pages[0]))
    assert float(np.mean(first < 200)) > 0.01  # ink on the first page, not a blank sheet
    text = subprocess.run(["pdftotext", "-layout", str(out), "-"], capture_output=True, text=True, check=True,
                          timeout=60).stdout  # fmt: skip
    assert f"{WEEK}" in text and f"{_week_visits(dash):,} visits" in text
    assert f"week before {_week_visits(dash, 1):,} visits" in text
    assert os.path.getsize(out) > 1000
