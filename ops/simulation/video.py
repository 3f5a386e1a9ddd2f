"""Rendered video of a simulated day for one camera: people as filled shapes on a drawn floor (cv2).

The edge pipeline can be run on it: the camera's homography is in the
layout, so what a detector finds here maps back to the simulator's floor.
Video is written to the path the user gives and never committed.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ml_core.geometry.homography import apply_homography
from ops.simulation.simulate import IMAGE_H, IMAGE_W, SimCamera, SimulatedDay, boxes

_ZONE_COLOURS = {"entrance": (200, 230, 200), "product": (215, 215, 240), "queue": (180, 220, 245),
                 "checkout": (170, 200, 240), "staff": (230, 210, 210)}  # fmt: skip


def _to_px(cam: SimCamera, pts: npt.NDArray[np.float64]) -> npt.NDArray[np.int32]:
    uv = apply_homography(cam.floor_to_image, pts)
    return np.round(uv * np.array([IMAGE_W, IMAGE_H])).astype(np.int32)


def background(day: SimulatedDay, cam: SimCamera) -> npt.NDArray[np.uint8]:
    """The static floor as the camera sees it: floor, 1 m tiles, zones, the door line (BGR)."""
    import cv2

    img = np.full((IMAGE_H, IMAGE_W, 3), 60, dtype=np.uint8)
    x0, y0, x1, y1 = day.plan.bounds
    x0, x1 = cam.x_range
    floor = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
    cv2.fillPoly(img, [_to_px(cam, floor)], (190, 190, 185))
    for x in np.arange(np.ceil(x0), x1 + 1e-9, 1.0):
        p, q = _to_px(cam, np.array([[x, y0], [x, y1]])).tolist()
        cv2.line(img, p, q, (175, 175, 170), 1)
    for y in np.arange(np.ceil(y0), y1 + 1e-9, 1.0):
        p, q = _to_px(cam, np.array([[x0, y], [x1, y]])).tolist()
        cv2.line(img, p, q, (175, 175, 170), 1)
    for zone in day.plan.zones:
        cv2.fillPoly(img, [_to_px(cam, zone.polygon)], _ZONE_COLOURS[zone.kind])
        cv2.polylines(img, [_to_px(cam, zone.polygon)], True, (120, 120, 120), 1)
    a, b = _to_px(cam, np.array(day.plan.door))
    cv2.line(img, tuple(a), tuple(b), (40, 40, 200), 3)
    return img


def render_video(day: SimulatedDay, path: Path, camera_id: str | None = None, max_frames: int | None = None) -> int:
    """Write the day as seen by `camera_id` (default: the first camera) to `path`; return frames written.

    Frame rate is the simulation's (1 / frame_period_s). People are drawn at their true positions.
    """
    import cv2

    cams = {c.camera_id: c for c in day.cameras}
    cam = day.cameras[0] if camera_id is None else cams.get(camera_id)
    if cam is None:
        raise ValueError(f"--video-camera must be one of {sorted(cams)}, got {camera_id!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fps = 1.0 / day.trajectories.frame_period_s
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, (IMAGE_W, IMAGE_H))
    if not writer.isOpened():
        raise RuntimeError(f"cv2.VideoWriter could not open {path} for mp4v output")
    base = background(day, cam)
    traj = day.trajectories
    n = traj.n_frames if max_frames is None else min(traj.n_frames, max_frames)
    # Rows by frame, people in index order within a frame (the stable sort keeps the person order).
    order = np.argsort(traj.frame, kind="stable")
    row_person = np.repeat(np.arange(traj.n_people), np.diff(traj.offsets))[order]
    bounds = np.searchsorted(traj.frame[order], np.arange(n + 1))
    try:
        for f in range(n):
            img = base.copy()
            rows = order[bounds[f] : bounds[f + 1]]
            people, pts = row_person[bounds[f] : bounds[f + 1]], traj.xy[rows]
            seen = (pts[:, 0] >= cam.x_range[0]) & (pts[:, 0] < cam.x_range[1])
            people, pts = people[seen], pts[seen]
            if len(people):
                bx = boxes(cam, pts) * np.array([IMAGE_W, IMAGE_H, IMAGE_W, IMAGE_H])
                for k in np.argsort(bx[:, 3]):  # far first, so near people are drawn over them
                    _draw_person(img, bx[k], int(people[k]))
            writer.write(img)
    finally:
        writer.release()
    return n


def _draw_person(img: npt.NDArray[np.uint8], box: npt.NDArray[np.float64], person: int) -> None:
    import cv2

    x1, y1, x2, y2 = box
    w, h = max(x2 - x1, 2.0), max(y2 - y1, 4.0)
    cx = (x1 + x2) / 2
    hue = zlib.crc32(str(person).encode()) % 180
    hsv = np.array([[[hue, 160, 150]]], dtype=np.uint8)
    colour = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0].tolist()
    body_c = (round(cx), round(y1 + h * 0.58))
    cv2.ellipse(img, body_c, (max(1, round(w / 2)), max(1, round(h * 0.42))), 0, 0, 360, colour, -1)
    cv2.circle(img, (round(cx), round(y1 + h * 0.1)), max(1, round(w * 0.28)), (60, 80, 110), -1)
