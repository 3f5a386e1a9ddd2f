"""`footfall edge` (run cameras: video in, anonymous tracks out) and `footfall edge export-clip`."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ops.logging import get_logger
from ops.paths import DataDir, add_data_dir_argument
from ops.runtime import add_client_auth_arguments
from stream.client_auth import client_options

if TYPE_CHECKING:
    import numpy.typing as npt

    from ml_core.detect import DetectorConfig
    from ml_core.edge import EdgeProfile
    from ml_core.geometry.floor_gate import FloorPointGate
    from ml_core.geometry.homography import HomographyFit
    from ml_core.mot import MotRows
    from ml_core.track import ByteTrackParams, TrackRelinker
    from ops.cli import CommandTree
    from schemas.events import TrackFrame
    from schemas.layout import CameraCalibration, StoreLayout

log = get_logger("footfall.edge")

DETECTOR_CHOICES = ("mog2", "hog", "onnx", "nanodet")
# The pre-converted NanoDet-m beside the checkout (shared/data/models, relative to the repository root).
DEFAULT_NANODET_MODEL = "../shared/data/models/nanodet-m-416.onnx"

_DESCRIPTION = """\
Read video, detect and track people, map their foot points to the floor through the
layout's camera homography, and publish TrackFrame / TrackClosed / EdgeStatus events.
Pixels never leave the process: frames live in a rolling in-memory buffer (--buffer-s),
purged every second, the purges attested in EdgeStatus.

Several cameras in one process: repeat --camera and --source (paired in order).
The embedded log (a nats-server under --data-dir, streams provisioned) is the default;
--url publishes to a running server whose streams exist (`footfall log init`).

examples:
  footfall edge --store s1 --camera cam1 --source ../shared/data/pets09-s2l1/vtest.avi \\
      --layout pets09-layout.json --fps 10
  footfall edge --store s1 --camera door --source rtsp://user:pass@10.0.0.5/stream1 \\
      --layout layout.json --url nats://127.0.0.1:4222
  footfall edge export-clip --source vtest.avi --layout pets09-layout.json --camera cam1 \\
      --start-s 20 --seconds 5 --out incident.avi
