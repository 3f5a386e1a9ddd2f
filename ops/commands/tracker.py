"""`footfall eval mot` and `footfall bench tracker`: accuracy and throughput of the edge tracker.

Both print one JSON object on stdout; progress goes to stderr through the log. Heavy
imports (numba, the `trackers` peer) happen inside the handlers so `footfall --help`
stays fast.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ops import extras
from ops.logging import get_logger

if TYPE_CHECKING:
    from ml_core.mot import DetectionNoise, MotRows
    from ops.cli import CommandTree

# Relative to the repository root (shared/ sits beside the checkout), or to the working directory.
DEFAULT_GT = "../shared/data/pets09-s2l1/gt.txt"
# PETS09-S2L1 as benchmarked by MOTChallenge runs at 7 frames per second.
DEFAULT_FRAME_RATE = 7.0
DEFAULT_SIZES = "20,100,500"
DEFAULT_BENCH_FRAMES = 200
TRACKER_CHOICES = ("footfall", "trackers")
_REPO_ROOT = Path(__file__).resolve().parents[2]

log = get_logger(__name__)


def register(tree: CommandTree) -> None:
    """Add `eval mot` and `bench tracker` to the command tree."""
    tree.group("eval", "Measure accuracy against ground truth (prints JSON).")
    tree.group("bench", "Measure throughput against a peer in the same run (prints JSON).")

    ev = tree.add(
        "eval mot",
        "MOTA, IDF1 and HOTA of a tracker on a MOT ground-truth file.",
        _eval_mot,
        description=(
            "Track detections and score the result against MOT ground truth with the `trackers` package's\n"
            "evaluator (TrackEval-parity; IoU 0.5 for MOTA and IDF1). Without --detections, detections are\n"
            "derived from the ground truth with seeded misses, box noise and false positives (tracker-only mode).\n"
            "With --video, the edge pipeline itself (CameraPipeline, edge profile) runs on the video, and line\n"
            "crossings and zone entries are counted on the floor from ground truth's world positions and from\n"
            "the floor positions footfall's TrackFrames publish, under the same rules: a 0.5 m dead band, zone\n"
            "entries held 3 frames. The edge's floor gate has already unset foot points inside a nearer\n"
            "person's box (legs hidden) and those farther than 0.5 m + 2.5 m/s x elapsed time from the\n"
            "track's last published point (merged blobs); the JSON's floor_gate says how many."
        ),
    )
    ev.add_argument("--gt", default=DEFAULT_GT, help=f"MOT15-format ground truth (default: {DEFAULT_GT})")
    ev.add_argument("--detections", default=None, help="MOT-format detections (frame, -1, left, top, w, h, score)")
    ev.add_argument("--tracker", choices=TRACKER_CHOICES, default="footfall", help="footfall or the trackers peer")
    ev.add_argument("--frame-rate", type=float, default=DEFAULT_FRAME_RATE, help="frames per second (default: 7)")
    _add_noise_arguments(ev)
    ev.add_argument("--video", default=None, help="run the edge pipeline on this video (with --gt)")
    ev.add_argument(
        "--detector",
        choices=("mog2", "hog", "onnx", "nanodet"),
        default=None,
        help="detector for --video (default: mog2; its edge profile, `ml_core.edge.edge_profile`, goes with it)",
    )
    ev.add_argument("--detector-config", type=Path, default=None, help="detector JSON config for --video")
    ev.add_argument(
        "--model", default=None, help="ONNX model for --detector onnx or nanodet (nanodet: ../shared/data/models)"
    )
    ev.add_argument("--no-relink", action="store_true", help="for --video: skip floor-plane re-linking of lost tracks")

    be = tree.add(
        "bench tracker",
        "Microseconds per frame and accuracy of footfall's tracker vs the trackers package's ByteTrack.",
        _bench_tracker,
        description=(
            "Time both trackers on the same seeded synthetic moving boxes at several crowd sizes, score both\n"
            "on the same PETS09-derived detections, and time the Numba kernels' first compile and cached load."
        ),
    )
    be.add_argument(
        "--sizes", default=DEFAULT_SIZES, help=f"boxes per frame, comma-separated (default: {DEFAULT_SIZES})"
    )
    be.add_argument("--frames", type=int, default=DEFAULT_BENCH_FRAMES, help="frames per size (default: 200)")
    be.add_argument("--repeats", type=int, default=5, help="best-of repeats for footfall's timing (default: 5)")
    be.add_argument("--gt", default=DEFAULT_GT, help=f"ground truth for the accuracy part (default: {DEFAULT_GT})")
    be.add_argument("--frame-rate", type=float, default=DEFAULT_FRAME_RATE, help="frames per second of --gt")
    be.add_argument("--no-startup", action="store_true", help="skip timing the compile and the cached start")
    _add_noise_arguments(be)


def _add_noise_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--drop-rate", type=float, default=0.10, help="share of ground-truth boxes missed")
    parser.add_argument("--noise-px", type=float, default=2.0, help="std of Gaussian noise per box edge, pixels")
    parser.add_argument("--fp-rate", type=float, default=0.05, help="false positives per ground-truth box")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic detections (default: 0)")


def resolve_data_path(path: str) -> Path:
    """Return `path` as given when it exists, else relative to the repository root (where ../shared lives)."""
    given = Path(path)
    if given.is_absolute() or given.exists():
        return given
    return (_REPO_ROOT / given).resolve()


def _noise(args: argparse.Namespace) -> DetectionNoise:
    from ml_core.mot import DetectionNoise

    return DetectionNoise(
        drop_rate=args.drop_rate, noise_px=args.noise_px, false_positive_rate=args.fp_rate, seed=args.seed
    )


def _eval_mot(args: argparse.Namespace) -> int:
    # The evaluator (and the peer tracker) come from the `eval` extra: say so before any work.
    extras.require("trackers", "supervision")
    if args.video is not None or args.detector is not None:
        return _eval_video(args)
    from ml_core.mot import detections_from_ground_truth, evaluate, load_mot
    from ml_core.track import ByteTrackParams

    gt_path = resolve_data_path(args.gt)
    try:
        noise = _noise(args)
        gt = load_mot(gt_path)
        if args.detections is not None:
            det_path = resolve_data_path(args.detections)
            detections = load_mot(det_path, keep_zero_conf=True)
            source: dict[str, Any] = {"source": str(det_path)}
        else:
            detections = detections_from_ground_truth(gt, noise)
            source = {"source": "ground truth", **asdict(noise)}
        params = ByteTrackParams(frame_rate=args.frame_rate)
    except (OSError, ValueError) as exc:
        log.error("eval.input_rejected", error=str(exc))
        return 2
    n_frames = max(gt.n_frames, detections.n_frames)
    log.info("eval.tracking", tracker=args.tracker, frames=n_frames, detections=len(detections))
    started = time.perf_counter()
    tracks = _run(args.tracker, detections, n_frames, args.frame_rate)
    elapsed = time.perf_counter() - started
    metrics = evaluate(gt, tracks, n_frames)
    report = {
        "tracker": _tracker_label(args.tracker),
        "params": asdict(params) if args.tracker == "footfall" else {"frame_rate": args.frame_rate},
        "gt": str(gt_path),
        "detections": source,
        "frames": n_frames,
        "tracking_s": round(elapsed, 3),
        "metrics": metrics.as_dict(),
    }
    print(json.dumps(report, indent=2))
    return 0


def _eval_video(args: argparse.Namespace) -> int:
    """Detector + tracker on real footage (the edge pipeline's stages): see ops.commands.edge.evaluate_video."""
    from ops.commands.edge import detector_config, evaluate_video

    if args.video is None:
        print("footfall eval mot: --detector needs --video", file=sys.stderr)
        return 2
    args.detector = args.detector or "mog2"
    video, gt_path = resolve_data_path(args.video), resolve_data_path(args.gt)
    try:
        report = evaluate_video(video, gt_path, detector_config(args), args.frame_rate, relink=not args.no_relink)
    except (OSError, ValueError) as exc:
        log.error("eval.input_rejected", error=str(exc))
        return 2
    print(json.dumps(report, indent=2))
    return 0


def _tracker_label(name: str) -> str:
    from ml_core.mot.runners import PEER_NAME

    return "footfall.ByteTrack" if name == "footfall" else PEER_NAME


def _run(name: str, detections: MotRows, n_frames: int, frame_rate: float) -> MotRows:
    from ml_core.mot import run_footfall, run_peer
    from ml_core.track import ByteTrackParams

    if name == "footfall":
        return run_footfall(detections, n_frames, ByteTrackParams(frame_rate=frame_rate))
    return run_peer(detections, n_frames, frame_rate)


def _bench_tracker(args: argparse.Namespace) -> int:
    try:
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
        if not sizes or min(sizes) < 1 or args.frames < 2 or args.repeats < 1:
            raise ValueError
    except ValueError:
        log.error("bench.bad_arguments", sizes=args.sizes, frames=args.frames, repeats=args.repeats)
        return 2
    extras.require("trackers", "supervision")

    report: dict[str, Any] = {"machine": _machine()}
    if not args.no_startup:
        log.info("bench.startup", step="timing a cold compile and a cached start in subprocesses")
        report["startup"] = _startup_times()
    report["throughput"] = [_throughput(n, args.frames, args.repeats, args.seed) for n in sizes]
    report["accuracy"] = _accuracy(args)
    print(json.dumps(report, indent=2))
    return 0


def _machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "numba": metadata.version("numba"),
        "numpy": metadata.version("numpy"),
        "trackers": metadata.version("trackers"),
        "supervision": metadata.version("supervision"),
    }


