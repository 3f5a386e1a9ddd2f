"""`footfall bench zones`: the zone processor and every projection on a crowded simulated day (prints JSON)."""

from __future__ import annotations

import argparse
import json
import sys
import time

from ops.cli import CommandTree
from ops.commands.simulate import add_bench_day_arguments, bench_day_shopper

_HELP = """\
Simulate a crowded store day (by default the setting the zone processor is
measured at: 4 hours, 300 parties per hour, 3 cameras, realistic noise), publish
it to an embedded nats-server, then time, in one run: the raw ordered read of
FF_TRACKS (the peer), the zone processor alone through the projection runner
(overall and over the first and the last hour of frame time, so a cost that
grows over the day shows), and every projection together from an empty store
as `footfall project --until-caught-up` runs them. Prints JSON.
"""


def register(tree: CommandTree) -> None:
    tree.group("bench", "Measure throughput against a peer in the same run (prints JSON).")
    p = tree.add("bench zones", "Zone processor and every projection on a simulated day vs the raw read.", _run,
                 description=_HELP)  # fmt: skip
    add_bench_day_arguments(p)
    p.add_argument("--batch", type=int, default=None, help="runner batch size (default: the runner's)")


def _run(args: argparse.Namespace) -> int:
    from ml_core.sim.noise import NO_NOISE, REALISTIC
    from ops.bench.zones import HOUR_NS, run_bench
    from ops.simulation.simulate import simulate_day

    if args.hours < 1.0:
        print(f"footfall bench zones: --hours must be at least 1 (a first and a last hour), got {args.hours}",
              file=sys.stderr)  # fmt: skip
        return 2
    # Dated to end an hour ago: recent enough that every table (track_points keeps 30 days) keeps it.
    start_ns = (time.time_ns() // 1_000_000_000) * 1_000_000_000 - int((args.hours + 1.5) * HOUR_NS)
    print(f"simulating {args.hours} h at {args.parties_per_hour} parties/h, {args.cameras} cameras ...",
          file=sys.stderr)  # fmt: skip
    started = time.perf_counter()
    try:
        day = simulate_day(args.seed, shopper=bench_day_shopper(args),
                           noise=REALISTIC if args.noise == "realistic" else NO_NOISE, cameras=args.cameras,
                           t0_ns=start_ns)  # fmt: skip
    except ValueError as exc:
        print(f"footfall bench zones: {exc}", file=sys.stderr)
        return 2
    simulate_s = time.perf_counter() - started
    report = run_bench(day, simulate_s=simulate_s, batch=args.batch)
    print(json.dumps(report, indent=2))
    return 0