"""


def register(tree: CommandTree) -> None:
    parser = tree.add("edge", "Run the edge pipeline on cameras and publish anonymous tracks.", _run, _DESCRIPTION)
    parser.add_argument("--store", required=False, help="store id")
    parser.add_argument("--camera", action="append", default=[], help="camera id (repeat for several cameras)")
    parser.add_argument("--source", action="append", default=[], help="video file, RTSP/HTTP URL or device number")
    parser.add_argument("--layout", type=Path, help="store layout JSON holding the cameras' calibrations")
    add_detector_arguments(parser)
    parser.add_argument("--fps", type=float, default=None, help="analysis rate, frames per second (default: all)")
    parser.add_argument(
        "--base-time",
        default=None,
        help="time of a file's first frame: ISO 8601 with zone or ns since the epoch (default: now)",
    )
    parser.add_argument("--buffer-s", type=float, default=60.0, help="rolling frame buffer length, seconds")
    parser.add_argument("--status-s", type=float, default=10.0, help="EdgeStatus interval, seconds of video")
    parser.add_argument("--url", default=None, help="publish to this NATS server instead of the embedded one")
    add_data_dir_argument(parser)
    add_client_auth_arguments(parser)
    parser.add_argument(
        "--spool-dir",
        type=Path,
        default=None,
        help="the publisher's on-disk spool, kept while the log is unreachable (default: <data-dir>/spool/edge)",
    )
    parser.add_argument(
        "--no-spool",
        action="store_true",
        help="publish without a spool: events sent while the server restarts are retried out of order, and "
        "lost if this process dies (README: the edge publisher)",
    )
    sub = parser.add_subparsers(dest="edge_command", metavar="COMMAND")
    clip = sub.add_parser(
        "export-clip",
        help="Write a short clip with every head and face blurred (incident review).",
        description="Run detection and tracking over a video into the rolling buffer and write the frames of\n"
        "[--start-s, --start-s + --seconds) with every person's head region and every face blurred. Frames\n"
        "are blurred in memory before anything touches disk; nothing unblurred is ever written.",
    )
    clip.set_defaults(handler=_export_clip)
    clip.add_argument("--source", dest="clip_source", required=True, help="video file")
    clip.add_argument("--out", type=Path, required=True, help="clip to write (.avi: MJPG, else mp4v)")
    clip.add_argument("--start-s", type=float, default=0.0, help="clip start, seconds into the video")
    clip.add_argument("--seconds", type=float, default=10.0, help="clip length in seconds (at most the buffer)")
    clip.add_argument("--layout", dest="clip_layout", type=Path, default=None, help="layout (for the size prior)")
    clip.add_argument("--camera", dest="clip_camera", default=None, help="camera id in --layout")
    add_detector_arguments(clip)


def add_detector_arguments(parser: argparse.ArgumentParser) -> None:
    """--detector NAME, --detector-config FILE.json, --model PATH (for onnx)."""
    parser.add_argument("--detector", choices=DETECTOR_CHOICES, default="mog2", help="backend (default: mog2)")
    parser.add_argument(
        "--detector-config", type=Path, default=None, help='JSON config, e.g. {"type": "mog2", "scale": 0.5}'
    )
    parser.add_argument(
        "--model",
        default=None,
        help="ONNX model file: YOLOv8/YOLO11 layout for --detector onnx; for nanodet a file or a manifest name"
        f" (default: {DEFAULT_NANODET_MODEL})",
    )


def detector_config(args: argparse.Namespace) -> DetectorConfig:
    """The detector config from --detector-config, else the defaults of --detector (SystemExit on bad input)."""
    from ml_core.detect import HogConfig, Mog2Config, NanoDetConfig, OnnxConfig, decode_detector_config

    if args.detector_config is not None:
        try:
            return decode_detector_config(args.detector_config.read_bytes())
        except (OSError, ValueError) as exc:
            raise SystemExit(f"footfall: --detector-config {args.detector_config}: {exc}") from exc
    if args.detector == "onnx":
        if not args.model:
            raise SystemExit("footfall: --detector onnx needs --model PATH (bring your own YOLO weights)")
        return OnnxConfig(model_path=args.model)
    if args.detector == "nanodet":
        data_dir = getattr(args, "data_dir", None)
        models_dir = Path(data_dir) / "models" if data_dir is not None else None
        return NanoDetConfig(model_path=str(nanodet_model_path(args.model, models_dir)))
    return HogConfig() if args.detector == "hog" else Mog2Config()


def nanodet_model_path(model: str | None, models_dir: Path | None = None) -> Path:
    """The NanoDet model file. --model: a path to an .onnx file, or a manifest name in the models directory
    (`footfall models fetch`; default <data dir>/models). Without --model: the manifest "nanodet" there,
    else the pre-converted file in ../shared/data/models. SystemExit when none is found."""
    from ops.commands.models import default_models_dir
    from ops.commands.tracker import resolve_data_path
    from ops.models import find_model

    if model and (model.endswith(".onnx") or "/" in model):
        return resolve_data_path(model)
    directory = models_dir if models_dir is not None else default_models_dir()
    try:
        manifest, path = find_model(directory, model or "nanodet")
    except FileNotFoundError as exc:
        if model:
            raise SystemExit(f"footfall: --model {model}: {exc}") from exc
        return resolve_data_path(DEFAULT_NANODET_MODEL)
    except ValueError as exc:
        raise SystemExit(f"footfall: {exc}") from exc
    if manifest.decoder != "nanodet":
        raise SystemExit(f"footfall: model {manifest.name!r} is for the {manifest.decoder} decoder, not nanodet")
    return path


def profile_for(config: DetectorConfig) -> EdgeProfile:
    """The edge profile of a detector config's backend (`ml_core.edge.edge_profile`)."""
    from ml_core.edge import edge_profile

    return edge_profile(str(type(config).__struct_config__.tag))


def load_camera(layout_path: Path, camera_id: str) -> CameraCalibration:
    """The camera's calibration from a layout file (SystemExit with a clear message when absent or invalid)."""
    from schemas import SchemaError, decode_layout_json

    try:
        layout = decode_layout_json(layout_path.read_bytes())
    except OSError as exc:
        raise SystemExit(f"footfall: cannot read layout {layout_path}: {exc}") from exc
    except SchemaError as exc:
        raise SystemExit(f"footfall: layout {layout_path} is invalid: {exc}") from exc
    try:
        return layout.camera(camera_id)
    except KeyError as exc:
        raise SystemExit(f"footfall: {layout_path}: {exc.args[0]}") from exc


