"""The NanoDet detector: GFL decoding on known outputs, its config, and the real model on PETS09-S2L1."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ml_core.detect import NanoDetConfig, create_detector, decode_detector_config
from ml_core.detect.nanodet import cell_centres, decode_gfl, file_sha256, prepare_input

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
MODEL = SHARED / "models" / "nanodet-m-416.onnx"
MODEL_SHA256 = "837b9622118316a8609ea9ce0ffd349a650df198c6787efad0d8660f03963aa8"
VIDEO = SHARED / "pets09-s2l1" / "vtest.avi"
GT = SHARED / "pets09-s2l1" / "gt.txt"
REG_MAX = 10
BINS = REG_MAX + 1
HEAD = {"strides": (8, 16, 32), "person_class": 0, "score_threshold": 0.3, "reg_max": REG_MAX}

needs_model = pytest.mark.skipif(
    not MODEL.is_file(), reason=f"NanoDet model not found at {MODEL} (shared/ beside the checkout)"
)
needs_pets09 = pytest.mark.skipif(
    not (VIDEO.is_file() and GT.is_file()), reason=f"PETS09-S2L1 not found under {SHARED / 'pets09-s2l1'}"
)


def _one_hot_sides(sides: tuple[int, int, int, int]) -> np.ndarray:
    """Regression logits (4 * BINS,) whose softmax puts (almost) all weight on one bin per side."""
    logits = np.full((4, BINS), -50.0, dtype=np.float32)
    for side, b in enumerate(sides):
        logits[side, b] = 50.0
    return logits.reshape(-1)


def _head(size: int, cells: dict[tuple[int, int], tuple[float, tuple[int, int, int, int]]]) -> tuple[list, list]:
    """Score and regression outputs of a size x size input with the given (stride index, cell) -> (score, bins)."""
    scores, regression = [], []
    for i, centre in enumerate(cell_centres(size)):
        n = centre.shape[0]
        cls = np.zeros((n, 80), dtype=np.float32)
        reg = np.zeros((n, 4 * BINS), dtype=np.float32)
        for (stride_i, cell), (score, sides) in cells.items():
            if stride_i == i:
                cls[cell, 0] = score
                cls[cell, 2] = 0.9  # a car in the same cell: never a person
                reg[cell] = _one_hot_sides(sides)
        scores.append(cls)
        regression.append(reg)
    return scores, regression


# (stride index, cell index) -> (person score, bins per side), and the box expected in input pixels.
# Stride 8 on a 416 input: 52 cells a row; cell 52 * 10 + 20 is col 20, row 10, centre (164, 84).
GFL_CASES = [
    ((0, 52 * 10 + 20), (0.9, (2, 3, 4, 5)), (164 - 16, 84 - 24, 164 + 32, 84 + 40)),
    # Stride 32: 13 a row; cell 13 * 6 + 3 is col 3, row 6, centre (112, 208).
    ((2, 13 * 6 + 3), (0.5, (1, 4, 1, 6)), (112 - 32, 208 - 128, 112 + 32, 208 + 192)),
]


@pytest.mark.parametrize(("key", "cell", "box"), GFL_CASES)
def test_gfl_decoding_measures_sides_from_the_cell_centre(key: tuple[int, int], cell: tuple, box: tuple) -> None:
    scores, regression = _head(416, {key: cell})
    boxes, kept = decode_gfl(scores, regression, cell_centres(416), **HEAD)
    np.testing.assert_allclose(boxes, [box], atol=1e-6)
    np.testing.assert_allclose(kept, [cell[0]], atol=1e-6)


def test_gfl_decoding_takes_the_expectation_over_bins() -> None:
    scores, regression = _head(416, {(1, 0): (0.8, (0, 0, 0, 0))})
    logits = np.full((4, BINS), -50.0, dtype=np.float32)
    logits[:, 2] = logits[:, 4] = 0.0  # half the weight on bin 2, half on bin 4: expectation 3 bins
    regression[1][0] = logits.reshape(-1)
    boxes, _ = decode_gfl(scores, regression, cell_centres(416), **HEAD)
    np.testing.assert_allclose(boxes, [[8 - 48, 8 - 48, 8 + 48, 8 + 48]], atol=1e-5)  # centre (8, 8), 3 x 16


def test_gfl_decoding_keeps_person_scores_at_or_above_the_threshold_only() -> None:
    scores, regression = _head(416, {(0, 5): (0.29, (1, 1, 1, 1)), (0, 9): (0.3, (1, 1, 1, 1))})
    boxes, kept = decode_gfl(scores, regression, cell_centres(416), **HEAD)
    assert boxes.shape == (1, 4)
    np.testing.assert_allclose(kept, [0.3], atol=1e-6)


def test_gfl_decoding_refuses_a_head_of_another_shape() -> None:
    scores, regression = _head(416, {})
    regression[0] = regression[0][:, :40]
    with pytest.raises(ValueError, match=r"box regression must have shape \(2704, 44\), got \(2704, 40\)"):
        decode_gfl(scores, regression, cell_centres(416), **HEAD)


def test_resize_maps_input_pixels_back_per_axis() -> None:
    frame = np.zeros((576, 768, 3), dtype=np.uint8)
    blob, placement = prepare_input(frame, 416, "resize", "unit")
    assert blob.shape == (1, 3, 416, 416)
    np.testing.assert_allclose(placement.to_frame(np.array([[0.0, 0.0, 208.0, 416.0]]), 768, 576), [[0, 0, 384, 576]])


def test_letterbox_and_imagenet_normalisation() -> None:
    frame = np.full((576, 768, 3), (0, 128, 255), dtype=np.uint8)  # BGR
    blob, placement = prepare_input(frame, 416, "letterbox", "imagenet")
    assert placement.sx == placement.sy == pytest.approx(416 / 768)
    assert placement.pad_y == 52.0  # 312 rows of picture, 52 of grey above and below
    np.testing.assert_allclose(
        blob[0, :, 208, 208], [(255 - 123.675) / 58.395, 11.72 / 57.12, -103.53 / 57.375], atol=1e-3
    )


CONFIG_ERRORS = [
    ('{"type": "nanodet"}', r"missing required field `model_path`"),
    ('{"type": "nanodet", "model_path": "m.onnx", "preprocess": "crop"}', r"`\$.preprocess`"),
    ('{"type": "nanodet", "model_path": "m.onnx", "normalisation": "zscore"}', r"`\$.normalisation`"),
    ('{"type": "nanodet", "model_path": "m.onnx", "score_threshold": 1.5}', r"<= 1.0 - at `\$.score_threshold`"),
    ('{"type": "nanodet", "model_path": "m.onnx", "intra_op_threads": -1}', r"`\$.intra_op_threads`"),
    ('{"type": "nanodet", "model_path": "m.onnx", "score_treshold": 0.2}', r"unknown field `score_treshold`"),
]


@pytest.mark.parametrize(("text", "message"), CONFIG_ERRORS)
def test_config_errors_name_the_field(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        decode_detector_config(text)


def test_config_decodes() -> None:
    config = decode_detector_config('{"type": "nanodet", "model_path": "m.onnx", "intra_op_threads": 2}')
    assert isinstance(config, NanoDetConfig) and config.intra_op_threads == 2


def test_missing_model_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.onnx"):
        create_detector(NanoDetConfig(model_path=str(tmp_path / "nope.onnx")))


@needs_model
def test_version_names_the_weights() -> None:
    assert file_sha256(MODEL) == MODEL_SHA256
    detector = create_detector(NanoDetConfig(model_path=str(MODEL), providers=("CPUExecutionProvider",)))
    assert detector.version.endswith(MODEL_SHA256[:40])
    assert detector.version.startswith("nanodet-416-")
    assert len(detector.version) <= 64


def _frame(index: int) -> np.ndarray:
    import cv2

    capture = cv2.VideoCapture(str(VIDEO))
    capture.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, frame = capture.read()
    capture.release()
    assert ok, f"cannot read frame {index} of {VIDEO}"
    return frame


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area = lambda x: np.prod(x[:, 2:] - x[:, :2], axis=1)  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None, :] - inter)


@needs_model
@needs_pets09
@pytest.mark.parametrize("preprocess", ["resize", "letterbox"])
def test_finds_the_ground_truth_people_of_pets09_frame_200(preprocess: str) -> None:
    frame_index = 200  # 0-based; ground truth's frame 201
    detector = create_detector(
        NanoDetConfig(model_path=str(MODEL), preprocess=preprocess, providers=("CPUExecutionProvider",))
    )
    found = detector.detect(_frame(frame_index))
    gt = np.loadtxt(GT, delimiter=",", ndmin=2)
    truth = gt[gt[:, 0] == frame_index + 1, 2:6]
    truth[:, 2:] += truth[:, :2]
    assert len(truth) >= 5
    best = _iou(truth, found.boxes_xyxy).max(axis=1)
    assert (best >= 0.5).sum() >= len(truth) - 1, f"matched IoUs {np.round(best, 2).tolist()}"
    # The confident boxes are all people of the ground truth (the weak ones include unannotated ones).
    strong = found.boxes_xyxy[found.scores >= 0.5]
    assert len(strong) and (_iou(truth, strong).max(axis=0) >= 0.4).all()


@needs_model
@needs_pets09
def test_pets09_through_the_edge_pipeline_with_the_nanodet_profile() -> None:
    pytest.importorskip("trackers", reason="the `trackers` package's evaluator is not installed (eval extra)")
    from ops.commands.edge import evaluate_video

    report = evaluate_video(VIDEO, GT, NanoDetConfig(model_path=str(MODEL), providers=("CPUExecutionProvider",)), 7.0)
    assert report["edge_profile"] == "nanodet"
    metrics = report["metrics"]
    assert isinstance(metrics, dict)
    # Measured 78.4 / 82.7 (MOG2's profile with MOG2: 64.6 / 68.5); the margin absorbs ONNX Runtime builds.
    assert metrics["MOTA"] >= 76.0 and metrics["IDF1"] >= 78.0
    assert report["counts_within_5pct"] is True
