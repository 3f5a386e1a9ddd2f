"""Planar homographies between floor metres and normalised image coordinates."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def homography_from_points(src: FloatArray, dst: FloatArray) -> FloatArray:
    """Return the 3x3 homography H (H[2, 2] = 1) mapping four src points onto four dst points.

    src, dst: (4, 2), no three points collinear.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    if src.shape != (4, 2) or dst.shape != (4, 2):
        raise ValueError(f"src and dst must have shape (4, 2), got {src.shape} and {dst.shape}")
    rows, rhs = [], []
    for (x, y), (u, v) in zip(src, dst, strict=True):
        rows.append([x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y])
        rows.append([0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y])
        rhs.extend([u, v])
    h = np.linalg.solve(np.array(rows), np.array(rhs))
    return np.append(h, 1.0).reshape(3, 3)


def apply_homography(h: FloatArray, points: FloatArray) -> FloatArray:
    """Map (n, 2) points through the 3x3 homography h; returns (n, 2)."""
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"points must have shape (n, 2), got {points.shape}")
    homogeneous = np.hstack([points, np.ones((len(points), 1))]) @ np.asarray(h, dtype=np.float64).T
    return np.asarray(homogeneous[:, :2] / homogeneous[:, 2:3])
