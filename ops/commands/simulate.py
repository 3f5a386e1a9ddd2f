"""`footfall simulate`: a seeded store day as events, its exact ground truth, and optionally video."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ops.cli import CommandTree
from ops.clock import OPENING_HOUR, iso_ns, yesterday_opening_ns
from ops.runtime import add_log_arguments
from stream.client_auth import client_options

if TYPE_CHECKING:
    from ml_core.sim.agents import ShopperConfig

_HELP = """\
Simulate a seeded store day: parties of 1-4 shoppers enter through the door,
visit product zones (lognormal dwell), queue at the checkout (served at a set
rate) and leave; staff stay in staff zones and walk the floor. Prints the
ground truth's summary as JSON; --truth writes all of it (visits, zone stays,
transitions, queue and occupancy per tick, heat cells). --publish sends the
layout, TrackFrames (with the chosen sensing noise) and POS transactions to
the log; --events writes them as JSON lines; --video renders one camera's
view (people as filled shapes) with cv2 for the edge pipeline.
"""


def _start_ns(value: str) -> int:
    try:
        return iso_ns(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_balk_argument(parser: argparse.ArgumentParser) -> None:
    """--balk-at-parties, shared by the commands that simulate a day."""
    parser.add_argument("--balk-at-parties", type=int, default=0, metavar="N",
                        help="a party finding N parties queued gives up and leaves without buying (default: 0, "
                        "as many as the queue has slots; a large N: nobody balks and a busy store's queue "
                        "grows all day)")  # fmt: skip


def add_bench_day_arguments(parser: argparse.ArgumentParser) -> None:
    """The simulated day the benches measure on: a crowded store by default."""
    parser.add_argument("--hours", type=float, default=4.0, help="hours of arrivals to simulate (default: 4)")
    parser.add_argument("--parties-per-hour", type=float, default=300.0, help="mean arrival rate (default: 300)")
    parser.add_argument("--cameras", type=int, default=3, help="cameras splitting the floor (default: 3)")
    parser.add_argument("--noise", choices=["none", "realistic"], default="realistic", help="default: realistic")
    parser.add_argument("--seed", type=int, default=1, help="simulator seed (default: 1)")
    add_balk_argument(parser)


def bench_day_shopper(args: argparse.Namespace) -> ShopperConfig:
    """The ShopperConfig of add_bench_day_arguments' options; ValueError names what is wrong."""
    from ml_core.sim.agents import ShopperConfig

    if args.cameras < 1:
        raise ValueError(f"--cameras must be at least 1, got {args.cameras}")
    return ShopperConfig(duration_s=args.hours * 3600.0, parties_per_hour=args.parties_per_hour,
                         balk_at_parties=args.balk_at_parties)  # fmt: skip


def register(tree: CommandTree) -> None:
    p = tree.add("simulate", "Simulate a store day: events, exact ground truth, optional video.", _run,
                 description=_HELP)  # fmt: skip
    p.add_argument("--seed", type=int, default=1, help="simulator seed (default: 1)")
    p.add_argument("--start", type=_start_ns, default=None, metavar="ISO",
                   help="when the day starts, ISO 8601 with a zone, e.g. 2026-12-05T09:00+01:00 "
                   f"(default: yesterday at {OPENING_HOUR:02d}:00 local time, so every table keeps it)")  # fmt: skip
    p.add_argument("--minutes", type=float, default=30.0, help="minutes of arrivals (default: 30)")
    p.add_argument("--parties-per-hour", type=float, default=150.0, help="mean arrival rate (default: 150)")
    p.add_argument("--service-mean-s", type=float, default=30.0, help="mean checkout service time (default: 30)")
    p.add_argument("--dwell-median-s", type=float, default=30.0, help="median dwell in a product zone (default: 30)")
    p.add_argument("--floor-staff", type=int, default=2, help="staff walking the floor (default: 2)")
    add_balk_argument(p)
    p.add_argument("--cameras", type=int, default=1, help="cameras splitting the floor (default: 1)")
    p.add_argument("--plan", default=None, metavar="FILE",
                   help="floor plan (.toml, .json) or a shipped plan, e.g. kiosk (default: built-in)")  # fmt: skip
    p.add_argument("--noise", choices=["none", "realistic"], default="none",
                   help="tracker noise preset (default: none); the flags below override it")  # fmt: skip
    p.add_argument("--drop", type=float, default=None, help="probability an observation is dropped")
    p.add_argument("--jitter-m", type=float, default=None, help="position noise, metres (std dev per axis)")
    p.add_argument("--id-switch-per-s", type=float, default=None, help="id switches per track-second")
    p.add_argument("--store-id", default="sim-store", help="store id (default: sim-store)")
    p.add_argument("--truth", type=Path, default=None, help="write the full ground truth as JSON here")
    p.add_argument("--events", type=Path, default=None, help="write the events as JSON lines here")
    p.add_argument("--video", type=Path, default=None, help="render a camera's view to this video file (mp4v)")
    p.add_argument("--video-camera", default=None, help="camera to render (default: the first)")
    p.add_argument("--video-frames", type=int, default=None, help="render at most this many frames")
    p.add_argument("--publish", action="store_true", help="publish layout, frames and POS to the log")
    add_log_arguments(p)


