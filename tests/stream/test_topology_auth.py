"""Accounts and permissions on the hub (issue 19, step 4): each denial shown against real nats-servers.

A hub with [auth] (admin, projector, one leaf user per store) sources two
store leaves. Store A's leaf is run without its own ff.> deny on the link, as
a tampered edge box would be, so what stops it is the hub's permissions.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import nats
import nats.errors
import nats.js.errors
import pytest
from nats.aio.client import Client as NatsClient

from stream.embedded import EmbeddedNats
from stream.errors import ConfigError
from stream.provision import ensure_stream_configs
from stream.server_process import HubCluster, loopback_topology
from stream.topology import (
    Topology,
    hub_server_config,
    hub_stream_configs,
    leaf_server_config,
    leaf_stream_configs,
    parse_topology,
    render_server_config,
)


class Stack:
    def __init__(self, hub: HubCluster, leaves: dict[str, EmbeddedNats]) -> None:
        self.hub, self.leaves = hub, leaves
        self.topology = hub.topology

    def hub_url(self, user: str = "admin") -> str:
        return self.topology.client_urls(user)[0]


def _leaf(root: Path, topology: Topology, store_id: str, *, tampered: bool) -> EmbeddedNats:
    store = next(s for s in topology.stores if s.id == store_id)
    config: dict[str, Any] = leaf_server_config(store.js_domain, topology.leafnode_urls(store))
    if tampered:  # the edge box's owner removed the link's deny: only the hub's permissions stand
        remote = config["leafnodes"]["remotes"][0]
        del remote["deny_exports"], remote["deny_imports"]
    conf = root / f"{store_id}.conf"
    conf.write_text(render_server_config(config, "test leaf"))
    return EmbeddedNats(root / store_id, config_file=conf).start()


@pytest.fixture()
def stack(tmp_path: Path) -> Iterator[Stack]:
    topology = loopback_topology(tmp_path / "hub-data", servers=1, stores=["store-a", "store-b"], auth=True)
    with HubCluster(topology, tmp_path / "hub") as hub:
        leaves = {
            "store-a": _leaf(tmp_path, topology, "store-a", tampered=True),
            "store-b": _leaf(tmp_path, topology, "store-b", tampered=False),
        }
        try:
            asyncio.run(_provision(topology, leaves))
            yield Stack(hub, leaves)
        finally:
            for leaf in leaves.values():
                leaf.stop()


async def _provision(topology: Topology, leaves: dict[str, EmbeddedNats]) -> None:
    for store_id, leaf in leaves.items():
        nc = await nats.connect(leaf.url)
        await ensure_stream_configs(nc.jetstream(), leaf_stream_configs(topology.log, store_id))
        await nc.close()
    hub = await nats.connect(topology.client_urls()[0])
    await ensure_stream_configs(hub.jetstream(), hub_stream_configs(topology))
    await hub.close()


async def _quiet(_exc: Exception) -> None:
    return None


async def _connect(url: str) -> NatsClient:
    return await nats.connect(url, allow_reconnect=False, connect_timeout=2, error_cb=_quiet)


async def _wait_for(hub: NatsClient, subject: str, timeout_s: float = 60.0) -> None:
    """Wait until the hub's FF_TRACKS holds a message on subject (loops on the log, not on a clock)."""
    js = hub.jetstream()
    for _ in range(int(timeout_s / 0.05)):
        try:
            await js.get_last_msg("FF_TRACKS", subject)
            return
        except nats.js.errors.NotFoundError:
            await asyncio.sleep(0.05)
    info = await hub.request("$JS.API.STREAM.INFO.FF_TRACKS", b"", timeout=2.0)
    raise AssertionError(f"{subject} never reached the hub: {info.data.decode()[-1500:]}")


async def _on_hub(hub: NatsClient, subject: str) -> bool:
    try:
        await hub.jetstream().get_last_msg("FF_TRACKS", subject)
    except nats.js.errors.NotFoundError:
        return False
    return True


def test_sourcing_works_under_the_leaf_users_permissions(stack: Stack) -> None:
    async def run() -> None:
        for store_id, leaf in stack.leaves.items():
            nc = await _connect(leaf.url)
            await nc.jetstream().publish(
                f"ff.v1.{store_id}.cam-0.tracks", b"frame", headers={"Nats-Msg-Id": f"{store_id}:f1"}
            )
            await nc.close()
        hub = await _connect(stack.hub_url())
        for store_id in stack.leaves:
            await _wait_for(hub, f"ff.v1.{store_id}.cam-0.tracks")
        await hub.close()

    asyncio.run(run())


