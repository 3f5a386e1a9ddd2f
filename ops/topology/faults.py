"""Fault runs on the production topology with real nats-server processes on loopback (issue 19).

- `wan_cut`: an edge publishes 4 cameras at 10 frames/s to its store's leaf
  node; the leaf's link to the hub is cut for cut_s seconds, then restored.
  Reports what reached the hub (each frame once, in order per camera), how
  long the hub took to catch up, and whether projections on the hub equal
  one clean run.
- `leaf_kill`: the leaf server is SIGKILLed mid-run and restarted after
  down_s seconds, with either the spooling edge publisher or one that waits
  for each ack and keeps no spool. Reports what the hub got of what the edge
  had acknowledged, and what the edge could not hand over at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import msgspec
import nats
import nats.errors
from nats.aio.client import Client as NatsClient

from ops.topology.edge_load import (
    EdgeLoad,
    clean_run_dump,
    delivery,
    hub_ids,
    paced,
    project_and_dump,
    tables_equal,
)
from ops.topology.link import WanLink
from stream.connect import connect
from stream.embedded import EmbeddedNats
from stream.errors import LogError, LogUnavailable
from stream.provision import ensure_stream_configs
from stream.publisher import MAX_PAYLOAD_BYTES, MSG_ID_HEADER, Publisher, to_record
from stream.server_process import HubCluster, loopback_topology
from stream.source_watch import SourceWatchdog
from stream.spool import SpoolRecord
from stream.spooling import SpoolingPublisher
from stream.topology import (
    SOURCED_STREAMS,
    Topology,
    hub_stream_configs,
    leaf_server_config,
    leaf_stream_configs,
    render_server_config,
)

STORE = "store-a"
PUBLISHERS = ("spooling", "plain", "acked")


class WanCutReport(msgspec.Struct, frozen=True):
    """A WAN cut run. catch_up_s (seconds): from the link's return until the hub held everything the leaf had
    acknowledged by then (backlog_at_restore messages behind); projections_equal: per table, hub == clean run."""

    cameras: int
    frames_per_s: float
    cut_s: float
    watchdog: bool  # stream.source_watch.SourceWatchdog ran on the hub
    kicks: int
    backlog_at_restore: int
    catch_up_s: float
    delivery: dict[str, int]
    projections_equal: dict[str, bool]


class LeafKillReport(msgspec.Struct, frozen=True):
    """A leaf SIGKILL run. refused: events the edge could not hand to the log while its leaf was down (lost to
    the store unless the edge keeps them); delivery compares the hub with what the leaf had acknowledged."""

    publisher: str
    down_s: float
    events: int
    refused: int
    delivery: dict[str, int]


@contextlib.contextmanager
def _hub_and_leaf(work_dir: Path, leaf_remote: str | None) -> Iterator[tuple[HubCluster, EmbeddedNats]]:
    """A one-server hub sourcing STORE, and STORE's leaf (linked straight to the hub, or through leaf_remote)."""
    topology = loopback_topology(work_dir / "hub-data", servers=1, stores=[STORE])
    with HubCluster(topology, work_dir / "hub") as hub:
        leaf = start_leaf(work_dir / "leaf", leaf_remote or topology.leafnode_urls()[0])
        try:
            yield hub, leaf
        finally:
            leaf.stop()


def start_leaf(nats_dir: Path, remote: str, port: int | None = None) -> EmbeddedNats:
    """Start STORE's leaf node on nats_dir (kept across restarts) with its link to `remote`."""
    nats_dir.mkdir(parents=True, exist_ok=True)
    conf = nats_dir / "leaf.conf"
    conf.write_text(render_server_config(leaf_server_config(STORE, [remote]), f"leaf of {STORE} for a fault run"))
    return EmbeddedNats(nats_dir, port=port, config_file=conf).start()


async def provision(topology: Topology, hub_url: str, leaf_url: str, load: EdgeLoad) -> None:
    """The leaf's streams, then the hub's (sourcing the leaf), then the layout, published at the hub."""
    leaf = await nats.connect(leaf_url)
    hub = await nats.connect(hub_url)
    try:
        await ensure_stream_configs(leaf.jetstream(), leaf_stream_configs(topology.log, STORE))
        await ensure_stream_configs(hub.jetstream(), hub_stream_configs(topology))
        publisher = Publisher(hub.jetstream())
        await publisher.publish(load.layout)
        await publisher.flush()
    finally:
        await leaf.close()
        await hub.close()


async def _hub_tracks(nc: NatsClient) -> int:
    return (await nc.jetstream().stream_info("FF_TRACKS")).state.messages


async def wait_hub_holds(nc: NatsClient, count: int, timeout_s: float) -> float:
    """Wait until the hub's FF_TRACKS holds `count` messages; return the seconds it took (TimeoutError after
    timeout_s)."""
    start = time.monotonic()
    while await _hub_tracks(nc) < count:
        if time.monotonic() - start > timeout_s:
            raise TimeoutError(f"hub FF_TRACKS holds {await _hub_tracks(nc)} of {count} after {timeout_s} s")
        await asyncio.sleep(0.05)
    return time.monotonic() - start


