"""The dashboard's JSON API on `footfall serve`: one store's measures per route, as the requesting user.

Routes (all GET, JSON; times in the store's time zone from its layout):

    /api/v1/stores                              the stores the user may read
    /api/v1/stores/{store}/overview?at=         today so far and now (ops/serve/insights.py: overview)
    /api/v1/stores/{store}/trends?from=&to=&bucket=   visits, door entries/exits, occupancy; period over period
    /api/v1/stores/{store}/zones?from=&to=      dwell median/p90, engagement, visits per zone
    /api/v1/stores/{store}/journeys?from=&to=   zone transition matrix, funnel with POS conversion
    /api/v1/stores/{store}/queue?from=&to=&bucket=    queue length and wait, customers per staff by hour
    /api/v1/stores/{store}/alerts?from=&to=     alerts raised or open in the window
    /api/v1/stores/{store}/heatmap?from=&to=    presence seconds per floor cell
    /api/v1/stores/{store}/layout               zones, lines and camera views in metres
    /api/v1/stores/{store}/live                 server-sent events from the log (ops/serve/live_feed.py)
    /api/v1/stores/{store}/report?week=&format= the weekly insight report, html, pdf or json

Authentication is the SQL endpoint's (basic auth or X-ClickHouse-User/Key; `default` from loopback when
no users are configured). A store outside the user's grants is 403, no credentials 401 with a Basic
challenge (so a browser asks). Every query runs through Access as that user: a read-only session with
the user's store row filters, partners only the k-anonymous `shared_*` views (the heatmap reads
shared_heatmap for them; routes that need per-visit tables answer 403).

`from`/`to` are ISO dates (local midnight), local or zoned ISO date-times, or ns; the default window is
the local day of `at` (default: now) up to `at`.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse
from starlette.routing import Route

from ops.serve import insights
from ops.serve.access import Access, Principal, QueryError
from ops.serve.config import Role, ServeConfig, plan_files
from ops.serve.live_feed import LiveFeed
from ops.serve.metrics import ServeMetrics
from ops.serve.sql_http import authenticate, http_status
from ops.serve.store_layouts import PlanPlacement, StoreLayouts, floor_plan
from ops.whatif import TextReads
from stream.client_auth import client_options

API_PREFIX = "/api/v1"
_encoder = msgspec.json.Encoder()


class ApiError(Exception):
    """An answer other than 200: HTTP status and a message naming what was wrong."""

    def __init__(self, status: int, message: str, code: str = "") -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


class StoreList(msgspec.Struct):
    user: str
    role: str
    stores: list[str]


def json_response(value: object, status: int = 200) -> Response:
    return Response(_encoder.encode(value), status_code=status, media_type="application/json")


class DashboardApi:
    """The routes above over `access` (queries), `layouts` (time zones, floors) and `feed` (live events)."""

    def __init__(self, access: Access, config: ServeConfig, layouts: StoreLayouts, feed: LiveFeed,
                 metrics: ServeMetrics) -> None:  # fmt: skip
        self._access = access
        self._config = config
        self.layouts = layouts
        self._feed = feed
        self._metrics = metrics
        self._plans = plan_files(config, "serve config")  # checked when the file was read; measured once here
        # Dashboard queries beside the SQL endpoint's: at most max_concurrent_queries of them at once.
        self._slots = threading.BoundedSemaphore(config.limits.max_concurrent_queries)
        self.draining = False

    def drain(self) -> None:
        """Refuse new requests and end the live streams, so the HTTP server's graceful stop need not wait."""
        self.draining = True
        self._feed.close()

    def routes(self) -> list[Route]:
        p = f"{API_PREFIX}/stores/{{store}}"
        return [
            Route(f"{API_PREFIX}/stores", self._wrap(self._stores, store_route=False)),
            Route(f"{p}/overview", self._wrap(self._overview)),
            Route(f"{p}/trends", self._wrap(self._trends)),
            Route(f"{p}/zones", self._wrap(self._zones)),
            Route(f"{p}/journeys", self._wrap(self._journeys)),
            Route(f"{p}/queue", self._wrap(self._queue)),
            Route(f"{p}/alerts", self._wrap(self._alerts)),
            Route(f"{p}/compare", self._wrap(self._compare)),
            Route(f"{p}/whatif", self._wrap(self._whatif)),
            Route(f"{p}/heatmap", self._wrap(self._heatmap)),
            Route(f"{p}/layout", self._wrap(self._layout)),
            Route(f"{p}/plan-image", self._wrap(self._plan_image)),
            Route(f"{p}/live", self._wrap(self._live)),
            Route(f"{p}/report", self._wrap(self._report)),
        ]

    # ---- plumbing -------------------------------------------------------------------------------------------

    async def principal(self, request: Request) -> Principal:
        """The request's user; ApiError 401 (with a Basic challenge) for missing or wrong credentials."""
        try:
            return await authenticate(self._access, request, {})
        except QueryError as exc:
            raise ApiError(401, exc.message, exc.name) from None

    async def store_for(self, request: Request, principal: Principal) -> str:
        """The route's store if the user is granted it and it has a layout; ApiError 403 or 404 otherwise."""
        store_id = request.path_params["store"]
        if principal.stores is not None and store_id not in principal.stores:
            raise ApiError(403, f"{principal.name} is not granted store {store_id!r} (granted: "
                           f"{', '.join(principal.stores) or 'none'})", "ACCESS_DENIED")  # fmt: skip
        if await self.layouts.current(store_id) is None:
            raise ApiError(404, f"store {store_id!r} has no layout in FF_LAYOUT (known: "
                           f"{', '.join(await self.layouts.stores()) or 'none'})", "UNKNOWN_STORE")  # fmt: skip
        return store_id

    def _wrap(self, handler: Callable[..., Awaitable[Response]], *, store_route: bool = True) -> Callable[..., Any]:
        async def endpoint(request: Request) -> Response:
            try:
                if self.draining:
                    raise ApiError(503, "footfall serve is shutting down: retry once it is back", "NETWORK_ERROR")
                principal = await self.principal(request)
                if not store_route:
                    return await handler(request, principal)
                store_id = await self.store_for(request, principal)
                return await handler(request, principal, store_id)
            except ApiError as exc:
                return self.error(exc)
            except insights.InsightError as exc:
                return self.error(ApiError(400, str(exc), "BAD_ARGUMENTS"))
            except QueryError as exc:
                return self.error(ApiError(http_status(exc.code), exc.message, exc.name))

        return endpoint

    @staticmethod
    def error(exc: ApiError) -> Response:
        response = json_response({"error": exc.message, "code": exc.code, "status": exc.status}, exc.status)
        if exc.status == 401:
            response.headers["WWW-Authenticate"] = 'Basic realm="footfall", charset="UTF-8"'
        return response

    def query_for(self, principal: Principal, fmt: str = "JSONEachRow") -> insights.Query:
        """A Query that runs as `principal` (answers in `fmt`), counted in /metrics as its SQL is."""

        def query(sql: str, params: dict[str, str]) -> bytes:
            started = time.perf_counter()
            with self._slots:
                try:
                    _, answer = self._access.run(principal, sql, fmt, params)
                except QueryError as exc:
                    self._metrics.query_done(principal.name, time.perf_counter() - started, exc.name)
                    raise
            self._metrics.query_done(principal.name, time.perf_counter() - started, None)
            return answer.data

        return query

    async def tz(self, store_id: str) -> Any:
        found = await self.layouts.current(store_id)
        assert found is not None  # store_for checked it
        return found[1].tz

    async def window(self, request: Request, store_id: str) -> insights.Window:
        tz = await self.tz(store_id)
        q = request.query_params
        at_ns = insights.parse_time(q["at"], tz) if "at" in q else time.time_ns()
        from_ns = insights.parse_time(q["from"], tz) if "from" in q else insights.local_midnight_ns(at_ns, tz)
        to_ns = insights.parse_time(q["to"], tz) if "to" in q else max(at_ns, from_ns + 1)
        return insights.Window(from_ns, to_ns, tz)

    async def _in_thread(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Response:
        return json_response(await run_in_threadpool(fn, *args, **kwargs))

    # ---- routes ---------------------------------------------------------------------------------------------

    async def _stores(self, _: Request, principal: Principal) -> Response:
        known = await self.layouts.stores()
        granted = known if principal.stores is None else [s for s in known if s in principal.stores]
        return json_response(StoreList(principal.name, str(principal.role), granted))

    async def _overview(self, request: Request, principal: Principal, store_id: str) -> Response:
        tz = await self.tz(store_id)
        at = request.query_params.get("at")
        at_ns = insights.parse_time(at, tz) if at else time.time_ns()
        return await self._in_thread(insights.overview, self.query_for(principal), store_id, at_ns, tz)

    async def _trends(self, request: Request, principal: Principal, store_id: str) -> Response:
        window = await self.window(request, store_id)
        bucket = request.query_params.get("bucket", "1h")
        return await self._in_thread(insights.trends, self.query_for(principal), store_id, window, bucket)

    async def _zones(self, request: Request, principal: Principal, store_id: str) -> Response:
        return await self._in_thread(insights.zones, self.query_for(principal), store_id,
                                     await self.window(request, store_id))  # fmt: skip

    async def _journeys(self, request: Request, principal: Principal, store_id: str) -> Response:
        return await self._in_thread(insights.journeys, self.query_for(principal), store_id,
                                     await self.window(request, store_id))  # fmt: skip

    async def _queue(self, request: Request, principal: Principal, store_id: str) -> Response:
        targets = self._config.targets
        return await self._in_thread(insights.queue_staffing, self.query_for(principal), store_id,
                                     await self.window(request, store_id), request.query_params.get("bucket", "1h"),
                                     target_wait_s=targets.wait_s,
                                     customers_per_staff_target=targets.customers_per_staff)  # fmt: skip

    async def _alerts(self, request: Request, principal: Principal, store_id: str) -> Response:
        return await self._in_thread(insights.alerts, self.query_for(principal), store_id,
                                     await self.window(request, store_id))  # fmt: skip

    async def _compare(self, request: Request, principal: Principal, store_id: str) -> Response:
        """Period B (the window: from, to) against period A (a_from, a_to; default the same window a week
        earlier): every measure of `footfall compare` with its bootstrap interval of B - A."""
        from ops.whatif import comparison_json
        from projections.measures import Window
        from projections.periods import choose_unit_s, compare

        if principal.role is Role.PARTNER:
            raise ApiError(403, "the A/B comparison reads per-visit tables, which partner users are not granted",
                           "ACCESS_DENIED")  # fmt: skip
        b = await self.window(request, store_id)
        q = request.query_params
        a_from = insights.parse_time(q["a_from"], b.tz) if "a_from" in q else b.from_ns - _WEEK_NS
        a_to = insights.parse_time(q["a_to"], b.tz) if "a_to" in q else b.to_ns - _WEEK_NS
        if a_to <= a_from:
            raise ApiError(400, f"period A must end after it starts, got a_from {a_from} and a_to {a_to} (ns)",
                           "BAD_ARGUMENTS")  # fmt: skip
        unit_s = choose_unit_s("auto", (a_from, a_to), (b.from_ns, b.to_ns))
        reads = _Reads(self.query_for(principal, "JSONCompact"))

        def run() -> dict[str, Any]:
            result = compare(reads, store_id, Window(a_from, a_to, unit_s), Window(b.from_ns, b.to_ns, unit_s))
            zone = b.tz
            return {**comparison_json(result, store_id), "time_zone": zone.key,
                    "a": [insights.local_iso(a_from, zone), insights.local_iso(a_to, zone)],
                    "b": [insights.local_iso(b.from_ns, zone), insights.local_iso(b.to_ns, zone)]}  # fmt: skip

        return await self._in_thread(run)

    async def _whatif(self, request: Request, principal: Principal, store_id: str) -> Response:
        """The store's ready what-ifs (`footfall whatif`), newest first, and one of them (`id`, default the
        newest) against the live layout over its window: the A/B page's two layout versions."""
        from ops.whatif import against_live, against_live_json
        from projections.whatif import list_scratch, versions_in_force

        if principal.role is Role.PARTNER:
            raise ApiError(403, "what-ifs read per-visit tables, which partner users are not granted",
                           "ACCESS_DENIED")  # fmt: skip
        tz = await self.tz(store_id)
        history = await self.layouts.history(store_id)
        assert history is not None  # _wrap answered 404 for an unknown store
        reads = _Reads(self.query_for(principal, "JSONCompact"))
        wanted = request.query_params.get("id")

        def run() -> dict[str, Any]:
            now_ns = time.time_ns()  # an expired what-if is dropped by the next `footfall whatif`; not shown
            ready = [v for v in list_scratch(reads, create=False)
                     if v.store_id == store_id and v.status == "ready" and v.expires_ns > now_ns]  # fmt: skip
            listed = [{"whatif_id": v.whatif_id, "candidate_layout_version": v.layout_version,
                       "from": insights.local_iso(v.from_ns, tz), "to": insights.local_iso(v.to_ns, tz),
                       "expires": insights.local_iso(v.expires_ns, tz)} for v in ready]  # fmt: skip
            chosen = next((v for v in ready if not wanted or v.whatif_id == wanted), None)
            if wanted and chosen is None:
                raise ApiError(404, f"no ready what-if {wanted!r} for store {store_id} (footfall whatif list)",
                               "UNKNOWN_TABLE")  # fmt: skip
            out: dict[str, Any] = {"store_id": store_id, "time_zone": tz.key, "whatifs": listed, "chosen": None}
            if chosen is not None:
                live_versions = versions_in_force(history, chosen.from_ns, chosen.to_ns)
                out["chosen"] = {**listed[ready.index(chosen)], "live_layout_versions": live_versions,
                                 "measures": against_live_json(against_live(reads, chosen, live_versions))}  # fmt: skip
            return out

        return await self._in_thread(run)

    async def _heatmap(self, request: Request, principal: Principal, store_id: str) -> Response:
        return await self._in_thread(insights.heatmap, self.query_for(principal), store_id,
                                     await self.window(request, store_id),
                                     shared=principal.role is Role.PARTNER)  # fmt: skip

    async def _layout(self, request: Request, _: Principal, store_id: str) -> Response:
        at = request.query_params.get("at")
        tz = await self.tz(store_id)
        found = await self.layouts.current(store_id, insights.parse_time(at, tz) if at else None)
        assert found is not None
        plan = self._plans.get(store_id)
        image = None if plan is None else PlanPlacement(f"{API_PREFIX}/stores/{store_id}/plan-image", plan.x_m,
                                                        plan.y_m, plan.width_m, round(plan.height_m, 4))  # fmt: skip
        return json_response(floor_plan(store_id, found[0], found[1], image))

    async def _plan_image(self, _: Request, __: Principal, store_id: str) -> Response:
        plan = self._plans.get(store_id)
        if plan is None:
            raise ApiError(404, f"no plan image is configured for {store_id} (serve.toml [plans.{store_id}])",
                           "UNKNOWN_TABLE")  # fmt: skip
        return FileResponse(plan.path, media_type=plan.media_type, headers={"Cache-Control": "private, max-age=300"})

    async def _live(self, _: Request, __: Principal, store_id: str) -> Response:
        return StreamingResponse(self._feed.stream(store_id), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})  # fmt: skip

    async def _report(self, request: Request, principal: Principal, store_id: str) -> Response:
        from ops.serve import report

        week = request.query_params.get("week")
        if not week:
            raise ApiError(400, "week is required, as an ISO week such as 2026-W01", "BAD_ARGUMENTS")
        fmt = request.query_params.get("format", "html")
        if fmt not in ("html", "pdf", "json"):
            raise ApiError(400, f"format must be html, pdf or json, got {fmt!r}", "BAD_ARGUMENTS")
        tz = await self.tz(store_id)
        window = insights.iso_week_window(week, tz)
        data = await run_in_threadpool(report.weekly, self.query_for(principal), store_id, week, window,
                                       self._config.targets)  # fmt: skip
        if fmt == "json":
            return json_response(data)
        html = report.render_html(data)
        if fmt == "html":
            return Response(html, media_type="text/html; charset=utf-8")
        try:
            pdf = await run_in_threadpool(report.html_to_pdf, html)
        except report.ReportError as exc:
            raise ApiError(503, str(exc), "NO_PDF_RENDERER") from None
        return Response(pdf, media_type="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="{store_id}-{week}.pdf"'})  # fmt: skip


_WEEK_NS = 7 * 86_400 * 10**9


class _Reads(TextReads):
    """The Store interface over a user's queries (reads only), for measures written against a Store."""

    def __init__(self, query: insights.Query) -> None:
        self._query = query

    def query_text(self, sql: str, fmt: str = "JSONCompact") -> str:
        return self._query(sql, {}).decode()


@contextlib.asynccontextmanager
async def dashboard(
    url: str, access: Access, config: ServeConfig, metrics: ServeMetrics
) -> AsyncIterator[DashboardApi]:
    """The API and the live feed on a NATS connection of their own (layouts read, derived subjects followed)."""
    import nats

    nc = await nats.connect(url, name="footfall-serve-dashboard", **client_options())
    try:
        feed = LiveFeed(nc)
        await feed.start()
        yield DashboardApi(access, config, StoreLayouts(nc.jetstream()), feed, metrics)
    finally:
        await nc.close()
