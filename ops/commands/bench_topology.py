"""`footfall bench topology`: fault runs on the production topology, real nats-servers on loopback (prints JSON)."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from ops.cli import CommandTree

RUNS = ("wan-cut", "leaf-kill", "leader-kill", "rolling")

_HELP = """\
Fault runs on the production topology (issue 19), each with real nats-server
processes on loopback ports, printing one JSON object per run:

  wan-cut      an edge publishes 4 cameras at 10 frames/s to its store's leaf
               node; the leaf-to-hub link is cut for --cut-s seconds. Reports
               frames lost / duplicated / out of order on the hub, the backlog
               at the link's return and the catch-up time, and whether
               line_counts and track_points folded on the hub equal a clean
               run. The hub runs stream.source_watch.SourceWatchdog (as
               `footfall log watch` does) unless --no-watchdog.
  leaf-kill    the leaf server is SIGKILLed mid-run and restarted --down-s
               seconds later, with each edge publisher in turn: the spooling
               one (`footfall edge`'s default), the plain one on a connection
               nats-py reconnects (`footfall edge --no-spool`), and one that
               waits for each ack and keeps nothing.
  leader-kill  a three-server hub, R3 streams, the edge publishing to it and
               `footfall project` (zone processor included) following live:
               the leader of FF_TRACKS, then of FF_DERIVED, is SIGKILLed.
               Reports seconds without a leader, frames and derived events
               lost or duplicated, and projections against a clean run.
  rolling      the same, with every hub server restarted in turn instead.
"""


def register(tree: CommandTree) -> None:
    tree.group("bench", "Measure throughput against a peer in the same run (prints JSON).")
    p = tree.add("bench topology", "Fault runs on the leaf/hub topology: WAN cut, SIGKILLs, rolling restart (JSON).",
                 _run, description=_HELP)  # fmt: skip
    p.add_argument("runs", nargs="*", metavar="RUN", help=f"any of {', '.join(RUNS)} (default: all)")
    p.add_argument("--cut-s", type=float, default=60.0, help="WAN cut length, seconds (default: 60)")
    p.add_argument("--down-s", type=float, default=3.0, help="a killed server's down time, seconds (default: 3)")
    p.add_argument("--cluster-s", type=float, default=30.0,
                   help="publishing time of the hub cluster runs, seconds (default: 30)")  # fmt: skip
    p.add_argument("--no-watchdog", action="store_true",
                   help="wan-cut without the hub's SourceWatchdog: JetStream's own source retries alone")  # fmt: skip
    p.add_argument("--work-dir", type=Path, help="where servers keep their files (default: a temporary directory)")


def _run(args: argparse.Namespace) -> int:
    import msgspec

    from ops.logging import get_logger
    from ops.topology.cluster import ClusterReport, cluster_run
    from ops.topology.faults import PUBLISHERS, LeafKillReport, WanCutReport, leaf_kill, wan_cut

    runs = args.runs or list(RUNS)
    unknown = [r for r in runs if r not in RUNS]
    if unknown:
        print(f"footfall bench topology: unknown run(s) {unknown}; known: {', '.join(RUNS)}", file=sys.stderr)
        return 2
    log = get_logger("footfall.bench.topology")
    with tempfile.TemporaryDirectory(prefix="footfall-topology-") as tmp:
        root = args.work_dir or Path(tmp)
        for run in runs:
            log.info("run", run=run)
            reports: list[WanCutReport | LeafKillReport | ClusterReport]
            if run == "wan-cut":
                reports = [wan_cut(root / run, cut_s=args.cut_s, watchdog=not args.no_watchdog)]
            elif run == "leaf-kill":
                reports = [leaf_kill(root / f"{run}-{p}", publisher=p, down_s=args.down_s) for p in PUBLISHERS]
            else:
                reports = [cluster_run(root / run, mode=run, seconds=args.cluster_s, down_s=args.down_s)]
            for report in reports:
                print(msgspec.json.encode({"run": run, **msgspec.structs.asdict(report)}).decode(), flush=True)
    return 0
