"""Expected pixel size of a standing person at an image position, from the floor homography.

At a foot point, one image pixel to the right covers some distance on the floor;
its inverse is the image scale there (pixels per metre). A standing person of
height H metres at that point is about H times that many pixels tall, as long as
the camera's roll is small and its view not steeply down (checked on PETS09-S2L1:
ground-truth box height / scale has median 1.75 m, 5-95% range 1.58-1.94 m).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ml_core.geometry.homography import FloatArray, apply_homography, normalised_to_pixels


@dataclass(frozen=True, slots=True)
class PersonSizeModel:
    """Person size in pixels at foot points, for one camera at one frame size.

    Attributes:
        image_to_floor_px: (3, 3) homography from image pixels to floor metres.
        height_m: typical person height in metres (box height).
        width_m: typical person box width in metres (shoulders plus arm swing).
    """

    image_to_floor_px: FloatArray
    height_m: float = 1.7
    width_m: float = 0.6

    def __post_init__(self) -> None:
        if np.asarray(self.image_to_floor_px).shape != (3, 3):
            raise ValueError(
                f"image_to_floor_px must have shape (3, 3), got {np.asarray(self.image_to_floor_px).shape}"
            )
        if not (self.height_m > 0 and self.width_m > 0):
            raise ValueError(f"height_m and width_m must be > 0 metres, got {self.height_m!r}, {self.width_m!r}")

    @classmethod
    def from_normalised(
        cls,
        image_to_floor_norm: npt.ArrayLike,
        width_px: int,
        height_px: int,
        height_m: float = 1.7,
        width_m: float = 0.6,
    ) -> PersonSizeModel:
        """Build from a homography over normalised image coordinates, for frames of width_px x height_px."""
        return cls(normalised_to_pixels(image_to_floor_norm, width_px, height_px), height_m, width_m)

    def pixels_per_metre(self, points_px: npt.ArrayLike) -> FloatArray:
        """Image scale (pixels per floor metre, along image x) at each point (n, 2); NaN above the horizon."""
        pts = np.asarray(points_px, dtype=np.float64)
        a = apply_homography(self.image_to_floor_px, pts)
        b = apply_homography(self.image_to_floor_px, pts + np.array([1.0, 0.0]))
        with np.errstate(divide="ignore", invalid="ignore"):
            return 1.0 / np.linalg.norm(b - a, axis=1)

    def expected_size(self, foot_px: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Return (heights (n,), widths (n,)) in pixels of a person standing at each foot point (n, 2)."""
        ppm = self.pixels_per_metre(foot_px)
        return ppm * self.height_m, ppm * self.width_m
