"""`footfall edge` publishes through the spooling publisher by default, `--no-spool` through the plain one."""

from __future__ import annotations

import asyncio
from pathlib import Path

import cv2
import msgspec
import nats
import numpy as np
import pytest

from ops.cli import main
from schemas.layout import CameraCalibration, StoreLayout
from stream.embedded import EmbeddedNats

W, H = 320, 240


def _write_video(path: Path, frames: int = 30) -> Path:
    """A dark box walking left to right over a textured background, 10 frames/s."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (W, H))
    background = np.clip(np.random.default_rng(3).normal(140, 5, (H, W, 3)), 0, 255).astype(np.uint8)
    for t in range(frames):
        frame = background.copy()
        if t >= 10:
            frame[120:220, 20 + 6 * (t - 10) : 50 + 6 * (t - 10)] = (20, 30, 40)
        writer.write(frame)
    writer.release()
    return path


def _calibration() -> CameraCalibration:
    return CameraCalibration("cam1", (8.0, 0.0, 0.0, 0.0, 6.0, 0.0, 0.0, 1.0, 0.5), W, H)


async def _tracks(url: str) -> int:
    nc = await nats.connect(url)
    try:
        return (await nc.jetstream().stream_info("FF_TRACKS")).state.messages
    finally:
        await nc.close()


@pytest.mark.parametrize("spool", [True, False])
def test_edge_publishes_with_or_without_its_spool(fresh_nats: EmbeddedNats, tmp_path: Path, spool: bool) -> None:
    assert main(["log", "init", "--url", fresh_nats.url]) == 0
    video = _write_video(tmp_path / "walk.avi")
    layout = tmp_path / "layout.json"
    layout.write_bytes(msgspec.json.encode(StoreLayout(cameras=(_calibration(),))))
    argv = ["edge", "--store", "store1", "--camera", "cam1", "--source", str(video), "--layout", str(layout)]
    argv += ["--url", fresh_nats.url, "--data-dir", str(tmp_path / "data")]
    assert main(argv if spool else [*argv, "--no-spool"]) == 0
    assert asyncio.run(_tracks(fresh_nats.url)) > 0
    assert (tmp_path / "data" / "spool" / "edge").is_dir() == spool
