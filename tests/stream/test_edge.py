"""The edge runner against a real nats-server: synthetic video in, TrackFrames out; failures are clear."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import cv2
import msgspec
import numpy as np
import pytest
from nats.js import JetStreamContext

import schemas
from ml_core.detect import Detections, Detector, Mog2Config
from ml_core.track import ByteTrackParams
from ops.commands.edge import load_camera
from schemas.events import EdgeStatus, TrackClosed, TrackFrame
from stream.edge import CameraContext, CameraJob, SourceError, SourceSpec, VideoSource, new_edge_run_id, run_cameras
from stream.edge.pipeline import CameraPipeline, edge_floor_gate_params, edge_relink_params
from stream.edge.source import SourceFrame
from stream.provision import LogConfig, ensure_streams
from stream.publisher import Publisher
from tests.conftest import SHARED_DATA

W, H, FPS, FRAMES = 320, 240, 10.0, 40
BASE_NS = 1_700_000_000 * 10**9
# Normalised image -> metres: 8 m across, the bottom row nearer (bigger) than the top.
H_NORM = (8.0, 0.0, 0.0, 0.0, 6.0, 0.0, 0.0, 1.0, 0.5)


def _write_video(path: Path, frames: int = FRAMES) -> Path:
    """A person-sized dark box walking left to right over a textured background."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (W, H))
    rng = np.random.default_rng(3)
    background = np.clip(rng.normal(140, 5, (H, W, 3)), 0, 255).astype(np.uint8)
    for t in range(frames):
        frame = background.copy()
        if t >= 10:
            x = 20 + 6 * (t - 10)
            frame[120:220, x : x + 30] = (20, 30, 40)
        writer.write(frame)
    writer.release()
    return path


def _calibration(camera_id: str = "cam1") -> schemas.CameraCalibration:
    return schemas.CameraCalibration(camera_id=camera_id, image_to_floor=H_NORM, image_width_px=W, image_height_px=H)


def _job(source: str, fps: float | None = None, camera_id: str = "cam1") -> CameraJob:
    context = CameraContext("store1", camera_id, new_edge_run_id(), _calibration(camera_id))
    return CameraJob(
        context,
        SourceSpec(source, analysis_fps=fps, base_ts_ns=BASE_NS),
        Mog2Config(scale=1.0, history=20),
        status_interval_s=1.0,
    )


async def _events(js: JetStreamContext, stream: str) -> list[schemas.AnyEvent]:
    info = await js.stream_info(stream)
    return [schemas.decode((await js.get_msg(stream, s)).data or b"") for s in range(1, int(info.state.last_seq) + 1)]


async def test_video_file_becomes_track_frames(js: JetStreamContext, tmp_path: Path) -> None:
    await ensure_streams(js, LogConfig())
    video = _write_video(tmp_path / "walk.avi")
    (report,) = await run_cameras([_job(str(video))], Publisher(js))
    assert report.error is None and report.frames == FRAMES
    events = await _events(js, "FF_TRACKS")
    frames = [e for e in events if isinstance(e, TrackFrame)]
    assert [f.frame_seq for f in frames] == list(range(FRAMES))
    assert [f.ts_ns for f in frames] == [BASE_NS + i * 100_000_000 for i in range(FRAMES)]
    tracked = [t for f in frames for t in f.tracks]
    ids = [t.track_id for t in tracked]
    walker = max(set(ids), key=ids.count)
    assert ids.count(walker) >= 20
    assert all(t.floor_x_m is not None and 0.0 <= t.x1 <= t.x2 <= 1.0 for t in tracked)
    xs = [t.floor_x_m for t in tracked if t.track_id == walker]
    assert xs[-1] - xs[0] > 2.0  # walking left to right on the floor too (metres)
    closed = [e for e in events if isinstance(e, TrackClosed)]
    assert {c.track_id for c in closed} == set(ids) and all(c.first_ts_ns <= c.last_ts_ns for c in closed)
    statuses = [e for e in await _events(js, "FF_STATUS") if isinstance(e, EdgeStatus)]
    assert statuses[-1].frames_processed == FRAMES and statuses[-1].buffer_purges >= 3
    assert statuses[-1].buffer_max_age_s == 60.0 and statuses[-1].detector.startswith("mog2")


