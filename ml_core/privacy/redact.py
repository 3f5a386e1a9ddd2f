"""Blurring people's heads and faces, and the ONLY code that writes frames to disk.

`write_clip` takes `BlurredFrame`s, and a `BlurredFrame` can only be made by
`blur_frame` (its constructor demands a token private to this module), so no
code path can hand an unblurred frame to a writer. tests/ml_core/test_privacy_redact.py
also checks that no other module in the project calls an image or video writer.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

_TOKEN = object()
HEAD_SHARE = 0.25  # the top quarter of a standing person's box holds the head
HEAD_WIDEN = 0.25  # widen the head region by this share of the box width on each side


class BlurredFrame:
    """A frame whose people's heads (and any detected faces) are blurred; made only by `blur_frame`."""

    __slots__ = ("_pixels", "ts_ns")

    def __init__(self, pixels: npt.NDArray[np.uint8], ts_ns: int, token: object) -> None:
        if token is not _TOKEN:
            raise TypeError("BlurredFrame is made by ml_core.privacy.redact.blur_frame only")
        pixels.flags.writeable = False
        self._pixels = pixels
        self.ts_ns = ts_ns

    @property
    def pixels(self) -> npt.NDArray[np.uint8]:
        """(H, W, 3) uint8 BGR, read-only."""
        return self._pixels


def head_regions(person_boxes: npt.ArrayLike, width: int, height: int) -> npt.NDArray[np.int64]:
    """Head rectangles (n, 4) int pixels x1, y1, x2, y2 for person boxes (n, 4) pixels, clipped to the frame."""
    b = np.asarray(person_boxes, dtype=np.float64).reshape(-1, 4)
    bw, bh = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    heads = np.column_stack(
        [b[:, 0] - HEAD_WIDEN * bw, b[:, 1] - 0.05 * bh, b[:, 2] + HEAD_WIDEN * bw, b[:, 1] + HEAD_SHARE * bh]
    )
    heads = np.round(heads)
    heads[:, [0, 2]] = np.clip(heads[:, [0, 2]], 0, width)
    heads[:, [1, 3]] = np.clip(heads[:, [1, 3]], 0, height)
    return heads.astype(np.int64)


_face_cascade: cv2.CascadeClassifier | None = None
_face_cascade_loaded = False


def _faces() -> cv2.CascadeClassifier | None:
    """OpenCV's frontal-face Haar cascade when the installed OpenCV ships it, else None."""
    global _face_cascade, _face_cascade_loaded  # noqa: PLW0603 - loaded once per process
    if not _face_cascade_loaded:
        _face_cascade_loaded = True
        data = getattr(cv2, "data", None)
        path = Path(getattr(data, "haarcascades", "")) / "haarcascade_frontalface_default.xml"
        if path.is_file():
            cascade = cv2.CascadeClassifier(str(path))
            _face_cascade = None if cascade.empty() else cascade
    return _face_cascade


def _obscure(frame: npt.NDArray[np.uint8], x1: int, y1: int, x2: int, y2: int) -> None:
    """Pixelate then blur one region in place: coarse blocks of about 1/6 of its size."""
    if x2 - x1 < 2 or y2 - y1 < 2:
        return
    region = frame[y1:y2, x1:x2]
    small = cv2.resize(region, (max(1, (x2 - x1) // 6), max(1, (y2 - y1) // 6)), interpolation=cv2.INTER_AREA)
    coarse = cv2.resize(small, (x2 - x1, y2 - y1), interpolation=cv2.INTER_NEAREST)
    k = max(3, ((min(x2 - x1, y2 - y1) // 3) | 1))
    frame[y1:y2, x1:x2] = cv2.GaussianBlur(coarse, (k, k), 0)


def blur_frame(
    frame_bgr: npt.NDArray[np.uint8], person_boxes: npt.ArrayLike, ts_ns: int = 0, detect_faces: bool = True
) -> BlurredFrame:
    """Return a copy of the frame with every person's head region, and every face found, obscured.

    person_boxes: (n, 4) pixels. Faces come from OpenCV's Haar cascade where installed.
    """
    if frame_bgr.dtype != np.uint8 or frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3:
        raise ValueError(f"frame must have shape (H, W, 3) uint8, got {frame_bgr.shape} {frame_bgr.dtype}")
    out = frame_bgr.copy()
    h, w = out.shape[:2]
    for x1, y1, x2, y2 in head_regions(person_boxes, w, h).tolist():
        _obscure(out, x1, y1, x2, y2)
    cascade = _faces() if detect_faces else None
    if cascade is not None:
        gray = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2GRAY)
        for fx, fy, fw, fh in cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=4, minSize=(12, 12)):
            pad_x, pad_y = int(0.2 * fw), int(0.2 * fh)
            _obscure(out, max(0, fx - pad_x), max(0, fy - pad_y), min(w, fx + fw + pad_x), min(h, fy + fh + pad_y))
    return BlurredFrame(out, int(ts_ns), _TOKEN)


def write_clip(path: str | os.PathLike[str], frames: Sequence[BlurredFrame], fps: float) -> Path:
    """Write blurred frames as a video (codec from the suffix: .avi MJPG, else mp4v); return the path.

    Raises TypeError for anything that is not a BlurredFrame, ValueError for an empty
    clip or mixed frame sizes, OSError when the file cannot be written.
    """
    out = Path(path)
    if not frames:
        raise ValueError("a clip needs at least one frame, got none")
    for i, f in enumerate(frames):
        if not isinstance(f, BlurredFrame):
            raise TypeError(f"write_clip takes BlurredFrame only (from blur_frame), got {type(f).__name__} at {i}")
    h, w = frames[0].pixels.shape[:2]
    if any(f.pixels.shape[:2] != (h, w) for f in frames):
        raise ValueError(f"all frames of a clip must have the first frame's size {w}x{h}")
    if not fps > 0:
        raise ValueError(f"fps must be > 0, got {fps!r}")
    fourcc = cv2.VideoWriter_fourcc(  # type: ignore[attr-defined]
        *("MJPG" if out.suffix.lower() == ".avi" else "mp4v")
    )
    writer = cv2.VideoWriter(str(out), fourcc, float(fps), (w, h))
    if not writer.isOpened():
        raise OSError(f"cannot open a video writer for {out}")
    try:
        for f in frames:
            writer.write(np.ascontiguousarray(f.pixels))
    finally:
        writer.release()
    return out
