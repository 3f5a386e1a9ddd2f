"""Shared helpers for the stream tests: frames from several cameras, reading a stream back in full."""

from __future__ import annotations

import random
from collections import defaultdict

from nats.aio.client import Client as NatsClient

from schemas.events import Track, TrackFrame
from stream.replay import replay

TS0 = 1_767_225_600_000_000_000


def camera_frames(n: int, cameras: int = 4, seed: int = 0, tracks: int = 2, run: str = "run-1") -> list[TrackFrame]:
    """n frames spread over `cameras` cameras in a seeded random interleaving; frame_seq counts per camera."""
    rng = random.Random(seed)
    seqs = [0] * cameras
    body = tuple(Track(t + 1, 0.1, 0.2, 0.3, 0.4, 0.9) for t in range(tracks))
    out = []
    for i in range(n):
        cam = rng.randrange(cameras)
        out.append(
            TrackFrame(
                store_id="store-1",
                ts_ns=TS0 + i,
                camera_id=f"cam-{cam}",
                edge_run_id=run,
                frame_seq=seqs[cam],
                tracks=body,
            )
        )
        seqs[cam] += 1
    return out


async def frame_seqs_per_camera(nc: NatsClient, stream: str = "FF_TRACKS") -> dict[str, list[int]]:
    """Every TrackFrame in the stream, as frame_seq lists per camera in log order."""
    out: dict[str, list[int]] = defaultdict(list)
    async for chunk in replay(nc, stream, batch=5000):
        for item in chunk:
            assert isinstance(item.event, TrackFrame)
            out[item.event.camera_id].append(item.event.frame_seq)
    return dict(out)