async def test_analysis_rate_and_two_cameras_in_one_process(js: JetStreamContext, tmp_path: Path) -> None:
    await ensure_streams(js, LogConfig())
    video = _write_video(tmp_path / "walk.avi")
    reports = await run_cameras([_job(str(video), fps=5.0), _job(str(video), camera_id="cam2")], Publisher(js))
    assert [r.frames for r in reports] == [FRAMES // 2, FRAMES]
    frames = [e for e in await _events(js, "FF_TRACKS") if isinstance(e, TrackFrame) and e.camera_id == "cam1"]
    assert [f.ts_ns - BASE_NS for f in frames][:3] == [0, 200_000_000, 400_000_000]


async def test_unopenable_source_is_a_clear_error_and_others_go_on(js: JetStreamContext, tmp_path: Path) -> None:
    await ensure_streams(js, LogConfig())
    video = _write_video(tmp_path / "walk.avi", frames=12)
    bad, good = await run_cameras(
        [_job(str(tmp_path / "missing.avi")), _job(str(video), camera_id="cam2")], Publisher(js)
    )
    assert bad.error is not None and "camera cam1" in bad.error and "cannot open video source" in bad.error
    assert good.error is None and good.frames == 12


async def test_stop_ends_cleanly_and_keeps_what_was_published(js: JetStreamContext, tmp_path: Path) -> None:
    await ensure_streams(js, LogConfig())
    video = _write_video(tmp_path / "long.avi", frames=400)
    stop = asyncio.Event()
    seen: list[int] = []

    def on_frame(_: str, frames: int) -> None:
        seen.append(frames)
        if frames == 20:
            stop.set()

    (report,) = await run_cameras([_job(str(video))], Publisher(js), stop, on_frame)
    assert report.error is None and 20 <= report.frames < 400
    frames = [e for e in await _events(js, "FF_TRACKS") if isinstance(e, TrackFrame)]
    assert len(frames) == report.frames
    statuses = [e for e in await _events(js, "FF_STATUS") if isinstance(e, EdgeStatus)]
    assert statuses[-1].frames_processed == report.frames


def test_corrupt_frame_size_is_refused(tmp_path: Path) -> None:
    source = VideoSource(SourceSpec(str(_write_video(tmp_path / "v.avi", frames=3))))
    source._check(np.zeros((H, W, 3), np.uint8), 0)
    with pytest.raises(SourceError, match=r"corrupt frame 1 .* size \(100, 100\)"):
        source._check(np.zeros((100, 100, 3), np.uint8), 1)


def test_layout_without_the_camera_is_a_clear_error(tmp_path: Path) -> None:
    layout = tmp_path / "layout.json"
    layout.write_bytes(msgspec.json.encode(schemas.StoreLayout(cameras=(_calibration("door"),))))
    assert load_camera(layout, "door").camera_id == "door"
    with pytest.raises(SystemExit, match=r"no camera 'cam9' \(cameras: door\)"):
        load_camera(layout, "cam9")


def test_credentials_are_redacted_from_uris() -> None:
    from stream.edge import redact_uri

    assert redact_uri("rtsp://admin:secret@10.0.0.5:554/s1") == "rtsp://***@10.0.0.5:554/s1"
    assert SourceSpec("rtsp://h/s").is_live and SourceSpec("0").is_live and not SourceSpec("a.mp4").is_live


@pytest.mark.skipif(
    not (SHARED_DATA / "pets09-s2l1" / "vtest.avi").exists(), reason="../shared/data/pets09-s2l1 absent"
)
def test_pets09_accuracy_with_mog2() -> None:
    from ops.commands.edge import evaluate_video

    report = evaluate_video(
        SHARED_DATA / "pets09-s2l1" / "vtest.avi", SHARED_DATA / "pets09-s2l1" / "gt.txt", Mog2Config(), 7.0
    )
    assert report["frames_aligned"] is True
    metrics = report["metrics"]
    assert isinstance(metrics, dict)
    # Issue 6's targets (baselines before footfall: 35.4 / 41.1); measured 64.6 / 68.5 with re-linking.
    assert metrics["MOTA"] >= 60.0 and metrics["IDF1"] >= 65.0
    # Counted from the floor positions the pipeline publishes (its floor gate on), not re-filtered.
    assert report["counts_within_5pct"] is True


class _ScriptedDetector(Detector):
    """One person walking right at 2 px per frame, missed on frames 10-15 (a merged blob, say)."""

    name = "scripted"

    def __init__(self) -> None:
        self.frame = 0

    def detect(self, frame_bgr: np.ndarray) -> Detections:
        f, self.frame = self.frame, self.frame + 1
        if 10 <= f < 16:
            return Detections.empty()
        x = 40.0 + 2.0 * f
        return Detections.of([[x, 120.0, x + 30.0, 220.0]], [0.9])


def _run_scripted(relink: bool) -> tuple[set[int], list[TrackClosed]]:
    # A short lost-track buffer (0.3 s) so the tracker itself cannot bridge the 0.6 s gap.
    context = CameraContext("store1", "cam1", new_edge_run_id(), _calibration())
    pipeline = CameraPipeline(
        context,
        _ScriptedDetector(),
        tracker_params=ByteTrackParams(track_thresh=0.4, track_buffer=9, frame_rate=FPS),
        relink_params=edge_relink_params() if relink else None,
    )
    image = np.zeros((H, W, 3), dtype=np.uint8)
    ids: set[int] = set()
    closed: list[TrackClosed] = []
    for f in range(40):
        _, events = pipeline.process(SourceFrame(f, BASE_NS + int(f * 1e9 / FPS), image))
        for event in events:
            if isinstance(event, TrackFrame):
                ids.update(t.track_id for t in event.tracks)
            elif isinstance(event, TrackClosed):
                closed.append(event)
    closed.extend(pipeline.close_all(BASE_NS + int(40 * 1e9 / FPS)))
    return ids, closed


def test_relinking_keeps_one_id_through_a_detection_gap() -> None:
    ids, closed = _run_scripted(relink=True)
    assert ids == {1}
    assert [c.track_id for c in closed] == [1]
    assert closed[0].first_ts_ns == BASE_NS


def test_without_relinking_the_gap_splits_the_person_in_two() -> None:
    ids, closed = _run_scripted(relink=False)
    assert ids == {1, 2}
    assert sorted(c.track_id for c in closed) == [1, 2]


# The floor gate, on a camera 40 m across (0.125 m per pixel at 320 px): a person at 1 px per frame
# walks 1.25 m/s at 10 fps.
H_WIDE = (40.0, 0.0, 0.0, 0.0, 30.0, 0.0, 0.0, 0.0, 1.0)


def _smooth_walk(f: int) -> list[list[float]]:
    return [[40.0 + f, 100.0, 70.0 + f, 200.0]]


def _blob_jump(f: int) -> list[list[float]]:
    """The walk, but frames 15-16 merge with a neighbour: the box doubles in width, the foot point jumps ~2 m."""
    x = 40.0 + f
    return [[x, 100.0, x + (60.0 if 15 <= f < 17 else 30.0), 200.0]]


def _behind(f: int) -> list[list[float]]:
    """Two people standing; the first behind the second, its box ending inside the second's (legs hidden)."""
    return [[100.0, 60.0, 140.0, 160.0], [110.0, 120.0, 160.0, 230.0]]


class _BoxesDetector(Detector):
    name = "scripted"

    def __init__(self, boxes: Callable[[int], list[list[float]]]) -> None:
        self.boxes = boxes
        self.frame = 0

    def detect(self, frame_bgr: np.ndarray) -> Detections:
        f, self.frame = self.frame, self.frame + 1
        boxes = self.boxes(f)
        return Detections.of(boxes, [0.9] * len(boxes))


def _gated_run(
    boxes: Callable[[int], list[list[float]]], gate: bool
) -> tuple[dict[int, list[int]], dict[int, int], list[int]]:
    """Per published track id: the frames published without a floor position, the frames published,
    and the ids TrackClosed closed."""
    calibration = schemas.CameraCalibration(
        camera_id="cam1", image_to_floor=H_WIDE, image_width_px=W, image_height_px=H
    )
    pipeline = CameraPipeline(
        CameraContext("store1", "cam1", new_edge_run_id(), calibration),
        _BoxesDetector(boxes),
        tracker_params=ByteTrackParams(track_thresh=0.4, frame_rate=FPS),
        relink_params=edge_relink_params(),
        floor_gate=edge_floor_gate_params() if gate else None,
    )
    image = np.zeros((H, W, 3), dtype=np.uint8)
    unset: dict[int, list[int]] = {}
    published: dict[int, int] = {}
    closed: list[int] = []
    for f in range(30):
        _, events = pipeline.process(SourceFrame(f, BASE_NS + f * 100_000_000, image))
        frame = events[0]
        assert isinstance(frame, TrackFrame)
        for t in frame.tracks:
            published[t.track_id] = published.get(t.track_id, 0) + 1
            unset.setdefault(t.track_id, [])
            if t.floor_x_m is None:
                unset[t.track_id].append(f)
    closed.extend(c.track_id for c in pipeline.close_all(BASE_NS + 30 * 100_000_000))
    return unset, published, closed


@pytest.mark.parametrize(
    ("boxes", "gate", "unset"),
    [
        (_smooth_walk, True, {1: []}),
        (_blob_jump, True, {1: [15, 16]}),
        (_blob_jump, False, {1: []}),
        (_behind, True, {1: list(range(30)), 2: []}),
        (_behind, False, {1: [], 2: []}),
    ],
)
def test_floor_gate_unsets_hidden_feet_and_impossible_steps(
    boxes: Callable[[int], list[list[float]]], gate: bool, unset: dict[int, list[int]]
) -> None:
    got, published, closed = _gated_run(boxes, gate)
    assert got == unset
    # The box is still published every frame, and the track closes as usual.
    assert all(n == 30 for n in published.values()) and sorted(closed) == sorted(published)
