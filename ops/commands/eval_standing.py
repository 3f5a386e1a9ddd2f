"""`footfall eval standing`: recall of people who stand still vs people who walk, per detector (prints JSON).

Background subtraction learns a person who stops into the background; a CNN sees them regardless. On
PETS09-S2L1 several people pause for seconds: a ground-truth row is "standing" when the person's floor
position (the ground truth's world metres) moves less than --standing-m-s metres per second over the
--window-s seconds centred on it, "walking" at --walking-m-s or more.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from ops.logging import get_logger

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from ops.cli import CommandTree

DEFAULT_VIDEO = "../shared/data/pets09-s2l1/vtest.avi"
DEFAULT_GT = "../shared/data/pets09-s2l1/gt.txt"
log = get_logger("footfall.eval.standing")


def register(tree: CommandTree) -> None:
    tree.group("eval", "Measure accuracy against ground truth (prints JSON).")
    parser = tree.add(
        "eval standing",
        "Recall of standing vs walking people per detector (mog2, nanodet) on real footage.",
        _run,
        description=(
            "Run each detector over the video in order (MOG2 keeps its background model across frames) and\n"
            "count the ground-truth boxes it finds at IoU >= --iou, split by the person's floor speed; then\n"
            "the same for the boxes the edge pipeline publishes (tracker, edge profile), which can bridge\n"
            "short misses. Standing: floor speed < --standing-m-s over --window-s seconds."
        ),
    )
    parser.add_argument("--video", default=DEFAULT_VIDEO, help=f"video (default: {DEFAULT_VIDEO})")
    parser.add_argument(
        "--gt", default=DEFAULT_GT, help=f"MOT15 ground truth with world metres (default: {DEFAULT_GT})"
    )
    parser.add_argument(
        "--detector",
        action="append",
        choices=("mog2", "nanodet"),
        default=None,
        help="detector to measure (repeat; default: mog2 and nanodet)",
    )
    parser.add_argument("--model", default=None, help="NanoDet model file (default: ../shared/data/models)")
    parser.add_argument("--frame-rate", type=float, default=7.0, help="frames per second of --gt (default: 7)")
    parser.add_argument("--window-s", type=float, default=2.0, help="speed window, seconds (default: 2)")
    parser.add_argument("--standing-m-s", type=float, default=0.2, help="standing below this speed (default: 0.2)")
    parser.add_argument("--walking-m-s", type=float, default=0.5, help="walking at or above (default: 0.5)")
    parser.add_argument("--iou", type=float, default=0.5, help="IoU for a ground-truth box to count as found")
    parser.add_argument("--no-tracks", action="store_true", help="skip the edge pipeline's published boxes")


def _run(args: argparse.Namespace) -> int:
    import numpy as np

    from ml_core.detect import Mog2Config, NanoDetConfig, create_detector
    from ml_core.geometry.homography import fit_homography, pixels_to_normalised
    from ml_core.mot.standing import floor_speeds
    from ops.commands.calibrate import read_pairs_mot_gt
    from ops.commands.edge import nanodet_model_path, track_video
    from ops.commands.tracker import resolve_data_path
    from stream.edge import SourceSpec, VideoSource

    video, gt_path = resolve_data_path(args.video), resolve_data_path(args.gt)
    if not video.is_file() or not gt_path.is_file():
        log.error("eval.input_missing", video=str(video), gt=str(gt_path))
        return 2
    raw = np.loadtxt(gt_path, delimiter=",", ndmin=2)
    frames, ids = raw[:, 0].astype(np.int64), raw[:, 1].astype(np.int64)
    truth = raw[:, 2:6].copy()
    truth[:, 2:] += truth[:, :2]
    speeds = floor_speeds(frames, ids, raw[:, 7:9], args.frame_rate, args.window_s)
    groups = {
        "standing": speeds < args.standing_m_s,
        "walking": speeds >= args.walking_m_s,
        "all": np.ones(len(frames), dtype=bool),
    }
    fit = fit_homography(*read_pairs_mot_gt(gt_path))
    report: dict[str, Any] = {
        "video": str(video),
        "gt": str(gt_path),
        "definition": {
            "window_s": args.window_s,
            "standing_below_m_s": args.standing_m_s,
            "walking_from_m_s": args.walking_m_s,
            "iou": args.iou,
        },
        "gt_rows": {name: int(mask.sum()) for name, mask in groups.items()},
        "standing_people": sorted({int(p) for p in ids[groups["standing"]]}),
        "detectors": {},
    }
    for name in args.detector or ["mog2", "nanodet"]:
        config = Mog2Config() if name == "mog2" else NanoDetConfig(model_path=str(nanodet_model_path(args.model)))
        log.info("eval.standing", detector=name, stage="detect")
        source = VideoSource(SourceSpec(uri=str(video)))
        detector = None
        per_frame: dict[int, npt.NDArray[np.float64]] = {}
        for item in source.frames():
            if detector is None:
                h, w = item.frame.shape[:2]
                detector = create_detector(config, pixels_to_normalised(fit.matrix, w, h))
            per_frame[item.index + 1] = detector.detect(item.frame).boxes_xyxy
        if detector is None:
            log.error("eval.no_frames", video=str(video))
            return 2
        entry: dict[str, Any] = {
            "version": detector.version,
            "detections": _recall(frames, truth, per_frame, groups, args.iou),
        }
        if not args.no_tracks:
            log.info("eval.standing", detector=name, stage="edge pipeline")
            tracked = track_video(video, fit, config, args.frame_rate).tracks
            boxes = {int(f): tracked.boxes_xyxy[tracked.frames == f] for f in np.unique(tracked.frames)}
            entry["published_tracks"] = _recall(frames, truth, boxes, groups, args.iou)
        report["detectors"][name] = entry
    print(json.dumps(report, indent=2))
    return 0


def _recall(
    frames: npt.NDArray[np.int64],
    truth: npt.NDArray[np.float64],
    boxes_by_frame: dict[int, npt.NDArray[np.float64]],
    groups: dict[str, npt.NDArray[np.bool_]],
    iou: float,
) -> dict[str, float | None]:
    """Share of each group's ground-truth rows found by the boxes of their frame (None: empty group)."""
    import numpy as np

    from ml_core.mot.standing import found

    hit = np.zeros(len(frames), dtype=bool)
    for f in np.unique(frames):
        rows = np.flatnonzero(frames == f)
        detected = boxes_by_frame.get(int(f))
        if detected is not None and len(detected):
            hit[rows] = found(truth[rows], detected, iou)
    return {name: (round(float(hit[mask].mean()), 4) if mask.any() else None) for name, mask in groups.items()}
