"""Online re-linking of broken tracks on the floor plane: a new track that starts where a recently lost
one was heading takes the lost track's id.

A classical detector loses people for a few frames at a time (two people merge into one foreground
blob, a person stands still and fades into the background); ByteTrack's lost-track buffer recovers
them only when the new box still overlaps the predicted one in the image. On the floor the question
is simpler and metric: a person walks at most a couple of metres per second, so a track that ended
t seconds ago at p with velocity v can only reappear near p + v t. This stage sits between the
tracker and the publisher, sees each frame once, in order, and never rewrites the past: it only
decides, at the first frame of a new tracker id, which public id to give it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

NS_PER_S = 1_000_000_000
# Tracker-id mappings are kept this long after a public id's last report: longer than any tracker's
# lost-track buffer, so a track the tracker itself finds again keeps its id; bounded, so a run of
# days does not grow without limit.
_FORGET_AFTER_S = 60.0


@dataclass(frozen=True, slots=True)
class RelinkParams:
    """How far in time and space a new track may be from a lost one to take its id.

    Attributes:
        max_gap_s: seconds after its last report that a lost track can still be re-linked.
        max_distance_m: gate radius in metres around the lost track's predicted floor position
            for a new track appearing right after the loss.
        distance_per_s_m: metres the gate radius grows per second of gap (how far a person's
            velocity may drift from the lost track's estimate while unseen).
        velocity_window_s: seconds of a track's recent floor positions its velocity is fitted on.
        max_speed_m_s: the fitted velocity is capped at this speed (metres per second), so a
            jumpy last box cannot throw the prediction across the scene.
        max_extrapolation_s: the prediction p + v t stops moving after this many seconds of gap
            (a lost person may have stopped or turned).
        ambiguity_ratio: a link is made only when its distance is at most this share of the
            distance of any rival in the gate (another lost track for the same new track, or another
            new track for the same lost one): in a crowd the nearest prediction is often the wrong
            person, and a fresh id costs one id switch where a wrong link costs two. 1.0 never
            rejects; 0.0 rejects every contested link.
    """

    max_gap_s: float = 2.0
    max_distance_m: float = 1.5
    distance_per_s_m: float = 1.0
    velocity_window_s: float = 1.0
    max_speed_m_s: float = 2.5
    max_extrapolation_s: float = 1.5
    ambiguity_ratio: float = 1.0

    def __post_init__(self) -> None:
        for name in (
            "max_gap_s",
            "max_distance_m",
            "distance_per_s_m",
            "velocity_window_s",
            "max_speed_m_s",
            "max_extrapolation_s",
            "ambiguity_ratio",
        ):
            value = getattr(self, name)
            if not (np.isfinite(value) and value >= 0.0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if self.ambiguity_ratio > 1.0:
            raise ValueError(f"ambiguity_ratio must be in [0, 1], got {self.ambiguity_ratio!r}")


@dataclass(slots=True)
class _History:
    """Recent floor positions of one public id: times in ns, positions in metres."""

    tracker_id: int
    last_seen_ns: int
    ts_ns: list[int] = field(default_factory=list)
    points_m: list[tuple[float, float]] = field(default_factory=list)

    def add(self, ts_ns: int, point_m: tuple[float, float], keep_ns: int) -> None:
        self.ts_ns.append(ts_ns)
        self.points_m.append(point_m)
        while len(self.ts_ns) > 2 and self.ts_ns[-1] - self.ts_ns[0] > keep_ns:
            del self.ts_ns[0], self.points_m[0]

    def velocity_m_s(self, max_speed_m_s: float) -> npt.NDArray[np.float64]:
        """Least-squares floor velocity (2,) in metres per second over the kept window, speed-capped."""
        if len(self.ts_ns) < 2:
            return np.zeros(2, dtype=np.float64)
        t = (np.asarray(self.ts_ns, dtype=np.float64) - self.ts_ns[-1]) / NS_PER_S
        p = np.asarray(self.points_m, dtype=np.float64)
        tc = t - t.mean()
        denom = float(tc @ tc)
        if denom <= 0.0:
            return np.zeros(2, dtype=np.float64)
        v = (tc @ (p - p.mean(axis=0))) / denom
        speed = float(np.hypot(*v))
        return v * (max_speed_m_s / speed) if speed > max_speed_m_s else v


class TrackRelinker:
    """Maps tracker ids to public ids, giving a new track the id of a lost one it continues.

    One instance per camera run; call `update` once per analysed frame, in time order. Public
    ids run 1, 2, 3, ... in order of first report and are never reused for a different person
    within the run (except by re-linking, which is the point).
    """

    def __init__(self, params: RelinkParams | None = None) -> None:
        self.params = params if params is not None else RelinkParams()
        self._public: dict[int, int] = {}  # tracker id -> public id
        self._history: dict[int, _History] = {}  # public id -> current owner and recent positions
        self._active: set[int] = set()  # public ids reported in the last frame
        self._owner_ended: set[int] = set()  # public ids whose tracker id the tracker has removed
        self._next_id = 1
        self._last_ts_ns: int | None = None
        self._closed: npt.NDArray[np.int64] = np.empty(0, dtype=np.int64)
        self.relinks = 0
        self.ambiguous = 0  # new tracks given a fresh id because a rival candidate was nearly as close

    @property
    def closed_ids(self) -> npt.NDArray[np.int64]:
        """(k,) int64 public ids that ended in the last `update`: their tracker id was removed and
        they were unreported for longer than max_gap_s, so no new track can take them any more."""
        return self._closed

    def update(
        self,
        ts_ns: int,
        tracker_ids: npt.ArrayLike,
        floor_m: npt.ArrayLike | None,
        removed_tracker_ids: npt.ArrayLike = (),
    ) -> npt.NDArray[np.int64]:
        """Return the public ids (n,) int64 for this frame's tracks.

        Args:
            ts_ns: frame time in nanoseconds, not earlier than the previous call's.
            tracker_ids: (n,) the tracker's ids for this frame's tracks, unique.
            floor_m: (n, 2) foot points on the floor in metres (NaN where unmapped), or None
                without a calibration (then ids pass through a fresh-id mapping, never re-linked).
            removed_tracker_ids: (k,) tracker ids the tracker ended in this frame (`ByteTrack.removed_ids`);
                their public ids close once they can no longer be re-linked (`closed_ids`).

        Raises:
            ValueError: on misaligned arrays, duplicate tracker ids or time going backwards.
        """
        ids = np.asarray(tracker_ids, dtype=np.int64).reshape(-1)
        n = ids.shape[0]
        if floor_m is None:
            points = np.full((n, 2), np.nan, dtype=np.float64)
        else:
            points = np.asarray(floor_m, dtype=np.float64)
            if points.shape != (n, 2):
                raise ValueError(f"floor_m must have shape ({n}, 2) like tracker_ids, got {points.shape}")
        if np.unique(ids).shape[0] != n:
            raise ValueError(f"tracker_ids must be unique within a frame, got {ids.tolist()}")
        if self._last_ts_ns is not None and ts_ns < self._last_ts_ns:
            raise ValueError(f"ts_ns must not go backwards, got {ts_ns} after {self._last_ts_ns}")
        self._last_ts_ns = ts_ns
        self._expire(ts_ns)

        out = np.zeros(n, dtype=np.int64)
        new_rows: list[int] = []
        for row, tid in enumerate(ids.tolist()):
            public = self._public.get(tid)
            # A tracker id whose public id was meanwhile handed to another track (the tracker found
            # the old track again after we re-linked) must not report the same id twice.
            if public is not None and self._history[public].tracker_id == tid:
                out[row] = public
            else:
                new_rows.append(row)
        taken = {int(p) for p in out if p}
        for row, public in self._link(ts_ns, ids, points, new_rows, taken).items():
            out[row] = public
            self._owner_ended.discard(public)

        keep_ns = int(self.params.velocity_window_s * NS_PER_S)
        for row in range(n):
            public, tid = int(out[row]), int(ids[row])
            self._public[tid] = public
            history = self._history.setdefault(public, _History(tid, ts_ns))
            history.tracker_id = tid
            history.last_seen_ns = ts_ns
            if np.isfinite(points[row]).all():
                history.add(ts_ns, (float(points[row, 0]), float(points[row, 1])), keep_ns)
        self._active = {int(p) for p in out}
        for tid in np.asarray(removed_tracker_ids, dtype=np.int64).reshape(-1).tolist():
            public = self._public.get(tid)
            if public is not None and self._history[public].tracker_id == tid and public not in self._active:
                self._owner_ended.add(public)
        self._closed = self._close(ts_ns)
        return out

    def _close(self, ts_ns: int) -> npt.NDArray[np.int64]:
        limit = int(self.params.max_gap_s * NS_PER_S)
        done = sorted(pid for pid in self._owner_ended if ts_ns - self._history[pid].last_seen_ns >= limit)
        self._owner_ended.difference_update(done)
        return np.asarray(done, dtype=np.int64)

    def _link(
        self,
        ts_ns: int,
        ids: npt.NDArray[np.int64],
        points: npt.NDArray[np.float64],
        rows: list[int],
        taken: set[int],
    ) -> dict[int, int]:
        """Public ids for new tracks: lost ones by nearest gated prediction (greedy), unless a rival
        candidate is nearly as close (`RelinkParams.ambiguity_ratio`); else fresh ones."""
        p = self.params
        pairs: list[tuple[float, int, int]] = []
        mapped = [row for row in rows if np.isfinite(points[row]).all()]
        predictions = self._predictions(ts_ns, taken) if mapped else []
        for row in mapped:
            for pid, gap_s, predicted in predictions:
                distance = float(np.hypot(*(points[row] - predicted)))
                if distance <= p.max_distance_m + p.distance_per_s_m * gap_s:
                    pairs.append((distance, row, pid))
        # Rivals are counted over all gated pairs, before any greedy choice: an ambiguity does not go
        # away because the rival was linked elsewhere first.
        by_row: dict[int, list[float]] = {}
        by_pid: dict[int, list[float]] = {}
        for distance, row, pid in pairs:
            by_row.setdefault(row, []).append(distance)
            by_pid.setdefault(pid, []).append(distance)
        linked: dict[int, int] = {}
        used: set[int] = set()
        contested: set[int] = set()
        for distance, row, pid in sorted(pairs):
            if row in linked or pid in used:
                continue
            if self._contested(distance, by_row[row]) or self._contested(distance, by_pid[pid]):
                contested.add(row)
                continue
            linked[row] = pid
            used.add(pid)
            self.relinks += 1
        self.ambiguous += len(contested - linked.keys())
        for row in rows:
            if row not in linked:
                linked[row] = self._next_id
                self._next_id += 1
        return linked

    def _predictions(self, ts_ns: int, taken: set[int]) -> list[tuple[int, float, npt.NDArray[np.float64]]]:
        """(public id, seconds lost, predicted floor position (2,) metres) of each lost track still re-linkable."""
        p = self.params
        out = []
        for pid, h in self._history.items():
            if pid in self._active or pid in taken or not h.ts_ns:
                continue
            gap_s = (ts_ns - h.last_seen_ns) / NS_PER_S
            if gap_s <= 0.0 or gap_s > p.max_gap_s:
                continue
            ahead_s = min((ts_ns - h.ts_ns[-1]) / NS_PER_S, p.max_extrapolation_s)
            out.append((pid, gap_s, np.asarray(h.points_m[-1]) + h.velocity_m_s(p.max_speed_m_s) * ahead_s))
        return out

    def _contested(self, distance: float, candidates: list[float]) -> bool:
        """True when a candidate other than `distance` (metres) is within distance / ambiguity_ratio."""
        ratio = self.params.ambiguity_ratio
        if ratio >= 1.0 or len(candidates) < 2:
            return False
        rivals = sorted(candidates)
        rival = rivals[1] if rivals[0] == distance else rivals[0]
        # A tie (rival == distance) is contested even at distance 0.
        return rival <= distance or distance > ratio * rival

    def _expire(self, ts_ns: int) -> None:
        """Forget public ids unreported for _FORGET_AFTER_S, and the tracker ids that point at them."""
        limit = int(max(_FORGET_AFTER_S, self.params.max_gap_s) * NS_PER_S)
        gone = {pid for pid, h in self._history.items() if pid not in self._active and ts_ns - h.last_seen_ns > limit}
        if gone:
            for pid in gone:
                del self._history[pid]
            self._owner_ended.difference_update(gone)
            self._public = {tid: pid for tid, pid in self._public.items() if pid not in gone}
