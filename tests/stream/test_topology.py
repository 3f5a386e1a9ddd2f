"""Topology as config (issue 19, step 1): the schema, generated nats-server configs, a hub sourcing a leaf.

Real nats-server processes on loopback ports: `nats-server -t` checks every
generated config, and a hub of one server sources a leaf run by
`footfall log serve --leaf-of`.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import msgspec
import nats
import nats.js.errors
import pytest

from ops.cli import main
from stream.errors import ConfigError
from stream.server_process import HubCluster, loopback_topology
from stream.topology import (
    SOURCED_STREAMS,
    check_server_config,
    hub_stream_configs,
    leaf_stream_configs,
    load_topology,
    parse_topology,
)

REPO = Path(__file__).resolve().parents[2]

TOPOLOGY = """\
[hub]
cluster = "footfall-hub"
domain = "hub"

[[hub.servers]]
name = "hub-1"
host = "127.0.0.1"
client_port = 4222
cluster_port = 6222
leafnode_port = 7422
monitor_port = 8222
store_dir = "STORE/hub-1"

[[hub.servers]]
name = "hub-2"
client_port = 4223
cluster_port = 6223
leafnode_port = 7423
store_dir = "STORE/hub-2"

[[hub.servers]]
name = "hub-3"
client_port = 4224
cluster_port = 6224
leafnode_port = 7424
store_dir = "STORE/hub-3"

[[stores]]
id = "store-a"

[[stores]]
id = "store-b"
domain = "leaf-b"

[log]
replicas = 3
duplicate_window_s = 7200