_STARTUP_SNIPPET = (
    "import time; t = time.perf_counter(); from ml_core.track import ByteTrack; "
    "ByteTrack.warm_up(); print(time.perf_counter() - t)"
)


def _startup_times() -> dict[str, float]:
    """Seconds from `import ml_core.track` to a finished first update, with an empty and a filled Numba cache."""
    with tempfile.TemporaryDirectory(prefix="footfall-numba-") as cache_dir:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache_dir, "PYTHONPATH": str(_REPO_ROOT)}
        times = []
        for _ in range(2):
            done = subprocess.run(
                [sys.executable, "-c", _STARTUP_SNIPPET], env=env, capture_output=True, text=True, check=True
            )
            times.append(round(float(done.stdout.strip().splitlines()[-1]), 3))
    return {"first_call_compile_s": times[0], "cached_start_s": times[1]}


def _throughput(n_boxes: int, n_frames: int, repeats: int, seed: int) -> dict[str, Any]:
    import supervision as sv
    from trackers import ByteTrackTracker

    from ml_core.mot import moving_boxes
    from ml_core.track import ByteTrack

    frames = moving_boxes(n_boxes, n_frames, seed=seed)
    ByteTrack.warm_up()
    best = float("inf")
    for _ in range(repeats):
        tracker = ByteTrack()
        started = time.perf_counter()
        for boxes, scores in frames:
            tracker.update(boxes, scores)
        best = min(best, time.perf_counter() - started)
    ours_us = best / n_frames * 1e6

    # The peer's input type is built outside the timed loop, which favours the peer.
    peer_frames = [sv.Detections(xyxy=b.copy(), confidence=s.copy()) for b, s in frames]
    ByteTrackTracker().update(peer_frames[0])  # first-call imports and allocations
    log.info("bench.peer", boxes=n_boxes, frames=n_frames)
    peer = ByteTrackTracker()
    started = time.perf_counter()
    for dets in peer_frames:
        peer.update(dets)
    peer_us = (time.perf_counter() - started) / n_frames * 1e6
    result = {
        "boxes_per_frame": n_boxes,
        "frames": n_frames,
        "footfall_us_per_frame": round(ours_us, 2),
        "peer_us_per_frame": round(peer_us, 2),
        "speedup": round(peer_us / ours_us, 1),
    }
    log.info("bench.size_done", **result)
    return result


