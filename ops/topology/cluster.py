"""Fault runs on a three-server hub with R3 streams (issue 19, step 3), real nats-servers on loopback.

An edge (the spooling publisher, given every hub server's URL) publishes 4
cameras at 10 frames/s straight to the hub while `footfall project` follows
the log live with the zone processor (FF_TRACKS -> FF_DERIVED) and a
projection of what it writes (footfall_lines). Meanwhile:

- `leader-kill`: the server leading FF_TRACKS is SIGKILLed, then the one
  leading FF_DERIVED; each comes back down_s seconds later. Reported per
  kill: seconds until JetStream names a new leader.
- `rolling`: each server in turn is stopped (SIGTERM) and started again,
  the next one only once the restarted one is healthy.

Afterwards: every frame on the hub once and in order per camera, FF_DERIVED
equal (ids, per subject, in order) to a clean run's, and the projections
equal a clean run.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import msgspec
import nats
import nats.errors
from nats.aio.client import Client as NatsClient

from ops.topology.edge_load import (
    PROCESSED,
    PROCESSED_DUMPS,
    EdgeLoad,
    clean_run_dump,
    delivery,
    hub_ids,
    paced,
    project_and_dump,
    project_live,
    read_ids,
    tables_equal,
)
from ops.topology.faults import STORE, acked_ids, wait_hub_holds
from stream.provision import ensure_stream_configs
from stream.publisher import Publisher
from stream.server_process import HubCluster, ServerProcess, loopback_topology
from stream.spool import SpoolRecord
from stream.spooling import SpoolingPublisher
from stream.topology import hub_stream_configs


class LeaderLoss(msgspec.Struct, frozen=True):
    """One SIGKILL of a stream's leader: leaderless_s (seconds) from the kill until a new leader was named."""

    stream: str
    killed: str
    new_leader: str
    leaderless_s: float


class ClusterReport(msgspec.Struct, frozen=True):
    """A hub cluster fault run; derived compares FF_DERIVED's ids with a clean run's (per subject, in order)."""

    mode: str
    servers: int
    replicas: int
    seconds: float
    leader_losses: list[LeaderLoss]
    rolling_restart_s: float
    projector_restarts: int  # times the live projector exited on a lost server and its supervisor restarted it
    projector_exits: list[str]  # the last line of what it said each time
    delivery: dict[str, int]
    derived: dict[str, int]
    projections_equal: dict[str, bool]


async def _leader(urls: list[str], stream: str, timeout_s: float = 0.5) -> str | None:
    """The stream's leader as one of the servers at urls reports it; None while there is none (or no answer)."""
    for url in urls:
        nc: NatsClient | None = None
        try:
            nc = await nats.connect(url, allow_reconnect=False, connect_timeout=1)
            info = await nc.jetstream(timeout=timeout_s).stream_info(stream)
            if info.cluster is not None and info.cluster.leader:
                return info.cluster.leader
        except (nats.errors.Error, OSError, TimeoutError):
            continue
        finally:
            if nc is not None:
                with contextlib.suppress(nats.errors.Error, OSError, TimeoutError):
                    await nc.close()
    return None


async def _kill_leader(hub: HubCluster, stream: str, down_s: float) -> LeaderLoss:
    """SIGKILL the stream's leader, time the election, start the server again after down_s seconds."""
    urls = {s.name: f"nats://{s.host}:{s.client_port}" for s in hub.topology.hub.servers}
    leader = await _leader(list(urls.values()), stream)
    if leader is None:
        raise RuntimeError(f"{stream} has no leader to kill")
    victim = hub.servers[leader]
    survivors = [u for name, u in urls.items() if name != leader]
    victim.kill()
    killed_at = time.monotonic()
    while True:
        new = await _leader(survivors, stream)
        if new is not None and new != leader:
            break
        await asyncio.sleep(0.05)
    leaderless_s = time.monotonic() - killed_at
    await asyncio.sleep(max(0.0, down_s - leaderless_s))
    await _restart(victim)
    return LeaderLoss(stream, leader, new, round(leaderless_s, 3))


async def _restart(server: ServerProcess) -> None:
    server.start(wait=False)  # spawned here, in the main thread: the child dies with it, not with a worker
    await asyncio.to_thread(server.wait_ready)


async def _rolling(hub: HubCluster) -> float:
    """Stop and start every server in turn, each only once the one before is healthy again; seconds taken."""
    start = time.monotonic()
    for server in hub.servers.values():
        await asyncio.to_thread(server.stop)
        await _restart(server)
    return time.monotonic() - start


