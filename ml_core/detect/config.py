"""Detector configuration: a tagged union, one struct per backend (`{"type": "mog2", ...}`).

Unknown keys are an error (a typo must not pass silently). Pixel sizes are
pixels of the analysis image (after `scale`) unless a name says otherwise.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

Fraction = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
Scale = Annotated[float, msgspec.Meta(gt=0.0, le=4.0, description="analysis size / frame size")]
PositiveMetres = Annotated[float, msgspec.Meta(gt=0.0, le=10.0)]


class _DetectorConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag_field="type"):
    """Base of every detector config."""


class OnnxConfig(_DetectorConfig, frozen=True, tag="onnx"):
    """A YOLOv8/YOLO11-layout ONNX model: input (1, 3, S, S) RGB 0..1, output (1, 4 + classes, anchors).

    model_path: the .onnx file (bring your own weights; nothing is downloaded).
    input_size: S, the letterboxed square input in pixels (None: read from the model).
    person_class: class index of "person" (0 in COCO-trained models).
    score_threshold: minimum class score kept. nms_iou: IoU above which boxes merge.
    providers: ONNX Runtime providers in order of preference; those not available are skipped.
    intra_op_threads: CPU threads for one inference (0: ONNX Runtime's default).
    """

    model_path: str
    input_size: Annotated[int, msgspec.Meta(ge=32, le=4096)] | None = None
    person_class: Annotated[int, msgspec.Meta(ge=0)] = 0
    score_threshold: Fraction = 0.25
    nms_iou: Fraction = 0.5
    providers: tuple[str, ...] = ("CUDAExecutionProvider", "CPUExecutionProvider")
    intra_op_threads: Annotated[int, msgspec.Meta(ge=0, le=256)] = 1


class NanoDetConfig(_DetectorConfig, frozen=True, tag="nanodet"):
    """NanoDet (GFL head) through ONNX Runtime: person boxes from a COCO-trained NanoDet-m.

    model_path: the .onnx file (`footfall models fetch nanodet` writes one; nothing is downloaded at run time).
    input_size: S of the (1, 3, S, S) input in pixels (None: read from the model).
    preprocess: "letterbox" keeps the aspect ratio (grey padding), "resize" stretches the frame to S x S.
    normalisation: "unit" scales RGB to 0..1; "imagenet" subtracts the per-channel mean and divides by the
    std, as NanoDet's own training pipeline does. The defaults (letterbox, imagenet, score 0.15, NMS 0.6) were
    best on PETS09-S2L1 through the edge pipeline (`footfall eval mot --video ... --detector nanodet`): MOTA
    78.4 / IDF1 82.7, against 76.5 / 53.4 letterbox-unit, 77.9 / 60.1 resize-imagenet, 76.1 / 64.5
    resize-unit at their best tracker thresholds. The score threshold is low on purpose: ByteTrack's second
    stage keeps tracks alive on weak boxes (occlusion), it never starts tracks from them.
    person_class: class index of "person" (0 in COCO). reg_max: the GFL head's last bin (bins 0..reg_max).
    score_threshold: minimum person score kept. nms_iou: IoU above which boxes merge.
    providers: ONNX Runtime providers in order of preference; those not available are skipped.
    intra_op_threads: CPU threads for one inference (0: ONNX Runtime's default).
    """

    model_path: str
    input_size: Annotated[int, msgspec.Meta(ge=32, le=4096)] | None = None
    preprocess: Literal["letterbox", "resize"] = "letterbox"
    normalisation: Literal["unit", "imagenet"] = "imagenet"
    person_class: Annotated[int, msgspec.Meta(ge=0)] = 0
    reg_max: Annotated[int, msgspec.Meta(ge=1, le=64)] = 10
    score_threshold: Fraction = 0.15
    nms_iou: Fraction = 0.6
    providers: tuple[str, ...] = ("CUDAExecutionProvider", "CPUExecutionProvider")
    intra_op_threads: Annotated[int, msgspec.Meta(ge=0, le=256)] = 1


class HogConfig(_DetectorConfig, frozen=True, tag="hog"):
    """OpenCV's HOG + linear SVM people detector (Dalal-Triggs, 64x128 window).

    scale: resize factor before detection (HOG's smallest person is ~128 px tall, so
    small people need > 1). win_stride: window step in pixels. pyramid_scale: step
    between pyramid levels. hit_threshold: SVM margin below which windows are dropped.
    shrink_x, shrink_y: fraction of the box width/height cut from each side (HOG
    windows have margins around the person). nms_iou: merge overlapping windows.
    """

    scale: Scale = 1.0
    win_stride: Annotated[int, msgspec.Meta(ge=1, le=64)] = 8
    pyramid_scale: Annotated[float, msgspec.Meta(gt=1.0, le=2.0)] = 1.05
    hit_threshold: float = 0.0
    shrink_x: Annotated[float, msgspec.Meta(ge=0.0, lt=0.5)] = 0.1
    shrink_y: Annotated[float, msgspec.Meta(ge=0.0, lt=0.5)] = 0.05
    nms_iou: Fraction = 0.4


class Mog2Config(_DetectorConfig, frozen=True, tag="mog2"):
    """Background subtraction for a fixed camera (OpenCV MOG2), foreground blobs as people.

    With a floor calibration, a blob is judged against the size a person would have at
    its foot point (person_height_m, person_width_m): too small is dropped, too wide is
    split into as many people as fit, and boxes take the expected height.

    scale: analysis size / frame size. history, var_threshold: MOG2's model length
    (frames) and squared Mahalanobis threshold. learning_rate: -1 lets MOG2 choose
    (1 / min(frames, history)). detect_shadows/shadow_threshold: shadows are found and
    dropped (a pixel darker than the background by this ratio or less is a shadow).
    open_px, close_px: morphological kernel sizes (analysis pixels, 0 = off).
    min_height_ratio: blobs shorter than this share of the expected person height are
    dropped. min_area_px: smallest blob without a calibration (analysis pixels).
    split: split blobs wider than a person (side by side) or taller than stack_ratio
    times a person (one behind the other). box_shape_prior: 0 keeps the blob's box,
    1 replaces its size by the expected person size (foot point kept).
    """

    scale: Scale = 0.5
    history: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 500
    var_threshold: Annotated[float, msgspec.Meta(gt=0.0)] = 16.0
    learning_rate: Annotated[float, msgspec.Meta(ge=-1.0, le=1.0)] = -1.0
    detect_shadows: bool = True
    shadow_threshold: Fraction = 0.5
    open_px: Annotated[int, msgspec.Meta(ge=0, le=31)] = 3
    close_px: Annotated[int, msgspec.Meta(ge=0, le=63)] = 7
    person_height_m: PositiveMetres = 1.7
    person_width_m: PositiveMetres = 0.6
    min_height_ratio: Fraction = 0.4
    min_area_px: Annotated[int, msgspec.Meta(ge=1)] = 40
    split: bool = True
    stack_ratio: Annotated[float, msgspec.Meta(gt=1.0, le=5.0)] = 1.25
    box_shape_prior: Fraction = 0.8


DetectorConfig = OnnxConfig | NanoDetConfig | HogConfig | Mog2Config
DETECTOR_NAMES: tuple[Literal["onnx", "nanodet", "hog", "mog2"], ...] = ("onnx", "nanodet", "hog", "mog2")

_decoder = msgspec.json.Decoder(DetectorConfig)


def decode_detector_config(data: bytes | str) -> DetectorConfig:
    """Decode a detector config from JSON; raises ValueError with msgspec's path on a bad or unknown key."""
    try:
        return _decoder.decode(data)
    except msgspec.ValidationError as exc:
        raise ValueError(f"invalid detector config: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise ValueError(f"detector config is not valid JSON: {exc}") from exc