def test_store_a_cannot_publish_to_store_b(stack: Stack) -> None:
    async def run() -> None:
        edge = await _connect(stack.leaves["store-a"].url)
        await edge.publish("ff.v1.store-b.cam-0.tracks", b"forged")  # core publish: crosses the tampered link
        # A's own subject, published after it on the same connection and allowed: once it is on the hub,
        # the forged one would be there too had the hub let it in.
        await edge.publish("ff.v1.store-a.cam-9.tracks", b"marker")
        await edge.flush()
        hub = await _connect(stack.hub_url())
        await _wait_for(hub, "ff.v1.store-a.cam-9.tracks")
        assert not await _on_hub(hub, "ff.v1.store-b.cam-0.tracks")
        await edge.close()
        await hub.close()

    asyncio.run(run())


def test_store_a_cannot_read_store_b_or_the_hub(stack: Stack) -> None:
    async def run() -> None:
        edge = await _connect(stack.leaves["store-a"].url)
        for api in ("$JS.store-b.API", "$JS.hub.API"):
            with pytest.raises((nats.errors.NoRespondersError, nats.errors.TimeoutError)):
                await edge.request(f"{api}.STREAM.MSG.GET.FF_TRACKS", b'{"seq": 1}', timeout=1.0)
        assert (await edge.request("$JS.store-a.API.INFO", b"", timeout=2.0)).data  # its own, as a control
        await edge.close()

    asyncio.run(run())


@pytest.mark.parametrize("user", [None, "admin:wrong-password-1"])
def test_a_client_without_valid_credentials_is_refused(stack: Stack, user: str | None) -> None:
    server = stack.topology.hub.servers[0]
    url = f"nats://{user + '@' if user else ''}{server.host}:{server.client_port}"

    async def run() -> None:
        with pytest.raises(nats.errors.Error, match=r"[Aa]uthorization"):
            await _connect(url)

    asyncio.run(run())


def test_the_projector_reads_and_acks_but_cannot_forge_or_change(stack: Stack) -> None:
    async def run() -> None:
        admin = await _connect(stack.hub_url())
        await admin.jetstream().publish("ff.v1.store-c.cam-0.tracks", b"frame")  # go-ingest-style, at the hub
        projector = await _connect(stack.hub_url("projector"))
        js = projector.jetstream()
        sub = await js.pull_subscribe("ff.v1.store-c.*.tracks", durable="proj-test", stream="FF_TRACKS")
        (msg,) = await sub.fetch(1, timeout=5.0)
        await msg.ack_sync()
        await js.publish("ff.v1.store-c.zones", b"derived")  # what the zone processor writes
        with pytest.raises((nats.errors.NoRespondersError, nats.errors.TimeoutError)):
            await js.publish("ff.v1.store-c.cam-0.tracks", b"forged frame", timeout=1.0)
        with pytest.raises((nats.errors.NoRespondersError, nats.errors.TimeoutError)):
            await js.delete_stream("FF_TRACKS")
        assert (await admin.jetstream().stream_info("FF_TRACKS")).state.messages >= 1
        await projector.close()
        await admin.close()

    asyncio.run(run())