def _base_time_ns(value: str | None) -> int:
    import time

    if value is None:
        return time.time_ns()
    if value.isdigit():
        return int(value)
    try:
        when = datetime.fromisoformat(value)
    except ValueError as exc:
        raise SystemExit(f"footfall: --base-time must be ISO 8601 or ns since the epoch, got {value!r}") from exc
    if when.tzinfo is None:
        raise SystemExit(f"footfall: --base-time needs a time zone (e.g. 2009-01-01T12:00:00+00:00), got {value!r}")
    return int(when.timestamp() * 1e9)


def _run(args: argparse.Namespace) -> int:
    from schemas import is_valid_id
    from stream.edge import CameraContext, CameraJob, SourceSpec, new_edge_run_id

    if not args.store or not args.camera or not args.source or args.layout is None:
        raise SystemExit("footfall edge: --store, --camera, --source and --layout are required")
    if len(args.camera) != len(args.source):
        raise SystemExit(
            f"footfall edge: give one --source per --camera, got {len(args.camera)} and {len(args.source)}"
        )
    for value in (args.store, *args.camera):
        if not is_valid_id(value):
            raise SystemExit(f"footfall edge: ids must match [a-z0-9][a-z0-9_-]{{0,31}}, got {value!r}")
    config = detector_config(args)
    profile = profile_for(config)
    base = _base_time_ns(args.base_time)
    jobs = []
    for camera_id, uri in zip(args.camera, args.source, strict=True):
        calibration = load_camera(args.layout, camera_id)
        context = CameraContext(args.store, camera_id, new_edge_run_id(), calibration)
        spec = SourceSpec(uri=uri, analysis_fps=args.fps, base_ts_ns=base)
        jobs.append(
            CameraJob(
                context,
                spec,
                config,
                tracker=profile.tracker_params(args.fps or 10.0),
                relink=profile.relink,
                floor_gate=profile.floor_gate,
                buffer_max_age_s=args.buffer_s,
                status_interval_s=args.status_s,
            )
        )
    reports = asyncio.run(_publish(args, jobs))
    for report in reports:
        print(json.dumps({k: getattr(report, k) for k in report.__slots__}))
    return 1 if any(r.error for r in reports) else 0


async def _publish(args: argparse.Namespace, jobs: list[Any]) -> list[Any]:
    import nats

    from stream.edge import run_cameras
    from stream.embedded import EmbeddedNats
    from stream.provision import LogConfig, ensure_streams
    from stream.publisher import Publisher
    from stream.spooling import SpoolingPublisher

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    server = None
    url = args.url
    if url is None:
        server = EmbeddedNats(DataDir(args.data_dir).nats).start()
        url = server.url
        log.info("edge.embedded_log", url=url, data_dir=str(args.data_dir))
    try:
        nc = await nats.connect(url, name="footfall-edge", **client_options())
        try:
            js = nc.jetstream()
            if server is not None:
                await ensure_streams(js, LogConfig())
            for job in jobs:
                log.info("edge.camera", camera=job.context.camera_id, run=job.context.edge_run_id,
                         detector=type(job.detector).__name__)  # fmt: skip
        finally:
            await nc.drain()
        # The spooling publisher by default: it keeps each camera's order across a restart of the (leaf)
        # server and keeps what it could not send on disk (measured: `footfall bench topology leaf-kill`).
        publisher: Publisher | SpoolingPublisher
        if args.no_spool:
            nc = await nats.connect(url, name="footfall-edge", **client_options())
            publisher = Publisher(nc.jetstream())
        else:
            spool_dir = args.spool_dir or DataDir(args.data_dir).root / "spool" / "edge"
            publisher = await SpoolingPublisher([url], spool_dir, name="footfall-edge").start()
        try:
            reports = await run_cameras(jobs, publisher, stop)
            for report in reports:
                if report.error:
                    log.error("edge.camera_failed", camera=report.camera_id, error=report.error)
            return reports
        finally:
            if isinstance(publisher, SpoolingPublisher):
                await publisher.close()
            else:
                await nc.drain()
    finally:
        if server is not None:
            server.stop()