def acked_ids(load: EdgeLoad, records: list[SpoolRecord] | None = None) -> dict[str, list[str]]:
    """Per subject, in publish order, the ids of `records` (default: every event of the load)."""
    out: dict[str, list[str]] = {}
    for record in records if records is not None else [to_record(e, MAX_PAYLOAD_BYTES) for e in load.events]:
        out.setdefault(record.subject, []).append(record.msg_id)
    return out


def wan_cut(work_dir: Path, *, cut_s: float = 60.0, before_s: float = 5.0, after_s: float = 5.0,
            cameras: int = 4, watchdog: bool = True, catch_up_timeout_s: float = 240.0) -> WanCutReport:  # fmt: skip
    """Run the WAN cut (see the module docstring) under work_dir; the hub's projections are compared with a
    clean run of the same events. watchdog: run the hub's SourceWatchdog (else JetStream's own retries alone)."""
    load = EdgeLoad(STORE, cameras=cameras, seconds=before_s + cut_s + after_s)
    cut_tick, restore_tick = round(before_s * 10), round((before_s + cut_s) * 10)
    topology = loopback_topology(work_dir / "hub-data", servers=1, stores=[STORE])
    with HubCluster(topology, work_dir / "hub") as hub:
        result: dict[str, float] = {}

        async def run() -> dict[str, list[str]]:
            link = await WanLink("127.0.0.1", topology.hub.servers[0].leafnode_port).start()
            leaf = start_leaf(work_dir / "leaf", link.leaf_url)
            try:
                await provision(topology, hub.url.split(",")[0], leaf.url, load)
                edge = await nats.connect(leaf.url)
                watch = await nats.connect(hub.url.split(",")[0])
                publisher = Publisher(edge.jetstream())
                catch_up: list[asyncio.Task[float]] = []
                dog = SourceWatchdog(watch, list(SOURCED_STREAMS))
                stop = asyncio.Event()
                dog_task = asyncio.create_task(dog.run(stop) if watchdog else stop.wait())

                async def on_tick(i: int) -> None:
                    if i == cut_tick:
                        await link.cut()
                    elif i == restore_tick:
                        await publisher.flush()  # what the leaf holds now is the backlog the hub must fetch
                        backlog = publisher.result.stored
                        result["backlog"] = backlog - await _hub_tracks(watch)
                        await link.restore()
                        catch_up.append(asyncio.create_task(wait_hub_holds(watch, backlog, catch_up_timeout_s)))

                await paced(load, publisher.publish_record, on_tick)
                await publisher.flush()
                result["catch_up_s"] = await catch_up[0]
                await wait_hub_holds(watch, publisher.result.stored, catch_up_timeout_s)
                stop.set()
                await dog_task
                result["kicks"] = dog.kicks
                on_hub = await hub_ids(watch, "FF_TRACKS", f"ff.v1.{STORE}.*.tracks")
                await edge.close()
                await watch.close()
                return on_hub
            finally:
                await link.close()
                leaf.stop()

        on_hub = asyncio.run(run())
        hub_tables = project_and_dump(hub.url.split(",")[0], work_dir / "hub-store")
    clean_tables, _ = clean_run_dump(load, work_dir)
    return WanCutReport(
        cameras=cameras,
        frames_per_s=load.frames_per_s,
        cut_s=cut_s,
        watchdog=watchdog,
        kicks=int(result["kicks"]),
        backlog_at_restore=int(result["backlog"]),
        catch_up_s=round(result["catch_up_s"], 3),
        delivery=msgspec.structs.asdict(delivery(acked_ids(load), on_hub)),
        projections_equal=tables_equal(hub_tables, clean_tables),
    )


