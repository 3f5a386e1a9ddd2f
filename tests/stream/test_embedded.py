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