def _export_clip(args: argparse.Namespace) -> int:
    import numpy as np

    from ml_core.detect import create_detector
    from ml_core.privacy import FrameBuffer, blur_frame, write_clip
    from ml_core.track import ByteTrack
    from stream.edge import SourceError, SourceSpec, VideoSource

    if not 0 < args.seconds <= 60.0:
        raise SystemExit(f"footfall edge export-clip: --seconds must be in (0, 60] (the buffer), got {args.seconds}")
    h_norm = None
    if args.clip_layout is not None:
        if not args.clip_camera:
            raise SystemExit("footfall edge export-clip: --layout needs --camera")
        cal = load_camera(args.clip_layout, args.clip_camera)
        h_norm = np.asarray(cal.image_to_floor, dtype=np.float64).reshape(3, 3)
    detector = create_detector(detector_config(args), h_norm)
    tracker = ByteTrack()
    buffer = FrameBuffer(max_age_s=60.0)
    source = VideoSource(SourceSpec(uri=args.clip_source))
    start_ns, end_ns = int(args.start_s * 1e9), int((args.start_s + args.seconds) * 1e9)
    try:
        for frame in source.frames():
            found = detector.detect(frame.frame)
            # Blur every detection as well as every track: a person not yet tracked is still a person.
            tracks = tracker.update(found.boxes_xyxy, found.scores)
            boxes = np.concatenate([tracks.boxes_xyxy, found.boxes_xyxy])
            if frame.ts_ns >= start_ns:
                buffer.push(frame.ts_ns, frame.frame, boxes)
            buffer.purge(frame.ts_ns)
            if frame.ts_ns >= end_ns:
                break
    except SourceError as exc:
        print(f"footfall edge export-clip: {exc}", file=sys.stderr)
        return 2
    held = buffer.window(start_ns, end_ns - 1)
    if not held:
        print(
            f"footfall edge export-clip: no frames in [{args.start_s}, {args.start_s + args.seconds}) s",
            file=sys.stderr,
        )
        return 1
    blurred = [blur_frame(f.frame, f.person_boxes, f.ts_ns) for f in held]
    buffer.clear()
    fps = source.fps if source.fps > 0 else 25.0
    path = write_clip(args.out, blurred, fps)
    print(json.dumps({"clip": str(path), "frames": len(blurred), "fps": fps, "blurred": True}))
    return 0


# Counting geometry for PETS09-S2L1 in the ground truth's world metres: two lines across the main
# walking paths and two zones (the plaza in front of the camera, the far path).
PETS09_LINES: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {
    "north-line": ((-20.0, -10.0), (0.0, -10.0)),
    "east-line": ((-6.0, -16.0), (-6.0, 8.0)),
}
PETS09_ZONES: dict[str, tuple[tuple[float, float], ...]] = {
    "plaza": ((-12.0, -10.0), (-4.0, -10.0), (-4.0, -2.0), (-12.0, -2.0)),
    "far-path": ((-16.0, -16.0), (-8.0, -16.0), (-8.0, -12.0), (-16.0, -12.0)),
}


def video_calibration(image_to_floor: HomographyFit, width: int, height: int, camera_id: str) -> CameraCalibration:
    """A camera's calibration from a pixel homography fit (frames of width x height pixels)."""
    from ml_core.geometry.homography import pixels_to_normalised
    from schemas import CameraCalibration

    matrix = tuple(float(v) for v in pixels_to_normalised(image_to_floor.matrix, width, height).reshape(-1))
    return CameraCalibration(camera_id, matrix, width, height)  # type: ignore[arg-type]


def pets09_layout(image_to_floor: HomographyFit, width: int, height: int, camera_id: str) -> StoreLayout:
    """PETS09-S2L1 as a layout: the camera (`image_to_floor` in pixels, made normalised), the zones and lines
    above (zones as product zones, lines as in-store lines: the scene is a plaza with no door)."""
    from schemas.layout import CountingLine, StoreLayout, Zone, ZoneKind

    return StoreLayout(
        cameras=(video_calibration(image_to_floor, width, height, camera_id),),
        zones=tuple(Zone(zone_id, ZoneKind.PRODUCT, polygon) for zone_id, polygon in PETS09_ZONES.items()),
        lines=tuple(CountingLine(line_id, a, b) for line_id, (a, b) in PETS09_LINES.items()),
    )


# The same for ground truth and footfall: a crossing must clear a 0.5 m dead band (about a person's
# width) and a zone entry must hold for 3 frames, so foot-point jitter on a boundary counts once.
# Nothing else is applied at counting time: footfall is counted from the floor positions its edge
# pipeline publishes (hidden foot points and impossible steps already unset there, the edge profile's
# floor gate, `edge_floor_gate_params`), ground truth from its annotated world positions.
COUNT_HYSTERESIS_M = 0.5
COUNT_MIN_POINTS = 3


