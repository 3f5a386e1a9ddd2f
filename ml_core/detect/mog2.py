"""People as foreground blobs of a fixed camera: OpenCV MOG2 background subtraction plus a person-size prior.

Stages per frame: downscale, background subtraction (shadows found and dropped),
morphological clean-up, connected components, then per blob a judgement against
the size a person has at the blob's foot point (from the floor calibration): too
short is dropped, too wide is split at the emptiest columns into as many people
as fit, and each box's height and width are pulled toward the expected size.
Scores reflect how person-like a blob is (fill and size match) so a tracker's
low-score stage can use the doubtful ones.
"""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import numpy.typing as npt

from ml_core.detect.base import Detector, Frame, check_frame
from ml_core.detect.config import Mog2Config
from ml_core.detect.types import Detections
from ml_core.geometry.person_size import PersonSizeModel

_FOREGROUND = 255  # MOG2 marks shadows 127


class Mog2Detector(Detector):
    """Background-subtraction person detector for one fixed camera (stateful: frames in order).

    image_to_floor_norm: (3, 3) homography from normalised image coordinates to floor
    metres, or None (then blobs are judged by `min_area_px` only and never split).
    """

    name = "mog2"

    def __init__(self, config: Mog2Config | None = None, image_to_floor_norm: npt.ArrayLike | None = None) -> None:
        self.config = config if config is not None else Mog2Config()
        self._h_norm = None if image_to_floor_norm is None else np.asarray(image_to_floor_norm, dtype=np.float64)
        if self._h_norm is not None and self._h_norm.shape != (3, 3):
            raise ValueError(f"image_to_floor_norm must have shape (3, 3), got {self._h_norm.shape}")
        self._size: PersonSizeModel | None = None
        self._size_for: tuple[int, int] = (0, 0)
        self._open = _kernel(self.config.open_px)
        self._close = _kernel(self.config.close_px)
        self.reset()

    @property
    def version(self) -> str:
        c = self.config
        return f"mog2-s{c.scale:g}-v{c.var_threshold:g}-h{c.history}"

    def reset(self) -> None:
        c = self.config
        self._sub = cv2.createBackgroundSubtractorMOG2(
            history=c.history, varThreshold=c.var_threshold, detectShadows=c.detect_shadows
        )
        if c.detect_shadows:
            self._sub.setShadowThreshold(c.shadow_threshold)

    def warm_up(self, height: int = 480, width: int = 640) -> None:
        self.detect(np.zeros((height, width, 3), dtype=np.uint8))
        self.reset()

    def foreground(self, frame_bgr: Frame) -> npt.NDArray[np.uint8]:
        """Update the background model with one frame; return the cleaned mask (analysis size, 0 or 255)."""
        frame = check_frame(frame_bgr)
        c = self.config
        small = (
            frame if c.scale == 1.0 else cv2.resize(frame, None, fx=c.scale, fy=c.scale, interpolation=cv2.INTER_AREA)
        )
        fg = self._sub.apply(small, learningRate=c.learning_rate)
        _, mask = cv2.threshold(fg, _FOREGROUND - 1, 255, cv2.THRESH_BINARY)
        if self._open is not None:
            mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, self._open)
        if self._close is not None:
            mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, self._close)
        return np.asarray(mask, dtype=np.uint8)

    def detect(self, frame_bgr: Frame) -> Detections:
        mask = self.foreground(frame_bgr)
        boxes, scores = self._blobs_to_people(mask)
        if not boxes:
            return Detections.empty()
        out = np.asarray(boxes, dtype=np.float64) / self.config.scale
        h, w = frame_bgr.shape[:2]
        out[:, [0, 2]] = np.clip(out[:, [0, 2]], 0.0, w)
        out[:, [1, 3]] = np.clip(out[:, [1, 3]], 0.0, h)
        ok = (out[:, 2] - out[:, 0] > 1.0) & (out[:, 3] - out[:, 1] > 1.0)
        return Detections(np.ascontiguousarray(out[ok]), np.asarray(scores, dtype=np.float64)[ok])

    def _size_model(self, mask_shape: tuple[int, ...]) -> PersonSizeModel | None:
        if self._h_norm is None:
            return None
        key = (int(mask_shape[0]), int(mask_shape[1]))
        if self._size is None or self._size_for != key:
            c = self.config
            self._size = PersonSizeModel.from_normalised(
                self._h_norm, key[1], key[0], c.person_height_m, c.person_width_m
            )
            self._size_for = key
        return self._size

    def _blobs_to_people(self, mask: npt.NDArray[np.uint8]) -> tuple[list[list[float]], list[float]]:
        c = self.config
        n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        if n <= 1:
            return [], []
        stats = stats[1:]
        x, y, w, h, area = (stats[:, k].astype(np.float64) for k in range(5))
        size = self._size_model(mask.shape)
        boxes: list[list[float]] = []
        scores: list[float] = []
        if size is None:
            keep = np.nonzero(area >= c.min_area_px)[0]
            for i in keep:
                fill = area[i] / (w[i] * h[i])
                boxes.append([x[i], y[i], x[i] + w[i], y[i] + h[i]])
                scores.append(float(np.clip(0.3 + 0.7 * fill, 0.0, 1.0)))
            return boxes, scores
        foot = np.column_stack([x + w / 2.0, y + h])
        exp_h, exp_w = size.expected_size(foot)
        valid = np.isfinite(exp_h) & (exp_h > 4.0)
        tall_enough = h >= c.min_height_ratio * np.where(valid, exp_h, np.inf)
        big_enough = area >= 0.15 * np.where(valid, exp_h * exp_w, np.inf)
        for i in np.nonzero(valid & tall_enough & big_enough)[0]:
            xi, yi, wi, hi = int(x[i]), int(y[i]), int(w[i]), int(h[i])
            blob = labels[yi : yi + hi, xi : xi + wi] == (i + 1)
            parts = max(1, round(wi / exp_w[i])) if c.split else 1
            for x0, x1 in _split_columns(blob, parts):
                piece = blob[:, x0:x1]
                rows = np.nonzero(piece.any(axis=1))[0]
                if rows.size == 0:
                    continue
                top, bottom = yi + rows[0], yi + rows[-1] + 1
                for people_box, fg_pixels in self._stacked(piece, xi + x0, yi, top=top, bottom=bottom, size=size):
                    box, score = self._shape(people_box, fg_pixels, size)
                    if box is not None:
                        boxes.append(box)
                        scores.append(score)
        return boxes, scores

    def _stacked(
        self, piece: npt.NDArray[np.bool_], px: int, py: int, *, top: int, bottom: int, size: PersonSizeModel
    ) -> list[tuple[tuple[float, float, float, float], float]]:
        """Split a piece much taller than a person at its foot into the front person and one behind.

        A person behind another shows as a head and shoulders above the front one: the
        back person's foot row v is where v - expected_height(v) meets the piece's top.
        """
        width = piece.shape[1]
        cx = px + width / 2.0
        exp_h = float(size.expected_size(np.array([[cx, float(bottom)]]))[0][0])
        whole = ((float(px), float(top), float(px + width), float(bottom)), float(piece.sum()))
        if not self.config.split or not (bottom - top > self.config.stack_ratio * exp_h):
            return [whole]
        rows = np.arange(top + 4, int(bottom - 0.5 * exp_h), dtype=np.float64)
        if rows.size == 0:
            return [whole]
        heights = size.expected_size(np.column_stack([np.full(rows.size, cx), rows]))[0]
        gap = np.abs(rows - np.nan_to_num(heights, nan=1e9) - top)
        back_foot = float(rows[int(np.argmin(gap))])
        front_top = max(float(top), bottom - exp_h)
        front = piece[int(front_top) - py :, :]
        back = piece[top - py : int(back_foot) - py, :]
        out = []
        for part, y0, y1 in ((front, front_top, float(bottom)), (back, float(top), back_foot)):
            cols = np.nonzero(part.any(axis=0))[0]
            if cols.size:
                out.append(((float(px + cols[0]), y0, float(px + cols[-1] + 1), y1), float(part.sum())))
        return out or [whole]

    def _shape(
        self, box: tuple[float, float, float, float], fg_pixels: float, size: PersonSizeModel
    ) -> tuple[list[float] | None, float]:
        """Pull one person's box toward the expected size at its foot point; score its likeness."""
        c = self.config
        x1, y1, x2, y2 = box
        exp_h_arr, exp_w_arr = size.expected_size(np.array([[(x1 + x2) / 2.0, y2]]))
        exp_h, exp_w = float(exp_h_arr[0]), float(exp_w_arr[0])
        if not (np.isfinite(exp_h) and exp_h > 4.0):
            return None, 0.0
        obs_w, obs_h = x2 - x1, y2 - y1
        if obs_h < c.min_height_ratio * exp_h:
            return None, 0.0
        p = c.box_shape_prior
        new_h = (1.0 - p) * obs_h + p * exp_h
        new_w = (1.0 - p) * obs_w + p * exp_w
        cx = (x1 + x2) / 2.0
        fill = fg_pixels / max(obs_w * obs_h, 1.0)
        size_match = min(obs_h / exp_h, exp_h / obs_h) * min(obs_w / exp_w, exp_w / obs_w) ** 0.5
        score = float(np.clip(size_match * min(1.0, fill / 0.45), 0.0, 1.0))
        return [cx - new_w / 2.0, y2 - new_h, cx + new_w / 2.0, y2], score


def _kernel(size: int) -> npt.NDArray[np.uint8] | None:
    if size <= 1:
        return None
    return np.asarray(cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size)), dtype=np.uint8)


def _split_columns(blob: npt.NDArray[np.bool_], parts: int) -> list[tuple[int, int]]:
    """Cut a blob mask (h, w) into `parts` column ranges at the emptiest columns near equal spacing."""
    width = blob.shape[1]
    if parts <= 1 or width < 2 * parts:
        return [(0, width)]
    counts = blob.sum(axis=0)
    step = width / parts
    cuts = [0]
    for k in range(1, parts):
        centre = k * step
        lo, hi = int(max(cuts[-1] + 1, centre - step / 3)), int(min(width - 1, centre + step / 3))
        cut = lo + int(np.argmin(counts[lo : hi + 1])) if hi >= lo else int(centre)
        cuts.append(cut)
    cuts.append(width)
    return [(a, b) for a, b in itertools.pairwise(cuts) if b > a]
