"""`footfall eval uncertainty`: coverage of the counts' nominal 90% intervals on the store simulator (JSON)."""

from __future__ import annotations

import argparse
import json
import sys

from ops.cli import CommandTree

_HELP = """\
For each noise setting (realistic: the simulator's realistic tracker; pets09:
NanoDet's miss and id-switch rates on PETS09-S2L1), simulate seeded days, fold
them through the zone processor, and count visits, door entries and exits per
5 minutes, hour and day against the simulator's exact truth. The error model
(projections/uncertainty.py) is fitted on the --train seeds and scored on the
--test seeds: how often the true count lies inside the nominal 90% interval of
the measured one, per measure and window. Exit 0 when visits and door entries
at 1-hour windows cover between 85% and 95% under every setting.
"""


def _seeds(value: str) -> list[int]:
    first, sep, last = value.partition("..")
    try:
        return list(range(int(first), int(last) + 1)) if sep else [int(v) for v in value.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seeds as A..B or a,b,c, got {value!r}") from None


def register(tree: CommandTree) -> None:
    tree.group("eval", "Measure accuracy against ground truth (prints JSON).")
    p = tree.add("eval uncertainty", "Coverage of the counts' 90%% intervals on the simulator (prints JSON).", _run,
                 description=_HELP)  # fmt: skip
    p.add_argument("--train", type=_seeds, default=_seeds("1..20"), help="seeds the model is fitted on (1..20)")
    p.add_argument("--test", type=_seeds, default=_seeds("21..60"), help="seeds coverage is scored on (21..60)")
    p.add_argument("--noise", nargs="+", default=["realistic", "pets09"], choices=["realistic", "pets09"],
                   help="noise settings (default: both)")  # fmt: skip
    p.add_argument("--minutes", type=float, default=180.0, help="minutes of arrivals per day (default: 180)")
    p.add_argument("--cameras", type=int, default=3, help="cameras splitting the floor (default: 3)")
    p.add_argument("--workers", type=int, default=None,
                   help="processes simulating days in parallel (default: one per core)")  # fmt: skip


def _run(args: argparse.Namespace) -> int:
    from ops.eval.uncertainty import run_eval

    if args.minutes <= 0 or args.cameras < 1 or (args.workers is not None and args.workers < 1):
        print("footfall eval uncertainty: --minutes must be > 0, --cameras and --workers at least 1", file=sys.stderr)
        return 2
    if set(args.train) & set(args.test):
        print("footfall eval uncertainty: --train and --test seeds must differ", file=sys.stderr)
        return 2

    def progress(label: str, n: int) -> None:
        print(f"{label}: {n} seeds", file=sys.stderr, flush=True)

    result = run_eval(
        args.train, args.test, args.noise, minutes=args.minutes, cameras=args.cameras, progress=progress,
        workers=args.workers,
    )  # fmt: skip
    print(json.dumps(result, indent=2))
    return 0 if result["pass"] else 1
