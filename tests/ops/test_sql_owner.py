"""`footfall sql` while `footfall project` owns the chDB directory: answered through the owner, not a lock error."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stream.embedded import EmbeddedNats

REPO = Path(__file__).resolve().parents[2]


def _footfall(*args: str) -> list[str]:
    return [sys.executable, "-m", "ops.cli", "--log-format", "json", *args]


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(REPO))


def test_sql_goes_through_the_running_projector(tmp_path: Path) -> None:
    data = tmp_path / "d"
    with EmbeddedNats(tmp_path / "nats") as server:
        subprocess.run(_footfall("log", "init", "--url", server.url), env=_env(), check=True, capture_output=True)
        owner = subprocess.Popen(_footfall("project", "--url", server.url, "--data-dir", str(data)), env=_env(),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while not (data / "sql.sock").exists():
                if owner.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(
                        f"footfall project did not start serving: {owner.stderr.read() if owner.stderr else ''}"
                    )
                time.sleep(0.1)
            ok = subprocess.run(_footfall("sql", "--data-dir", str(data), "--format", "CSV",
                                          "SELECT count() FROM projection_checkpoints"),
                                env=_env(), capture_output=True, text=True)  # fmt: skip
            assert ok.returncode == 0, ok.stderr
            assert ok.stdout.strip().isdigit()
            bad = subprocess.run(_footfall("sql", "--data-dir", str(data), "SELECT nope FROM nowhere"),
                                 env=_env(), capture_output=True, text=True)  # fmt: skip
            assert bad.returncode == 1 and "nowhere" in bad.stderr
        finally:
            owner.send_signal(signal.SIGTERM)
            assert owner.wait(timeout=60) == 0
        assert not (data / "sql.sock").exists()
        direct = subprocess.run(_footfall("sql", "--data-dir", str(data), "--format", "CSV", "SELECT 1"),
                                env=_env(), capture_output=True, text=True)  # fmt: skip
        assert direct.returncode == 0 and direct.stdout.strip() == "1"
