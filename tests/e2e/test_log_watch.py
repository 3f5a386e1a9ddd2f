"""`footfall log watch` restarts a hub source once its leaf is back after a cut (real servers, a real relay)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import msgspec
import nats
import nats.js.errors

from ops.topology.faults import STORE, start_leaf
from ops.topology.link import WanLink
from stream.provision import ensure_stream_configs
from stream.server_process import HubCluster, loopback_topology
from stream.topology import hub_stream_configs, leaf_stream_configs

REPO = Path(__file__).resolve().parents[2]
SUBJECT = f"ff.v1.{STORE}.cam-0.tracks"


async def _arrives(hub: nats.NATS, msg_id: str) -> None:
    """Wait until the hub's FF_TRACKS holds msg_id on SUBJECT (polls the log; no clock is asserted on)."""
    while True:
        try:
            msg = await hub.jetstream().get_last_msg("FF_TRACKS", SUBJECT)
            if (msg.headers or {}).get("Nats-Msg-Id") == msg_id:
                return
        except nats.js.errors.NotFoundError:
            pass
        await asyncio.sleep(0.05)


def test_log_watch_restarts_the_source_of_a_returned_leaf(tmp_path: Path) -> None:
    topology = loopback_topology(tmp_path / "hub-data", servers=1, stores=[STORE])
    topology_path = tmp_path / "topology.json"
    topology_path.write_bytes(msgspec.json.encode(topology))
    with HubCluster(topology, tmp_path / "hub") as hub_servers:

        async def run() -> list[dict]:
            link = await WanLink("127.0.0.1", topology.hub.servers[0].leafnode_port).start()
            leaf = start_leaf(tmp_path / "leaf", link.leaf_url)
            edge = await nats.connect(leaf.url)
            hub = await nats.connect(hub_servers.url)
            watch = None
            try:
                await ensure_stream_configs(edge.jetstream(), leaf_stream_configs(topology.log, STORE))
                await ensure_stream_configs(hub.jetstream(), hub_stream_configs(topology))
                js = edge.jetstream()
                await js.publish(SUBJECT, b"before", headers={"Nats-Msg-Id": "m1"})
                await asyncio.wait_for(_arrives(hub, "m1"), 60)
                await link.cut()
                # Long enough for JetStream's source health checks (every 10 s) to have failed twice: its own
                # next try is then 20 s or more away (measured: 30 s after a 30 s cut), the watch's is not.
                await asyncio.sleep(25)
                await js.publish(SUBJECT, b"during", headers={"Nats-Msg-Id": "m2"})
                await link.restore()
                watch = subprocess.Popen(
                    [sys.executable, "-m", "ops.cli", "--log-format", "json", "log", "watch",
                     "--topology", str(topology_path), "--stale-s", "3"],
                    env=dict(os.environ, PYTHONPATH=str(REPO)), stderr=subprocess.PIPE, text=True,
                )  # fmt: skip
                await asyncio.wait_for(_arrives(hub, "m2"), 120)
                watch.terminate()
                _, err = watch.communicate(timeout=30)
                assert watch.returncode == 0, err
                return [json.loads(line) for line in err.splitlines() if line.startswith("{")]
            finally:
                if watch is not None and watch.poll() is None:
                    watch.kill()
                await edge.close()
                await hub.close()
                await link.close()
                leaf.stop()

        events = asyncio.run(run())
    restarted = [e for e in events if e.get("event") == "source restarted"]
    assert {e["stream"] for e in restarted} >= {"FF_TRACKS"}, events
    assert all(e["api"] == f"$JS.{STORE}.API" for e in restarted)
