"""The embedded nats-server: starts on a random port, is the one spawned, and never outlives footfall."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from stream.embedded import EmbeddedNats
from stream.errors import ServerStartError


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purpose; check its state.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return False
    return state != "Z"


def test_starts_on_loopback_with_identity_and_stops(tmp_path: Path) -> None:
    server = EmbeddedNats(tmp_path).start()
    try:
        assert server.url.startswith("nats://127.0.0.1:")
        with urllib.request.urlopen(f"{server.monitor_url}/varz", timeout=2) as resp:
            assert json.loads(resp.read())["server_name"] == server.server_name
        pid = server.pid
        assert pid is not None and _alive(pid)
    finally:
        server.stop()
    assert not _alive(pid)
    server.stop()  # twice is harmless


def test_two_servers_get_different_ports(tmp_path: Path) -> None:
    with EmbeddedNats(tmp_path / "a") as a, EmbeddedNats(tmp_path / "b") as b:
        assert a.url != b.url


def test_start_failure_reports_the_server_log(tmp_path: Path) -> None:
    (tmp_path / "jetstream").write_text("a file where the store directory should be")
    with pytest.raises(ServerStartError, match="nats-server"):
        EmbeddedNats(tmp_path, ready_timeout_s=5).start()


CHILD = """
import sys, time
sys.path.insert(0, {repo!r})
from stream.embedded import EmbeddedNats
server = EmbeddedNats({store!r}).start()
print(server.pid, flush=True)
time.sleep(60)
"""


def test_server_dies_when_footfall_is_killed(tmp_path: Path) -> None:
    repo = str(Path(__file__).resolve().parents[2])
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD.format(repo=repo, store=str(tmp_path))], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    server_pid = int(child.stdout.readline())
    assert _alive(server_pid)
    child.send_signal(signal.SIGKILL)
    child.wait()
    deadline = time.monotonic() + 10
    while _alive(server_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(server_pid), "nats-server outlived the process that spawned it"


ORPHAN = """
import os, sys, signal
sys.path.insert(0, {repo!r})
import stream.embedded as embedded
embedded._die_with_parent = lambda: None  # simulate a platform without PR_SET_PDEATHSIG
server = embedded.EmbeddedNats({store!r}).start()
print(server.pid, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_next_start_stops_a_server_orphaned_on_its_store_dir(tmp_path: Path) -> None:
    repo = str(Path(__file__).resolve().parents[2])
    child = subprocess.run(
        [sys.executable, "-c", ORPHAN.format(repo=repo, store=str(tmp_path))], capture_output=True, text=True
    )
    orphan = int(child.stdout.split()[0])
    assert _alive(orphan), "the orphan should still run: nothing told it its owner died"
    with EmbeddedNats(tmp_path) as server:  # would fail on JetStream's store lock if the orphan kept it
        assert server.pid != orphan and not server.attached
        assert not _alive(orphan)


def test_a_second_footfall_attaches_to_the_live_server_of_its_store_dir(tmp_path: Path) -> None:
    repo = str(Path(__file__).resolve().parents[2])
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD.format(repo=repo, store=str(tmp_path))], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        owner_server = int(child.stdout.readline())
        with EmbeddedNats(tmp_path) as attached:
            assert attached.attached and attached.pid == owner_server
        assert _alive(owner_server), "stopping an attached server must leave it to its owner"
        with pytest.raises(ServerStartError, match="in use"):
            EmbeddedNats(tmp_path, reuse_running=False).start()
    finally:
        child.kill()
        child.wait()


def test_restart_on_the_same_port_after_sigkill(tmp_path: Path) -> None:
    first = EmbeddedNats(tmp_path).start()
    port = int(first.url.rsplit(":", 1)[1])
    first.kill()
    with EmbeddedNats(tmp_path, port=port) as second:
        assert second.url == first.url
        assert second.server_name != first.server_name
