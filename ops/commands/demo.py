"""`footfall demo`: the thinnest real path, end to end, on the embedded log and store."""

from __future__ import annotations

import argparse
from pathlib import Path

from ops.cli import CommandTree

_DESCRIPTION = """\
Run a scripted entrance scene end to end: start an embedded nats-server (random
loopback port, its own store dir), create the streams, publish the scene's
TrackFrames, fold them into the line_counts table in chDB, and print entries and
exits per 5-minute bucket read back by SQL beside the script's known crossings.
Then simulate a store day (footfall simulate), run it through the zone processor
and every analytics projection, print a summary (visits, median dwell per zone,
top transitions, peak queue) beside the simulator's exact truth, and draw the
heatmap (<data-dir>/heatmap.png). Exit code 0 when everything matches, 1
otherwise. The data directory is wiped first (unless --keep) and left in place
afterwards for `footfall sql`.
"""


def register(tree: CommandTree) -> None:
    parser = tree.add(
        "demo",
        "Run the scripted scene end to end (NATS -> projection -> chDB) and check it.",
        _run,
        description=_DESCRIPTION,
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(".footfall/demo"),
        help="where the demo's nats/ and chdb/ go (default: .footfall/demo)",
    )
    parser.add_argument("--seed", type=int, default=7, help="seed of the scripted scene (default: 7)")
    parser.add_argument("--people", type=int, default=40, help="visitors in the scene (default: 40)")
    parser.add_argument("--keep", action="store_true", help="do not wipe the data directory first")
    parser.add_argument("--sim-minutes", type=float, default=30.0,
                        help="minutes of the simulated store day; 0 skips it (default: 30)")  # fmt: skip
    parser.add_argument("--sim-seed", type=int, default=1, help="seed of the simulated store day (default: 1)")


def _run(args: argparse.Namespace) -> int:
    from ops.demo import format_result, run_demo

    if args.people < 1:
        raise SystemExit(f"footfall demo: --people must be at least 1, got {args.people}")
    if args.sim_minutes < 0:
        raise SystemExit(f"footfall demo: --sim-minutes must be >= 0, got {args.sim_minutes}")
    result = run_demo(args.data_dir, seed=args.seed, people=args.people, keep=args.keep,
                      sim_minutes=args.sim_minutes, sim_seed=args.sim_seed)  # fmt: skip
    print(format_result(result))
    print(
        f"\nQuery it yourself:\n  footfall sql --data-dir {args.data_dir} "
        '"SELECT bucket_start, sum(entries), sum(exits) FROM line_counts GROUP BY bucket_start ORDER BY 1"'
    )
    return 0 if result.matches else 1
