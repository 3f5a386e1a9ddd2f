"""The dashboard's pages: HTML shells that load the built bundle, which fills them from the JSON API.

Routes: `/dashboard/` (the user's stores), `/dashboard/{store}/{page}` for the pages in PAGES, and
`/dashboard/static/` for the assets that `make dashboard` builds from the npm packages pinned in
frontend/package-lock.json (npm ci, then esbuild) into static/; nothing comes from a CDN. Pages carry
the API's authentication and grants: no credentials 401 (the browser asks), another store's page 403.

Keyboard: a skip link to the content, the navigation in tab order with keys 1-9 for its pages, every
control labelled; charts carry an aria-label and a caption naming their units.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from ops.serve import insights

if TYPE_CHECKING:
    from ops.serve.api import DashboardApi

STATIC_DIR = Path(__file__).resolve().parent / "static"
# page -> (navigation label, heading, the window form's fields)
PAGES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "overview": ("Overview", "Today so far and now", ()),
    "floor": ("Floor plan", "Floor plan and heatmap", ("from", "to")),
    "trends": ("Trends", "Visits, doors and occupancy", ("from", "to", "bucket")),
    "zones": ("Zones", "Dwell and engagement per zone", ("from", "to")),
    "journeys": ("Journeys", "Paths between zones and the funnel to the till", ("from", "to")),
    "queue": ("Queue & staffing", "Queue, wait and customers per staff", ("from", "to", "bucket")),
    "alerts": ("Alerts", "Alerts raised in the window", ("from", "to")),
    "ab": ("A/B", "Two periods side by side, with the interval of each difference", ("a_from", "from", "to")),
    "report": ("Weekly report", "Weekly insight report", ()),
}
_BUCKET_LABELS = {"5m": "5 minutes", "15m": "15 minutes", "1h": "hour", "1d": "day", "1w": "week", "1mo": "month"}


def assets_built() -> bool:
    return (STATIC_DIR / "app.js").is_file() and (STATIC_DIR / "app.css").is_file()


def pages(api: DashboardApi) -> list[BaseRoute]:
    async def stores(request: Request) -> Response:
        try:
            principal = await api.principal(request)
        except Exception as exc:
            return _error(api, exc)
        known = await api.layouts.stores()
        granted = known if principal.stores is None else [s for s in known if s in principal.stores]
        items = "".join(
            f'<li><a href="/dashboard/{html.escape(s)}/overview">{html.escape(s)}</a></li>' for s in granted
        )
        return HTMLResponse(_shell("Stores", "", "stores", "", f"<h2>Stores</h2><ul>{items or '<li>none</li>'}</ul>"))

    async def store_root(request: Request) -> Response:
        return RedirectResponse(f"/dashboard/{request.path_params['store']}/overview", status_code=307)

    async def page(request: Request) -> Response:
        name = request.path_params["page"]
        if name not in PAGES:
            return HTMLResponse(f"<h1>No page {html.escape(name)!r}</h1><p>Pages: {', '.join(PAGES)}</p>", 404)
        try:
            principal = await api.principal(request)
            store_id = await api.store_for(request, principal)
        except Exception as exc:
            return _error(api, exc)
        if not assets_built():
            return HTMLResponse("<h1>Dashboard assets are not built</h1><p>Run <code>make dashboard</code> (npm ci and "
                                "the build) in the checkout, then reload.</p>", 503)  # fmt: skip
        tz = await api.tz(store_id)
        main = _report_form(store_id, request, tz) if name == "report" else _window_form(name, request, tz)
        return HTMLResponse(_shell(PAGES[name][0], store_id, name, tz.key, main, script=name != "report"))

    return [
        Mount("/dashboard/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="dashboard-static"),
        Route("/dashboard", stores),
        Route("/dashboard/", stores),
        Route("/dashboard/{store}", store_root),
        Route("/dashboard/{store}/{page}", page),
    ]


def _error(api: DashboardApi, exc: Exception) -> Response:
    from ops.serve.api import ApiError

    if not isinstance(exc, ApiError):
        raise exc
    response = HTMLResponse(_shell("Error", "", "error", "", f'<h2>{exc.status}</h2><p role="alert">'
                                   f"{html.escape(exc.message)}</p>"), exc.status)  # fmt: skip
    if exc.status == 401:
        response.headers["WWW-Authenticate"] = 'Basic realm="footfall", charset="UTF-8"'
    return response


def _shell(title: str, store_id: str, page: str, tz: str, main: str, *, script: bool = False) -> str:
    s = html.escape(store_id)
    nav = ""
    if store_id:
        links = []
        for i, (key, (label, _, _)) in enumerate(PAGES.items(), start=1):
            current = ' aria-current="page"' if key == page else ""
            links.append(f'<a href="/dashboard/{s}/{key}" data-key="{i}" aria-keyshortcuts="{i}"{current}>{label}</a>')
        nav = f'<nav aria-label="Dashboard pages">{"".join(links)}</nav>'
    heading = PAGES.get(page, (title, title, ()))[1]
    body_attrs = f'data-store="{s}" data-page="{html.escape(page)}" data-time-zone="{html.escape(tz)}"'
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}{" · " + s if s else ""} · footfall</title>
<link rel="icon" href="data:,"><link rel="stylesheet" href="/dashboard/static/app.css"></head>
<body {body_attrs}>
<a class="skip" href="#main">Skip to content</a>
<header><h1>footfall{" · " + s if s else ""}</h1>{nav}<span id="live-status" aria-live="polite"></span></header>
<main id="main" tabindex="-1">{f"<h2>{html.escape(heading)}</h2>" if store_id else ""}{main}
<div id="content"></div></main>
{'<script src="/dashboard/static/app.js"></script>' if script else ""}
</body></html>"""


