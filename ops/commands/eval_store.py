"""`footfall eval store`: analytics accuracy on the store simulator (prints JSON)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ops.cli import CommandTree

_HELP = """\
Simulate a seeded store day twice (noise-free, and with realistic tracker noise:
5% dropped observations, 0.15 m jitter, 1 id switch per 200 track-seconds, a
fragmented track per 600 track-seconds), run both through an embedded
nats-server, the zone processor and the analytics projections into chDB, and
print measured vs truth as JSON with pass/fail per target: visits within 2%,
median dwell per zone within 5%, transition TVD < 0.05, queue length MAE < 0.5,
staff precision >= 98%. Exit 0 when every target passes.
"""


def register(tree: CommandTree) -> None:
    tree.group("eval", "Measure accuracy against ground truth (prints JSON).")
    parser = tree.add("eval store", "Analytics vs the store simulator's exact truth (prints JSON).", _run,
                      description=_HELP)  # fmt: skip
    parser.add_argument("--seed", type=int, default=1, help="simulator seed (default: 1)")
    parser.add_argument("--minutes", type=float, default=60.0, help="minutes of arrivals (default: 60)")
    parser.add_argument("--cameras", type=int, default=1, help="cameras splitting the floor (default: 1)")
    parser.add_argument("--data-dir", type=Path, default=None, help="keep the log and store here (default: temp)")


def _run(args: argparse.Namespace) -> int:
    from ops.store_eval import run_eval

    if args.minutes <= 0:
        raise SystemExit(f"footfall eval store: --minutes must be > 0, got {args.minutes}")
    if args.cameras < 1:
        raise SystemExit(f"footfall eval store: --cameras must be at least 1, got {args.cameras}")
    result = run_eval(args.seed, args.minutes, args.data_dir, args.cameras)
    print(json.dumps(result, indent=2, default=float))
    return 0 if result["pass"] else 1