[log.limits.FF_TRACKS]
max_age_s = 604800
"""


def _raw(**changes: object) -> dict:
    raw = msgspec.toml.decode(TOPOLOGY.encode())
    for path, value in changes.items():
        target = raw
        *parents, leaf = path.split("__")
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[int(leaf) if leaf.isdigit() else leaf] = value
    return raw


# (what is changed, what the error must say: the field, the value, what was expected)
BAD = [
    pytest.param({"hub__servers__0__client_port": 0}, ["client_port", "got 0", ">= 1"], id="port-zero"),
    pytest.param({"hub__servers__1__client_port": "x"}, ["client_port", "got 'x'", "int"], id="port-type"),
    pytest.param({"stores__0__id": "Store A"}, ["stores[0].id", "got 'Store A'"], id="store-id"),
    pytest.param({"hub__servers__0__nmae": "x"}, ["unknown field `nmae`"], id="unknown-key"),
    pytest.param({"hub__servers__1__name": "hub-1"}, ["name 'hub-1' is used twice"], id="duplicate-name"),
    pytest.param({"hub__servers__2__cluster_port": 6222}, ["hub.servers[2].cluster_port", "6222"], id="port-reused"),
    pytest.param({"log__replicas": 5}, ["log.replicas: 5", "3 server(s)"], id="replicas-over-servers"),
    pytest.param({"stores__1__domain": "hub"}, ["domain 'hub' is the hub's own"], id="hub-domain"),
    pytest.param({"stores__1__id": "store-a", "stores__1__domain": None}, ["'store-a' is listed twice"], id="dup-id"),
    pytest.param({"log__limits": {"FF_NOPE": {"max_age_s": 1}}}, ["unknown stream", "FF_NOPE"], id="stream-name"),
]


@pytest.mark.parametrize(("changes", "says"), BAD)
def test_a_bad_topology_is_refused_naming_the_field_and_value(changes: dict, says: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        parse_topology(_raw(**changes))
    for words in says:
        assert words in str(info.value), str(info.value)


def test_a_multi_server_hub_needs_cluster_ports() -> None:
    raw = _raw()
    del raw["hub"]["servers"][1]["cluster_port"]
    with pytest.raises(ConfigError, match=r"hub.servers\[1\].cluster_port: a hub of 3 servers needs one"):
        parse_topology(raw)


def test_hub_streams_source_every_store_leaf_across_its_domain(tmp_path: Path) -> None:
    path = tmp_path / "topology.toml"
    path.write_text(TOPOLOGY)
    topology = load_topology(path)
    streams = {s.name: s for s in hub_stream_configs(topology)}
    assert len(streams) == 7 and all(s.num_replicas == 3 for s in streams.values())
    assert streams["FF_TRACKS"].max_age == 604800
    for name in SOURCED_STREAMS:
        sources = streams[name].sources or []
        assert [(s.name, s.external.api if s.external else None) for s in sources] == [
            (name, "$JS.store-a.API"),
            (name, "$JS.leaf-b.API"),
        ]
    tracks = streams["FF_TRACKS"].sources or []
    assert [s.filter_subject for s in tracks] == ["ff.v1.store-a.*.tracks", "ff.v1.store-b.*.tracks"]
    assert streams["FF_LAYOUT"].sources is None and streams["FF_DERIVED"].sources is None
    leaf = leaf_stream_configs(topology.log, "store-b")
    assert [(s.name, s.subjects, s.num_replicas) for s in leaf] == [
        ("FF_TRACKS", ["ff.v1.store-b.*.tracks"], 1),
        ("FF_STATUS", ["ff.v1.store-b.*.status"], 1),
        ("FF_POS", ["ff.v1.store-b.pos"], 1),
    ]
    assert leaf[0].deny_delete and leaf[0].max_age == 604800  # the hub's definitions, not copies of them


def test_log_config_writes_configs_that_nats_server_accepts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "topology.toml"
    path.write_text(TOPOLOGY.replace("STORE", str(tmp_path / "data")))
    assert main(["log", "config", "--topology", str(path), "--out", str(tmp_path / "conf")]) == 0
    out = capsys.readouterr().out
    names = sorted(p.name for p in (tmp_path / "conf").iterdir())
    assert names == ["hub-hub-1.conf", "hub-hub-2.conf", "hub-hub-3.conf", "leaf-store-a.conf", "leaf-store-b.conf"]
    assert out.count("checked by nats-server -t") == 5
    hub1 = (tmp_path / "conf" / "hub-hub-1.conf").read_text()
    assert '"nats-route://127.0.0.1:6223"' in hub1 and '"domain": "hub"' in hub1
    leaf_b = (tmp_path / "conf" / "leaf-store-b.conf").read_text()
    assert '"domain": "leaf-b"' in leaf_b and '"nats-leaf://127.0.0.1:7424"' in leaf_b


def test_nats_server_refusal_is_reported(tmp_path: Path) -> None:
    bad = tmp_path / "bad.conf"
    bad.write_text('{"leafnodes": {"remotes": [{"urls": ["nats-leaf://127.0.0.1:1"], "deny_exports": 5}]}}\n')
    with pytest.raises(ConfigError, match=r"nats-server refuses .*subject permissions"):
        check_server_config(bad)


@pytest.fixture()
def hub_of_one(tmp_path: Path) -> Iterator[HubCluster]:
    topology = loopback_topology(tmp_path / "hub-data", servers=1, stores=["store-a"])
    with HubCluster(topology, tmp_path / "hub") as hub:
        yield hub


def _serve_leaf(data_dir: Path, hub_url: str, domain: str) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "ops.cli", "log", "serve", "--data-dir", str(data_dir), "--leaf-of", hub_url]
    env = {"PYTHONPATH": str(REPO), "PATH": str(Path(sys.executable).parent)}
    return subprocess.Popen([*cmd, "--domain", domain], stdout=subprocess.PIPE, text=True, env=env)


def test_a_leaf_served_by_footfall_is_sourced_by_the_hub(
    hub_of_one: HubCluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Leaf first: a hub source set up while its leaf is away waits out JetStream's retry backoff (10 s a
    # failure) unless the leaf's (re)connection kicks it, as it does after a WAN cut.
    leaf = _serve_leaf(tmp_path / "leaf", hub_of_one.topology.leafnode_urls()[0], "store-a")
    try:
        assert leaf.stdout is not None
        leaf_url = leaf.stdout.readline().strip()
        assert leaf_url.startswith("nats://127.0.0.1:"), leaf_url
        topology_path = tmp_path / "topology.json"
        topology_path.write_bytes(msgspec.json.encode(hub_of_one.topology))
        assert main(["log", "init", "--topology", str(topology_path)]) == 0
        assert capsys.readouterr().out.count("created") == 7
        assert main(["log", "init", "--topology", str(topology_path)]) == 0
        assert capsys.readouterr().out.count("unchanged") == 7
        asyncio.run(_publish_on_leaf_read_on_hub(leaf_url, hub_of_one.url))
    finally:
        leaf.terminate()
        assert leaf.wait(timeout=30) == 0


async def _publish_on_leaf_read_on_hub(leaf_url: str, hub_url: str) -> None:
    leaf = await nats.connect(leaf_url)
    hub = await nats.connect(hub_url)
    try:
        ljs, hjs = leaf.jetstream(), hub.jetstream()
        for i in range(20):
            ack = await ljs.publish("ff.v1.store-a.cam-0.tracks", b"frame %d" % i, headers={"Nats-Msg-Id": f"f{i}"})
            assert ack.domain == "store-a" and ack.seq == i + 1  # acked by the leaf alone, once
        # The leaf captures only its own store's subjects, and nothing under ff. crosses the link.
        with pytest.raises(nats.js.errors.NoStreamResponseError):
            await ljs.publish("ff.v1.store-b.cam-0.tracks", b"not mine")
        for _ in range(1200):
            info = await hjs.stream_info("FF_TRACKS")
            if info.state.messages >= 20:
                break
            await asyncio.sleep(0.05)
        assert info.state.messages == 20
        got = [(await hjs.get_msg("FF_TRACKS", seq)).data for seq in range(1, 21)]
        assert got == [b"frame %d" % i for i in range(20)]
    finally:
        await leaf.close()
        await hub.close()