def _window_form(page: str, request: Request, tz: object) -> str:
    fields = PAGES[page][2]
    q = request.query_params
    hidden = f'<input type="hidden" name="at" value="{html.escape(q["at"])}">' if "at" in q else ""
    if not fields:
        return f'<p class="as-of">Times in {html.escape(str(tz))}.</p>'
    parts = []
    if "a_from" in fields:  # the A/B page: period A, then period B in the from/to fields below
        parts.append(f'<label>A from<input name="a_from" value="{html.escape(q.get("a_from", ""))}" '
                     f'placeholder="B a week earlier" size="19"></label>')  # fmt: skip
        parts.append(f'<label>A to (exclusive)<input name="a_to" value="{html.escape(q.get("a_to", ""))}" '
                     f'placeholder="B a week earlier" size="19"></label>')  # fmt: skip
    if "from" in fields:
        period = "B from" if "a_from" in fields else "From"
        parts.append(f'<label>{period} (local date or date-time)<input name="from" '
                     f'value="{html.escape(q.get("from", ""))}" placeholder="today" size="19"></label>')  # fmt: skip
        parts.append(f'<label>{"B to" if "a_from" in fields else "To"} (exclusive)<input name="to" '
                     f'value="{html.escape(q.get("to", ""))}" placeholder="now" size="19"></label>')  # fmt: skip
    if "bucket" in fields:
        chosen = q.get("bucket", "1h")
        options = "".join(f'<option value="{k}"{" selected" if k == chosen else ""}>{v}</option>'
                          for k, v in _BUCKET_LABELS.items())  # fmt: skip
        parts.append(f'<label>Bucket<select name="bucket">{options}</select></label>')
    return (f'<form class="window" method="get" aria-label="Window">{"".join(parts)}{hidden}'
            f'<button type="submit">Show</button></form>'
            f'<p class="as-of">Times in {html.escape(str(tz))}.</p>')  # fmt: skip


def _report_form(store_id: str, request: Request, tz: object) -> str:
    import datetime as dt

    week = request.query_params.get("week") or (dt.date.today() - dt.timedelta(days=7)).strftime("%G-W%V")
    try:
        insights.iso_week_window(week, tz)  # type: ignore[arg-type]
    except insights.InsightError:
        week = (dt.date.today() - dt.timedelta(days=7)).strftime("%G-W%V")
    s, w = html.escape(store_id), html.escape(week)
    return (f'<form class="window" method="get" aria-label="Report week"><label>ISO week<input name="week" '
            f'value="{w}" pattern="\\d{{4}}-W\\d{{2}}" size="9"></label><button type="submit">Choose</button></form>'
            f'<p><a href="/api/v1/stores/{s}/report?week={w}&amp;format=html">Open the report for {w} (HTML)</a> · '
            f'<a href="/api/v1/stores/{s}/report?week={w}&amp;format=pdf">Download it as PDF</a></p>'
            f"<p>Also from a shell: <code>footfall report --store {s} --week {w} --out report.pdf</code>"
            "</p>")  # fmt: skip
