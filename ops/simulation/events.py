"""A simulated day's camera views as TrackFrame and TrackClosed events, built from whole-day columns.

The rows of every camera are sorted once (by frame, camera, track id) and turned into Track structs in one
pass; each frame's tuple is then a slice. A per-observation Python loop with per-frame sorts and dict
look-ups was a third of a day's simulation. The events are the ones that loop built, in the same order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from schemas.events import Event, Track, TrackClosed, TrackFrame, TrackState

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

# The detector score every simulated track reports.
SCORE = 0.9
# Rows turned into Track structs at a time.
_CHUNK_ROWS = 1 << 18


@dataclass(frozen=True)
class CameraRows:
    """What one camera's tracker reports, one row per observation, sorted by frame.

    frame, track (the camera's track id, from 1), person (the true person) (n,) int64; box (n, 4) normalised
    x1, y1, x2, y2; xy (n, 2) floor metres.
    """

    camera_id: str
    frame: IntArray
    track: IntArray
    person: IntArray
    box: FloatArray
    xy: FloatArray


def track_events(
    views: list[CameraRows], *, n_frames: int, store_id: str, edge_run_id: str, t0_ns: int, period_ns: int
) -> tuple[list[Event], dict[tuple[str, int], int]]:
    """TrackFrames (one per camera per frame, cameras in order) and TrackCloseds, and (camera, track) -> person.

    A track is closed at the frame after its last (the day's last frame at the latest); the TrackCloseds of a
    frame follow its TrackFrames, ordered by (camera, track id).
    """
    n_cams = len(views)
    cam = np.concatenate([np.full(len(v.frame), c, dtype=np.int64) for c, v in enumerate(views)])
    frame = np.concatenate([v.frame for v in views])
    track = np.concatenate([v.track for v in views])
    person = np.concatenate([v.person for v in views])
    box = np.concatenate([v.box for v in views])
    xy = np.concatenate([v.xy for v in views])
    person_of_track, first, last = _track_spans(views, cam, frame, track, person)

    order = np.lexsort((track, cam, frame))
    tracks: list[Track] = []
    # In chunks: the Python floats of a whole day's columns at once would be gigabytes more at the peak.
    for lo in range(0, len(order), _CHUNK_ROWS):
        tracks.extend(_tracks(order[lo : lo + _CHUNK_ROWS], track, box, xy))
    bounds = np.zeros(n_frames * n_cams + 1, dtype=np.int64)
    np.cumsum(np.bincount(frame * n_cams + cam, minlength=n_frames * n_cams), out=bounds[1:])
    bounds_list = bounds.tolist()

    closes = _closes(first, last, n_frames)
    events: list[Event] = []
    cam_ids = [v.camera_id for v in views]
    k = 0
    for f in range(n_frames):
        ts = t0_ns + f * period_ns
        for c, camera_id in enumerate(cam_ids):
            lo, hi = bounds_list[f * n_cams + c], bounds_list[f * n_cams + c + 1]
            events.append(TrackFrame(store_id=store_id, ts_ns=ts, camera_id=camera_id, edge_run_id=edge_run_id,
                                     frame_seq=f, tracks=tuple(tracks[lo:hi])))  # fmt: skip
        while k < len(closes) and closes[k][0] == f:
            _, c, t, f0, f1 = closes[k]
            events.append(TrackClosed(store_id=store_id, ts_ns=ts, camera_id=cam_ids[c], edge_run_id=edge_run_id,
                                      track_id=t, first_ts_ns=t0_ns + f0 * period_ns,
                                      last_ts_ns=t0_ns + f1 * period_ns))  # fmt: skip
            k += 1
    return events, person_of_track


def _tracks(rows: IntArray, track: IntArray, box: FloatArray, xy: FloatArray) -> list[Track]:
    tracked = TrackState.TRACKED
    b, p = box[rows], xy[rows]
    return [
        Track(t, x1, y1, x2, y2, SCORE, tracked, fx, fy)
        for t, x1, y1, x2, y2, fx, fy in zip(track[rows].tolist(), b[:, 0].tolist(), b[:, 1].tolist(),
                                             b[:, 2].tolist(), b[:, 3].tolist(), p[:, 0].tolist(), p[:, 1].tolist(),
                                             strict=True)
    ]  # fmt: skip


def _track_spans(
    views: list[CameraRows], cam: IntArray, frame: IntArray, track: IntArray, person: IntArray
) -> tuple[dict[tuple[str, int], int], dict[tuple[int, int], int], dict[tuple[int, int], int]]:
    """(camera_id, track) -> person, and (camera index, track) -> first and last frame, keys in row order."""
    # Rows come per camera, in frame order, so a key's first row is its first frame and its last row its last.
    key = cam * (int(track.max(initial=0)) + 1) + track
    _, first_row = np.unique(key, return_index=True)
    _, last_from_end = np.unique(key[::-1], return_index=True)
    last_row = len(key) - 1 - last_from_end
    by_first = np.argsort(first_row, kind="stable")
    first_row, last_row = first_row[by_first], last_row[by_first]
    cam_ids = [v.camera_id for v in views]
    cs, ts, ps = cam[first_row].tolist(), track[first_row].tolist(), person[first_row].tolist()
    person_of_track = {(cam_ids[c], t): p for c, t, p in zip(cs, ts, ps, strict=True)}
    first = {(c, t): f for c, t, f in zip(cs, ts, frame[first_row].tolist(), strict=True)}
    last = {(c, t): f for c, t, f in zip(cs, ts, frame[last_row].tolist(), strict=True)}
    return person_of_track, first, last


def _closes(
    first: dict[tuple[int, int], int], last: dict[tuple[int, int], int], n_frames: int
) -> list[tuple[int, int, int, int, int]]:
    """(closing frame, camera index, track, first frame, last frame) of every track, in event order."""
    return sorted((min(f + 1, n_frames - 1), c, t, first[(c, t)], f) for (c, t), f in last.items())
