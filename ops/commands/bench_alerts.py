"""`footfall bench alerts`: alert latency on the live path, 25 cameras at 10 frames/s."""

from __future__ import annotations

import argparse
import json
import sys

from ops.cli import CommandTree

_HELP = """\
Five simulated stores of five cameras each (25 cameras) at --fps: each store's first --warm-s seconds
are published at once (its queue and zones fill), then --seconds more at the cameras' own pace while
the zone processor and the alert processor run live. For every alert raised in the paced part it
measures the time from the TrackFrame that completed the rule's condition being stored to the
AlertRaised being stored on FF_ALERTS (both the server's timestamps): p50, p99 and max, in JSON.
Then (unless --no-backtest) `footfall bench alerts-backtest`: the backtest of a simulated 12-hour day,
as a ratio to real time. Uses fresh embedded nats-servers and chDB in temporary directories.
"""


def register(tree: CommandTree) -> None:
    tree.group("bench", "Measure throughput against a peer in the same run (prints JSON).")
    p = tree.add("bench alerts", "Latency from a rule's completing frame to its alert on the log.", _run,
                 description=_HELP)  # fmt: skip
    p.add_argument("--seconds", type=float, default=60.0, help="paced part, seconds of wall time (default: 60)")
    p.add_argument("--warm-s", type=float, default=600.0, help="store time published at once first (default: 600)")
    p.add_argument("--fps", type=float, default=10.0, help="frames per second per camera (default: 10)")
    p.add_argument("--no-backtest", action="store_true", help="leave out the 12-hour backtest (about a minute)")


def _run(args: argparse.Namespace) -> int:
    from ops.bench.alerts import run_bench

    for name, value in (("--seconds", args.seconds), ("--warm-s", args.warm_s), ("--fps", args.fps)):
        if value <= 0:
            print(f"footfall bench alerts: {name} must be > 0, got {value}", file=sys.stderr)
            return 2
    report = {"latency": run_bench(warm_s=args.warm_s, paced_s=args.seconds, fps=args.fps)}
    if not args.no_backtest:
        from ops.bench.alerts_backtest import run_bench as run_backtest_bench

        report["backtest"] = run_backtest_bench(hours=12.0, parties_per_hour=300.0, cameras=3, seed=1)
    print(json.dumps(report, indent=2))
    return 0
