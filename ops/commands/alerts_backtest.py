"""`footfall alerts backtest` (candidate alert rules folded over history, in memory) and
`footfall bench alerts-backtest` (its speed on a simulated 12-hour day)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ops.cli import CommandTree
from ops.runtime import add_log_arguments
from stream.client_auth import client_options

_HELP = """\
Fold the store's history from the log (FF_DERIVED's queue and occupancy
samples, FF_LAYOUT's layouts) with the rules in FILE in place of each layout
version's rules, exactly as the alert processor would, and report per rule:
the number of alerts, alert minutes, median and longest duration, alerts per
day (local calendar days from the first sample to the last) and the first
intervals (an alert still open at the end of the window is reported open).
Nothing is published and nothing is written to the store.

FILE (.json or .toml) lists rules with the fields of a layout's alert rules:
  [{"rule_id": "long-queue", "zone_id": "queue", "metric": "queue_length",
    "threshold": 4, "min_duration_s": 30, "clear_below": 2, "clear_after_s": 10}]
or in TOML, [[rules]] tables. It is checked like a layout config file and
against every layout version in force in the window; an error names the rule
and the field (exit code 2).

--compare adds the current rules (as published in the layouts) beside the
candidates. A progress bar on stderr; a table on stdout, or JSON with --json
(its `timing` has the ratio of history folded to wall time).
"""

_BENCH_HELP = """\
Simulate a crowded day (default: 12 hours, 300 parties per hour, 3 cameras,
realistic noise), publish it to an embedded nats-server, fold it with the zone
processor through the projection runner (not timed; this takes minutes), then
time the backtest of a rule set over FF_DERIVED. Prints JSON with the ratio of
simulated seconds to the backtest's wall seconds.
"""


def register(tree: CommandTree) -> None:
    tree.group("alerts", "Alert rules: backtest on history, forward to labour systems.")
    p = tree.add("alerts backtest", "Fold history with candidate alert rules in memory; publish nothing.", _run,
                 description=_HELP)  # fmt: skip
    p.add_argument("--rules", type=Path, required=True, metavar="FILE", help="candidate rules (.json or .toml)")
    p.add_argument("--store", default=None, help="store id (default: the only store with a layout)")
    p.add_argument("--from", dest="from_ns", type=_iso, default=None, metavar="ISO",
                   help="start of the window (frame time), ISO 8601 with a zone, e.g. 2026-12-05T09:00+01:00 "
                   "(default: all history)")  # fmt: skip
    p.add_argument("--to", dest="to_ns", type=_iso, default=None, metavar="ISO",
                   help="end of the window, exclusive (default: all history)")  # fmt: skip
    p.add_argument("--compare", action="store_true", help="also fold the current rules, side by side")
    p.add_argument("--intervals", type=int, default=5, metavar="N", help="intervals listed per rule (default: 5)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    add_log_arguments(p)

    tree.group("bench", "Measure throughput against a peer in the same run (prints JSON).")
    b = tree.add("bench alerts-backtest", "Backtest speed on a simulated day, vs real time.", _bench,
                 description=_BENCH_HELP)  # fmt: skip
    b.add_argument("--hours", type=float, default=12.0, help="hours of arrivals to simulate (default: 12)")
    b.add_argument("--parties-per-hour", type=float, default=300.0, help="mean arrival rate (default: 300)")
    b.add_argument("--cameras", type=int, default=3, help="cameras splitting the floor (default: 3)")
    b.add_argument("--seed", type=int, default=1, help="simulator seed (default: 1)")


def _iso(value: str) -> int:
    from ops.clock import iso_ns

    try:
        return iso_ns(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _run(args: argparse.Namespace) -> int:
    import asyncio

    import nats
    from tqdm import tqdm

    from ops.runtime import log_url
    from projections.alerts.backtest import (
        BacktestError,
        RulesFileError,
        backtest,
        check_rules,
        choose_store,
        in_window,
        load_rules,
        read_layouts,
    )

    if args.from_ns is not None and args.to_ns is not None and args.to_ns <= args.from_ns:
        print("footfall alerts backtest: --to must be after --from", file=sys.stderr)
        return 2
    if args.intervals < 0:
        print(f"footfall alerts backtest: --intervals must be >= 0, got {args.intervals}", file=sys.stderr)
        return 2
    try:
        rules = load_rules(args.rules)
    except RulesFileError as exc:
        print(f"footfall alerts backtest: {exc}", file=sys.stderr)
        return 2

    async def run(url: str) -> int:
        nc = await nats.connect(url, name="footfall-alerts-backtest", **client_options())
        try:
            try:
                layouts = await read_layouts(nc)
                store_id = choose_store(layouts, args.store)
                versions = layouts[store_id]
                check_rules(rules, in_window(versions, args.from_ns, args.to_ns), str(args.rules))
            except (RulesFileError, BacktestError) as exc:
                print(f"footfall alerts backtest: {exc}", file=sys.stderr)
                return 2
            bar = tqdm(desc=f"backtest {store_id}", unit="msg", unit_scale=True, file=sys.stderr, dynamic_ncols=True)

            def progress(seq: int, last_seq: int) -> None:
                bar.total = max(last_seq, 1)
                bar.n = seq
                bar.refresh()

            try:
                result = await backtest(nc, rules, versions, from_ns=args.from_ns, to_ns=args.to_ns,
                                        compare=args.compare, progress=progress)  # fmt: skip
            finally:
                bar.close()
        finally:
            await nc.close()
        report = result.report(args.intervals)
        print(json.dumps(report, indent=2) if args.json else format_table(report))
        return 0

    with log_url(args) as url:
        return asyncio.run(run(url))


def format_table(report: dict[str, Any]) -> str:
    """The report as text: the window, then one line per rule (current and candidate side by side with
    --compare), then each rule's first intervals."""
    timing = report["timing"]
    lines = [
        f"store {report['store_id']} ({report['time_zone']}): samples {report['first_sample']} .. "
        f"{report['last_sample']}, {report['days']} day(s), {report['samples']} samples; "
        f"folded in {timing['wall_s']} s ({timing['ratio_to_real_time']}x real time)",
        "",
    ]
    header = ("set", "rule", "metric", "zone", "alerts", "open", "minutes", "median_s", "longest_s", "per_day")
    table: list[tuple[str, ...]] = [header]
    current = {s["rule_id"]: s for s in report.get("current", [])}
    candidate = {s["rule_id"]: s for s in report["candidate"]}

    def line(name: str, s: dict[str, Any]) -> tuple[str, ...]:
        if not s["folded"]:
            return (name, s["rule_id"], s["metric"], s["zone_id"] or "(store)", "not folded", "", "", "", "", "")
        return (name, s["rule_id"], s["metric"], s["zone_id"] or "(store)", str(s["alerts"]), str(s["open"]),
                f"{s['alert_minutes']:.1f}", _num(s["median_duration_s"]), _num(s["longest_duration_s"]),
                _num(s["alerts_per_day"]))  # fmt: skip

    for rule_id in [*candidate, *(r for r in current if r not in candidate)]:
        if rule_id in current:
            table.append(line("current", current[rule_id]))
        if rule_id in candidate:
            table.append(line("candidate", candidate[rule_id]))
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in table]
    for name in ("current", "candidate"):
        for s in report.get(name, []):
            if s["intervals"]:
                lines += ["", f"{name} {s['rule_id']}: first intervals (raised .. cleared, peak, reason)"]
                lines += [f"  {i['raised']} .. {i['cleared'] or 'open'}  peak {i['peak']:g}  {i['reason']}"
                          for i in s["intervals"]]  # fmt: skip
    return "\n".join(lines)


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _bench(args: argparse.Namespace) -> int:
    from ops.bench.alerts_backtest import run_bench

    if args.cameras < 1 or args.hours <= 0:
        print("footfall bench alerts-backtest: --cameras >= 1 and --hours > 0", file=sys.stderr)
        return 2
    print(json.dumps(run_bench(args.hours, args.parties_per_hour, args.cameras, args.seed), indent=2))
    return 0
