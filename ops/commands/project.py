"""`footfall project`, `footfall replay` and `footfall bench project`: folding the log into ClickHouse."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from typing import Any

from ops.cli import CommandTree
from ops.runtime import add_log_arguments
from projections.sizing import BATCH_HELP, DEFAULT_BATCH
from stream.client_auth import client_options

_PROJECT_HELP = """\
Run projections (all, or the ones named) from their checkpoints until stopped
(SIGTERM or Ctrl-C stop after the batch in hand) or, with --until-caught-up,
until nothing is pending. Each projection keeps its position in the store:
killing this process at any moment and starting it again gives the same
tables as one clean run.

A chain's log can be folded by several processes, each taking a share of the
stores: --stores a,b (the server sends it only those stores' messages) or
--partition K/N (the stores whose FNV-1a hash mod N is K-1, as nats-server's
partition() mapping assigns them; a store that opens later is picked up by its
partition, and each process reads the whole stream and folds its share). Each
partition keeps its own position, exactly once. One projection's tables take one
scheme: mixing a whole-log run with partitions, or N=2 with N=4, is refused.
"""

_REPLAY_HELP = """\
Rebuild a projection from the log into new tables (<table>__build) while the
live tables keep serving, then swap them in atomically (EXCHANGE TABLES). The
old rows stay queryable as <table>__previous; projection_versions records the
code version and layout versions that built each swap. An unfinished build
resumes where it stopped unless --restart.
"""


def register(tree: CommandTree) -> None:
    from projections.registry import PROJECTIONS

    names = ", ".join(sorted(PROJECTIONS))
    project = tree.add("project", "Fold the log into ClickHouse tables, exactly once.", _project,
                       description=_PROJECT_HELP + f"\nprojections: {names}")  # fmt: skip
    project.add_argument("names", nargs="*", metavar="PROJECTION", help=f"projections to run (default: all: {names})")
    project.add_argument("--until-caught-up", action="store_true", help="stop when nothing is pending")
    project.add_argument("--batch", type=int, default=None, help=BATCH_HELP)
    share = project.add_mutually_exclusive_group()
    share.add_argument("--stores", metavar="A,B", help="fold only these stores (comma-separated store ids)")
    share.add_argument("--partition", metavar="K/N", help="fold only hash partition K of N of the stores (1 <= K <= N)")
    add_log_arguments(project)

    replay = tree.add("replay", "Rebuild a projection from the log into new tables and swap them in.", _replay,
                      description=_REPLAY_HELP + f"\nprojections: {names}")  # fmt: skip
    replay.add_argument("name", metavar="PROJECTION", help=f"one of: {names}")
    replay.add_argument("--from-seq", type=int, default=1, help="first stream sequence to fold (default: 1)")
    replay.add_argument("--restart", action="store_true", help="discard an unfinished build and start over")
    replay.add_argument("--batch", type=int, default=None, help=BATCH_HELP)
    add_log_arguments(replay)

    tree.group("bench", "Measure throughput against a peer in the same run (prints JSON).")
    bench = tree.add("bench project", "Fold rate into chDB beside the raw ordered-consumer read rate.", _bench,
                     description="Pre-fill a stream of synthetic TrackFrames, then time (a) reading it with an "
                     "ordered consumer, raw and decoded, and (b) folding it into track_points and line_counts in "
                     "chDB through the projection runner, from scratch, in --repeat rounds of all of these (so each "
                     "fold is compared with reads taken seconds before it). Prints JSON: the median of each time, "
                     "each fold's median ratio to the raw read over the rounds, and every run.")  # fmt: skip
    bench.add_argument("--frames", type=int, default=20_000, help="frames to pre-fill (default: 20000)")
    bench.add_argument("--tracks", type=int, default=50, help="tracks per frame (default: 50)")
    bench.add_argument(
        "--batch",
        type=int,
        default=None,
        help=f"runner batch size (default: {DEFAULT_BATCH}; with --stores: footfall project's)",
    )
    bench.add_argument("--all", action="store_true", dest="every",
                       help="also fold every FF_TRACKS projection together (the zone processor, track_points, "
                       "line_counts, heatmap), with a consumer each and from one shared read as footfall "
                       "project and serve run them")  # fmt: skip
    bench.add_argument("--repeat", type=int, default=3,
                       help="rounds of all measurements; the report gives medians (default: %(default)s)")  # fmt: skip
    chain = bench.add_argument_group(
        "a chain's log (--stores)",
        "With --stores N, simulate N crowded store days instead and time every projection folded by each process "
        "count of --processes at once (footfall project --partition K/P, each with its own chDB directory), "
        "beside the raw ordered read and one idle process's start-up. --frames, --tracks and --all do not apply.",
    )
    chain.add_argument("--stores", type=int, default=None, metavar="N", help="stores in the simulated log")
    chain.add_argument("--processes", default="1,2", metavar="P,Q",
                       help="process counts to compare, the first is the baseline (default: %(default)s)")  # fmt: skip
    chain.add_argument("--hours", type=float, default=1.0, help="hours of arrivals per store (default: %(default)s)")
    chain.add_argument("--parties-per-hour", type=float, default=300.0, help="per store (default: %(default)s)")
    chain.add_argument("--cameras", type=int, default=3, help="cameras per store (default: %(default)s)")


def _positive(name: str, value: int | None) -> None:
    if value is not None and value < 1:
        raise SystemExit(f"footfall: {name} must be at least 1, got {value}")


def _project(args: argparse.Namespace) -> int:
    from ops.logging import get_logger
    from ops.runtime import (
        by_stream,
        catch_up,
        freeze_start_up_objects,
        log_url,
        make_units,
        members,
        open_store,
        runner_connections,
        unit_name,
    )
    from ops.serve.sql_socket import serving
    from projections.migrations import migrate
    from projections.partition import Partition, PartitionError
    from projections.registry import make

    _positive("--batch", args.batch)
    log = get_logger("footfall.project")
    try:
        projections = [make(name) for name in (args.names or sorted(_all()))]
        partition = (
            Partition.of_stores(args.stores.split(",")) if args.stores is not None
            else Partition.parse(args.partition) if args.partition is not None
            else None
        )  # fmt: skip
    except KeyError as exc:
        print(f"footfall project: {exc.args[0]}", file=sys.stderr)
        return 2
    except PartitionError as exc:
        print(f"footfall project: {exc}", file=sys.stderr)
        return 2

    async def run(url: str) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        groups = by_stream(projections)  # the projections of one stream share one read of it
        async with runner_connections(url, [unit_name(g) for g in groups]) as connections:
            units = make_units(connections, store, groups, args.batch, partition)
            for runner in (r for u in units for r in members(u)):
                runner.check_partitioning()  # all of them before any folds
            freeze_start_up_objects()
            # While this process owns the chDB directory, `footfall sql` asks it over a socket.
            async with serving(store, args.data_dir) as sock:
                if sock is None:
                    log.warning("sql socket not served: data directory path too long", data_dir=str(args.data_dir))
                if args.until_caught_up:
                    await catch_up(units, lambda u: u.run(until_caught_up=True, stop=stop))
                else:  # live: every runner follows its stream as it grows
                    await asyncio.gather(*(u.run(until_caught_up=False, stop=stop) for u in units))
            for runner in (r for u in units for r in members(u)):
                stats = runner.stats
                log.info("projection stopped", projection=runner.key, events=stats.events, batches=stats.batches,
                         rows=stats.rows, seq=stats.seq, recovered_batches=stats.recovered_batches,
                         dead_lettered=stats.dead_lettered)  # fmt: skip

    with log_url(args) as url, open_store(args.data_dir) as store:
        migrate(store)
        try:
            asyncio.run(run(url))
        except PartitionError as exc:  # before any batch: a table is folded under another partitioning
            print(f"footfall project: {exc}", file=sys.stderr)
            return 2
    return 0


def _all() -> list[str]:
    from projections.registry import PROJECTIONS

    return list(PROJECTIONS)


def _replay(args: argparse.Namespace) -> int:
    import nats
    from tqdm import tqdm

    from ops.runtime import freeze_start_up_objects, log_url, open_store
    from projections.migrations import migrate
    from projections.registry import make
    from projections.replay import ReplayError, replay
    from projections.runner import Progress

    _positive("--from-seq", args.from_seq)
    _positive("--batch", args.batch)
    try:
        projection = make(args.name)
    except KeyError as exc:
        print(f"footfall replay: {exc.args[0]}", file=sys.stderr)
        return 2
    bar = tqdm(desc=f"replay {projection.name}", unit="msg", unit_scale=True, file=sys.stderr, dynamic_ncols=True)
    owner = _replay_via_owner(args, bar)
    if owner is not None:
        return owner

    def progress(p: Progress) -> None:
        bar.total = max(p.stream_last_seq - args.from_seq + 1, 1)
        bar.n = p.seq - args.from_seq + 1
        bar.set_postfix(events_s=f"{p.events / max(p.elapsed_s, 1e-9):,.0f}")
        bar.refresh()

    async def run(url: str) -> int:
        nc = await nats.connect(url, name="footfall-replay", **client_options())
        freeze_start_up_objects()
        try:
            result = await replay(nc, store, projection, from_seq=args.from_seq, restart=args.restart,
                                  batch=args.batch, progress=progress)  # fmt: skip
        except ReplayError as exc:
            print(f"footfall replay: {exc}", file=sys.stderr)
            return 1
        finally:
            bar.close()
            await nc.close()
        print(f"swapped in {result.projection} v{result.code_version} built from sequence {args.from_seq} to "
              f"{result.last_seq} under layout versions {list(result.layout_versions) or 'none'}; "
              f"{result.stats.events} events folded")  # fmt: skip
        return 0

    with log_url(args) as url, open_store(args.data_dir) as store:
        migrate(store)
        return asyncio.run(run(url))


def _replay_via_owner(args: argparse.Namespace, bar: Any) -> int | None:
    """Have the process that owns the store (`footfall serve`) replay while live; None if none answers."""
    from ops.serve.sql_socket import ReplayFailed, ReplayProgress, ReplayRequest, replay_via_owner

    def progress(p: ReplayProgress) -> None:
        bar.total = max(p.stream_last_seq - args.from_seq + 1, 1)
        bar.n = p.seq - args.from_seq + 1
        bar.set_postfix(events_s=f"{p.events / max(p.elapsed_s, 1e-9):,.0f}")
        bar.refresh()

    # The owner replays on its own log with its own batch size: --url and --batch are for a replay run here.
    answer = replay_via_owner(args.data_dir, ReplayRequest(args.name, args.from_seq, args.restart), progress)
    if answer is None:
        return None
    bar.close()
    if isinstance(answer, ReplayFailed):
        print(f"footfall replay: {answer.error}", file=sys.stderr)
        return 1
    print(answer.summary)
    return 0


def _bench(args: argparse.Namespace) -> int:
    import json

    from ops.bench.project import run_bench

    for name in ("--frames", "--tracks", "--batch", "--repeat", "--stores", "--cameras"):
        _positive(name, getattr(args, name.strip("-").replace("-", "_")))
    if args.stores is not None:
        return _bench_chain(args)
    batch = args.batch or DEFAULT_BATCH
    print(json.dumps(run_bench(args.frames, args.tracks, batch, args.repeat, every=args.every), indent=2))
    return 0


def _bench_chain(args: argparse.Namespace) -> int:
    import json

    from ops.bench.partitions import run_bench

    try:
        processes = [int(p) for p in args.processes.split(",")]
    except ValueError:
        processes = []
    if not processes or min(processes) < 1:
        print(f"footfall bench project: --processes must be process counts such as 1,2, got {args.processes!r}",
              file=sys.stderr)  # fmt: skip
        return 2
    if args.hours <= 0 or args.parties_per_hour <= 0:
        print(f"footfall bench project: --hours and --parties-per-hour must be positive, got {args.hours} and "
              f"{args.parties_per_hour}", file=sys.stderr)  # fmt: skip
        return 2
    report = run_bench(args.stores, processes, hours=args.hours, parties_per_hour=args.parties_per_hour,
                       cameras=args.cameras, batch=args.batch, repeat=args.repeat)  # fmt: skip
    print(json.dumps(report, indent=2))
    return 0