def leaf_kill(work_dir: Path, *, publisher: str = "spooling", down_s: float = 3.0, before_s: float = 5.0,
              after_s: float = 5.0, cameras: int = 4) -> LeafKillReport:  # fmt: skip
    """SIGKILL the leaf after before_s seconds of publishing, restart it on its port down_s seconds later.

    publisher: "spooling" (stream.spooling.SpoolingPublisher, the edge's spool on disk), "plain" (the
    stream.publisher.Publisher on a connection nats-py reconnects itself, as `footfall edge` ran it: nats-py
    buffers while it reconnects, the publisher retries unacknowledged events) or "acked" (waits for each
    PubAck and keeps nothing: an event it cannot hand over is refused and counted).
    """
    if publisher not in PUBLISHERS:
        raise ValueError(f"publisher must be one of {PUBLISHERS}, got {publisher!r}")
    load = EdgeLoad(STORE, cameras=cameras, seconds=before_s + down_s + after_s)
    kill_tick = round(before_s * 10)
    with _hub_and_leaf(work_dir, None) as (hub, first_leaf):
        leaf_port = int(first_leaf.url.rsplit(":", 1)[1])
        leaves = [first_leaf]

        async def run() -> tuple[dict[str, list[str]], list[SpoolRecord], int]:
            await provision(hub.topology, hub.url.split(",")[0], first_leaf.url, load)
            restart: list[asyncio.Task[None]] = []
            # The hub's watchdog, as in production (`footfall log watch`): the restarted leaf is fetched from
            # at once rather than after JetStream's retry backoff.
            watch = await nats.connect(hub.url.split(",")[0])
            stop = asyncio.Event()
            dog = asyncio.create_task(SourceWatchdog(watch, list(SOURCED_STREAMS)).run(stop))

            async def restart_leaf() -> None:
                await asyncio.sleep(down_s)
                remote = hub.topology.leafnode_urls()[0]
                leaves.append(start_leaf(work_dir / "leaf", remote, port=leaf_port))  # blocks the loop ~0.2 s

            async def on_tick(i: int) -> None:
                if i == kill_tick:
                    leaves[-1].kill()
                    restart.append(asyncio.create_task(restart_leaf()))

            sender: _SpoolingEdge | _AckedEdge | _PlainEdge
            if publisher == "spooling":
                sender = _SpoolingEdge(first_leaf.url, work_dir / "spool")
            elif publisher == "plain":
                sender = _PlainEdge(first_leaf.url)
            else:
                sender = _AckedEdge(first_leaf.url)
            await sender.start()
            await paced(load, sender.send, on_tick)
            await restart[0]
            acked = await sender.finish()
            try:
                await wait_hub_holds(watch, len(acked), 120.0)
                return await hub_ids(watch, "FF_TRACKS", f"ff.v1.{STORE}.*.tracks"), acked, sender.refused
            finally:
                stop.set()
                await dog
                await watch.close()

        try:
            on_hub, acked, refused = asyncio.run(run())
        finally:
            for leaf in leaves[1:]:
                leaf.stop()
    return LeafKillReport(
        publisher=publisher,
        down_s=down_s,
        events=len(load.events),
        refused=refused,
        delivery=msgspec.structs.asdict(delivery(acked_ids(load, acked), on_hub)),
    )


class _SpoolingEdge:
    """The edge's spooling publisher: everything sent is in the log once flush() returns."""

    def __init__(self, url: str, spool_dir: Path) -> None:
        self._publisher = SpoolingPublisher([url], spool_dir)
        self._sent: list[SpoolRecord] = []
        self.refused = 0  # it refuses nothing: an outage goes to the spool

    async def start(self) -> None:
        await self._publisher.start()

    async def send(self, record: SpoolRecord) -> None:
        await self._publisher.publish_record(record)
        self._sent.append(record)

    async def finish(self) -> list[SpoolRecord]:
        await self._publisher.flush(60.0)
        await self._publisher.close()
        return self._sent


async def _quiet(_exc: Exception) -> None:
    return None  # nats-py would print every refused reconnect attempt while the leaf is down


class _PlainEdge:
    """Publisher on a connection that nats-py reconnects itself; what it refuses for good is counted."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._nc: NatsClient | None = None
        self._publisher: Publisher | None = None
        self._sent: list[SpoolRecord] = []
        self.refused = 0

    async def start(self) -> None:
        self._nc = await nats.connect(self._url, name="footfall-edge", max_reconnect_attempts=-1, error_cb=_quiet)
        self._publisher = Publisher(self._nc.jetstream())

    async def send(self, record: SpoolRecord) -> None:
        assert self._publisher is not None
        try:
            await self._publisher.publish_record(record)
        except LogError:
            self.refused += 1
            return
        self._sent.append(record)

    async def finish(self) -> list[SpoolRecord]:
        assert self._publisher is not None and self._nc is not None
        try:
            await self._publisher.flush()
        except LogError as exc:
            raise RuntimeError(f"the plain edge publisher gave up on events it had sent: {exc}") from exc
        finally:
            await self._nc.close()
        return self._sent


class _AckedEdge:
    """A publisher without a spool: waits for each PubAck; what it cannot hand over is refused (and counted)."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._nc: NatsClient | None = None
        self._acked: list[SpoolRecord] = []
        self.refused = 0

    async def start(self) -> None:
        self._nc = await connect(self._url, timeout_s=1.0)

    async def send(self, record: SpoolRecord) -> None:
        if self._nc is None or self._nc.is_closed:
            try:
                self._nc = await connect(self._url, timeout_s=1.0)
            except LogUnavailable:
                self.refused += 1
                return
        try:
            await self._nc.jetstream().publish(
                record.subject, record.data, headers={MSG_ID_HEADER: record.msg_id}, timeout=1.0
            )
        except (nats.errors.Error, OSError, TimeoutError):
            self.refused += 1  # maybe stored after all: delivery() counts that as unexpected, not as lost
            with contextlib.suppress(nats.errors.Error, OSError, TimeoutError):
                await self._nc.close()
            self._nc = None
            return
        self._acked.append(record)

    async def finish(self) -> list[SpoolRecord]:
        if self._nc is not None:
            with contextlib.suppress(nats.errors.Error, OSError, TimeoutError):
                await self._nc.close()
        return self._acked