def _run(args: argparse.Namespace) -> int:
    import dataclasses

    from ml_core.sim.agents import ShopperConfig
    from ml_core.sim.noise import NO_NOISE, REALISTIC
    from ml_core.sim.plan_file import resolve_plan
    from ops.simulation.simulate import simulate_day, truth_summary, write_truth

    try:
        shopper = ShopperConfig(duration_s=args.minutes * 60.0, parties_per_hour=args.parties_per_hour,
                                service_mean_s=args.service_mean_s, dwell_median_s=args.dwell_median_s,
                                floor_staff=args.floor_staff, balk_at_parties=args.balk_at_parties)  # fmt: skip
        noise = REALISTIC if args.noise == "realistic" else NO_NOISE
        overrides = {k: v for k, v in (("drop_prob", args.drop), ("jitter_m", args.jitter_m),
                                       ("id_switch_per_s", args.id_switch_per_s)) if v is not None}  # fmt: skip
        noise = dataclasses.replace(noise, **overrides)
        start_ns = args.start if args.start is not None else yesterday_opening_ns()
        plan = resolve_plan(args.plan) if args.plan is not None else None
        day = simulate_day(args.seed, shopper=shopper, noise=noise, cameras=args.cameras, store_id=args.store_id,
                           t0_ns=start_ns, plan=plan)  # fmt: skip
    except ValueError as exc:  # a PlanFileError too: one line per problem, each naming the field
        print(f"footfall simulate: {exc}", file=sys.stderr)
        return 2
    if args.truth:
        write_truth(day.truth, args.truth)
    if args.events:
        import msgspec

        args.events.parent.mkdir(parents=True, exist_ok=True)
        with args.events.open("wb") as fh:
            for event in [day.layout, *day.events, *day.pos]:
                fh.write(msgspec.json.encode(event) + b"\n")
    if args.video:
        from ops.simulation.video import render_video

        try:
            frames = render_video(day, args.video, args.video_camera, args.video_frames)
        except ValueError as exc:
            print(f"footfall simulate: {exc}", file=sys.stderr)
            return 2
        print(f"wrote {frames} frames to {args.video}", file=sys.stderr)
    if args.publish:
        _publish(args, day)
    print(json.dumps(truth_summary(day.truth), indent=2))
    return 0


def _publish(args: argparse.Namespace, day: object) -> None:
    import asyncio

    import nats

    from ops.runtime import log_url
    from ops.simulation.pipeline import publish_day
    from ops.simulation.simulate import SimulatedDay

    assert isinstance(day, SimulatedDay)

    async def run(url: str) -> int:
        nc = await nats.connect(url, name="footfall-simulate", **client_options())
        try:
            return await publish_day(nc, day)
        finally:
            await nc.close()

    with log_url(args) as url:
        stored = asyncio.run(run(url))
    print(f"published {stored} new events to {url}", file=sys.stderr)
