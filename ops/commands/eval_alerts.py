"""`footfall eval alerts`: alert intervals of the real path vs the simulator's true intervals."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ops.cli import CommandTree

_HELP = """\
Simulate a seeded 40-minute store day with scenarios that breach alert rules
(two checkout surges, two crowds at a promotion in the drinks zone, a staff
break that leaves no staff on the floor for five minutes), publish
it to an embedded nats-server, run the zone processor and the alert processor
on it as a store's would run, read the alerts back from FF_ALERTS and the
alerts table, and score them against the true intervals: the same rules, by
the same definitions (min_duration_s, clear_below, clear_after_s, active
hours, the store going dark), on series from true positions.

Rules: checkout-surge (queue_length), queue-wait (wait_s), promo-crowd
(density_per_m2), promo-full (occupancy, active 11:00-11:30 local, so one of
its alerts clears as inactive), store-busy (whole-store occupancy), staff-gap
(customers_per_staff: customers over staff out of the staff zones).

Matching: per rule, each true interval in time order is paired with the
earliest unpaired measured interval that overlaps it. Precision = paired /
measured, recall = paired / truth; onset delay = measured raise - true raise.
Targets: noise none, intervals (raise, clear, value at raise, peak, reason)
equal the truth exactly; noise realistic, precision and recall >= 0.95 and
|median onset delay| <= 2 s. --seed and --cameras take several values: every
combination runs, on one log. Exit 0 when every target passes.
"""


def register(tree: CommandTree) -> None:
    tree.group("eval", "Measure accuracy against ground truth (prints JSON).")
    parser = tree.add("eval alerts", "Alert intervals vs the simulator's true intervals.", _run, description=_HELP)
    parser.add_argument("--seed", type=int, nargs="+", default=[1], metavar="S", help="simulator seeds (default: 1)")
    parser.add_argument("--cameras", type=int, nargs="+", default=[1], metavar="N",
                        help="cameras splitting the floor (default: 1)")  # fmt: skip
    parser.add_argument("--noise", choices=["none", "realistic", "both"], default="both",
                        help="tracker noise (default: both, each scored on its own)")  # fmt: skip
    parser.add_argument(
        "--minutes",
        type=float,
        default=40.0,
        help="minutes of arrivals (default: 40; at least 32, when the last scenario ends)",
    )
    parser.add_argument("--data-dir", type=Path, default=None, help="keep the log and store here (default: temp)")
    parser.add_argument("--json", action="store_true", help="print the whole report as JSON (default: a table)")


def _run(args: argparse.Namespace) -> int:
    import sys

    from ops.eval.alerts import run_eval

    if any(c < 1 for c in args.cameras):
        raise SystemExit(f"footfall eval alerts: --cameras must be at least 1, got {args.cameras}")
    noises = ["none", "realistic"] if args.noise == "both" else [args.noise]
    try:
        result = run_eval(args.seed, args.cameras, noises, minutes=args.minutes, data_dir=args.data_dir)
    except ValueError as exc:
        print(f"footfall eval alerts: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2, default=float) if args.json else table(result))
    return 0 if result["pass"] else 1


def table(result: dict[str, Any]) -> str:
    """One line per run: seed, cameras, noise, alerts, precision, recall, median and largest |onset delay|,
    exact, pass."""
    head = f"{'seed':>4} {'cams':>4} {'noise':<9} {'truth':>5} {'meas':>5} {'prec':>6} {'recall':>6} "
    lines = [head + f"{'onset_s':>8} {'|max|_s':>8} {'exact':>5} {'pass':>5}"]
    for r in result["runs"]:
        delay = "-" if r["median_onset_delay_s"] is None else f"{r['median_onset_delay_s']:.1f}"
        worst = "-" if r["max_abs_onset_delay_s"] is None else f"{r['max_abs_onset_delay_s']:.1f}"
        lines.append(f"{r['seed']:>4} {r['cameras']:>4} {r['noise']:<9} {r['truth_alerts']:>5} "
                     f"{r['measured_alerts']:>5} {r['precision']:>6.3f} {r['recall']:>6.3f} {delay:>8} {worst:>8} "
                     f"{'yes' if r['exact'] else 'no':>5} {'yes' if r['pass'] else 'no':>5}")  # fmt: skip
    lines.append(f"noise-free exact: {'yes' if result['noise_free_exact'] else 'no'}; "
                 f"pass: {'yes' if result['pass'] else 'no'}")  # fmt: skip
    return "\n".join(lines)
