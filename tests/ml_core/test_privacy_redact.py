"""Privacy (DESIGN.md §6.2-6.3): the rolling buffer purges, and no code path writes an unblurred frame."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from ml_core.privacy import BlurredFrame, FrameBuffer, blur_frame, head_regions, write_clip
from ml_core.privacy.buffer import NS_PER_S

REPO = Path(__file__).resolve().parents[2]
WRITER_MODULE = REPO / "ml_core" / "privacy" / "redact.py"
# Anything that can put pixels into a file.
WRITERS = re.compile(r"\b(imwrite|imencode|VideoWriter|imwritemulti)\b|\.tofile\(|PIL|Image\.save")
# Modules that write video they drew themselves (simulated people, no camera): allowed only while
# they never read a frame from anywhere.
SYNTHETIC_RENDERERS = {REPO / "ops" / "simulation" / "video.py"}
READERS = re.compile(r"\b(VideoCapture|imread|imdecode|VideoSource|FrameBuffer|stream\.edge|ml_core\.privacy)\b")


def _frame(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (240, 320, 3), dtype=np.uint8)


def test_blurred_frames_are_made_by_blur_frame_only() -> None:
    with pytest.raises(TypeError, match="blur_frame only"):
        BlurredFrame(_frame(), 0, object())
    with pytest.raises(TypeError, match="BlurredFrame only"):
        write_clip("/tmp/never.avi", [_frame()], 10.0)  # type: ignore[list-item]


def test_head_regions_change_and_the_rest_does_not(tmp_path: Path) -> None:
    frame = _frame()
    person = np.array([[100.0, 60.0, 140.0, 200.0]])
    blurred = blur_frame(frame, person, detect_faces=False)
    (x1, y1, x2, y2) = head_regions(person, 320, 240)[0].tolist()
    head_before, head_after = frame[y1:y2, x1:x2].astype(int), blurred.pixels[y1:y2, x1:x2].astype(int)
    assert np.abs(head_before - head_after).mean() > 30  # random texture is destroyed
    outside = np.ones(frame.shape[:2], dtype=bool)
    outside[y1:y2, x1:x2] = False
    assert np.array_equal(frame[outside], blurred.pixels[outside])
    assert not blurred.pixels.flags.writeable


def test_written_clip_has_blurred_heads(tmp_path: Path) -> None:
    frames = [_frame(i) for i in range(5)]
    person = np.array([[100.0, 60.0, 140.0, 200.0]])
    path = write_clip(tmp_path / "clip.avi", [blur_frame(f, person, i) for i, f in enumerate(frames)], 5.0)
    cap = cv2.VideoCapture(str(path))
    (x1, y1, x2, y2) = head_regions(person, 320, 240)[0].tolist()
    read = 0
    while True:
        ok, got = cap.read()
        if not ok:
            break
        original = frames[read][y1:y2, x1:x2].astype(int)
        assert np.abs(got[y1:y2, x1:x2].astype(int) - original).mean() > 30
        read += 1
    assert read == 5


def test_no_other_module_writes_images_or_video() -> None:
    offenders = []
    for package in ("ml_core", "stream", "ops", "projections", "schemas"):
        for path in (REPO / package).rglob("*.py"):
            if path == WRITER_MODULE:
                continue
            if path in SYNTHETIC_RENDERERS:
                readers = [line.strip() for line in path.read_text().splitlines() if READERS.search(line)]
                assert readers == [], f"{path.relative_to(REPO)} renders synthetic video but reads frames: {readers}"
                continue
            for number, line in enumerate(path.read_text().splitlines(), start=1):
                if WRITERS.search(line):
                    offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert offenders == [], "frames may be written only by ml_core/privacy/redact.py:\n" + "\n".join(offenders)
    assert "VideoWriter" in WRITER_MODULE.read_text()  # the check looks for the right names


def test_buffer_keeps_at_most_max_age_and_counts_purges() -> None:
    buffer = FrameBuffer(max_age_s=2.0)
    frame = _frame()
    for i in range(50):  # 10 fps for 5 s, purged every second
        ts = i * NS_PER_S // 10
        buffer.push(ts, frame, np.zeros((0, 4)))
        if i % 10 == 9:
            buffer.purge(ts)
            assert buffer.oldest_age_s(ts) <= 2.0
    assert buffer.purges == 5 and len(buffer) == 21 and buffer.purged_frames == 29
    assert [f.ts_ns for f in buffer.last(0.25)] == [4_700_000_000, 4_800_000_000, 4_900_000_000]
    buffer.clear()
    assert len(buffer) == 0 and buffer.purges == 6


def test_buffer_refuses_time_going_backwards() -> None:
    buffer = FrameBuffer()
    buffer.push(10, _frame(), np.zeros((0, 4)))
    with pytest.raises(ValueError, match="time order"):
        buffer.push(5, _frame(), np.zeros((0, 4)))
