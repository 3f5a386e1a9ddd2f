"""The dashboard's pages in a real headless Chromium (Debian's, which `make test` installs), driven by Playwright.

Over the session's serve (tests/ops/conftest.py): every page loads without a console error, its first
chart is drawn (a screenshot of the chart's box is not blank), a number on the page equals the same
measure through the SQL endpoint, the pages work from the keyboard, and a live tile follows an event
published to the log.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from ops.serve.report import CHROMIUM_ARGS
from tests.ops.dashboard_fixture import (
    AT_NS,
    DAY_NS,
    MIDNIGHT_S,
    PASSWORDS,
    STORE,
    Dash,
    build_whatif,
    publish_occupancy,
)

CHROMIUM = os.environ.get("FOOTFALL_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
WINDOW = f"from=2026-01-01&to=2026-01-02&at={AT_NS}"
PAGES = ["overview", "floor", "trends", "zones", "journeys", "queue", "alerts", "ab"]

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM}: `make test` "
                                "installs Debian's chromium")  # fmt: skip


@pytest.fixture(scope="module")
def browser(dash: Dash) -> Iterator[Any]:
    # After the serve (`dash`): Playwright's sync API keeps an event loop running in this thread, where
    # the serve fixture's asyncio.run could not start one.
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


class Page:
    """A browser tab as one user, collecting console errors and uncaught exceptions."""

    def __init__(self, browser: Any, dash: Dash, user: str = "ana") -> None:
        self.context = browser.new_context(http_credentials={"username": user, "password": PASSWORDS[user]},
                                           viewport={"width": 1280, "height": 900})  # fmt: skip
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.base = f"http://127.0.0.1:{dash.port}"

    def open(self, page: str, query: str = WINDOW) -> Any:
        self.page.goto(f"{self.base}/dashboard/{STORE}/{page}?{query}")
        self.page.wait_for_selector("body[data-ready]", timeout=30_000)
        assert self.page.get_attribute("body", "data-ready") == "true", self.page.inner_text("main")
        return self.page

    def close(self) -> None:
        self.context.close()


def _not_blank(png: bytes) -> float:
    """Share of the image's pixels that are not its most common colour (the background)."""
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    flat = image.reshape(-1, 3)
    _, counts = np.unique(flat, axis=0, return_counts=True)
    return float(1.0 - counts.max() / len(flat))


def _sql_one(dash: Dash, query: str, **params: object) -> Any:
    return dash.sql(query, **params)[0][0]


@pytest.mark.parametrize("name", PAGES)
def test_each_page_loads_draws_and_agrees_with_sql(browser: Any, dash: Dash, name: str) -> None:
    tab = Page(browser, dash)
    try:
        page = tab.open(name)
        target = page.locator("canvas").first
        target.wait_for(timeout=10_000)
        assert _not_blank(target.screenshot()) > 0.01, f"{name}: the chart is blank"
        if os.environ.get("FOOTFALL_SCREENSHOTS"):  # docs/dashboard/ is made this way (README)
            page.screenshot(path=str(Path(os.environ["FOOTFALL_SCREENSHOTS"]) / f"{name}.png"), full_page=True)
        day = {"a": MIDNIGHT_S, "b": AT_NS}
        visits_sql = ("SELECT countIf(NOT is_staff) FROM visits WHERE started >= toDateTime64({a:Int64}, 9) AND "
                      "started < fromUnixTimestamp64Nano({b:Int64})")  # fmt: skip
        if name == "overview":
            assert page.inner_text('[data-testid="visits-today"]') == f"{_sql_one(dash, visits_sql, **day):,}"
        elif name == "trends":
            assert page.inner_text('[data-testid="visits-total"]') == f"{_sql_one(dash, visits_sql, **day):,}"
        if name == "floor":  # the store's plan image lies under the layout (pure green, blended at 0.6)
            pixels = cv2.imdecode(np.frombuffer(target.screenshot(), np.uint8), cv2.IMREAD_COLOR).reshape(-1, 3)
            plan = (pixels[:, 1] > 230) & (pixels[:, 0] < 130) & (pixels[:, 2] < 130)
            assert plan.mean() > 0.05, f"the plan image covers {plan.mean():.1%} of the floor plan"
        if name in ("floor", "zones"):
            stays = dash.sql("SELECT zone_id, count() FROM zone_visits WHERE entered >= toDateTime64({a:Int64}, 9) "
                             "GROUP BY zone_id ORDER BY zone_id", a=MIDNIGHT_S)  # fmt: skip
            cells = page.locator("table tbody tr").all_inner_texts()
            shown = {c.split("\t")[0]: int(c.split("\t")[2 if name == "floor" else 1]) for c in cells}
            assert {z: n for z, n in stays} == {z: n for z, n in shown.items() if n}
        elif name == "journeys":
            tx = _sql_one(dash, "SELECT count() FROM pos_transactions WHERE ts >= toDateTime64({a:Int64}, 9)", **day)
            assert f"{tx:,} transactions" in page.inner_text("#conversion")
            flow = page.locator("figure.chart", has_text="Flow between zones").locator("canvas")  # the Sankey too
            assert _not_blank(flow.screenshot()) > 0.01
        elif name == "queue":
            customers = _sql_one(dash, visits_sql, a=MIDNIGHT_S, b=(MIDNIGHT_S + 86400) * 10**9)
            rows = page.locator("table tbody tr").all_inner_texts()
            assert sum(int(r.split("\t")[1]) for r in rows) == customers
        elif name == "ab":  # B is the window's day; A, by default, the same day a week earlier
            week_s = 7 * 86400
            b = _sql_one(dash, visits_sql, a=MIDNIGHT_S, b=(MIDNIGHT_S + 86400) * 10**9)
            a = _sql_one(dash, visits_sql, a=MIDNIGHT_S - week_s, b=(MIDNIGHT_S - week_s + 86400) * 10**9)
            assert a > 0 and b > 0
            assert page.inner_text('[data-testid="ab-visits-b"]') == f"{b:,}"
            assert page.inner_text('[data-testid="ab-visits-delta"]') == f"{b - a:+,}"
            assert page.locator("canvas").count() >= 2
        elif name == "alerts":
            n = _sql_one(dash, "SELECT count() FROM alerts FINAL WHERE raised_at >= toDateTime64({a:Int64}, 3)", **day)
            assert page.inner_text("table caption") == f"Alerts ({n})"
        assert tab.errors == []
    finally:
        tab.close()


