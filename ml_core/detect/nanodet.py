"""NanoDet person detection through ONNX Runtime: NanoDet's generalised-focal-loss (GFL) head decoded here.

The model takes (1, 3, S, S) float32 RGB, channels first, and returns, per stride (8, 16, 32; cells
row-major), class scores (1, cells, classes) already through a sigmoid and box regression
(1, cells, 4 x (reg_max + 1)): for each side (left, top, right, bottom) a distribution over the bins
0..reg_max whose expectation, times the stride, is that side's distance from the cell centre
((col + 0.5) x stride, (row + 0.5) x stride) in input pixels. Weights are data: the file is the
user's (or `footfall models fetch nanodet`'s); nothing is downloaded here.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from ml_core.detect.base import Detector, Frame, check_frame
from ml_core.detect.config import NanoDetConfig
from ml_core.detect.letterbox import letterbox
from ml_core.detect.nms import nms
from ml_core.detect.ort_session import open_detector_session
from ml_core.detect.types import Detections

STRIDES = (8, 16, 32)
# NanoDet's training normalisation (RangiLyu/nanodet configs), here in RGB order, on 0..255 pixels.
IMAGENET_MEAN_RGB = np.array([123.675, 116.28, 103.53], dtype=np.float32)
IMAGENET_STD_RGB = np.array([58.395, 57.12, 57.375], dtype=np.float32)
_HASH_CHUNK = 1 << 20


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_HASH_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class Placement:
    """How a frame was placed into the input: input = frame * (sx, sy) + (pad_x, pad_y), in pixels."""

    sx: float
    sy: float
    pad_x: float
    pad_y: float

    def to_frame(self, boxes_xyxy: npt.NDArray[np.float64], width: int, height: int) -> npt.NDArray[np.float64]:
        """Map boxes (n, 4) from input pixels back to frame pixels, clipped to width x height."""
        out = boxes_xyxy.copy()
        out[:, [0, 2]] = np.clip((out[:, [0, 2]] - self.pad_x) / self.sx, 0.0, float(width))
        out[:, [1, 3]] = np.clip((out[:, [1, 3]] - self.pad_y) / self.sy, 0.0, float(height))
        return out


def prepare_input(
    frame_bgr: Frame, size: int, preprocess: str, normalisation: str
) -> tuple[npt.NDArray[np.float32], Placement]:
    """The (1, 3, size, size) float32 RGB input for one BGR frame, and how the frame was placed in it."""
    if preprocess == "letterbox":
        blob, lb = letterbox(frame_bgr, size)
        placement = Placement(lb.ratio, lb.ratio, lb.pad_x, lb.pad_y)
    elif preprocess == "resize":
        h, w = frame_bgr.shape[:2]
        blob = cv2.dnn.blobFromImage(frame_bgr, 1.0 / 255.0, (size, size), swapRB=True).astype(np.float32, copy=False)
        placement = Placement(size / w, size / h, 0.0, 0.0)
    else:
        raise ValueError(f"preprocess must be 'letterbox' or 'resize', got {preprocess!r}")
    if normalisation == "imagenet":
        blob = (blob * 255.0 - IMAGENET_MEAN_RGB[None, :, None, None]) / IMAGENET_STD_RGB[None, :, None, None]
        blob = blob.astype(np.float32, copy=False)
    elif normalisation != "unit":
        raise ValueError(f"normalisation must be 'unit' or 'imagenet', got {normalisation!r}")
    return np.ascontiguousarray(blob), placement


def cell_centres(size: int, strides: tuple[int, ...] = STRIDES) -> list[npt.NDArray[np.float64]]:
    """Per stride, the (cells, 2) centres (x, y) in input pixels of a size x size input, row-major."""
    out = []
    for stride in strides:
        n = -(-size // stride)  # ceil: NanoDet pads the last row and column
        cols, rows = np.meshgrid(np.arange(n), np.arange(n))
        out.append(np.column_stack([(cols.ravel() + 0.5) * stride, (rows.ravel() + 0.5) * stride]).astype(np.float64))
    return out


def decode_gfl(
    scores: list[npt.NDArray[np.float32]],
    regression: list[npt.NDArray[np.float32]],
    centres: list[npt.NDArray[np.float64]],
    *,
    strides: tuple[int, ...],
    person_class: int,
    score_threshold: float,
    reg_max: int,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Decode the GFL head into person boxes (k, 4) xyxy in input pixels and their scores (k,).

    scores[i]: (cells_i, classes) sigmoid scores; regression[i]: (cells_i, 4 * (reg_max + 1)) logits;
    centres[i]: (cells_i, 2) cell centres in input pixels, for strides[i]. Only cells whose person
    score >= score_threshold are decoded (a softmax per side, the expectation over bins 0..reg_max).
    """
    bins = reg_max + 1
    project = np.arange(bins, dtype=np.float64)
    all_boxes, all_scores = [], []
    for cls, reg, centre, stride in zip(scores, regression, centres, strides, strict=True):
        if cls.ndim != 2 or not 0 <= person_class < cls.shape[1]:
            raise ValueError(f"class scores must have shape (cells, classes > {person_class}), got {cls.shape}")
        if reg.shape != (cls.shape[0], 4 * bins):
            raise ValueError(f"box regression must have shape ({cls.shape[0]}, {4 * bins}), got {reg.shape}")
        if centre.shape != (cls.shape[0], 2):
            raise ValueError(f"stride {stride}: {cls.shape[0]} cells in the output, {centre.shape[0]} in the grid")
        person = cls[:, person_class].astype(np.float64)
        keep = np.flatnonzero(person >= score_threshold)
        if keep.size == 0:
            continue
        logits = reg[keep].astype(np.float64).reshape(-1, 4, bins)
        logits -= logits.max(axis=2, keepdims=True)
        weights = np.exp(logits)
        distances = (weights @ project) / weights.sum(axis=2) * stride  # (k, 4): left, top, right, bottom
        cx, cy = centre[keep, 0], centre[keep, 1]
        all_boxes.append(
            np.column_stack([cx - distances[:, 0], cy - distances[:, 1], cx + distances[:, 2], cy + distances[:, 3]])
        )
        all_scores.append(person[keep])
    if not all_boxes:
        return np.empty((0, 4), dtype=np.float64), np.empty(0, dtype=np.float64)
    return np.concatenate(all_boxes), np.clip(np.concatenate(all_scores), 0.0, 1.0)


