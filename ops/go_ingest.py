"""Building and running the Go ingest service (go-ingest/) from Python, for local use and tests."""

from __future__ import annotations

import contextlib
import hashlib
import json
import secrets
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

GO_INGEST_DIR = Path(__file__).resolve().parents[1] / "go-ingest"


class GoIngestError(RuntimeError):
    """go-ingest could not be built or did not become ready."""


def build(command: str = "go-ingest") -> Path:
    """Build `go-ingest/cmd/<command>` into go-ingest/bin/ if any Go source is newer; return the binary."""
    go = shutil.which("go")
    if go is None:
        raise GoIngestError("the Go toolchain (`go`) is not on PATH; install Go 1.26 to build go-ingest")
    binary = GO_INGEST_DIR / "bin" / command
    sources = [*GO_INGEST_DIR.rglob("*.go"), GO_INGEST_DIR / "go.mod", GO_INGEST_DIR / "go.sum"]
    newest = max(p.stat().st_mtime for p in sources)
    if binary.exists() and binary.stat().st_mtime >= newest:
        return binary
    result = subprocess.run(
        [go, "build", "-o", str(binary), f"./cmd/{command}"],
        cwd=GO_INGEST_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise GoIngestError(f"building go-ingest/cmd/{command} failed:\n{result.stderr.strip()}")
    return binary


def write_token_file(path: Path, stores: list[str]) -> str:
    """Write a token file granting one new random token the given stores; return the token (shown once)."""
    token = secrets.token_urlsafe(32)
    entry = {"sha256": hashlib.sha256(token.encode()).hexdigest(), "stores": stores, "name": "footfall-ingest-local"}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"tokens": [entry]}, indent=2) + "\n")
    path.chmod(0o600)
    return token


def free_loopback_port() -> int:
    """A port free on 127.0.0.1 now (go-ingest takes -listen, so the port is chosen here)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running(nats_url: str, token_file: Path, *, listen: str | None = None, ready_timeout_s: float = 30.0,
            extra_args: tuple[str, ...] = ()) -> Iterator[str]:  # fmt: skip
    """Run go-ingest against nats_url; yield its base URL once /readyz answers; stop it (SIGTERM) on exit."""
    binary = build()
    listen = listen or f"127.0.0.1:{free_loopback_port()}"
    args = [str(binary), "-nats-url", nats_url, "-token-file", str(token_file), "-listen", listen, *extra_args]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://{listen}"
    try:
        deadline = time.monotonic() + ready_timeout_s
        while True:
            if proc.poll() is not None:
                raise GoIngestError(
                    f"go-ingest exited with code {proc.returncode}:\n{proc.stderr.read() if proc.stderr else ''}"
                )
            try:
                with urllib.request.urlopen(f"{base}/readyz", timeout=1.0) as resp:
                    if resp.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise GoIngestError(f"go-ingest at {base} was not ready within {ready_timeout_s} s "
                                    "(are the streams created? `footfall log init`)")  # fmt: skip
            time.sleep(0.05)
        yield base
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