@dataclass(frozen=True, slots=True)
class TrackedVideo:
    """footfall's tracks over a video as the edge pipeline publishes them: rows in frame pixels (1-based
    frames) with public ids, the published floor positions (n, 2) in metres (NaN where the TrackFrame
    has none), the image-to-floor fit (pixels to metres) used, frames read, the file's fps, the edge
    pipeline's milliseconds per frame, and its stages' settings and counters."""

    tracks: MotRows
    floor_m: npt.NDArray[Any]
    image_to_floor: HomographyFit
    frames_read: int
    video_fps: float
    detector_version: str
    edge_ms_per_frame: float
    tracker_params: ByteTrackParams
    relinker: TrackRelinker | None
    floor_gate: FloorPointGate | None
    published: tuple[TrackFrame, ...] = ()


def track_video(
    video: Path,
    image_to_floor: HomographyFit,
    config: DetectorConfig,
    frame_rate: float,
    relink: bool = True,
    *,
    camera_id: str = "eval",
    edge_run_id: str | None = None,
    profile: EdgeProfile | None = None,
) -> TrackedVideo:
    """Run footfall's edge pipeline (`CameraPipeline`, the edge profile: detect, track, floor, re-link,
    floor gate) over a video file and collect what its TrackFrames publish (edge_run_id: random if None).

    profile: the tracker, re-link and floor-gate settings (None: the detector's, `profile_for`)."""
    import numpy as np

    from ml_core.detect import create_detector
    from ml_core.geometry.homography import pixels_to_normalised
    from ml_core.mot import MotRows
    from ml_core.privacy import FrameBuffer
    from schemas.events import TrackFrame
    from stream.edge import CameraContext, CameraPipeline, SourceFrame, SourceSpec, VideoSource, new_edge_run_id

    profile = profile if profile is not None else profile_for(config)
    source = VideoSource(SourceSpec(uri=str(video)))
    params = profile.tracker_params(frame_rate)
    pipeline: CameraPipeline | None = None
    cols: dict[str, list[np.ndarray]] = {"frames": [], "ids": [], "boxes": [], "scores": [], "floor": []}
    frames: list[TrackFrame] = []
    for item in source.frames():
        if pipeline is None:
            h, w = item.frame.shape[:2]
            h_norm = pixels_to_normalised(image_to_floor.matrix, w, h)
            calibration = video_calibration(image_to_floor, w, h, camera_id)
            detector = create_detector(config, h_norm)
            detector.warm_up(h, w)
            pipeline = CameraPipeline(
                CameraContext("eval", camera_id, edge_run_id or new_edge_run_id(), calibration),
                detector,
                tracker_params=params,
                buffer=FrameBuffer(max_age_s=1.0),
                relink_params=profile.relink if relink else None,
                floor_gate=profile.floor_gate,
            )
        # Ground-truth frame numbers at the sequence's frame rate are the clock (the file's fps is not).
        ts_ns = round(item.index * 1e9 / frame_rate)
        result, events = pipeline.process(SourceFrame(item.index, ts_ns, item.frame))
        pipeline.purge(ts_ns)
        published = events[0]
        assert isinstance(published, TrackFrame)
        frames.append(published)
        t = result.tracks
        floor = np.array(
            [(np.nan, np.nan) if p.floor_x_m is None else (p.floor_x_m, p.floor_y_m) for p in published.tracks],
            dtype=np.float64,
        ).reshape(-1, 2)
        cols["frames"].append(np.full(len(t), item.index + 1, dtype=np.int64))
        cols["ids"].append(np.array([p.track_id for p in published.tracks], dtype=np.int64))
        cols["boxes"].append(t.boxes_xyxy)
        cols["scores"].append(t.scores)
        cols["floor"].append(floor)
        if item.index % 100 == 0:
            log.info("eval.video", frame=item.index, tracks=len(t))
    if pipeline is None:
        raise ValueError(f"{video}: no frames")
    tracks = MotRows(
        np.concatenate(cols["frames"]),
        np.concatenate(cols["ids"]),
        np.concatenate(cols["boxes"]).reshape(-1, 4),
        np.concatenate(cols["scores"]),
    )
    fps = pipeline.status(0).fps
    return TrackedVideo(
        tracks,
        np.concatenate(cols["floor"]).reshape(-1, 2),
        image_to_floor,
        source.frames_read,
        source.fps,
        pipeline.detector.version,
        round(1000.0 / fps, 2) if fps > 0 else 0.0,
        params,
        pipeline.relinker,
        pipeline.floor_gate,
        tuple(frames),
    )


