"""Image-to-floor homographies: fitting from point pairs, applying to points, foot points of boxes.

Image points are pixels unless a name says normalised (0..1, x right, y down);
floor points are metres on the floor plane.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

MIN_PAIRS = 4


class CalibrationError(ValueError):
    """Point pairs that cannot give a homography: too few, non-finite, collinear or degenerate."""


@dataclass(frozen=True, slots=True)
class HomographyFit:
    """A fitted image-to-floor homography and how well it reproduces its own pairs.

    Attributes:
        matrix: (3, 3) float64, maps homogeneous image pixels (u, v, 1) to floor metres (X, Y, W).
        rmse_m: root-mean-square floor distance, in metres, between mapped image points and
            their floor points (inliers only).
        max_error_m: largest such distance over the inliers, metres.
        median_error_m: median over all pairs, metres.
        inliers: (n,) bool, the pairs the fit used (all of them without RANSAC).
    """

    matrix: FloatArray
    rmse_m: float
    max_error_m: float
    median_error_m: float
    inliers: npt.NDArray[np.bool_]

    @property
    def n_pairs(self) -> int:
        return int(self.inliers.shape[0])

    @property
    def n_inliers(self) -> int:
        return int(self.inliers.sum())


def _as_points(name: str, points: npt.ArrayLike) -> FloatArray:
    arr = np.asarray(points, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise CalibrationError(f"{name} must have shape (n, 2), got {arr.shape}")
    if not np.isfinite(arr).all():
        row = int(np.nonzero(~np.isfinite(arr).all(axis=1))[0][0])
        raise CalibrationError(f"{name} must be finite, got {arr[row].tolist()} at row {row}")
    return arr


def _check_spread(name: str, points: FloatArray, unit: str) -> None:
    """Refuse points that lie on (or very near) one line: they cannot fix a plane-to-plane map."""
    centred = points - points.mean(axis=0)
    singular = np.linalg.svd(centred, compute_uv=False)
    if singular[0] == 0.0 or singular[1] <= 1e-6 * singular[0]:
        raise CalibrationError(
            f"{name} are collinear (spread {singular.tolist()} {unit} along their principal axes); "
            "pick points that span an area of the floor"
        )


def fit_homography(
    image_px: npt.ArrayLike, floor_m: npt.ArrayLike, ransac_threshold_m: float | None = None
) -> HomographyFit:
    """Fit the homography from image pixels (n, 2) to floor metres (n, 2), n >= 4.

    With `ransac_threshold_m`, pairs farther than that (in metres, on the floor)
    from the model are outliers (cv2 RANSAC); otherwise all pairs are fitted by
    least squares. Raises CalibrationError for fewer than 4 pairs, NaN or inf,
    collinear points, or a singular result.
    """
    img = _as_points("image points", image_px)
    flr = _as_points("floor points", floor_m)
    if img.shape[0] != flr.shape[0]:
        raise CalibrationError(f"image and floor points must pair up, got {img.shape[0]} and {flr.shape[0]}")
    if img.shape[0] < MIN_PAIRS:
        raise CalibrationError(f"a homography needs at least {MIN_PAIRS} point pairs, got {img.shape[0]}")
    _check_spread("image points", img, "px")
    _check_spread("floor points", flr, "m")
    if ransac_threshold_m is not None:
        if not ransac_threshold_m > 0:
            raise CalibrationError(f"ransac_threshold_m must be > 0 metres, got {ransac_threshold_m!r}")
        matrix, mask = cv2.findHomography(img, flr, cv2.RANSAC, ransac_threshold_m, maxIters=5000, confidence=0.999)
    else:
        matrix, mask = cv2.findHomography(img, flr, 0)
    if (
        matrix is None
        or not np.isfinite(matrix).all()
        or abs(np.linalg.det(matrix)) < 1e-12 * np.abs(matrix).max() ** 3
    ):
        raise CalibrationError(f"point pairs give no usable homography (got {matrix!r}); are the points degenerate?")
    inliers = np.ones(img.shape[0], dtype=bool) if mask is None else mask.reshape(-1).astype(bool)
    if inliers.sum() < MIN_PAIRS:
        raise CalibrationError(f"only {int(inliers.sum())} of {img.shape[0]} pairs fit one homography")
    fitted = np.asarray(matrix, dtype=np.float64)
    errors = np.linalg.norm(apply_homography(fitted, img) - flr, axis=1)
    inlier_errors = errors[inliers]
    return HomographyFit(
        matrix=fitted,
        rmse_m=float(np.sqrt(np.mean(inlier_errors**2))),
        max_error_m=float(inlier_errors.max()),
        median_error_m=float(np.median(errors)),
        inliers=inliers,
    )


def apply_homography(matrix: npt.ArrayLike, points: npt.ArrayLike) -> FloatArray:
    """Map points (n, 2) through a (3, 3) homography; points behind the horizon (W <= 0) give NaN."""
    h = np.asarray(matrix, dtype=np.float64)
    if h.shape != (3, 3):
        raise ValueError(f"homography must have shape (3, 3), got {h.shape}")
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"points must have shape (n, 2), got {pts.shape}")
    x = h[0, 0] * pts[:, 0] + h[0, 1] * pts[:, 1] + h[0, 2]
    y = h[1, 0] * pts[:, 0] + h[1, 1] * pts[:, 1] + h[1, 2]
    w = h[2, 0] * pts[:, 0] + h[2, 1] * pts[:, 1] + h[2, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.column_stack([x / w, y / w])
    out[~(np.abs(w) > 1e-12)] = np.nan
    return out


def pixels_to_normalised(matrix_px: npt.ArrayLike, width_px: int, height_px: int) -> FloatArray:
    """Turn a homography over image pixels into one over normalised image coordinates (0..1).

    floor = H_px @ (u * W, v * H, 1) = (H_px @ diag(W, H, 1)) @ (u, v, 1).
    """
    if width_px <= 0 or height_px <= 0:
        raise ValueError(f"image size must be positive, got {width_px}x{height_px}")
    h = np.asarray(matrix_px, dtype=np.float64) @ np.diag([float(width_px), float(height_px), 1.0])
    return h / np.abs(h).max()


def normalised_to_pixels(matrix_norm: npt.ArrayLike, width_px: int, height_px: int) -> FloatArray:
    """Inverse of `pixels_to_normalised`: a homography over normalised coordinates to one over pixels."""
    if width_px <= 0 or height_px <= 0:
        raise ValueError(f"image size must be positive, got {width_px}x{height_px}")
    return np.asarray(matrix_norm, dtype=np.float64) @ np.diag([1.0 / width_px, 1.0 / height_px, 1.0])


def foot_points(boxes_xyxy: npt.ArrayLike) -> FloatArray:
    """Bottom-centre (x, y) of each box (n, 4) -> (n, 2), in the boxes' units."""
    b = np.asarray(boxes_xyxy, dtype=np.float64)
    if b.ndim != 2 or b.shape[1] != 4:
        raise ValueError(f"boxes must have shape (n, 4), got {b.shape}")
    return np.column_stack([(b[:, 0] + b[:, 2]) * 0.5, b[:, 3]])
