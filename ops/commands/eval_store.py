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

--plan FILE simulates your own store instead of the built-in one: a floor plan
in TOML or JSON (zones, doors, aisle graph, queue, counter; see README "Your
own store"), or the name of a shipped plan (kiosk, large_two_doors).
"""


def register(tree: CommandTree) -> None:
    tree.group("eval", "Measure accuracy against ground truth (prints JSON).")
    parser = tree.add("eval store", "Analytics vs the store simulator's exact truth (prints JSON).", _run,
                      description=_HELP)  # fmt: skip
    parser.add_argument("--seed", type=int, default=1, help="simulator seed (default: 1)")
    parser.add_argument("--minutes", type=float, default=60.0, help="minutes of arrivals (default: 60)")
    parser.add_argument("--cameras", type=int, default=1, help="cameras splitting the floor (default: 1)")
    parser.add_argument("--data-dir", type=Path, default=None, help="keep the log and store here (default: temp)")
    parser.add_argument("--plan", default=None, metavar="FILE",
                        help="floor plan (.toml, .json) or a shipped plan's name (default: built in)")  # fmt: skip
    parser.add_argument("--parties-per-hour", type=float, default=None, help="mean arrival rate (default: 150)")
    parser.add_argument("--service-mean-s", type=float, default=None,
                        help="mean checkout service time, seconds (default: 30)")  # fmt: skip


def _run(args: argparse.Namespace) -> int:
    import sys

    from ml_core.sim.agents import ShopperConfig
    from ml_core.sim.plan_file import PlanFileError, resolve_plan
    from ops.eval.store import run_eval

    if args.minutes <= 0:
        raise SystemExit(f"footfall eval store: --minutes must be > 0, got {args.minutes}")
    if args.cameras < 1:
        raise SystemExit(f"footfall eval store: --cameras must be at least 1, got {args.cameras}")
    try:
        plan = resolve_plan(args.plan) if args.plan is not None else None
        base = ShopperConfig()
        rate = args.parties_per_hour if args.parties_per_hour is not None else base.parties_per_hour
        service = args.service_mean_s if args.service_mean_s is not None else base.service_mean_s
        shopper = ShopperConfig(parties_per_hour=rate, service_mean_s=service)
    except (PlanFileError, ValueError) as exc:
        print(f"footfall eval store: {exc}", file=sys.stderr)
        return 2
    result = run_eval(args.seed, args.minutes, args.data_dir, args.cameras, plan=plan, shopper=shopper)
    result["plan"] = args.plan or "default"
    print(json.dumps(result, indent=2, default=float))
    return 0 if result["pass"] else 1
