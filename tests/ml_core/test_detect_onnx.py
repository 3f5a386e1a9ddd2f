"""The ONNX detector's whole path (letterbox, inference, decode, class filter, NMS, mapping back) on a built model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnx", reason="the `onnx` package builds the test models (pip install onnx)")

from ml_core.detect import OnnxConfig, create_detector, decode_detector_config
from ml_core.detect.letterbox import letterbox
from ml_core.detect.onnx import decode_yolo
from tests.ml_core.onnx_models import constant_yolo_model

SIZE = 320
FRAME_W, FRAME_H = 640, 480  # letterboxed at ratio 0.5 into 320x240, 40 px of padding above and below


def _anchor(frame_box: tuple[float, float, float, float], scores: tuple[float, float]) -> list[float]:
    x1, y1, x2, y2 = frame_box
    ix1, iy1, ix2, iy2 = x1 * 0.5, y1 * 0.5 + 40, x2 * 0.5, y2 * 0.5 + 40
    return [(ix1 + ix2) / 2, (iy1 + iy2) / 2, ix2 - ix1, iy2 - iy1, *scores]


# (frame box in pixels, (person score, car score))
ANCHORS = [
    ((100.0, 100.0, 200.0, 300.0), (0.9, 0.05)),  # a person: kept
    ((104.0, 102.0, 204.0, 302.0), (0.8, 0.05)),  # the same person again: suppressed by NMS
    ((400.0, 50.0, 460.0, 200.0), (0.3, 0.95)),  # a car that looks a bit like a person: not a person
    ((300.0, 300.0, 340.0, 400.0), (0.1, 0.0)),  # below the score threshold
    ((500.0, 200.0, 560.0, 380.0), (0.6, 0.1)),  # a second person: kept
]


@pytest.fixture()
def model(tmp_path: Path) -> Path:
    raw = np.array([_anchor(box, s) for box, s in ANCHORS], dtype=np.float32).T[None]  # (1, 6, 5)
    return constant_yolo_model(tmp_path / "person.onnx", raw, SIZE)


def test_known_boxes_come_back_in_frame_pixels(model: Path) -> None:
    detector = create_detector(OnnxConfig(model_path=str(model), providers=("CPUExecutionProvider",)))
    detector.warm_up(FRAME_H, FRAME_W)
    frame = np.random.default_rng(0).integers(0, 255, (FRAME_H, FRAME_W, 3), dtype=np.uint8)
    found = detector.detect(frame)
    np.testing.assert_allclose(found.boxes_xyxy, [[100, 100, 200, 300], [500, 200, 560, 380]], atol=1e-3)
    np.testing.assert_allclose(found.scores, [0.9, 0.6], atol=1e-6)
    assert detector.version.startswith("onnx-person-320")


def test_unavailable_providers_are_skipped_quietly(model: Path) -> None:
    detector = create_detector(OnnxConfig(model_path=str(model), providers=("NoSuchProvider", "CPUExecutionProvider")))
    assert detector.providers == ["CPUExecutionProvider"]  # type: ignore[attr-defined]


def test_missing_model_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.onnx"):
        create_detector(OnnxConfig(model_path=str(tmp_path / "nope.onnx")))


def test_not_a_model_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="cannot load ONNX model"):
        create_detector(OnnxConfig(model_path=str(bad)))


@pytest.mark.parametrize(
    ("shape", "message"), [((6, 5), r"\(1, 4 \+ classes, anchors\)"), ((1, 4, 5), r"\(1, 4 \+ classes, anchors\)")]
)
def test_decode_rejects_wrong_layouts(shape: tuple[int, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        decode_yolo(np.zeros(shape), 0, 0.25)


def test_letterbox_places_the_frame_centred() -> None:
    blob, placement = letterbox(np.zeros((FRAME_H, FRAME_W, 3), dtype=np.uint8), SIZE)
    assert blob.shape == (1, 3, SIZE, SIZE) and blob.dtype == np.float32
    assert (placement.ratio, placement.pad_x, placement.pad_y) == (0.5, 0.0, 40.0)
    assert blob[0, :, 0, 0] == pytest.approx([114 / 255] * 3)  # padding
    assert blob[0, :, 100, 100] == pytest.approx([0.0] * 3)  # image


def test_config_union_forbids_unknown_keys() -> None:
    assert isinstance(decode_detector_config('{"type": "onnx", "model_path": "m.onnx"}'), OnnxConfig)
    with pytest.raises(ValueError, match="unknown field"):
        decode_detector_config('{"type": "onnx", "model_path": "m.onnx", "modle": 1}')
    with pytest.raises(ValueError, match="invalid detector config"):
        decode_detector_config('{"type": "yolo"}')
