"""Every command that `footfall --help` lists answers --help at once, and a missing extra is one clear line.

Each command runs in a fresh interpreter, as a user's shell would start it, and reports which heavy
libraries the parse imported: numba, chdb and pyarrow load inside the handlers only.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ops.cli import build_parser

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("numba", "chdb", "pyarrow")

# Runs `footfall ARGS...` in-process and prints {"code": exit code, "heavy": heavy modules loaded}.
_PROBE = """
import json, sys
from ops.cli import main
try:
    code = main(sys.argv[2:])
except SystemExit as exc:
    code = exc.code
heavy = [m for m in json.loads(sys.argv[1]) if m in sys.modules]
print(json.dumps({"code": code, "heavy": heavy}), file=sys.stderr)
"""

# `footfall ARGS...` on an install without the `eval` extra: its packages cannot be imported.
_WITHOUT_EVAL = """
import sys
for name in ("trackers", "supervision"):
    sys.modules[name] = None  # `import trackers` raises ModuleNotFoundError, as when it is not installed
from ops.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _commands() -> list[tuple[str, ...]]:
    """Every command path in the parser: (), ("demo",), ("bench",), ("bench", "tracker"), ..."""
    paths: list[tuple[str, ...]] = [()]

    def walk(parser: argparse.ArgumentParser, prefix: tuple[str, ...]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    paths.append((*prefix, name))
                    walk(sub, (*prefix, name))

    walk(build_parser(), ())
    return paths


def _run(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)  # fmt: skip


def test_the_walk_finds_every_group_and_its_commands() -> None:
    paths = _commands()
    assert {("eval", "mot"), ("bench", "tracker"), ("simulate",), ("demo",)} <= set(paths)
    assert len(paths) > 20


@pytest.mark.parametrize("path", _commands(), ids=lambda p: " ".join(p) or "footfall")
def test_help_exits_0_without_loading_heavy_libraries(path: tuple[str, ...]) -> None:
    result = _run(_PROBE, json.dumps(HEAVY), *path, "--help")
    report = json.loads(result.stderr.strip().splitlines()[-1])
    assert report == {"code": 0, "heavy": []}, result.stderr
    assert result.stdout.startswith("usage: footfall"), result.stdout


@pytest.mark.parametrize(
    "args",
    [("eval", "mot"), ("eval", "mot", "--tracker", "trackers"), ("bench", "tracker", "--no-startup")],
    ids=" ".join,
)
def test_a_missing_extra_is_one_line_naming_the_install(args: tuple[str, ...]) -> None:
    result = _run(_WITHOUT_EVAL, "--log-format", "json", *args)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"footfall {' '.join(args[:2])}: needs the 'trackers' package from the 'eval' extra")
    assert "make eval" in lines[0] and "pip install 'footfall[eval]'" in lines[0]
