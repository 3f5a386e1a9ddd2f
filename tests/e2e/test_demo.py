"""End to end through the real CLI: `footfall demo` matches its script and leaves no process behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

REPO = Path(__file__).resolve().parents[2]


def _footfall(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-m", "ops.cli", "--log-format", "json", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def _nats_servers_under(path: Path) -> list[str]:
    out = subprocess.run(["pgrep", "-af", "nats-server"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if str(path) in line]


def test_demo_counts_match_the_script_and_sql_reads_them(tmp_path: Path) -> None:
    result = _footfall("demo", "--data-dir", str(tmp_path / "demo"), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "MATCH" in result.stdout
    assert _nats_servers_under(tmp_path) == []
    sql = _footfall("sql", "--data-dir", str(tmp_path / "demo"), "--format", "JSONCompact",
                    "SELECT sum(entries), sum(exits) FROM line_counts", cwd=tmp_path)  # fmt: skip
    assert sql.returncode == 0, sql.stderr
    totals = msgspec.json.decode(sql.stdout)["data"][0]
    assert [int(v) for v in totals] == [
        35,
        22,
    ]  # seed 7, 40 people: the truth of ops/simulation/scripted_scene


@pytest.mark.parametrize("seed", [1, 2])
def test_demo_matches_for_other_scripts(tmp_path: Path, seed: int) -> None:
    result = _footfall("demo", "--data-dir", str(tmp_path / "d"), "--seed", str(seed), "--people", "25", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "MATCH" in result.stdout


def test_cli_help_and_errors(tmp_path: Path) -> None:
    assert "demo" in _footfall("--help", cwd=tmp_path).stdout
    missing = _footfall("sql", "--data-dir", str(tmp_path / "none"), "SELECT 1", cwd=tmp_path)
    assert missing.returncode == 2 and "no store at" in missing.stderr
    bad = _footfall("demo", "--people", "0", cwd=tmp_path)
    assert bad.returncode != 0 and "--people" in bad.stderr


def test_schemas_export_cli(tmp_path: Path) -> None:
    result = _footfall("schemas", "export", str(tmp_path / "schemas"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(list((tmp_path / "schemas").glob("*.schema.json"))) == 14
    assert _footfall("schemas", "vectors", cwd=REPO).returncode == 0


def test_library_errors_are_one_clear_line(tmp_path: Path) -> None:
    # Another process holds the chDB directory: footfall's sql must say so in one line, not a traceback.
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; sys.path.insert(0, sys.argv[1]); "
         "from projections.store import ChdbStore; ChdbStore(sys.argv[2]); print('ready', flush=True); time.sleep(60)",
         str(REPO), str(tmp_path / "d" / "chdb")],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        result = _footfall("sql", "--data-dir", str(tmp_path / "d"), "SELECT 1", cwd=tmp_path)
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == 1
    assert "in use by another process" in result.stderr
    assert "Traceback" not in result.stderr