def _accuracy(args: argparse.Namespace) -> dict[str, Any]:
    from ml_core.mot import detections_from_ground_truth, evaluate, load_mot, run_footfall, run_peer
    from ml_core.mot.runners import PEER_NAME
    from ml_core.track import ByteTrackParams

    gt_path = resolve_data_path(args.gt)
    if not gt_path.is_file():
        log.warning("bench.accuracy_skipped", gt=str(gt_path))
        return {"skipped": f"ground truth not found at {gt_path}"}
    log.info("bench.accuracy", gt=str(gt_path))
    gt = load_mot(gt_path)
    noise = _noise(args)
    detections = detections_from_ground_truth(gt, noise)
    ours = evaluate(gt, run_footfall(detections, gt.n_frames, ByteTrackParams(frame_rate=args.frame_rate)))
    peer = evaluate(gt, run_peer(detections, gt.n_frames, args.frame_rate))
    return {
        "gt": str(gt_path),
        "detections": {"source": "ground truth", **asdict(noise)},
        "footfall.ByteTrack": _brief(ours.as_dict()),
        PEER_NAME: _brief(peer.as_dict()),
    }


def _brief(metrics: dict[str, float | int]) -> dict[str, float | int]:
    keys = ("MOTA", "IDF1", "HOTA", "MOTP", "id_switches", "false_positives", "false_negatives")
    return {k: metrics[k] for k in keys}
