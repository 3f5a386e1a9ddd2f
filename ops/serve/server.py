"""`footfall serve`: the composition root of a store on one machine.

One process owns the data directory: the log (the embedded nats-server, or a given URL), the chDB store,
every projection live (ops/serve/live.py), the ClickHouse-compatible SQL endpoint
(ops/serve/sql_http.py) with `/metrics`, `/healthz` and `/readyz` beside it on the listen address, the
dashboard's API (ops/serve/api.py) and pages (ops/serve/dashboard/), and
the data directory's socket, through which `footfall sql`, `footfall replay` and `footfall whatif` reach it.

SIGTERM or SIGINT drains: new queries are refused with a clear error, queries running are answered,
every projection finishes and marks its batch in hand, then the process exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ops.logging import get_logger
from ops.serve.config import ServeConfig, parse_listen
from stream.client_auth import client_options

if TYPE_CHECKING:
    from ops.serve.access import Access
    from ops.serve.live import LiveProjections
    from ops.serve.sql_socket import ReplayFrame, ReplayRequest
    from projections.store import ChdbStore


@dataclass(frozen=True)
class ServeOptions:
    """What `footfall serve` was asked for."""

    data_dir: Path
    listen: str
    url: str | None
    config: ServeConfig
    projections: tuple[str, ...]
    batch: int | None = None


def run_serve(options: ServeOptions) -> int:
    """Run until SIGTERM/SIGINT; the exit status."""
    from ops.runtime import freeze_start_up_objects, open_log, open_store
    from ops.serve.access import Access
    from projections.migrations import migrate
    from projections.store import ChdbStore

    log = get_logger("footfall.serve")
    host, port = parse_listen(options.listen)
    with open_log(options.url, options.data_dir) as url, open_store(options.data_dir) as store:
        if not isinstance(store, ChdbStore):
            raise SystemExit("footfall serve: FOOTFALL_CLICKHOUSE_URL is set; serve's SQL endpoint answers "
                             "from the embedded chDB store (a ClickHouse server answers its own clients): "
                             "unset it")  # fmt: skip
        migrate(store)
        access = Access(store, options.config)
        try:
            freeze_start_up_objects()
            asyncio.run(_serve(options, url, store, access, (host, port)))
        finally:
            access.close()
    log.info("serve stopped")
    return 0


async def _serve(options: ServeOptions, url: str, store: ChdbStore, access: Access, listen: tuple[str, int]) -> None:
    import uvicorn

    from ops.serve.api import dashboard
    from ops.serve.dashboard.pages import pages
    from ops.serve.live import live_projections
    from ops.serve.metrics import ServeMetrics
    from ops.serve.sql_http import SqlEndpoint, make_app
    from ops.serve.sql_socket import serving
    from ops.serve.whatif_jobs import whatif_handler

    host, port = listen
    log = get_logger("footfall.serve")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    metrics = ServeMetrics()
    endpoint = SqlEndpoint(access, metrics, database=store.database,
                           max_concurrent_queries=options.config.limits.max_concurrent_queries)  # fmt: skip
    if options.url is None:
        await _provision_embedded(url)
    async with (
        live_projections(url, store, list(options.projections), options.batch) as live,
        dashboard(url, access, options.config, metrics) as dash,
    ):
        metrics.watch_projections(live.figures)
        ready = asyncio.Event()

        async def healthz(_: Request) -> Response:
            failing = live.failing()
            body = {"status": "failing" if failing else "ok", "failing": failing}
            return JSONResponse(body, status_code=503 if failing else 200)

        async def readyz(_: Request) -> Response:
            if endpoint.draining or not ready.is_set():
                return JSONResponse({"ready": False, "draining": endpoint.draining}, status_code=503)
            return JSONResponse({"ready": True, "projections": live.names})

        async def metrics_route(_: Request) -> Response:
            from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

            return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

        app = make_app(endpoint, [Route("/metrics", metrics_route), Route("/healthz", healthz),
                                  Route("/readyz", readyz), *dash.routes(), *pages(dash)])  # fmt: skip
        server = _uvicorn_server(uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False,
                                         lifespan="off", timeout_graceful_shutdown=30))  # fmt: skip
        async with serving(store, options.data_dir, _replays(live), whatif_handler(url, store)) as sock:
            if sock is None:
                log.warning("socket not served: data directory path too long", data_dir=str(options.data_dir))
            folding = asyncio.create_task(live.run(stop))
            http = asyncio.create_task(server.serve())
            await live.started.wait()
            while not server.started and not http.done():
                await asyncio.sleep(0.05)
            if http.done():  # the port was taken, say: uvicorn logged why
                stop.set()
                await folding
                raise SystemExit(f"footfall serve: cannot listen on {host}:{port}")
            ready.set()
            log.info("serving", listen=f"{host}:{port}", projections=live.names, socket=str(sock))
            await stop.wait()
            log.info("draining: refusing new queries, finishing batches in hand")
            endpoint.draining = True
            dash.drain()
            await folding
            server.should_exit = True
            await http


async def _provision_embedded(url: str) -> None:
    """A fresh embedded log gets footfall's streams; one provisioned before (`footfall log init`) is kept as is."""
    import nats
    from nats.js.errors import NotFoundError

    from stream.provision import LogConfig, ensure_streams, stream_names

    nc = await nats.connect(url, name="footfall-serve-provision", **client_options())
    try:
        js = nc.jetstream()
        try:
            await js.stream_info(stream_names()[0])
        except NotFoundError:
            await ensure_streams(js, LogConfig())
    finally:
        await nc.close()


def _uvicorn_server(config: object) -> Any:
    """uvicorn's Server without its signal handling: serve owns SIGTERM (uvicorn would re-raise it on exit)."""
    import uvicorn

    class _Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    return _Server(config)  # type: ignore[arg-type]


def _replays(live: LiveProjections) -> Callable[[ReplayRequest], AsyncIterator[ReplayFrame]]:
    from ops.serve.sql_socket import ReplayDone, ReplayFailed, ReplayProgress
    from projections.replay import ReplayError
    from projections.runner import Progress

    async def handle(request: ReplayRequest) -> AsyncIterator[ReplayFrame]:
        frames: asyncio.Queue[ReplayFrame] = asyncio.Queue()

        def progress(p: Progress) -> None:
            frames.put_nowait(ReplayProgress(p.seq, p.stream_last_seq, p.events, p.elapsed_s))

        async def run() -> None:
            try:
                result = await live.replay(request.projection, from_seq=request.from_seq, restart=request.restart,
                                           progress=progress)  # fmt: skip
                frames.put_nowait(ReplayDone(
                    f"swapped in {result.projection} v{result.code_version} built from sequence {request.from_seq} "
                    f"to {result.last_seq} under layout versions {list(result.layout_versions) or 'none'}; "
                    f"{result.stats.events} events folded, while live"))  # fmt: skip
            except (KeyError, RuntimeError, ReplayError) as exc:
                frames.put_nowait(ReplayFailed(str(exc.args[0]) if exc.args else str(exc)))

        task = asyncio.create_task(run())
        try:
            while True:
                frame = await frames.get()
                yield frame
                if not isinstance(frame, ReplayProgress):
                    return
        finally:
            if not task.done():
                await task  # the replay goes on if the client left; it is not cancelled with the socket

    return handle
