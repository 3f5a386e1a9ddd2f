"""SIGKILL of `footfall serve` mid-fold, then a restart: every table equals a clean run's."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from pathlib import Path

from ops.bench.serve import (
    ServeBenchConfig,
    events_folded,
    footfall_command,
    footfall_env,
    free_port,
    publish_days,
    simulate_days,
    table_digests,
    wait_caught_up,
)
from stream.embedded import EmbeddedNats


def _start(url: str, data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(footfall_command("serve", "--url", url, "--data-dir", str(data_dir), "--listen",
                                      f"127.0.0.1:{port}", "--batch", "300"), env=footfall_env())  # fmt: skip


def test_sigkill_mid_fold_then_restart_equals_a_clean_run(tmp_path: Path) -> None:
    config = ServeBenchConfig(days=1, hours=0.5, parties_per_hour=300.0, cameras=2)
    with EmbeddedNats(tmp_path / "nats") as log:
        asyncio.run(publish_days(log.url, simulate_days(config, range(1))))
        data_dir, port = tmp_path / "serve", free_port()
        proc = _start(log.url, data_dir, port)
        try:
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:  # killed once it has folded some, well before the end
                try:
                    if events_folded(port) > 2000:
                        break
                except OSError:
                    pass
                time.sleep(0.2)
            else:
                raise AssertionError("serve folded nothing")
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        proc = _start(log.url, data_dir, port)
        try:
            wait_caught_up(proc, port, timeout_s=300)
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=120) == 0
        clean_dir = tmp_path / "clean"
        subprocess.run(footfall_command("project", "--until-caught-up", "--url", log.url, "--data-dir", str(clean_dir)),
                       env=footfall_env(), check=True, timeout=600)  # fmt: skip
        served, clean = table_digests(data_dir), table_digests(clean_dir)
        assert served == clean, sorted(t for t in set(served) | set(clean) if served.get(t) != clean.get(t))
        assert served["visits"][0] > 0
