"""`footfall log init|status|serve` against a real nats-server."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ops.cli import main
from stream.embedded import EmbeddedNats

REPO = Path(__file__).resolve().parents[2]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_init_twice_changes_nothing_and_a_changed_limit_is_reported(
    fresh_nats: EmbeddedNats, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "log", "init", "--url", fresh_nats.url)
    assert code == 0 and out.count("created") == 7
    code, out, _ = run(capsys, "log", "init", "--url", fresh_nats.url)
    assert code == 0 and out.count("unchanged") == 7, out
    code, out, _ = run(capsys, "log", "init", "--url", fresh_nats.url, "--max-age-s", "FF_TRACKS=604800")
    assert code == 0
    assert "FF_TRACKS   updated: max_age: 2592000.0 -> 604800.0" in out
    assert out.count("unchanged") == 6


CONFIGS = [
    pytest.param("log.toml", "[limits.FF_POS]\nmax_age_s = 86400\n", 0, "FF_POS      updated", id="toml"),
    pytest.param("log.json", '{"limits": {"FF_POS": {"max_age_s": 86400}}}', 0, "FF_POS      updated", id="json"),
    pytest.param("log.toml", "replicaz = 1\n", 2, "unknown field `replicaz`", id="unknown-key"),
    pytest.param("log.toml", "[limits.FF_NOPE]\nmax_age_s = 1\n", 2, "unknown stream", id="unknown-stream"),
    pytest.param(
        "log.toml",
        "[limits.FF_POS]\nmax_age_s = -1\n",
        2,
        "Expected `float` >= 0.0 - at `$.limits[...].max_age_s`",
        id="negative",
    ),
    pytest.param("log.toml", "replicas = 3\n", 1, "replicas", id="r3-on-one-server"),
]


@pytest.mark.parametrize(("name", "text", "code", "says"), CONFIGS)
def test_init_reads_a_config_file(
    fresh_nats: EmbeddedNats,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    name: str,
    text: str,
    code: int,
    says: str,
) -> None:
    run(capsys, "log", "init", "--url", fresh_nats.url)
    path = tmp_path / name
    path.write_text(text)
    got, out, err = run(capsys, "log", "init", "--url", fresh_nats.url, "--config", str(path))
    assert got == code, (out, err)
    assert says in out + err


def test_status_shows_streams_and_consumers(fresh_nats: EmbeddedNats, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "log", "status", "--url", fresh_nats.url)
    assert code == 0 and "FF_TRACKS   (missing" in out, err
    run(capsys, "log", "init", "--url", fresh_nats.url)
    code, out, _ = run(capsys, "log", "status", "--url", fresh_nats.url, "--json")
    streams = {s["name"]: s for s in json.loads(out)}
    assert streams["FF_TRACKS"]["exists"] and streams["FF_TRACKS"]["messages"] == 0


def test_serve_prints_its_url_is_found_by_other_commands_and_stops_on_sigterm(tmp_path: Path) -> None:
    env = {"PYTHONPATH": str(REPO), "PATH": str(Path(sys.executable).parent)}
    cmd = [sys.executable, "-m", "ops.cli", "log"]
    serve = subprocess.Popen([*cmd, "serve", "--data-dir", str(tmp_path)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert serve.stdout is not None
        url = serve.stdout.readline().strip()
        assert url.startswith("nats://127.0.0.1:")
        init = subprocess.run([*cmd, "init", "--data-dir", str(tmp_path)], capture_output=True, text=True, env=env)
        assert init.returncode == 0 and init.stdout.count("created") == 7, init.stderr
        status = subprocess.run(
            [*cmd, "status", "--url", url, "--json"], capture_output=True, text=True, env=env, check=True
        )
        assert all(s["exists"] for s in json.loads(status.stdout))
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=30) == 0
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()
    assert not (tmp_path / "nats" / "server.json").exists()
