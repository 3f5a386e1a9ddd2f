"""A nats-server run from a generated config file (a hub server of stream/topology.py), as a child process.

Unlike EmbeddedNats, the server's name and ports are the config's own: a hub
server keeps its name across restarts because JetStream knows a cluster
peer by it, and its routes name fixed ports. The child dies with the thread
that spawned it (PR_SET_PDEATHSIG), so a killed footfall leaves no server.
"""

from __future__ import annotations

import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

import msgspec

from stream.embedded import _die_with_parent, nats_server_binary
from stream.errors import ConfigError, ServerStartError
from stream.topology import Topology, hub_server_config, parse_topology, render_server_config


class ServerProcess:
    """One nats-server child process started from `config_path`, logging to `log_path`.

    monitor_url: the server's monitoring endpoint (http://host:port), which
    start() polls until JetStream is enabled and healthy, for up to
    ready_timeout_s seconds.
    """

    def __init__(self, config_path: Path, log_path: Path, monitor_url: str, *, ready_timeout_s: float = 30.0) -> None:
        self.config_path = Path(config_path)
        self.log_path = Path(log_path)
        self.monitor_url = monitor_url.rstrip("/")
        self.ready_timeout_s = ready_timeout_s
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, *, wait: bool = True) -> ServerProcess:
        """Spawn the server; with wait, return once /healthz answers 200 (ServerStartError with its log if not).

        A cluster member only turns healthy once it has found a quorum, so start every member with
        wait=False and then wait_ready() on each.
        """
        if self.running:
            return self
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        use_pdeathsig = sys.platform.startswith("linux")
        self._proc = subprocess.Popen(
            [str(nats_server_binary()), "--config", str(self.config_path), "--log", str(self.log_path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent if use_pdeathsig else None,  # noqa: PLW1509 - no threads at this point
        )
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, path: str = "/healthz") -> None:
        """Wait until `path` on the monitoring port answers 200; ServerStartError names the log's tail if not.

        /healthz answers 200 once JetStream is current: in a cluster, a meta leader is known and every
        stream and consumer this server holds has caught up.
        """
        deadline = time.monotonic() + self.ready_timeout_s
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                code = None if self._proc is None else self._proc.returncode
                raise ServerStartError(f"nats-server {self.config_path} exited ({code}):\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.monitor_url + path, timeout=1.0) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass  # not listening yet, or 503 while JetStream recovers
            time.sleep(0.05)
        raise ServerStartError(
            f"nats-server {self.config_path} not ready within {self.ready_timeout_s} s:\n{self.log_tail()}"
        )

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM (a clean shutdown: JetStream flushes and a cluster leader hands over), SIGKILL after timeout_s."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def kill(self) -> None:
        """SIGKILL the server, as a crash would."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.kill()
        proc.wait()

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs."""
        return self._proc.pid if self.running and self._proc is not None else None

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the server's log (for error messages)."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log written)"

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class HubCluster:
    """Every server of a topology's hub, run from generated configs under work_dir (conf/, logs/).

    Each hub server needs a monitor_port: readiness is read from its /healthz.
    """

    def __init__(self, topology: Topology, work_dir: Path, *, ready_timeout_s: float = 60.0) -> None:
        self.topology = topology
        self.work_dir = Path(work_dir)
        self.servers: dict[str, ServerProcess] = {}
        conf_dir, log_dir = self.work_dir / "conf", self.work_dir / "logs"
        conf_dir.mkdir(parents=True, exist_ok=True)
        header = "generated by footfall for a hub run from a topology"
        for i, spec in enumerate(topology.hub.servers):
            if spec.monitor_port is None:
                raise ConfigError(f"hub.servers[{i}].monitor_port: needed to tell when {spec.name} is ready, got none")
            path = conf_dir / f"hub-{spec.name}.conf"
            path.write_text(render_server_config(hub_server_config(topology, i), header))
            self.servers[spec.name] = ServerProcess(
                path, log_dir / f"{spec.name}.log", f"http://{spec.host}:{spec.monitor_port}",
                ready_timeout_s=ready_timeout_s,
            )  # fmt: skip

    @property
    def url(self) -> str:
        """Every hub server's client URL, comma-separated (what `--url` takes)."""
        return ",".join(self.topology.client_urls())

    def start(self) -> HubCluster:
        """Start every server, then wait until each is healthy (a member needs the others for a quorum)."""
        for server in self.servers.values():
            server.start(wait=False)
        for server in self.servers.values():
            server.wait_ready()
        return self

    def stop(self) -> None:
        """Stop every server (SIGTERM)."""
        for server in self.servers.values():
            server.stop()

    def __enter__(self) -> HubCluster:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def free_loopback_ports(count: int) -> list[int]:
    """`count` distinct TCP ports free on 127.0.0.1 right now (another process may take one before it is used:
    for tests and benches on one machine, where a cluster's routes need ports known in advance)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


def loopback_topology(
    root: Path, *, servers: int, stores: list[str], replicas: int | None = None, auth: bool = False
) -> Topology:
    """A hub of `servers` servers on free loopback ports with store dirs under root, sourcing `stores`;
    with auth, its users (admin, projector, a leaf user per store) get random passwords."""
    ports = free_loopback_ports(4 * servers)
    hub = {
        "servers": [
            {
                "name": f"hub-{i + 1}",
                "client_port": ports[4 * i],
                "leafnode_port": ports[4 * i + 1],
                "cluster_port": ports[4 * i + 2] if servers > 1 else None,
                "monitor_port": ports[4 * i + 3],
                "store_dir": str(Path(root) / f"hub-{i + 1}"),
            }
            for i in range(servers)
        ]
    }
    raw: dict[str, object] = {
        "hub": hub,
        "stores": [{"id": s, "leaf_password": secrets.token_urlsafe(18) if auth else None} for s in stores],
        "log": {"replicas": replicas or min(servers, 3)},
    }
    if auth:
        raw["auth"] = {"admin_password": secrets.token_urlsafe(18), "projector_password": secrets.token_urlsafe(18),
                       "ingest_password": secrets.token_urlsafe(18)}  # fmt: skip
    return parse_topology(msgspec.to_builtins(raw), source="loopback topology")
