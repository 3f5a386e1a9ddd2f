"""Timing a simulated store day: simulate_day alone, then publish_day to an embedded nats-server."""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import nats

from ml_core.sim.agents import ShopperConfig
from ml_core.sim.noise import NoiseConfig
from ops.simulation.simulate import SimulatedDay, simulate_day
from schemas.events import TrackFrame
from stream.embedded import EmbeddedNats


@dataclass(frozen=True)
class SimulateBench:
    """One run's timings (seconds) and sizes; rates are per second of the step they measure."""

    hours: float
    parties_per_hour: float
    cameras: int
    people: int
    frames: int  # TrackFrame messages (one per camera per frame)
    observations: int  # tracks in them
    messages: int  # everything publish_day sends: layout, TrackFrames, TrackCloseds, POS
    simulate_s: float
    simulate_frames_per_s: float
    simulate_observations_per_s: float
    publish_s: float | None
    publish_messages_per_s: float | None
    publish_observations_per_s: float | None
    stored: int | None

    def as_json(self) -> dict[str, float | int | None]:
        return asdict(self)


def run_bench(seed: int, *, shopper: ShopperConfig, noise: NoiseConfig, cameras: int, publish: bool) -> SimulateBench:
    """Simulate the day (timed), then, if `publish`, publish it to a fresh embedded log (timed)."""
    _say(f"simulating {shopper.duration_s / 3600:g} h at {shopper.parties_per_hour:g} parties/h, {cameras} cameras")
    started = time.perf_counter()
    day = simulate_day(seed, shopper=shopper, noise=noise, cameras=cameras)
    simulate_s = time.perf_counter() - started
    frames = sum(1 for e in day.events if isinstance(e, TrackFrame))
    observations = sum(len(e.tracks) for e in day.events if isinstance(e, TrackFrame))
    messages = 1 + len(day.events) + len(day.pos)
    publish_s = stored = None
    if publish:
        _say(f"publishing {messages} messages ({frames} frames, {observations} observations)")
        publish_s, stored = _time_publish(day)
    return SimulateBench(
        hours=shopper.duration_s / 3600,
        parties_per_hour=shopper.parties_per_hour,
        cameras=cameras,
        people=day.trajectories.n_people,
        frames=frames,
        observations=observations,
        messages=messages,
        simulate_s=round(simulate_s, 3),
        simulate_frames_per_s=round(frames / simulate_s),
        simulate_observations_per_s=round(observations / simulate_s),
        publish_s=None if publish_s is None else round(publish_s, 3),
        publish_messages_per_s=None if publish_s is None else round(messages / publish_s),
        publish_observations_per_s=None if publish_s is None else round(observations / publish_s),
        stored=stored,
    )


def _time_publish(day: SimulatedDay) -> tuple[float, int]:
    from ops.simulation.pipeline import publish_day

    with tempfile.TemporaryDirectory(prefix="footfall-bench-simulate-") as tmp, EmbeddedNats(Path(tmp) / "nats") as srv:

        async def run() -> tuple[float, int]:
            nc = await nats.connect(srv.url, name="footfall-bench-simulate")
            try:
                started = time.perf_counter()
                stored = await publish_day(nc, day)
                return time.perf_counter() - started, stored
            finally:
                await nc.close()

        return asyncio.run(run())


def _say(message: str) -> None:
    print(f"footfall bench simulate: {message} ...", file=sys.stderr)