def evaluate_video(
    video: Path,
    gt_path: Path,
    config: DetectorConfig,
    frame_rate: float,
    relink: bool = True,
    *,
    profile: EdgeProfile | None = None,
) -> dict[str, object]:
    """Run footfall's edge pipeline on a video; score what it publishes against MOT15 ground truth.

    relink: re-link lost tracks on the floor (the edge profile, `edge_relink_params`) after the tracker.

    Tracking: MOTA / IDF1 / HOTA (ml_core.mot) of the published ids and boxes. Counting: line crossings
    and zone entries on the floor, from ground-truth world coordinates and from the floor positions
    footfall's TrackFrames publish (the pipeline's foot points through the homography fitted to the
    same ground truth, `footfall calibrate --from-mot-gt`, less those its floor gate unsets).
    """
    from dataclasses import asdict

    import numpy as np

    from ml_core.geometry.counting import count_line_crossings, count_zone_entries
    from ml_core.geometry.homography import fit_homography
    from ml_core.mot import evaluate, load_mot
    from ops.commands.calibrate import read_pairs_mot_gt

    gt = load_mot(gt_path)
    image_px, world_m = read_pairs_mot_gt(gt_path)
    fit = fit_homography(image_px, world_m)
    run = track_video(video, fit, config, frame_rate, relink, profile=profile)
    tracks, params, relinker, gate = run.tracks, run.tracker_params, run.relinker, run.floor_gate
    n_frames = run.frames_read
    metrics = evaluate(gt, tracks, n_frames)
    raw = np.loadtxt(gt_path, delimiter=",", ndmin=2)
    gt_cols = (raw[:, 1], raw[:, 0], raw[:, 7:9])
    ff_cols = (tracks.ids, tracks.frames, run.floor_m)
    counts: dict[str, dict[str, object]] = {}
    for line_id, (a, b) in PETS09_LINES.items():
        truth = count_line_crossings(*gt_cols, a, b, hysteresis_m=COUNT_HYSTERESIS_M)
        ours = count_line_crossings(*ff_cols, a, b, hysteresis_m=COUNT_HYSTERESIS_M)
        sides = {"gt_left_right": [truth.left, truth.right], "footfall_left_right": [ours.left, ours.right]}
        counts[line_id] = _count_row(truth.total, ours.total, sides)
    for zone_id, polygon in PETS09_ZONES.items():
        truth_n = count_zone_entries(*gt_cols, polygon, min_points=COUNT_MIN_POINTS)
        ours_n = count_zone_entries(*ff_cols, polygon, min_points=COUNT_MIN_POINTS)
        counts[zone_id] = _count_row(truth_n, ours_n, {})
    published = int(np.isfinite(run.floor_m).all(axis=1).sum())
    return {
        "video": str(video),
        "gt": str(gt_path),
        "video_frames": n_frames,
        "video_fps": run.video_fps,
        "gt_frames": gt.n_frames,
        "frames_aligned": n_frames == gt.n_frames,
        "detector": run.detector_version,
        "edge_profile": (profile if profile is not None else profile_for(config)).name,
        "tracker": {"track_thresh": params.track_thresh, "track_buffer": params.track_buffer, "frame_rate": frame_rate},
        "relink": None if relinker is None else {**asdict(relinker.params), "relinks": relinker.relinks},
        "floor_gate": None
        if gate is None
        else {**asdict(gate.params), "hidden_dropped": gate.hidden, "jumps_dropped": gate.jumps},
        "edge_ms_per_frame": run.edge_ms_per_frame,
        "calibration_rmse_m": round(fit.rmse_m, 4),
        "metrics": metrics.as_dict(),
        "counting": {
            "hysteresis_m": COUNT_HYSTERESIS_M,
            "zone_min_points": COUNT_MIN_POINTS,
            "footfall_points": "floor positions as published in the TrackFrames (edge floor gate applied there)",
            "gt_points": "ground-truth world positions, all of them, nothing dropped",
            "applied_at_counting": "dead band (hysteresis_m) and zone hold (zone_min_points), to both alike",
            "track_rows": {"gt": int(raw.shape[0]), "footfall": len(tracks)},
            "floor_positions_published": published,
        },
        "counts": counts,
        "counts_within_5pct": all(bool(c["within_5pct"]) for c in counts.values()),
    }


def _count_row(truth: int, ours: int, extra: Mapping[str, object]) -> dict[str, object]:
    error = abs(ours - truth) / truth if truth else float(ours != 0)
    return {"gt": truth, "footfall": ours, "rel_error": round(error, 4), "within_5pct": error <= 0.05, **extra}
