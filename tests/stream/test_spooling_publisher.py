"""The edge publisher against a real nats-server: dedup, spooling while the log is down, and a SIGKILLed server.

The kill test publishes FOOTFALL_KILL_FRAMES frames (default 20000; the
report's run uses 100000):

    FOOTFALL_KILL_FRAMES=100000 pytest tests/stream/test_spooling_publisher.py -k sigkill -s
"""

from __future__ import annotations

import asyncio
import os
import random
from pathlib import Path

import msgspec
import nats
import pytest

from schemas.samples import sample_events
from stream.embedded import EmbeddedNats
from stream.errors import LogUnavailable, PayloadTooLarge
from stream.provision import LogConfig, ensure_streams
from stream.spooling import PublisherState, SpoolingPublisher
from tests.stream.helpers import camera_frames, frame_seqs_per_camera

KILL_FRAMES = int(os.environ.get("FOOTFALL_KILL_FRAMES", "20000"))


async def provision(url: str) -> None:
    nc = await nats.connect(url)
    await ensure_streams(nc.jetstream(), LogConfig())
    await nc.close()


async def test_same_event_twice_is_stored_once(fresh_nats: EmbeddedNats, tmp_path: Path) -> None:
    await provision(fresh_nats.url)
    frame = camera_frames(1)[0]
    async with SpoolingPublisher([fresh_nats.url], tmp_path / "spool") as publisher:
        await publisher.publish(frame)
        await publisher.publish(frame)
        result = await publisher.flush(timeout_s=30)
        assert (result.stored, result.duplicates) == (1, 1)
        with pytest.raises(PayloadTooLarge, match="privacy bound"):
            await publisher.publish(msgspec.structs.replace(frame, tracks=frame.tracks * 2000))


async def test_events_published_while_the_log_is_down_arrive_in_order(tmp_path: Path) -> None:
    store = tmp_path / "nats"
    with EmbeddedNats(store) as server:
        port = int(server.url.rsplit(":", 1)[1])
        await provision(server.url)
    frames = camera_frames(500, seed=1)
    publisher = SpoolingPublisher([f"nats://127.0.0.1:{port}"], tmp_path / "spool", reconnect_wait_s=(0.05, 0.2))
    await publisher.start()
    assert publisher.state is PublisherState.DOWN
    for frame in frames:
        await publisher.publish(frame)
    assert publisher.backlog == 500 and publisher.events_spooled == 500
    with pytest.raises(LogUnavailable, match="not caught up"):
        await publisher.flush(timeout_s=0.3)
    with EmbeddedNats(store, port=port) as server:
        result = await publisher.flush(timeout_s=60)
        assert (result.stored, result.duplicates) == (500, 0)
        assert publisher.state is PublisherState.DIRECT and publisher.backlog == 0
        status = publisher.stamp(sample_events()[2])  # EdgeStatus
        assert (status.events_spooled, status.events_dropped) == (500, 0)  # type: ignore[attr-defined]
        await publisher.close()
        nc = await nats.connect(server.url)
        assert await frame_seqs_per_camera(nc) == _expected(frames)
        await nc.close()


async def test_a_full_spool_drops_the_oldest_and_says_so(tmp_path: Path) -> None:
    publisher = SpoolingPublisher(["nats://127.0.0.1:1"], tmp_path / "spool", spool_max_bytes=64 << 10)
    await publisher.start()
    for frame in camera_frames(2000):
        await publisher.publish(frame)
    assert publisher.events_dropped > 0
    assert publisher.events_dropped + publisher.backlog == 2000
    status = publisher.stamp(sample_events()[2])
    assert status.events_dropped == publisher.events_dropped  # type: ignore[attr-defined]
    await publisher.close(timeout_s=None)


def _expected(frames: list) -> dict[str, list[int]]:  # type: ignore[type-arg]
    out: dict[str, list[int]] = {}
    for f in frames:
        out.setdefault(f.camera_id, []).append(f.frame_seq)
    return out


async def test_sigkilled_server_loses_nothing_and_keeps_order(tmp_path: Path) -> None:
    seed = int(os.environ.get("FOOTFALL_SEED", random.randrange(1 << 30)))
    print(f"seed={seed} frames={KILL_FRAMES}")
    rng = random.Random(seed)
    store = tmp_path / "nats"
    server = EmbeddedNats(store).start()
    port = int(server.url.rsplit(":", 1)[1])
    url = server.url
    await provision(url)
    frames = camera_frames(KILL_FRAMES, seed=seed)
    # Two kills at random points; after each, some frames go out while the server is dead.
    kills = sorted(rng.sample(range(KILL_FRAMES // 10, KILL_FRAMES * 9 // 10), 2))
    publisher = SpoolingPublisher([url], tmp_path / "spool", ack_timeout_s=2.0, reconnect_wait_s=(0.02, 0.2))
    await publisher.start()
    try:
        down_until = -1
        for i, frame in enumerate(frames):
            if i in kills:
                server.kill()
                down_until = i + rng.randrange(100, 2000)
            if i == down_until:
                server = EmbeddedNats(store, port=port).start()  # same store dir, same port
            await publisher.publish(frame)
            if i % 50 == 0:
                await asyncio.sleep(0)  # a camera loop yields between frames; the publisher's tasks run then
        if not server.running:
            server = EmbeddedNats(store, port=port).start()
        result = await publisher.flush(timeout_s=240)
        assert publisher.events_dropped == 0
        assert publisher.reconnects >= 1, f"seed={seed}: the kills were not noticed"
        print(f"seed={seed} stored={result.stored} duplicates={result.duplicates} spooled={publisher.events_spooled}")
        await publisher.close()
        nc = await nats.connect(server.url)
        got = await frame_seqs_per_camera(nc)
        info = await nc.jetstream().stream_info("FF_TRACKS")
        await nc.close()
        assert info.state.messages == KILL_FRAMES, f"seed={seed}"
        expected = _expected(frames)
        for camera, seqs in expected.items():
            assert got[camera] == seqs, f"seed={seed}: camera {camera} out of order or incomplete"
    finally:
        await publisher.close(timeout_s=None)
        server.stop()
