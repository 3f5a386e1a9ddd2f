"""The dashboard's figures inside `footfall bench serve`: its API routes' latency, a live tile's latency from
the log, and each page's first render in Chromium (when Debian's chromium and Playwright are there).

Measured on the bench's serve after it has folded the history and carried the analysts' load, as a store
manager meets it: every route over the whole history, one request at a time; the live tile's time from
publishing a derived event until serve's server-sent event stream carries it; a page's time from
navigation until it has drawn everything (`body[data-ready]`).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import statistics
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

import msgspec

from schemas.events import LayoutPublished, OccupancySampled

# The store the live-latency events are published under: its own, so the bench store's tables keep only
# what the simulator made.
LIVE_STORE = "bench-live"
PAGES = ("overview", "floor", "trends", "zones", "journeys", "queue", "alerts", "ab")


@dataclass(frozen=True)
class Window:
    """The dashboard window the bench reads: local ISO dates [from_date, to_date) and the moment `at_ns`."""

    from_date: str
    to_date: str
    at_ns: int

    def query(self, extra: str = "") -> str:
        return f"from={self.from_date}&to={self.to_date}&at={self.at_ns}{extra}"


def _summary(values: list[float]) -> dict[str, Any]:
    from ops.bench.serve import quantile_ms

    return {"n": len(values), "p50_ms": quantile_ms(values, 0.5), "p95_ms": quantile_ms(values, 0.95),
            "max_ms": quantile_ms(values, 1.0)}  # fmt: skip


def route_latencies(port: int, store_id: str, window: Window, rounds: int = 10) -> dict[str, dict[str, Any]]:
    """Each API route over the window, `rounds` times one after another: p50, p95 and max in milliseconds."""
    routes = {  # name: (route, query)
        "overview": ("overview", f"at={window.at_ns}"),
        "trends_1h": ("trends", window.query("&bucket=1h")),
        "trends_1d": ("trends", window.query("&bucket=1d")),
        **{route: (route, window.query()) for route in ("zones", "journeys", "queue", "alerts", "heatmap", "compare")},
        "layout": ("layout", ""),
    }
    out = {}
    for name, (route, query) in routes.items():
        url = f"http://127.0.0.1:{port}/api/v1/stores/{store_id}/{route}?{query}"
        seconds = []
        for _ in range(rounds):
            started = time.perf_counter()
            with urllib.request.urlopen(url, timeout=120) as response:
                response.read()
            seconds.append(time.perf_counter() - started)
        out[name] = _summary(seconds)
    return out


def live_latency(port: int, nats_url: str, layout: LayoutPublished, samples: int = 20) -> dict[str, Any]:
    """Publish `samples` store-wide occupancy samples to FF_DERIVED (0.5 s apart, under LIVE_STORE, whose
    layout is published first) and time each from the publish until serve's /live stream carries it."""
    from ops.simulation.pipeline import publish_events

    live_layout = msgspec.structs.replace(layout, store_id=LIVE_STORE)
    asyncio.run(_publish_with(nats_url, lambda nc: publish_events(nc, [live_layout])))
    _wait_for_store(port, LIVE_STORE)
    arrived: dict[int, float] = {}
    ready = threading.Event()
    stop = threading.Event()

    def read() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("GET", f"/api/v1/stores/{LIVE_STORE}/live")
        response = conn.getresponse()
        if response.status != 200:
            ready.set()
            raise RuntimeError(f"/live answered {response.status}: {response.read()[:300]!r}")
        for raw in response:
            line = raw.decode().strip()
            if line == ": connected":
                ready.set()
            if line.startswith("data: "):
                occupancy = json.loads(line[6:]).get("occupancy")
                if occupancy is not None:
                    arrived.setdefault(int(occupancy["people"]), time.perf_counter())
            if stop.is_set() or len(arrived) >= samples:
                break
        conn.close()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    if not ready.wait(30):
        raise RuntimeError("serve's /live stream did not open within 30 s")
    sent: dict[int, float] = {}
    for i in range(samples):
        people = 1000 + i
        event = OccupancySampled(store_id=LIVE_STORE, ts_ns=time.time_ns(), zone_id=None, people=people,
                                 layout_version=live_layout.version, processor_version="bench-live")  # fmt: skip
        sent[people] = time.perf_counter()
        asyncio.run(_publish_with(nats_url, lambda nc, e=event: publish_events(nc, [e])))
        time.sleep(0.5)
    reader.join(timeout=10)
    stop.set()
    seconds = [arrived[p] - sent[p] for p in sent if p in arrived]
    return {**_summary(seconds), "lost": samples - len(seconds),
            "note": "publish (a new connection each, acked by JetStream) to the update on /live; the browser "
            "draws it in the same task"}  # fmt: skip


def _wait_for_store(port: int, store_id: str, timeout_s: float = 60.0) -> None:
    """Until serve knows the store's layout (it reads new layouts every few seconds): its layout route answers."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/stores/{store_id}/layout", timeout=10):
                return
        except urllib.error.HTTPError as exc:
            if exc.code != 404 or time.monotonic() > deadline:
                raise RuntimeError(f"serve does not know {store_id} after {timeout_s} s: {exc}") from exc
        time.sleep(0.2)


async def _publish_with(url: str, publish: Any) -> None:
    import nats

    nc = await nats.connect(url)
    try:
        await publish(nc)
    finally:
        await nc.close()


def chromium() -> str | None:
    """Debian's chromium (report.chromium_path), if it is installed and Playwright is importable."""
    from ops.serve.report import ReportError, chromium_path

    try:
        path = chromium_path()
        import playwright.sync_api  # noqa: F401
    except (ReportError, ImportError):
        return None
    return path


def page_renders(port: int, store_id: str, window: Window, rounds: int = 3) -> dict[str, Any]:
    """Each page's time from navigation to drawn (body[data-ready="true"]), median of `rounds` fresh tabs,
    in Chromium; a sentence instead when there is no Chromium or the assets are not built."""
    from ops.serve.dashboard.pages import assets_built

    path = chromium()
    if path is None:
        return {"skipped": "no chromium and Playwright (make browser; the dev extra)"}
    if not assets_built():
        return {"skipped": "dashboard assets not built (make dashboard)"}
    from playwright.sync_api import sync_playwright

    from ops.serve.report import CHROMIUM_ARGS

    out: dict[str, Any] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            for name in PAGES:
                query = f"at={window.at_ns}" if name == "overview" else window.query()
                seconds = []
                for _ in range(rounds):
                    context = browser.new_context(viewport={"width": 1280, "height": 900})
                    page = context.new_page()
                    started = time.perf_counter()
                    page.goto(f"http://127.0.0.1:{port}/dashboard/{store_id}/{name}?{query}")
                    page.wait_for_selector("body[data-ready]", timeout=60_000)
                    seconds.append(time.perf_counter() - started)
                    ready = page.get_attribute("body", "data-ready")
                    context.close()
                    if ready != "true":
                        raise RuntimeError(f"dashboard page {name} did not render: data-ready={ready}")
                out[name] = {"median_ms": round(statistics.median(seconds) * 1000, 1),
                             "max_ms": round(max(seconds) * 1000, 1)}  # fmt: skip
        finally:
            browser.close()
    return out
