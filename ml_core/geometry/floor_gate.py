"""Which box foot points are trustworthy floor positions: online, frame by frame, per track.

A box-based foot point (bottom centre mapped to the floor) is a measurement of where a person
stands only when the box really ends at the feet and the box is the person's own. Two cases break
that, both common with classical detectors:

- hidden feet: the box's bottom centre lies inside another box of the same frame, a nearer person
  standing in front. The legs are hidden and the box ends where the occluder begins, so the point
  maps too far from the camera, by a metre or more (PETS09: a person turning back 0.3 m short of a
  line, behind another, counted as crossing it).
- implausible steps: merged or split foreground blobs throw a track's foot point 2-4 m for a few
  frames. A person walks at most about 2.5 m/s, so a point farther from the track's last kept
  point than slack_m + max_speed_m_s x elapsed seconds is a measurement error, not motion. The gate
  grows with time since the last kept point, so a track that really moved is re-acquired.

Such points are evidence of presence, not of position: the box stays, the floor point goes.
`FloorPointGate` applies both rules online (the edge pipeline); `ml_core.geometry.counting` builds
its batch masks on the same two pieces (`hidden_in_frame`, `StepGate`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

NS_PER_S = 1_000_000_000


def hidden_in_frame(boxes_xyxy: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Mask (n,) of one frame's boxes whose foot point (bottom centre) lies strictly inside another
    box of the frame, one that reaches lower in the image (a nearer person in front).

    Args:
        boxes_xyxy: (n, 4) one frame's boxes (x1, y1, x2, y2), pixels or normalised, y down.
    """
    box = np.asarray(boxes_xyxy, dtype=np.float64)
    if box.ndim != 2 or box.shape[1] != 4:
        raise ValueError(f"boxes_xyxy must have shape (n, 4), got {box.shape}")
    if box.shape[0] < 2:
        return np.zeros(box.shape[0], dtype=np.bool_)
    foot_x, foot_y = (box[:, 0] + box[:, 2]) / 2.0, box[:, 3]
    # inside[i, j]: box i's foot point is strictly inside box j, so box j's bottom is lower.
    inside = (
        (foot_x[:, None] > box[None, :, 0])
        & (foot_x[:, None] < box[None, :, 2])
        & (foot_y[:, None] > box[None, :, 1])
        & (foot_y[:, None] < box[None, :, 3])
    )
    np.fill_diagonal(inside, False)
    return np.asarray(inside.any(axis=1))


class StepGate:
    """Per-track walking-speed gate on floor points: remembers each track's last kept point.

    `admit` a track's points in time order; a point farther than slack_m + max_speed_m_s x elapsed
    seconds from that track's last kept point is refused and leaves the state unchanged. The first
    point of a track is always kept. `forget` ids that ended, so state stays bounded.
    """

    def __init__(self, max_speed_m_s: float = 2.5, slack_m: float = 0.5) -> None:
        if not (np.isfinite(max_speed_m_s) and max_speed_m_s > 0.0 and np.isfinite(slack_m) and slack_m >= 0.0):
            raise ValueError(f"max_speed_m_s must be > 0 and slack_m >= 0, got {max_speed_m_s!r} and {slack_m!r}")
        self.max_speed_m_s = float(max_speed_m_s)
        self.slack_m = float(slack_m)
        self._last: dict[object, tuple[float, float, float]] = {}  # track id -> (t s, x m, y m)

    def __len__(self) -> int:
        return len(self._last)

    def admit(self, track_id: object, time_s: float, x_m: float, y_m: float) -> bool:
        """True (and remembered) when the point is within reach of the track's last kept point.

        Non-finite points are refused and do not touch the state.
        """
        if not (np.isfinite(x_m) and np.isfinite(y_m)):
            return False
        last = self._last.get(track_id)
        if last is not None:
            reach = self.slack_m + self.max_speed_m_s * (time_s - last[0])
            if float(np.hypot(x_m - last[1], y_m - last[2])) > reach:
                return False
        self._last[track_id] = (time_s, x_m, y_m)
        return True

    def forget(self, track_ids: Iterable[object]) -> None:
        for track_id in track_ids:
            self._last.pop(track_id, None)


@dataclass(frozen=True, slots=True)
class FloorGateParams:
    """Which foot points lose their floor position.

    Attributes:
        drop_hidden_feet: drop a foot point that lies inside another box of the same frame.
        max_speed_m_s: fastest plausible walk, metres per second; None switches the step gate off.
        slack_m: metres a point may be off the track's last kept point regardless of time
            (foot-point jitter; the counting dead band is the same size).
    """

    drop_hidden_feet: bool = True
    max_speed_m_s: float | None = 2.5
    slack_m: float = 0.5

    def __post_init__(self) -> None:
        speed = self.max_speed_m_s
        if speed is not None and not (np.isfinite(speed) and speed > 0.0):
            raise ValueError(f"max_speed_m_s must be a finite number > 0 or None, got {speed!r}")
        if not (np.isfinite(self.slack_m) and self.slack_m >= 0.0):
            raise ValueError(f"slack_m must be a finite number >= 0 metres, got {self.slack_m!r}")


class FloorPointGate:
    """Online gate over one camera's tracks: call `update` once per frame, in time order.

    Hidden feet are decided within the frame; the step gate then sees only the points that
    survived, so an occluded point never becomes a track's reference. Counters `hidden` and
    `jumps` total the points dropped by each rule.
    """

    def __init__(self, params: FloorGateParams | None = None) -> None:
        self.params = params if params is not None else FloorGateParams()
        p = self.params
        self._steps = StepGate(p.max_speed_m_s, p.slack_m) if p.max_speed_m_s is not None else None
        self.hidden = 0
        self.jumps = 0

    def update(
        self, ts_ns: int, track_ids: npt.ArrayLike, boxes_xyxy: npt.ArrayLike, floor_m: npt.ArrayLike
    ) -> npt.NDArray[np.bool_]:
        """Mask (n,) of this frame's floor points to keep (False also where a point is NaN).

        Args:
            ts_ns: frame time, nanoseconds. track_ids: (n,) ids, unique in the frame.
            boxes_xyxy: (n, 4) boxes, any image units, y down. floor_m: (n, 2) metres, NaN where unmapped.
        """
        ids = np.asarray(track_ids, dtype=np.int64).reshape(-1)
        n = ids.shape[0]
        points = np.asarray(floor_m, dtype=np.float64)
        boxes = np.asarray(boxes_xyxy, dtype=np.float64)
        if points.shape != (n, 2) or boxes.shape != (n, 4):
            raise ValueError(
                f"track_ids (n,), boxes_xyxy (n, 4) and floor_m (n, 2) must align, got {ids.shape}, "
                f"{boxes.shape}, {points.shape}"
            )
        keep: npt.NDArray[np.bool_] = np.asarray(np.isfinite(points).all(axis=1))
        if self.params.drop_hidden_feet:
            hidden = hidden_in_frame(boxes) & keep
            self.hidden += int(hidden.sum())
            keep &= ~hidden
        if self._steps is not None:
            t_s = ts_ns / NS_PER_S
            for row in np.nonzero(keep)[0].tolist():
                if not self._steps.admit(int(ids[row]), t_s, float(points[row, 0]), float(points[row, 1])):
                    keep[row] = False
                    self.jumps += 1
        return keep

    def forget(self, track_ids: npt.ArrayLike) -> None:
        """Drop the state of tracks that ended (their ids are not reused)."""
        if self._steps is not None:
            self._steps.forget(np.asarray(track_ids, dtype=np.int64).reshape(-1).tolist())
