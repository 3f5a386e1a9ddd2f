"""`footfall bench simulate`: how long a simulated store day takes to simulate, and to publish (prints JSON)."""

from __future__ import annotations

import argparse
import json
import sys

from ops.cli import CommandTree
from ops.commands.simulate import add_bench_day_arguments, bench_day_shopper

_HELP = """\
Simulate a store day (by default the crowded setting: 4 hours of arrivals at
300 parties per hour, 3 cameras, realistic noise) and time it; then publish it
to an embedded nats-server (in a temporary directory) and time that. Prints
JSON: simulate_s, publish_s, frames (TrackFrame messages), observations (tracks
in them), messages published, and frames and observations per second of each.
"""


def register(tree: CommandTree) -> None:
    tree.group("bench", "Measure throughput against a peer in the same run (prints JSON).")
    p = tree.add("bench simulate", "Time simulating a store day and publishing it to the log.", _run,
                 description=_HELP)  # fmt: skip
    add_bench_day_arguments(p)
    p.add_argument("--no-publish", action="store_true", help="only simulate (publish_s is then null)")


def _run(args: argparse.Namespace) -> int:
    from ml_core.sim.noise import NO_NOISE, REALISTIC
    from ops.bench.simulate import run_bench

    try:
        shopper = bench_day_shopper(args)
    except ValueError as exc:
        print(f"footfall bench simulate: {exc}", file=sys.stderr)
        return 2
    report = run_bench(args.seed, shopper=shopper, noise=REALISTIC if args.noise == "realistic" else NO_NOISE,
                       cameras=args.cameras, publish=not args.no_publish)  # fmt: skip
    print(json.dumps(report.as_json(), indent=2))
    return 0