def test_the_ab_page_shows_two_layout_versions(browser: Any, dash: Dash, tmp_path: Path) -> None:
    """Before a what-if the A/B page says how to build one; after `footfall whatif` it shows the candidate's
    visits beside live and every measure of both, as the what-if's own report gives them."""
    tab = Page(browser, dash)
    try:
        page = tab.open("ab")
        assert "No what-if for this store yet" in page.inner_text("#ab-layouts")
        report, _ = build_whatif(dash, tmp_path)
        page = tab.open("ab")
        (visits,) = [m for m in report["measures"] if m["measure"] == "visits" and not m["subject"]]
        assert page.inner_text('[data-testid="ab-whatif-visits"]') == f"{int(visits['whatif']):,}"
        assert page.locator("#ab-whatif").input_value() == report["whatif_id"]
        rows = page.locator("#ab-layouts table tbody tr").all_inner_texts()
        assert len(rows) == len(report["measures"])
        assert tab.errors == []
    finally:
        tab.close()


def test_pages_work_from_the_keyboard(browser: Any, dash: Dash) -> None:
    tab = Page(browser, dash)
    try:
        page = tab.open("overview", f"at={AT_NS}")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Skip to content"
        # Tab along the navigation to Trends (the third link) and follow it with Enter.
        for _ in range(3):
            page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Trends"
        page.keyboard.press("Enter")
        page.wait_for_url(f"**/dashboard/{STORE}/trends")
        page.wait_for_selector("body[data-ready]")
        # The window form from the keyboard: a bucket chosen and submitted.
        page.focus("select[name=bucket]")
        page.keyboard.press("ArrowDown")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Show"
        page.keyboard.press("Enter")
        page.wait_for_url("**bucket=1d**")
        # A page's number key opens it.
        page.wait_for_selector("body[data-ready]")
        page.keyboard.press("4")
        page.wait_for_url(f"**/dashboard/{STORE}/zones")
        assert tab.errors == []
    finally:
        tab.close()


def test_a_live_tile_follows_the_log(browser: Any, dash: Dash) -> None:
    tab = Page(browser, dash, "mia")
    try:
        page = tab.open("overview", f"at={AT_NS}")
        page.wait_for_function("document.getElementById('live-status').textContent === 'live: connected'")
        before = page.inner_text('[data-testid="occupancy-now"]')
        assert before != "93"
        # Playwright's sync API runs an event loop in this thread: the publisher gets a thread of its own.
        publisher = threading.Thread(target=publish_occupancy, args=(dash.nats_url, 93, AT_NS + 2 * DAY_NS))
        publisher.start()
        publisher.join(timeout=30)
        # Generous: the target is 2 s, and the figure is reported, not asserted on (machines vary).
        page.wait_for_function("document.querySelector('[data-testid=\"occupancy-now\"]').textContent === '93'",
                               timeout=15_000)  # fmt: skip
        assert tab.errors == []
    finally:
        tab.close()


def test_pages_refuse_without_credentials_and_for_another_store(browser: Any, dash: Dash) -> None:
    context = browser.new_context()
    try:
        response = context.request.get(f"http://127.0.0.1:{dash.port}/dashboard/{STORE}/overview")
        assert response.status == 401 and response.headers["www-authenticate"].startswith("Basic")
    finally:
        context.close()
    tab = Page(browser, dash, "bob")
    try:
        response = tab.page.goto(f"{tab.base}/dashboard/{STORE}/overview")
        assert response.status == 403 and "not granted" in tab.page.inner_text("main")
    finally:
        tab.close()