def test_ingest_publishes_its_stores_source_events_and_nothing_derived(stack: Stack, tmp_path: Path) -> None:
    """The hub's ingest user (go-ingest) may store a known store's POS and frames; a derived event, another
    store's POS and reading a stream are refused by the server. The real go-ingest runs as it."""

    async def run() -> None:
        ingest = await _connect(stack.hub_url("ingest"))
        js = ingest.jetstream()
        ack = await js.publish("ff.v1.store-a.pos", b"pos", headers={"Nats-Msg-Id": "ingest-1"})
        assert ack.stream == "FF_POS"
        await js.publish("ff.v1.store-b.cam-0.tracks", b"frame", headers={"Nats-Msg-Id": "ingest-2"})
        for forged in ("ff.v1.store-a.zones", "ff.v1.store-a.alerts", "ff.v1.store-z.pos"):
            with pytest.raises((nats.errors.NoRespondersError, nats.errors.TimeoutError)):
                await js.publish(forged, b"forged", timeout=1.0)
        with pytest.raises((nats.errors.NoRespondersError, nats.errors.TimeoutError)):
            await js.pull_subscribe("ff.v1.store-a.pos", durable="ingest-reads", stream="FF_POS")
        await ingest.close()
        admin = await _connect(stack.hub_url())
        derived = (await admin.jetstream().stream_info("FF_DERIVED")).state.messages
        await admin.close()
        assert derived == 0

    asyncio.run(run())
    if shutil.which("go") is None:
        pytest.skip("the Go toolchain is needed to build go-ingest")
    from ops.go_ingest import running, write_token_file

    token = write_token_file(tmp_path / "tokens.json", ["store-a"])
    with running(stack.hub_url("ingest"), tmp_path / "tokens.json") as base:  # /readyz: it sees every stream
        event = {"type": "pos_transaction", "store_id": "store-a", "ts_ns": 1_700_000_000_000_000_000,
                 "terminal_id": "till-1", "transaction_id": "t-1", "item_count": 2, "amount_minor": 1250,
                 "currency": "EUR"}  # fmt: skip
        request = urllib.request.Request(f"{base}/v1/stores/store-a/events", data=json.dumps([event]).encode(),
                                         method="POST", headers={"Content-Type": "application/json",
                                                                 "Authorization": f"Bearer {token}"})  # fmt: skip
        with urllib.request.urlopen(request, timeout=10) as resp:
            assert json.loads(resp.read())["stored"] == 1


def test_auth_needs_a_password_for_every_store_and_shows_in_the_hub_config(tmp_path: Path) -> None:
    topology = loopback_topology(tmp_path, servers=1, stores=["store-a"], auth=True)
    config = render_server_config(hub_server_config(topology, 0), "test")
    assert '"user": "leaf-store-a"' in config and '"$JS.store-a.API.>"' in config
    raw = {
        "hub": {"servers": [{"name": "h", "client_port": 1, "leafnode_port": 2, "store_dir": "x"}]},
        "stores": [{"id": "store-a"}],
        "auth": {"admin_password": "a" * 12, "projector_password": "p" * 12},
    }
    with pytest.raises(ConfigError, match=r"stores\[0\].leaf_password: a topology with \[auth\] needs one"):
        parse_topology(raw)


def test_footfall_project_runs_as_the_projector_user(stack: Stack, tmp_path: Path) -> None:
    from ops.topology.edge_load import PROCESSED, PROCESSED_DUMPS, EdgeLoad, project_and_dump
    from stream.publisher import Publisher

    load = EdgeLoad("store-c", seconds=5.0)

    async def fill() -> None:
        nc = await _connect(stack.hub_url())
        publisher = Publisher(nc.jetstream())
        for event in [load.layout, *load.events]:
            await publisher.publish(event)
        await publisher.flush()
        await nc.close()

    asyncio.run(fill())
    # The zone processor included: it publishes FF_DERIVED, which footfall_lines folds.
    tables = project_and_dump(stack.hub_url("projector"), tmp_path / "store", PROCESSED, PROCESSED_DUMPS)
    assert all(rows.count("\n") > 0 for rows in tables.values()), tables


def test_the_hub_config_holds_bcrypt_hashes_not_passwords(tmp_path: Path) -> None:
    """Every user's password is in the hub's config only as the bcrypt hash nats-server checks, and generating
    the configs again gives the same text."""
    import bcrypt

    topology = loopback_topology(tmp_path / "hub", servers=1, stores=["store-a", "store-b"], auth=True)
    assert topology.auth is not None
    text = render_server_config(hub_server_config(topology, 0), "test")
    assert text == render_server_config(hub_server_config(topology, 0), "test")
    secrets = {"admin": topology.auth.admin_password, "projector": topology.auth.projector_password,
               "ingest": topology.auth.ingest_password or ""}  # fmt: skip
    secrets |= {s.leaf_user: s.leaf_password or "" for s in topology.stores}
    users = msgspec.json.decode(text.split("\n", 1)[1])["accounts"][topology.auth.account]["users"]
    assert {u["user"] for u in users} == set(secrets)
    for user in users:
        assert secrets[user["user"]] not in text
        assert user["password"].startswith("$2a$11$")
        assert bcrypt.checkpw(secrets[user["user"]].encode(), user["password"].encode())
