"""MOTA, IDF1 and HOTA through the `trackers` package's evaluator (TrackEval-parity code).

We call its public per-frame functions (compute_clear_metrics, compute_identity_metrics,
compute_hota_metrics) rather than `evaluate_mot_sequence`, because its file loader
reads MOT column 8 as a class id, and in MOT15 files that column is world x in metres,
which would mark every ground-truth row as a non-pedestrian.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ml_core.mot.rows import MotRows

IOU_THRESHOLD = 0.5


@dataclass(frozen=True, slots=True)
class MotMetrics:
    """Tracking accuracy of one sequence. MOTA, IDF1, HOTA, MOTP, recall and precision in percent."""

    MOTA: float
    IDF1: float
    HOTA: float
    MOTP: float
    recall: float
    precision: float
    id_switches: int
    true_positives: int
    false_positives: int
    false_negatives: int
    gt_ids: int
    track_ids: int
    frames: int

    def as_dict(self) -> dict[str, float | int]:
        """Return the metrics as a JSON-ready dict, percentages rounded to 3 decimals."""
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def evaluate(gt: MotRows, tracks: MotRows, n_frames: int | None = None) -> MotMetrics:
    """Score tracker output against ground truth over frames 1..n_frames (default: last frame of either).

    Boxes match when IoU >= 0.5 (CLEAR and identity metrics); HOTA averages over IoU 0.05..0.95.
    Raises ImportError when the `trackers` package is not installed.
    """
    from trackers.eval import box_iou, compute_clear_metrics, compute_hota_metrics, compute_identity_metrics

    n = n_frames if n_frames is not None else max(gt.n_frames, tracks.n_frames)
    gt_map = {v: i for i, v in enumerate(np.unique(gt.ids).tolist())}
    tr_map = {v: i for i, v in enumerate(np.unique(tracks.ids).tolist())}
    gt_ids, tr_ids, sims = [], [], []
    for g, t in zip(gt.frame_slices(n), tracks.frame_slices(n), strict=True):
        gt_ids.append(np.array([gt_map[v] for v in gt.ids[g].tolist()], dtype=np.intp))
        tr_ids.append(np.array([tr_map[v] for v in tracks.ids[t].tolist()], dtype=np.intp))
        sims.append(box_iou(gt.boxes_xyxy[g], tracks.boxes_xyxy[t], box_format="xyxy"))
    clear = compute_clear_metrics(gt_ids, tr_ids, sims, threshold=IOU_THRESHOLD)
    identity = compute_identity_metrics(gt_ids, tr_ids, sims, threshold=IOU_THRESHOLD)
    hota = compute_hota_metrics(gt_ids, tr_ids, sims)
    return MotMetrics(
        MOTA=100.0 * float(clear["MOTA"]),
        IDF1=100.0 * float(identity["IDF1"]),
        HOTA=100.0 * float(hota["HOTA"]),
        MOTP=100.0 * float(clear["MOTP"]),
        recall=100.0 * float(clear["CLR_Re"]),
        precision=100.0 * float(clear["CLR_Pr"]),
        id_switches=int(clear["IDSW"]),
        true_positives=int(clear["CLR_TP"]),
        false_positives=int(clear["CLR_FP"]),
        false_negatives=int(clear["CLR_FN"]),
        gt_ids=len(gt_map),
        track_ids=len(tr_map),
        frames=n,
    )