class NanoDetDetector(Detector):
    """Runs a NanoDet ONNX model on each frame; keeps class `person_class` only; stateless."""

    name = "nanodet"

    def __init__(self, config: NanoDetConfig) -> None:
        self.config = config
        path = Path(config.model_path)
        if not path.is_file():
            raise FileNotFoundError(
                f"NanoDet model not found: {path} (model_path in the nanodet detector config;"
                " `footfall models fetch nanodet` writes one)"
            )
        self.sha256 = file_sha256(path)
        opened = open_detector_session(path, config.providers, config.intra_op_threads, config.input_size)
        self._session, self.providers = opened.session, opened.providers
        self._input_name, self.input_size = opened.input_name, opened.input_size
        size = opened.input_size
        self._score_names, self._reg_names = self._output_names(path)
        self._centres = cell_centres(size)

    def _output_names(self, path: Path) -> tuple[list[str], list[str]]:
        """Split the outputs into class scores and box regression per stride, smallest stride first."""
        bins = 4 * (self.config.reg_max + 1)
        outputs = self._session.get_outputs()
        scores = [o for o in outputs if o.shape[-1] != bins]
        regression = [o for o in outputs if o.shape[-1] == bins]
        if len(scores) != len(STRIDES) or len(regression) != len(STRIDES):
            raise ValueError(
                f"{path}: expected {len(STRIDES)} score and {len(STRIDES)} regression outputs (last dim {bins}),"
                f" got {[(o.name, o.shape) for o in outputs]}"
            )

        def cells(o: object) -> int:
            dim = o.shape[-2]  # type: ignore[attr-defined]
            return -dim if isinstance(dim, int) else 0

        return [o.name for o in sorted(scores, key=cells)], [o.name for o in sorted(regression, key=cells)]

    @property
    def version(self) -> str:
        """`nanodet-<input size>-<preprocess initial><normalisation initial>-<first 40 hex of the model's sha256>`."""
        c = self.config
        return f"nanodet-{self.input_size}-{c.preprocess[0]}{c.normalisation[0]}-{self.sha256[:40]}"

    def warm_up(self, height: int = 480, width: int = 640) -> None:
        self.detect(np.zeros((height, width, 3), dtype=np.uint8))

    def detect(self, frame_bgr: Frame) -> Detections:
        frame = check_frame(frame_bgr)
        c = self.config
        blob, placement = prepare_input(frame, self.input_size, c.preprocess, c.normalisation)
        outputs = self._session.run(self._score_names + self._reg_names, {self._input_name: blob})
        n = len(STRIDES)
        boxes, scores = decode_gfl(
            [o[0] for o in outputs[:n]],
            [o[0] for o in outputs[n:]],
            self._centres,
            strides=STRIDES,
            person_class=c.person_class,
            score_threshold=c.score_threshold,
            reg_max=c.reg_max,
        )
        if boxes.shape[0] == 0:
            return Detections.empty()
        keep = nms(boxes, scores, c.nms_iou)
        h, w = frame.shape[:2]
        out = placement.to_frame(boxes[keep], w, h)
        ok = (out[:, 2] > out[:, 0]) & (out[:, 3] > out[:, 1])
        return Detections(np.ascontiguousarray(out[ok]), np.ascontiguousarray(scores[keep][ok]))
