"""`footfall compare`: the measures of two periods, their difference and a bootstrap interval for each."""

from __future__ import annotations

import argparse
import json
import sys

from ops.cli import CommandTree
from ops.paths import add_data_dir_argument

_HELP = """\
Read visits, entries and exits per door, stays and dwell (median, p90) per zone,
transitions, funnel stages, queue and occupancy for periods A and B from the
live tables, and print A, B, B - A and a bootstrap interval of B - A.

The bootstrap resamples each period's units (hours or days) with replacement:
days when both periods span at least 7 days (--unit auto), since then the
day-to-day variation (weekday, weather) is what a change must stand out from,
and hours within a day are not independent; hours otherwise. Counts are totals
when both periods have as many units, else means per unit.

  footfall compare --a 2026-12-01T00:00Z..2026-12-08T00:00Z --b 2026-12-08T00:00Z..2026-12-15T00:00Z

A running `footfall serve` or `footfall project` is asked over its SQL socket.
"""


def _period(value: str) -> tuple[int, int]:
    from ops.clock import iso_ns

    start, sep, end = value.partition("..")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected FROM..TO (ISO 8601 with zones), got {value!r}")
    try:
        a, b = iso_ns(start), iso_ns(end)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if b <= a:
        raise argparse.ArgumentTypeError(f"a period must end after it starts, got {value!r}")
    return a, b


def register(tree: CommandTree) -> None:
    p = tree.add("compare", "Two periods' measures, their difference and a bootstrap interval for each.", _run,
                 description=_HELP)  # fmt: skip
    p.add_argument("--a", type=_period, required=True, metavar="FROM..TO", help="period A, ISO 8601 with zones")
    p.add_argument("--b", type=_period, required=True, metavar="FROM..TO", help="period B, ISO 8601 with zones")
    p.add_argument("--store", default=None, help="store id (default: the one store in the visits table)")
    p.add_argument("--unit", choices=("auto", "hour", "day"), default="auto",
                   help="unit the bootstrap resamples (auto: days from 7 days per period, else hours)")  # fmt: skip
    p.add_argument("--level", type=float, default=0.9, help="interval level (default: 0.9)")
    p.add_argument("--resamples", type=int, default=2000, help="bootstrap replicates (default: 2000)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: 0)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_data_dir_argument(p)


def _run(args: argparse.Namespace) -> int:
    import contextlib

    from ops.commands.whatif import owned
    from ops.runtime import open_store
    from ops.whatif import OwnerReads, comparison_json, text_table
    from projections.measures import Window
    from projections.periods import DAY_S, choose_unit_s, compare
    from projections.store import Store, StoreError

    unit_s = choose_unit_s(args.unit, args.a, args.b)
    with contextlib.ExitStack() as stack:
        owner = owned(args.data_dir)  # a running serve or project holds the store: ask it
        store: Store = OwnerReads(args.data_dir) if owner else stack.enter_context(open_store(args.data_dir))
        try:
            store_id = args.store
            if store_id is None:
                stores = [str(r[0]) for r in store.query_rows(f"SELECT DISTINCT store_id FROM {store.database}.visits")]
                if len(stores) != 1:
                    print(f"footfall compare: pass --store: the visits table holds {len(stores)} stores "
                          f"({', '.join(sorted(stores))})", file=sys.stderr)  # fmt: skip
                    return 2
                store_id = stores[0]
            window_a, window_b = Window(args.a[0], args.a[1], unit_s), Window(args.b[0], args.b[1], unit_s)
            result = compare(store, store_id, window_a, window_b, level=args.level,
                             resamples=args.resamples, seed=args.seed)  # fmt: skip
        except (StoreError, ValueError) as exc:
            print(f"footfall compare: {exc}", file=sys.stderr)
            return 1
    if args.json:
        print(json.dumps(comparison_json(result, store_id), indent=2))
        return 0
    unit = "day" if result.unit_s == DAY_S else "hour" if result.unit_s == 3600 else f"{result.unit_s} s"
    print(f"{store_id}: A {result.units_a} {unit}s, B {result.units_b} {unit}s; {result.level:.0%} bootstrap "
          f"interval of B - A over {unit}s ({result.resamples} replicates)"
          + ("; counts per unit" if result.counts_per_unit else ""))  # fmt: skip
    cells = [f"[{r.lo:+.2f}, {r.hi:+.2f}]" if r.lo == r.lo else "-" for r in result.rows]
    print(text_table(result.rows, "A", "B", extra=[(f"{result.level:.0%} interval of B - A", cells)]))
    return 0