class _Supervised:
    """A live projector under a supervisor, as systemd's Restart=always runs it in production: today the
    projection runner exits when its server goes away (LogUnavailable) and recovers exactly once on restart."""

    def __init__(self, spawn: Callable[[], subprocess.Popen[str]]) -> None:
        self._spawn = spawn
        self.proc = spawn()
        self.exits: list[str] = []

    async def supervise(self, poll_s: float = 0.2) -> None:
        """Restart the projector whenever it exits, until cancelled."""
        while True:
            await asyncio.sleep(poll_s)
            if self.proc.poll() is not None:
                _, err = await asyncio.to_thread(self.proc.communicate)
                lines = (err or "").strip().splitlines()
                self.exits.append(f"exit {self.proc.returncode}: {lines[-1] if lines else ''}"[:300])
                self.proc = self._spawn()

    def stop(self) -> None:
        """SIGTERM the projector (it stops after the batch in hand) and wait for it; an exit it made on its
        own before is recorded like the others (the catch-up run after this one finishes the work)."""
        running = self.proc.poll() is None
        if running:
            self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=120)
        if self.proc.returncode != 0:
            lines = (err or "").strip().splitlines()
            self.exits.append(f"exit {self.proc.returncode}: {lines[-1] if lines else ''}"[:300])


def cluster_run(work_dir: Path, *, mode: str = "leader-kill", seconds: float = 20.0, cameras: int = 4,
                down_s: float = 3.0) -> ClusterReport:  # fmt: skip
    """Run `mode` (leader-kill or rolling; see the module docstring) under work_dir."""
    if mode not in ("leader-kill", "rolling"):
        raise ValueError(f"mode must be 'leader-kill' or 'rolling', got {mode!r}")
    load = EdgeLoad(STORE, cameras=cameras, seconds=seconds)
    topology = loopback_topology(work_dir / "hub-data", servers=3, stores=[])
    urls = topology.client_urls()
    fault_tick = round(seconds * 10 / 4)
    losses: list[LeaderLoss] = []
    timings: dict[str, float] = {"rolling_s": 0.0}
    with HubCluster(topology, work_dir / "hub") as hub:

        async def provision() -> None:
            nc = await nats.connect(urls[0])
            try:
                await ensure_stream_configs(nc.jetstream(), hub_stream_configs(topology))
                publisher = Publisher(nc.jetstream())
                await publisher.publish(load.layout)
                await publisher.flush()
            finally:
                await nc.close()

        asyncio.run(provision())
        projector = _Supervised(lambda: project_live(urls[0], work_dir / "hub-store", PROCESSED))

        async def run() -> tuple[dict[str, list[str]], list[SpoolRecord]]:
            edge = SpoolingPublisher(urls, work_dir / "spool")
            await edge.start()
            sent: list[SpoolRecord] = []
            faults: list[asyncio.Task[None]] = []

            async def send(record: SpoolRecord) -> None:
                await edge.publish_record(record)
                sent.append(record)

            async def inject() -> None:
                if mode == "rolling":
                    timings["rolling_s"] = await _rolling(hub)
                    return
                for stream in ("FF_TRACKS", "FF_DERIVED"):
                    losses.append(await _kill_leader(hub, stream, down_s))
                    await asyncio.sleep(1.0)

            async def on_tick(i: int) -> None:
                if i == fault_tick:
                    faults.append(asyncio.create_task(inject()))

            supervise = asyncio.create_task(projector.supervise())
            await paced(load, send, on_tick)
            await faults[0]
            await edge.flush(120.0)
            await edge.close()
            watch = await nats.connect(urls)
            try:
                await wait_hub_holds(watch, len(sent), 120.0)
                return await hub_ids(watch, "FF_TRACKS", f"ff.v1.{STORE}.*.tracks"), sent
            finally:
                supervise.cancel()
                await watch.close()

        try:
            on_hub, sent = asyncio.run(run())
        finally:
            projector.stop()
        hub_tables = project_and_dump(urls[0], work_dir / "hub-store", PROCESSED, PROCESSED_DUMPS)
        hub_derived = asyncio.run(read_ids(urls[0], "FF_DERIVED", "ff.v1.*.zones"))
    clean_tables, clean_derived = clean_run_dump(load, work_dir, PROCESSED, PROCESSED_DUMPS)
    return ClusterReport(
        mode=mode,
        servers=3,
        replicas=topology.log.replicas,
        seconds=seconds,
        leader_losses=losses,
        rolling_restart_s=round(timings["rolling_s"], 3),
        projector_restarts=len(projector.exits),
        projector_exits=projector.exits,
        delivery=msgspec.structs.asdict(delivery(acked_ids(load, sent), on_hub)),
        derived=msgspec.structs.asdict(delivery(clean_derived, hub_derived)),
        projections_equal=tables_equal(hub_tables, clean_tables),
    )
