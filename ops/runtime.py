"""What a long-running command needs: the log (a URL or the embedded server) and the analytics store."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

from ops.paths import DataDir, add_data_dir_argument
from stream.client_auth import CREDS_ENV, TLS_CA_ENV, TLS_CERT_ENV, TLS_KEY_ENV, client_options

if TYPE_CHECKING:  # the store pulls in pyarrow; `footfall --help` should not pay for it
    from nats.aio.client import Client as NatsClient

    from projections.partition import Partition
    from projections.projection import Projection
    from projections.runner import ProjectionRunner
    from projections.shared_read import SharedReadRunner
    from projections.store import Store

NATS_URL_ENV = "FOOTFALL_NATS_URL"


def add_log_arguments(parser: argparse.ArgumentParser) -> None:
    """Add --url and --data-dir: the log to use, embedded under --data-dir unless a URL is given (with the
    client's TLS and credentials for it: add_client_auth_arguments)."""
    parser.add_argument(
        "--url",
        default=os.environ.get(NATS_URL_ENV),
        help=f"NATS URL of a server footfall did not start (env {NATS_URL_ENV}); "
        "default: start the embedded nats-server under --data-dir",
    )
    add_data_dir_argument(parser)
    add_client_auth_arguments(parser)


def add_client_auth_arguments(parser: argparse.ArgumentParser) -> None:
    """Add --tls-ca, --tls-cert, --tls-key and --creds: how the clients of this command prove themselves to the
    server at --url (stream.client_auth; ops.cli applies them when --url is given)."""
    group = parser.add_argument_group("TLS and credentials for --url (a hub with [tls] or accounts)")
    for flag, env, what in (
        ("--tls-ca", TLS_CA_ENV, "the CA that signed the server's certificate (PEM)"),
        ("--tls-cert", TLS_CERT_ENV, "this client's certificate (PEM), for a server that verifies clients"),
        ("--tls-key", TLS_KEY_ENV, "the key of --tls-cert (PEM)"),
        ("--creds", CREDS_ENV, "a NATS user credentials file (.creds) for a server with accounts"),
    ):
        value = os.environ.get(env, "").strip()
        group.add_argument(flag, type=Path, default=Path(value) if value else None, help=f"{what} (env {env})")
    parser.set_defaults(client_auth=True)


@contextlib.contextmanager
def log_url(args: argparse.Namespace) -> Iterator[str]:
    """Yield the NATS URL: --url as given, else an embedded server on --data-dir/nats, stopped on exit."""
    with open_log(args.url, args.data_dir) as url:
        yield url


@contextlib.contextmanager
def open_log(url: str | None, data_dir: Path) -> Iterator[str]:
    """Yield `url` as given, else the URL of an embedded server on data_dir/nats, stopped on exit."""
    if url:
        yield url
        return
    from stream.embedded import EmbeddedNats

    with EmbeddedNats(DataDir(data_dir).nats) as server:
        yield server.url


@contextlib.contextmanager
def open_store(data_dir: Path) -> Iterator[Store]:
    """The analytics store: a ClickHouse server when FOOTFALL_CLICKHOUSE_URL is set, else chDB under data_dir,
    with footfall's SQL functions installed."""
    from projections.clickhouse_server import ClickHouseServerStore
    from projections.store import ChdbStore
    from projections.uncertainty import install_functions

    server = ClickHouseServerStore.from_env()
    store: Store = server if server is not None else ChdbStore(DataDir(data_dir).chdb)
    try:
        # The counts' interval functions (footfall_visits_lo(n) ...): SQL functions are the engine's, not a
        # database's, and replaced each time, so a store opened by newer code answers with its parameters.
        install_functions(store)
        yield store
    finally:
        store.close()


def freeze_start_up_objects() -> None:
    """Exempt everything allocated so far from garbage collection: call once set up, before a long loop.

    A projector allocates many short-lived containers, so the collector runs full passes now and then,
    and each one walks every object loaded at start-up (numba, pyarrow, chDB): about 85 ms, once in
    every 0.7 s of folding, measured. Frozen objects are skipped; they live as long as the process anyway.
    """
    import gc

    gc.collect()  # what is garbage already goes now, rather than being frozen with the rest
    gc.freeze()


@contextlib.asynccontextmanager
async def runner_connections(url: str, keys: list[str]) -> AsyncIterator[list[NatsClient]]:
    """One NATS connection per projection runner (named footfall-<key>), all closed on exit.

    The server disconnects a client that leaves more than its max_pending (64 MiB by default) unread,
    and a runner leaves a pull request's worth unread while it folds: ten runners on one connection
    passed that on a crowded store's log (measured: `Slow Consumer Detected: MaxPending of 67108864
    Exceeded` in `footfall bench zones --hours 4`). Each connection has its own buffer on the server.
    """
    import nats
    import nats.errors

    from ops.logging import get_logger
    from stream.errors import LogUnavailable

    log = get_logger("footfall.nats")

    async def one_line(exc: Exception) -> None:  # nats-py's default prints a traceback per reconnect attempt
        log.warning("nats connection error", url=url, error=f"{type(exc).__name__}: {exc}")

    async with contextlib.AsyncExitStack() as stack:
        connections = []
        for key in keys:
            try:
                nc = await nats.connect(url, name=f"footfall-{key}", error_cb=one_line, **client_options())
            except (nats.errors.Error, OSError, TimeoutError) as exc:  # one line naming the server, not a traceback
                raise LogUnavailable(f"cannot connect to {url}: {type(exc).__name__}: {exc}") from exc
            stack.push_async_callback(nc.close)
            connections.append(nc)
        yield connections


def by_stream(projections: Sequence[Projection]) -> list[list[Projection]]:
    """The projections grouped by the stream and subject filter they read, in first-seen order: each group
    is read once (projections.shared_read), a group of one by its own runner."""
    groups: dict[tuple[str, str | None], list[Projection]] = {}
    for p in projections:
        groups.setdefault((p.stream, p.filter_subject), []).append(p)
    return list(groups.values())


def unit_name(group: Sequence[Projection]) -> str:
    """A group's connection name: its projection, or `shared-<stream>` for a shared read."""
    return group[0].name if len(group) == 1 else f"shared-{group[0].stream}"


def make_units(
    connections: Sequence[NatsClient],
    store: Store,
    groups: Sequence[Sequence[Projection]],
    batch: int | None,
    partition: Partition | None = None,
) -> list[ProjectionRunner | SharedReadRunner]:
    """A runner per group (by_stream): its own for a projection alone, a shared read for several; each folds
    only `partition`'s stores if one is given."""
    from projections.runner import ProjectionRunner
    from projections.shared_read import SharedReadRunner

    return [
        ProjectionRunner(nc, store, group[0], batch=batch, partition=partition) if len(group) == 1
        else SharedReadRunner(nc, store, group, batch=batch, partition=partition)
        for nc, group in zip(connections, groups, strict=True)
    ]  # fmt: skip


def members(unit: ProjectionRunner | SharedReadRunner) -> list[ProjectionRunner]:
    """The projection runners of a unit: a shared read's members, or the runner itself."""
    from projections.shared_read import SharedReadRunner

    return unit.members if isinstance(unit, SharedReadRunner) else [unit]


class _Feeds(Protocol):
    """What catch_up orders runners by: the stream read, the streams published to, and a name."""

    @property
    def key(self) -> str: ...
    @property
    def stream(self) -> str: ...
    @property
    def emits_to(self) -> frozenset[str]: ...


_R = TypeVar("_R", bound=_Feeds)
_T = TypeVar("_T")


async def catch_up(runners: Sequence[_R], run: Callable[[_R], Awaitable[_T]]) -> list[_T]:
    """Run every runner (a ProjectionRunner or a SharedReadRunner) with `run` until caught up; what each
    returned, in the runners' order.

    A processor publishes to a stream (its `emits_to`: the zone processor to FF_DERIVED, the alert
    processor to FF_ALERTS), and a projection of that stream that ran beside it would find the end of the
    stream before the processor had written all of it: each runner starts once the processors writing
    its stream are done. Everything else (the track projections) runs from the start, beside them, so
    its work overlaps their waits on the log.
    """
    feeders = {r: [p for p in runners if p is not r and r.stream in p.emits_to] for r in runners}
    tasks: dict[_R, asyncio.Task[_T]] = {}

    async def after_feeders(runner: _R) -> _T:
        await asyncio.gather(*(tasks[f] for f in feeders[runner]))
        return await run(runner)

    _check_acyclic(feeders)
    tasks.update({r: asyncio.ensure_future(after_feeders(r)) for r in runners})
    try:
        return list(await asyncio.gather(*(tasks[r] for r in runners)))
    finally:
        for task in tasks.values():
            task.cancel()  # a failure stops the others (a no-op on those done)


def _check_acyclic(feeders: dict[_R, list[_R]]) -> None:
    """ValueError naming the runners if processors feed each other in a circle (they would wait forever)."""
    done: set[_R] = set()

    def visit(runner: _R, path: list[_R]) -> None:
        if runner in path:
            raise ValueError("projections feed each other in a circle: " + " -> ".join(r.key for r in [*path, runner]))
        if runner not in done:
            for feeder in feeders[runner]:
                visit(feeder, [*path, runner])
            done.add(runner)

    for runner in feeders:
        visit(runner, [])
