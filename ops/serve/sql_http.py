"""ClickHouse's HTTP interface over the store, for analysts' own tools (clickhouse-connect, Grafana, DBeaver).

A Starlette app (ASGI, served by uvicorn): `GET /?query=...` and `POST /` (the body is the query, after
the `query` parameter if both are given, as ClickHouse does), `/ping`. What a client sends and reads:

- credentials: HTTP basic auth, `X-ClickHouse-User`/`X-ClickHouse-Key`, or `user`/`password` parameters;
- `database` (footfall's, or `default` for it), `default_format` (else TabSeparated; a FORMAT clause in the
  query wins, the engine reads it), `query_id` (made if absent), `param_<name>` query parameters;
- settings as parameters: the sessions are read-only, so a setting may be sent only at the value it
  already has (clickhouse-connect reads system.settings first and sends none it cannot change); the
  transport settings (`enable_http_compression`, `send_progress_in_http_headers`, `wait_end_of_query`,
  `session_id`, ...) are honoured or harmless here;
- compression: with `enable_http_compression=1`, the answer in the first of the client's
  `Accept-Encoding` that we have (lz4, zstd, br, gzip, deflate); a compressed request body is read;
- answers carry `X-ClickHouse-Query-Id`, `-Format`, `-Timezone`, `-Summary` and
  `-Server-Display-Name`; errors are ClickHouse's text (`Code: N. DB::Exception: ... (NAME)`) with
  `X-ClickHouse-Exception-Code` and the HTTP status ClickHouse gives that code.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import ipaddress
import time
import uuid
import zlib
from collections.abc import Callable, Sequence

import msgspec
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ops.serve.access import Access, Principal, QueryError
from ops.serve.metrics import ServeMetrics
from projections.store import QueryAnswer

SERVER_NAME = "footfall"
# Parameters that are not settings: read here, never applied to a session.
_TRANSPORT = frozenset({
    "query", "database", "default_format", "query_id", "user", "password", "quota_key", "session_id",
    "session_timeout", "session_check", "compress", "decompress", "enable_http_compression",
    "http_zlib_compression_level", "send_progress_in_http_headers", "http_headers_progress_interval_ms",
    "wait_end_of_query", "buffer_size", "cancel_http_readonly_queries_on_client_close",
    "http_native_compression_disable_checksumming_on_decompress",
    "client_protocol_version", "add_http_cors_header", "output_format_json_quote_64bit_integers",
})  # fmt: skip
_CONTENT_TYPES = {
    "JSON": "application/json", "JSONCompact": "application/json", "JSONEachRow": "application/x-ndjson",
    "CSV": "text/csv; charset=UTF-8", "CSVWithNames": "text/csv; charset=UTF-8",
    "Native": "application/octet-stream", "RowBinary": "application/octet-stream",
    "RowBinaryWithNamesAndTypes": "application/octet-stream", "Arrow": "application/octet-stream",
    "ArrowStream": "application/octet-stream", "Parquet": "application/octet-stream",
}  # fmt: skip
# The HTTP status ClickHouse answers each exception code with (src/Server/HTTPHandler.cpp), 500 otherwise.
_HTTP_STATUS = {
    516: 401, 192: 401, 194: 401, 195: 401,  # authentication
    497: 403, 164: 403,  # access denied, readonly
    60: 404, 81: 404, 46: 404,  # unknown table, database, function
    62: 400, 47: 400, 36: 400, 115: 400, 457: 400, 27: 400, 53: 400, 6: 400, 43: 400, 386: 400,
    159: 504, 202: 503, 210: 503,  # timeout, too many queries, draining
    396: 500,  # too many rows or bytes: ClickHouse's own status
}  # fmt: skip


def _zstd_compress(data: bytes) -> bytes:
    try:
        from compression import zstd  # type: ignore[import-not-found]  # Python 3.14
    except ImportError:
        from backports import zstd
    return bytes(zstd.compress(data))


def _zstd_decompress(data: bytes) -> bytes:
    try:
        from compression import zstd  # Python 3.14
    except ImportError:
        from backports import zstd
    return bytes(zstd.decompress(data))


def _lz4_compress(data: bytes) -> bytes:
    import lz4.frame  # type: ignore[import-untyped]

    return bytes(lz4.frame.compress(data))


def _lz4_decompress(data: bytes) -> bytes:
    import lz4.frame

    return bytes(lz4.frame.decompress(data))


def _deflate(data: bytes) -> bytes:
    return zlib.compress(data)


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=3)


_ENCODERS: dict[str, Callable[[bytes], bytes]] = {"lz4": _lz4_compress, "zstd": _zstd_compress, "gzip": _gzip,
                                                  "deflate": _deflate}  # fmt: skip
_DECODERS: dict[str, Callable[[bytes], bytes]] = {"lz4": _lz4_decompress, "zstd": _zstd_decompress,
                                                  "gzip": gzip.decompress, "deflate": zlib.decompress}  # fmt: skip
try:
    import brotli  # type: ignore[import-not-found, unused-ignore]

    _ENCODERS["br"], _DECODERS["br"] = brotli.compress, brotli.decompress
except ImportError:
    pass


class _Summary(msgspec.Struct):
    read_rows: str
    read_bytes: str
    written_rows: str
    written_bytes: str
    total_rows_to_read: str
    result_rows: str
    result_bytes: str
    elapsed_ns: str


class SqlEndpoint:
    """The request handling, apart from Starlette so serve can add its own routes beside it."""

    def __init__(self, access: Access, metrics: ServeMetrics, *, database: str, timezone: str = "UTC",
                 max_concurrent_queries: int = 8) -> None:  # fmt: skip
        self._access = access
        self._metrics = metrics
        self._database = database
        self._timezone = timezone
        self._slots = asyncio.Semaphore(max_concurrent_queries)
        self._max_concurrent = max_concurrent_queries
        self._waiting = 0
        self.draining = False

    def routes(self) -> list[Route]:
        return [
            Route("/", self.handle, methods=["GET", "POST", "HEAD"]),
            Route("/ping", _ping, methods=["GET", "HEAD"]),
        ]

    async def handle(self, request: Request) -> Response:
        params = dict(request.query_params)
        query_id = params.get("query_id") or str(uuid.uuid4())
        headers = {"X-ClickHouse-Query-Id": query_id, "X-ClickHouse-Server-Display-Name": SERVER_NAME,
                   "X-ClickHouse-Timezone": self._timezone}  # fmt: skip
        body = await request.body()
        query = params.get("query", "")
        if request.method == "POST" and body:
            try:
                body = _decode_body(body, request.headers.get("content-encoding"))
            except QueryError as exc:
                return self._error(exc, headers)
            query = f"{query}\n{body.decode('utf-8', errors='replace')}" if query else body.decode("utf-8", "replace")
        if not query.strip():
            return Response("Ok.\n", headers=headers, media_type="text/plain; charset=UTF-8")
        started = time.perf_counter()
        user = "?"
        try:
            if self.draining:
                raise QueryError(210, "NETWORK_ERROR", "footfall serve is shutting down: the query was not run; "
                                 "retry once it is back")  # fmt: skip
            principal = await self._authenticate(request, params)
            user = principal.name
            database = params.get("database", "")
            if database not in ("", "default", self._database):
                raise QueryError(81, "UNKNOWN_DATABASE", f"Database {database} does not exist: this server serves "
                                 f"{self._database}")  # fmt: skip
            query_params = {k.removeprefix("param_"): v for k, v in params.items() if k.startswith("param_")}
            await self._check_settings(principal, params)
            fmt, answer = await self._run(principal, query, params.get("default_format") or "TabSeparated",
                                          query_params)  # fmt: skip
        except QueryError as exc:
            self._metrics.query_done(user, time.perf_counter() - started, exc.name)
            return self._error(exc, headers)
        except Exception as exc:  # a bug of ours: the client still gets ClickHouse's error form
            self._metrics.query_done(user, time.perf_counter() - started, "STD_EXCEPTION")
            return self._error(QueryError(1001, "STD_EXCEPTION", f"{type(exc).__name__}: {exc}"), headers)
        self._metrics.query_done(user, time.perf_counter() - started, None)
        summary = _Summary(str(answer.read_rows), str(answer.read_bytes), "0", "0", str(answer.read_rows), "0",
                           str(len(answer.data)), str(int(answer.elapsed_s * 1e9)))  # fmt: skip
        headers["X-ClickHouse-Format"] = fmt
        headers["X-ClickHouse-Summary"] = msgspec.json.encode(summary).decode()
        data = self._compress(answer.data, request, params, headers)
        content_type = _CONTENT_TYPES.get(fmt, "text/plain; charset=UTF-8" if not fmt.startswith("Arrow") else
                                          "application/octet-stream")  # fmt: skip
        return Response(b"" if request.method == "HEAD" else data, headers=headers, media_type=content_type)

    async def _run(
        self, principal: Principal, query: str, default_format: str, params: dict[str, str]
    ) -> tuple[str, QueryAnswer]:
        if self._waiting >= 4 * self._max_concurrent:
            raise QueryError(202, "TOO_MANY_SIMULTANEOUS_QUERIES", f"Too many simultaneous queries. Maximum: "
                             f"{self._max_concurrent} running, {4 * self._max_concurrent} waiting")  # fmt: skip
        self._waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self._waiting -= 1
        self._metrics.running.inc()
        try:
            return await run_in_threadpool(self._access.run, principal, query, default_format, params)
        finally:
            self._metrics.running.dec()
            self._slots.release()

    async def _authenticate(self, request: Request, params: dict[str, str]) -> Principal:
        return await authenticate(self._access, request, params)

    async def _check_settings(self, principal: Principal, params: dict[str, str]) -> None:
        for name, value in params.items():
            if name in _TRANSPORT or name.startswith("param_"):
                continue
            current = await run_in_threadpool(self._access.current_setting, principal, name)
            if current is None:
                raise QueryError(115, "UNKNOWN_SETTING", f"Unknown setting '{name}'")
            if current != value:
                raise QueryError(164, "READONLY", f"Cannot modify '{name}' setting in readonly mode: footfall's "
                                 f"SQL endpoint is read-only and its limits are set by its config")  # fmt: skip

    def _compress(self, data: bytes, request: Request, params: dict[str, str], headers: dict[str, str]) -> bytes:
        if params.get("enable_http_compression") not in ("1", "true"):
            return data
        for token in request.headers.get("accept-encoding", "").split(","):
            name = token.split(";")[0].strip().lower()
            encoder = _ENCODERS.get(name)
            if encoder is not None:
                headers["Content-Encoding"] = name
                return encoder(data)
        return data

    def _error(self, exc: QueryError, headers: dict[str, str]) -> Response:
        headers = {**headers, "X-ClickHouse-Exception-Code": str(exc.code)}
        return Response(f"{exc}\n", status_code=_HTTP_STATUS.get(exc.code, 500), headers=headers,
                        media_type="text/plain; charset=UTF-8")  # fmt: skip


async def authenticate(access: Access, request: Request, params: dict[str, str]) -> Principal:
    """The principal of a request's credentials (basic auth, X-ClickHouse-User/Key, or user/password
    parameters), as ClickHouse reads them; QueryError 516 for bad or missing ones."""
    user, password = params.get("user", ""), params.get("password", "")
    if "x-clickhouse-user" in request.headers:
        user, password = request.headers["x-clickhouse-user"], request.headers.get("x-clickhouse-key", "")
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("basic "):
        try:
            user, _, password = base64.b64decode(auth[6:].strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            raise QueryError(516, "AUTHENTICATION_FAILED", "Authentication failed: malformed basic "
                             "authorization header") from None  # fmt: skip
    host = request.client.host if request.client else ""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    # scrypt takes tens of milliseconds: off the event loop.
    return await run_in_threadpool(access.authenticate, user, password, loopback=loopback)


def http_status(code: int) -> int:
    """The HTTP status ClickHouse answers exception `code` with."""
    return _HTTP_STATUS.get(code, 500)


async def _ping(_: Request) -> Response:
    return Response("Ok.\n", media_type="text/plain; charset=UTF-8")


def _decode_body(body: bytes, encoding: str | None) -> bytes:
    if not encoding or encoding.lower() == "identity":
        return body
    decoder = _DECODERS.get(encoding.lower())
    if decoder is None:
        raise QueryError(1001, "UNKNOWN_COMPRESSION_METHOD", f"Unknown Content-Encoding {encoding!r}; known: "
                         f"{', '.join(sorted(_DECODERS))}")  # fmt: skip
    try:
        return decoder(body)
    except Exception as exc:
        raise QueryError(432, "CANNOT_DECOMPRESS", f"Cannot decompress the request body as {encoding}: {exc}") from None


def make_app(endpoint: SqlEndpoint, extra_routes: Sequence[BaseRoute]) -> Starlette:
    """The ASGI app: the SQL endpoint plus serve's own routes (metrics, health, the API)."""
    return Starlette(routes=[*endpoint.routes(), *extra_routes])
