"""TLS on the hub's client and leaf ports with a CA the test makes (issue 19, step 4), real nats-servers.

A store leaf with a certificate from the hub's CA is sourced; a client or a
leaf with a certificate from another CA, or with none, is refused.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
import ssl
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import msgspec
import nats
import nats.errors
import nats.js.errors
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from stream.embedded import EmbeddedNats
from stream.provision import ensure_stream_configs
from stream.server_process import HubCluster, loopback_topology
from stream.topology import (
    Topology,
    check_server_config,
    hub_server_config,
    hub_stream_configs,
    leaf_server_config,
    leaf_stream_configs,
    parse_topology,
    render_server_config,
)

REPO = Path(__file__).resolve().parents[2]
NOW = datetime.datetime.now(datetime.UTC)


class Ca:
    """A certificate authority of the test's own (EC P-256), writing PEM files under a directory."""

    def __init__(self, root: Path, name: str) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self.cert = (
            x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(self.key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(NOW - datetime.timedelta(minutes=5))
            .not_valid_after(NOW + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )  # fmt: skip
        self.ca_file = root / "ca.pem"
        self.ca_file.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, name: str, *, server: bool = False) -> tuple[Path, Path]:
        """A certificate for `name` (for 127.0.0.1 when server) and its key; returns (cert_file, key_file)."""
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(self.cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(NOW - datetime.timedelta(minutes=5)).not_valid_after(NOW + datetime.timedelta(days=1))
        )  # fmt: skip
        if server:
            san = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        cert_file, key_file = self.root / f"{name}.pem", self.root / f"{name}-key.pem"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        return cert_file, key_file


def _tls_topology(root: Path, ca: Ca) -> Topology:
    raw = msgspec.to_builtins(loopback_topology(root / "hub-data", servers=1, stores=["store-a"]))
    cert, key = ca.issue("hub", server=True)
    raw["tls"] = {"ca_file": str(ca.ca_file), "cert_file": str(cert), "key_file": str(key)}
    leaf_cert, leaf_key = ca.issue("leaf-store-a")
    raw["stores"][0] |= {"leaf_cert_file": str(leaf_cert), "leaf_key_file": str(leaf_key)}
    return parse_topology(raw)


def _client_tls(ca: Ca, cert: Path | None = None, key: Path | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(ca.ca_file))
    if cert is not None and key is not None:
        ctx.load_cert_chain(str(cert), str(key))
    return ctx


def _tls_url(topology: Topology) -> str:
    server = topology.hub.servers[0]
    return f"tls://{server.host}:{server.client_port}"


async def _quiet(_exc: Exception) -> None:
    return None


class Stack:
    def __init__(self, topology: Topology, hub: HubCluster, leaf_url: str, ca: Ca, rogue: Ca) -> None:
        self.topology, self.hub, self.leaf_url, self.ca, self.rogue = topology, hub, leaf_url, ca, rogue


@pytest.fixture()
def stack(tmp_path: Path) -> Iterator[Stack]:
    ca, rogue = Ca(tmp_path / "ca", "footfall test CA"), Ca(tmp_path / "rogue", "someone else's CA")
    topology = _tls_topology(tmp_path, ca)
    store = topology.stores[0]
    with HubCluster(topology, tmp_path / "hub") as hub:
        # The store's leaf as an operator runs it: footfall log serve --leaf-of with the TLS flags.
        cmd = [sys.executable, "-m", "ops.cli", "log", "serve", "--data-dir", str(tmp_path / "leaf"),
               "--leaf-of", topology.leafnode_urls(store)[0], "--domain", "store-a",
               "--tls-ca", str(ca.ca_file), "--tls-cert", str(store.leaf_cert_file),
               "--tls-key", str(store.leaf_key_file)]  # fmt: skip
        env = {"PYTHONPATH": str(REPO), "PATH": str(Path(sys.executable).parent)}
        leaf = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
        try:
            assert leaf.stdout is not None
            url = leaf.stdout.readline().strip()
            assert url.startswith("nats://127.0.0.1:"), url
            yield Stack(topology, hub, url, ca, rogue)
        finally:
            leaf.terminate()
            leaf.wait(timeout=30)


def test_the_generated_hub_config_verifies_clients_and_leaves(tmp_path: Path) -> None:
    topology = _tls_topology(tmp_path, Ca(tmp_path / "ca", "test CA"))
    config = hub_server_config(topology, 0)
    assert config["tls"] == config["leafnodes"]["tls"]  # type: ignore[index]
    assert config["tls"]["verify"] is True  # type: ignore[index]
    path = tmp_path / "hub.conf"
    path.write_text(render_server_config(config, "test"))
    check_server_config(path)


def test_a_leaf_with_the_hubs_ca_is_sourced_over_tls(stack: Stack) -> None:
    admin_cert, admin_key = stack.ca.issue("admin")

    async def run() -> None:
        leaf = await nats.connect(stack.leaf_url)
        await ensure_stream_configs(leaf.jetstream(), leaf_stream_configs(stack.topology.log, "store-a"))
        hub = await nats.connect(_tls_url(stack.topology), tls=_client_tls(stack.ca, admin_cert, admin_key))
        await ensure_stream_configs(hub.jetstream(), hub_stream_configs(stack.topology))
        await leaf.jetstream().publish("ff.v1.store-a.cam-0.tracks", b"frame", headers={"Nats-Msg-Id": "a:1"})
        for _ in range(1200):  # JetStream may wait out a retry backoff before its first source attempt
            try:
                msg = await hub.jetstream().get_last_msg("FF_TRACKS", "ff.v1.store-a.cam-0.tracks")
                break
            except nats.js.errors.NotFoundError:
                await asyncio.sleep(0.05)
        assert msg.data == b"frame"
        await leaf.close()
        await hub.close()

    asyncio.run(run())


@pytest.mark.parametrize("who", ["rogue-cert", "no-cert"])
def test_a_client_without_a_certificate_from_the_hubs_ca_is_refused(stack: Stack, who: str) -> None:
    if who == "rogue-cert":
        cert, key = stack.rogue.issue("intruder")
        ctx = _client_tls(stack.ca, cert, key)  # trusts the hub, presents someone else's certificate
    else:
        ctx = _client_tls(stack.ca)

    async def run() -> None:
        with pytest.raises((nats.errors.Error, ssl.SSLError, OSError)):
            nc = await nats.connect(_tls_url(stack.topology), tls=ctx, allow_reconnect=False, connect_timeout=2,
                                    error_cb=_quiet)  # fmt: skip
            await nc.flush(timeout=2)  # a refused certificate may surface on the first round trip

    asyncio.run(run())


def test_a_leaf_with_a_rogue_certificate_is_refused(stack: Stack, tmp_path: Path) -> None:
    cert, key = stack.rogue.issue("leaf-intruder")
    tls = {"ca_file": str(stack.ca.ca_file), "cert_file": str(cert), "key_file": str(key)}
    conf = tmp_path / "rogue-leaf.conf"
    config = leaf_server_config("store-x", stack.topology.leafnode_urls(), tls=tls)
    conf.write_text(render_server_config(config, "rogue leaf"))
    rogue = EmbeddedNats(tmp_path / "rogue-leaf", config_file=conf).start()
    try:
        hub_log = stack.hub.servers["hub-1"].log_path
        for _ in range(600):  # until the hub has refused the rogue leaf's handshake at least once
            if "leafnode handshake error" in hub_log.read_text(errors="replace"):
                break
            asyncio.run(asyncio.sleep(0.05))
        assert "leafnode handshake error" in hub_log.read_text(errors="replace")
        monitor = stack.hub.servers["hub-1"].monitor_url
        with urllib.request.urlopen(f"{monitor}/leafz", timeout=5) as resp:
            leafz = json.loads(resp.read())
        assert len(leafz["leafs"]) == 1  # the store's own leaf alone
    finally:
        rogue.stop()


def _footfall(*args: str) -> subprocess.CompletedProcess[str]:
    env = {"PYTHONPATH": str(REPO), "PATH": str(Path(sys.executable).parent)}
    return subprocess.run([sys.executable, "-m", "ops.cli", *args], capture_output=True, text=True, env=env,
                          timeout=180)  # fmt: skip


def test_footfalls_own_clients_reach_a_tls_hub_with_the_tls_flags(stack: Stack, tmp_path: Path) -> None:
    """log init, log status and project connect to a hub that verifies clients with --tls-ca/--tls-cert/--tls-key;
    without a certificate, with half of one or with a file that is not there, the command says so in one line."""
    cert, key = stack.ca.issue("projector")
    topology = tmp_path / "topology.json"
    topology.write_bytes(msgspec.json.encode(stack.topology))
    url = _tls_url(stack.topology)
    tls = ["--url", url, "--tls-ca", str(stack.ca.ca_file), "--tls-cert", str(cert), "--tls-key", str(key)]
    init = _footfall("log", "init", "--topology", str(topology), *tls)
    assert init.returncode == 0, init.stderr
    status = _footfall("log", "status", "--json", *tls)
    assert status.returncode == 0, status.stderr
    assert "FF_TRACKS" in status.stdout
    project = _footfall("project", "track_points", "--until-caught-up", "--data-dir", str(tmp_path / "p"), *tls)
    assert project.returncode == 0, project.stderr

    refused = _footfall("log", "status", "--url", url, "--tls-ca", str(stack.ca.ca_file))  # trusts it, has no cert
    assert refused.returncode != 0
    assert refused.stderr.strip().startswith("footfall log status: cannot connect to tls://"), refused.stderr
    assert "Traceback" not in refused.stderr
    half = _footfall("log", "status", "--url", url, "--tls-cert", str(cert))
    assert half.returncode != 0 and "--tls-cert needs --tls-key" in half.stderr, half.stderr
    missing = _footfall("log", "status", "--url", url, "--tls-ca", str(tmp_path / "nope.pem"))
    assert missing.returncode != 0 and f"--tls-ca {tmp_path / 'nope.pem'}: no such file" in missing.stderr
