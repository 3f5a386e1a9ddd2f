"""The zone processor: a pure, snapshot-able fold from TrackFrames to derived events.

Per store it keeps people (tracks stitched across id switches), their zone
and line hysteresis, open visits, group candidates, and the counts behind
the queue and occupancy samples. It reads no clock: samples are driven by
frame timestamps, and every emitted event's id follows from the frame that
caused it and the processor version, so a replay emits the same ids.

Derived events name a visit by the camera, edge run and track id of the
first track of the person (a stitched person keeps it). A person may be seen
by several cameras at once (overlapping views): projections/zones/fusion.py
decides when a new track is another camera's view of a known person. `processor_version`
on every event is "<code version>+l<layout version>": a replay under a new
layout gives new event ids instead of colliding with the old ones.
"""

from __future__ import annotations

import hashlib
import math
from typing import Literal

import msgspec
import numpy as np

from projections.layouts import LayoutHistory
from projections.projection import FoldResult, Rejected, SeqEvent
from projections.zones.config import ZoneProcessorConfig
from projections.zones.fusion import Sighting, approach_m, co_observe, remember, same_person
from projections.zones.hysteresis import LineHysteresis, ZoneHysteresis, step_line, step_zone
from projections.zones.membership import LayoutGeometry
from schemas.events import (
    Event,
    LineCrossed,
    OccupancySampled,
    QueueSampled,
    TrackClosed,
    TrackFrame,
    VisitEnded,
    ZoneEntered,
    ZoneExited,
)
from schemas.layout import ZoneKind

VERSION = "2"  # 2: cross-camera fusion (multi-camera derived events differ from version 1)
STORE_KEY = ""  # the sample counter of the whole store


class Person(msgspec.Struct):
    """One person as the processor knows them: identity (first track), current track, position and state.

    Times are ts_ns; x_m, y_m the last floor position in metres. visit_start_ns is -1 outside a visit.
    entered: zones entered (event emitted) in the current visit -> entered ts. counted: sample keys
    (zone ids, STORE_KEY) this person currently adds one to. seen_by: every track (any camera) now
    mapped to this person -> the ts_ns it was last seen. recent: the observations the person was
    updated with over the last fusion horizon, for cross-camera fusion.
    """

    pid: int
    camera_id: str
    edge_run_id: str
    track_id: int
    track_key: str
    first_ns: int
    last_ns: int
    x_m: float
    y_m: float
    layout_version: int
    staff: bool = False
    orphan: bool = False
    staff_ns: int = 0
    seen_ns: int = 0
    visit_start_ns: int = -1
    group_id: str | None = None
    group_checks: list[tuple[int, int]] = msgspec.field(default_factory=list)
    zones: dict[str, ZoneHysteresis] = msgspec.field(default_factory=dict)
    lines: dict[str, LineHysteresis] = msgspec.field(default_factory=dict)
    entered: dict[str, int] = msgspec.field(default_factory=dict)
    counted: list[str] = msgspec.field(default_factory=list)
    seen_by: dict[str, int] = msgspec.field(default_factory=dict)
    recent: list[Sighting] = msgspec.field(default_factory=list)


class PendingTrack(msgspec.Struct, array_like=True):
    """A new track seen inside the store, held back stitch_defer_s before deciding whom it continues.

    Holding it back lets a person whose observation was merely dropped reappear (and so drop out of
    the candidates) before an id-switched track is matched to the nearest lost person.
    obs: (ts_ns, x_m, y_m) in order.
    """

    track_id: int
    first_ns: int
    obs: list[tuple[int, float, float]]


class StoreState(msgspec.Struct):
    """Everything the processor remembers about one store between batches."""

    next_pid: int = 1
    persons: dict[int, Person] = msgspec.field(default_factory=dict)
    tracks: dict[str, int] = msgspec.field(default_factory=dict)
    held: dict[str, PendingTrack] = msgspec.field(default_factory=dict)
    first_frame_ns: int = -1
    last_frame_ns: int = -1
    next_tick_ns: int = -1
    pending: list[tuple[int, str, int]] = msgspec.field(default_factory=list)
    committed: dict[str, int] = msgspec.field(default_factory=dict)
    completions: list[int] = msgspec.field(default_factory=list)


class ProcessorState(msgspec.Struct):
    stores: dict[str, StoreState] = msgspec.field(default_factory=dict)


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(ProcessorState)


def _processor_version(layout_version: int) -> str:
    """processor_version of an event: the code version and the layout version it was derived under."""
    return f"{VERSION}+l{layout_version}"


def _track_key(camera_id: str, edge_run_id: str, track_id: int) -> str:
    return f"{camera_id}:{edge_run_id}:{track_id}"


class ZoneProcessor:
    """Folds FF_TRACKS into zone, line, visit, queue and occupancy events (no tables)."""

    name = "zones"
    version = VERSION
    stream = "FF_TRACKS"
    filter_subject: str | None = None
    emits_events = True  # its output feeds other projections: `footfall project` runs it first

    def __init__(self, config: ZoneProcessorConfig | None = None) -> None:
        self.config = config or ZoneProcessorConfig()
        self._state = ProcessorState()
        self._geometry: dict[tuple[str, int], LayoutGeometry] = {}
        c = self.config
        self._min_ns = round(c.min_state_s * 1e9)
        self._lost_ns = round(c.lost_after_s * 1e9)
        self._stitch_ns = round(c.stitch_max_gap_s * 1e9)
        self._defer_ns = round(c.stitch_defer_s * 1e9)
        self._tick_ns = round(c.tick_s * 1e9)
        self._delay_ns = round(c.sample_delay_s * 1e9)
        self._stale_ns = round(c.stale_after_s * 1e9)
        self._window_ns = round(c.wait_window_s * 1e9)
        self._group_window_ns = round(c.group_window_s * 1e9)
        self._group_confirm_ns = round(c.group_confirm_s * 1e9)
        self._skew_ns = round(c.fusion_max_skew_s * 1e9)
        self._hold_ns = round(max(c.fusion_max_hold_s, c.stitch_defer_s) * 1e9)
        # A held track is decided stitch_defer_s after it appears, on a later frame of any camera: twice
        # that (plus the skew) keeps every sighting its observations could pair with.
        self._horizon_ns = 2 * (self._hold_ns + self._skew_ns)

    def table_ddl(self) -> dict[str, str]:
        return {}

    def reset(self) -> None:
        self._state = ProcessorState()

    def snapshot(self) -> bytes:
        return _encoder.encode(self._state)

    def restore(self, data: bytes) -> None:
        self._state = _decoder.decode(data)

    def fold(self, events: list[SeqEvent], layouts: dict[str, LayoutHistory]) -> FoldResult:
        out: list[Event] = []
        rejected = []
        for item in events:
            event = item.event
            if isinstance(event, TrackClosed):
                continue  # the person may go on as a stitched track; loss is decided by lost_after_s
            if not isinstance(event, TrackFrame):
                rejected.append(Rejected(item.stream_seq, f"zones cannot fold {type(event).__name__}"))
                continue
            history = layouts.get(event.store_id)
            _Frame(self, event, history, out).run()
        return FoldResult({}, rejected, events=out)

    def geometry(self, store_id: str, history: LayoutHistory | None, ts_ns: int) -> LayoutGeometry | None:
        if history is None:
            return None
        version, layout = history.at(ts_ns)
        if layout is None:
            return None
        key = (store_id, version)
        geo = self._geometry.get(key)
        if geo is None:
            geo = self._geometry[key] = LayoutGeometry.of(version, layout, self.config.entrance_line_ids)
        return geo

    def store(self, store_id: str) -> StoreState:
        return self._state.stores.setdefault(store_id, StoreState())


class _Frame:
    """Applies one TrackFrame to its store's state, appending derived events to `out`."""

    def __init__(self, proc: ZoneProcessor, frame: TrackFrame, history: LayoutHistory | None, out: list[Event]):
        self.p, self.c, self.frame, self.history, self.out = proc, proc.config, frame, history, out
        self.ts = frame.ts_ns
        self.st = proc.store(frame.store_id)
        self.geo = proc.geometry(frame.store_id, history, frame.ts_ns)
        self.source = frame.event_id

    # -- event helpers ---------------------------------------------------------------------------

    def _common(self, person: Person) -> dict[str, object]:
        return {
            "store_id": self.frame.store_id, "camera_id": person.camera_id, "edge_run_id": person.edge_run_id,
            "track_id": person.track_id, "layout_version": person.layout_version,
            "processor_version": _processor_version(person.layout_version), "source_event_id": self.source,
        }  # fmt: skip

    def _delta(self, at_ns: int, key: str, delta: int) -> None:
        self.st.pending.append((at_ns, key, delta))

    def _customer(self, person: Person) -> bool:
        return not (self.c.exclude_staff and person.staff)

    def _counts(self, person: Person) -> bool:
        return self._customer(person) and (person.visit_start_ns >= 0 or person.orphan)

    # -- the frame ---------------------------------------------------------------------------------

    def run(self) -> None:
        st = self.st
        prev_frame_ns = st.last_frame_ns
        if st.first_frame_ns < 0:
            st.first_frame_ns = self.ts
        if self.geo is not None:
            self._observe()
        self._check_groups()
        self._finalize_lost()
        st.last_frame_ns = max(st.last_frame_ns, self.ts)
        self._emit_ticks(prev_frame_ns)

    def _observe(self) -> None:
        assert self.geo is not None
        tracks = [t for t in self.frame.tracks if t.floor_x_m is not None and t.floor_y_m is not None]
        if tracks:
            points = np.array([(t.floor_x_m, t.floor_y_m) for t in tracks], dtype=np.float64)
            inside = self.geo.inside(points)
            dist, along = self.geo.line_positions(points)
            st = self.st
            for i, track in enumerate(tracks):
                key = _track_key(self.frame.camera_id, self.frame.edge_run_id, track.track_id)
                held = st.held.get(key)
                if held is not None:
                    held.obs.append((self.ts, float(points[i][0]), float(points[i][1])))
                    continue
                pid = st.tracks.get(key)
                if pid is None:
                    if not self._arriving(dist[i], along[i]):
                        st.held[key] = PendingTrack(track.track_id, self.ts,
                                                    [(self.ts, float(points[i][0]), float(points[i][1]))])  # fmt: skip
                        continue
                    person = self._new_person(key, track.track_id, points[i], self.ts)
                else:
                    person = st.persons[pid]
                person.seen_by[key] = self.ts
                self._update(person, points[i], inside[i], dist[i], along[i], camera_id=self.frame.camera_id)
        self._resolve_held()

    def _arriving(self, dist: np.ndarray, along: np.ndarray) -> bool:
        """Whether a new track starts just outside an entrance line: a new arrival, not a continuation."""
        assert self.geo is not None
        band = self.c.arrival_band_m
        return any(
            ln.entrance and dist[j] * ln.inward <= 0 and abs(dist[j]) <= band
            and -band <= along[j] <= ln.length_m + band
            for j, ln in enumerate(self.geo.lines)
        )  # fmt: skip

    def _resolve_held(self) -> None:
        """Match held tracks that have waited long enough, and replay their observations."""
        st, geo = self.st, self.geo
        assert geo is not None
        due = sorted((h.first_ns, k) for k, h in st.held.items() if self.ts - h.first_ns >= self.p._defer_ns)
        now = self.ts
        for _, key in due:
            held = st.held.pop(key)
            first = np.array(held.obs[0][1:], dtype=np.float64)
            camera_id = key.split(":", 1)[0]
            person, wait = self._fusion_candidate(camera_id, held, final=now - held.first_ns >= self.p._hold_ns)
            if wait:
                st.held[key] = held  # another camera's person may be this one: decide on more pairs
                continue
            if person is None:
                person = self._stitch_candidate(first, held.first_ns)
                if person is not None:  # lost: its old tracks are over
                    for old in [person.track_key, *person.seen_by]:
                        st.tracks.pop(old, None)
                    person.seen_by.clear()
            if person is not None:
                person.track_key = key
                person.seen_by[key] = held.obs[-1][0]
                st.tracks[key] = person.pid
            else:
                person = self._new_person(key, held.track_id, first, held.first_ns)
                raw = geo.inside(first[None, :])[0]
                if any(raw[k] and kind is ZoneKind.STAFF for k, kind in enumerate(geo.kinds)):
                    person.staff = True
                    self._start_visit(person, held.first_ns)
                else:
                    person.orphan = True
                    if self._customer(person):
                        person.counted.append(STORE_KEY)
                        self._delta(held.first_ns, STORE_KEY, +1)
            points = np.array([o[1:] for o in held.obs], dtype=np.float64)
            inside = geo.inside(points)
            dist, along = geo.line_positions(points)
            for i, (ts, _, _) in enumerate(held.obs):
                self.ts = ts  # replayed at its own time: changes are dated as if it had not been held
                self._update(person, points[i], inside[i], dist[i], along[i], camera_id=camera_id)
            self.ts = now

    def _new_person(self, key: str, track_id: int, point: np.ndarray, first_ns: int) -> Person:
        st, geo = self.st, self.geo
        assert geo is not None
        camera_id, edge_run_id, _ = key.split(":")
        person = Person(
            pid=st.next_pid, camera_id=camera_id, edge_run_id=edge_run_id, track_id=track_id,
            track_key=key, first_ns=first_ns, last_ns=-1, x_m=float(point[0]), y_m=float(point[1]),
            layout_version=geo.version,
        )  # fmt: skip
        st.next_pid += 1
        st.persons[person.pid] = person
        st.tracks[key] = person.pid
        person.seen_by[key] = first_ns
        return person

    def _fusion_candidate(self, camera_id: str, held: PendingTrack, final: bool) -> tuple[Person | None, bool]:
        """The person another camera saw where and when the held track was, and whether to wait for more evidence.

        Only held observations before this frame's time count: other cameras' frames of this time may not
        have arrived yet, so a missing pair there proves nothing. A person with a track of this camera seen
        since the held track appeared is no candidate: one camera does not see one person as two tracks at
        once. While any person is near the held track (near pairs, never a far one) and the hold is not
        `final`, the track waits for more pairs (returns (None, True)): people walking together are told
        apart by every pair the hold gives. Then a person proven the same (fusion.same_person) wins, the
        nearest on average; failing that, the nearest one merely consistent with it, rather than founding
        a second person beside them. A person no other camera saw at the held track's times (a missed
        frame) but within stitch_defer_s of them, within fusion_gate_m give or take stitch_speed_m_s x the
        time between (fusion.approach_m), is consistent with it too, ranked after paired ones: the track
        waits for pairs, and is that person if none come.
        """
        c = self.c
        proven: tuple[float, int] | None = None
        consistent: tuple[float, int] | None = None
        unpaired: tuple[float, int] | None = None
        obs = [o for o in held.obs if o[0] < self.ts]
        if not obs:
            return None, not final
        last_held_ns = obs[-1][0]
        for person in self.st.persons.values():
            if any(k.split(":", 1)[0] == camera_id and ts >= held.first_ns for k, ts in person.seen_by.items()):
                continue
            co = co_observe(obs, person.recent, camera_id, c.fusion_gate_m, self.p._skew_ns)
            if co.far:
                continue
            if not co.near:
                gap_m = approach_m(obs, person.recent, camera_id, c.stitch_speed_m_s, self.p._defer_ns)
                if gap_m <= c.fusion_gate_m:
                    unpaired = (gap_m, person.pid) if unpaired is None else min(unpaired, (gap_m, person.pid))
                continue
            rank = (co.mean_dist_m, person.pid)
            if same_person(co, c.fusion_min_observations, handed_over=person.last_ns < last_held_ns):
                proven = rank if proven is None else min(proven, rank)
            else:
                consistent = rank if consistent is None else min(consistent, rank)
        best = proven or consistent or unpaired
        if best is None:
            return None, False
        return (self.st.persons[best[1]], False) if final else (None, True)

    def _stitch_candidate(self, point: np.ndarray, first_ns: int) -> Person | None:
        """The nearest person lost before first_ns (and not seen since) within the gap and distance gates."""
        best: tuple[float, int] | None = None
        for person in self.st.persons.values():
            gap = first_ns - person.last_ns
            if person.last_ns < 0 or gap <= 0 or gap > self.p._stitch_ns:
                continue
            d = math.hypot(point[0] - person.x_m, point[1] - person.y_m)
            if d > self.c.stitch_max_dist_m + self.c.stitch_speed_m_s * gap / 1e9:
                continue
            if best is None or (d, person.pid) < best:
                best = (d, person.pid)
        return None if best is None else self.st.persons[best[1]]

    def _update(
        self, person: Person, point: np.ndarray, inside: np.ndarray, dist: np.ndarray, along: np.ndarray, *,
        camera_id: str,
    ) -> None:  # fmt: skip
        geo = self.geo
        assert geo is not None
        if person.last_ns >= 0 and self.ts <= person.last_ns:
            return  # another camera already saw the person at this time (or later): one observation per time
        if person.layout_version != geo.version:
            self._change_layout(person, geo.version)
        dt = self.ts - person.last_ns if person.last_ns >= 0 else 0
        person.seen_ns += dt
        if any(person.zones.get(z, _OUT).inside for z in geo.staff_zone_ids):
            person.staff_ns += dt
        person.last_ns, person.x_m, person.y_m = self.ts, float(point[0]), float(point[1])
        remember(person.recent, (self.ts, person.x_m, person.y_m, camera_id), self.p._horizon_ns)
        for j, line in enumerate(geo.lines):
            state = person.lines.setdefault(line.line_id, LineHysteresis())
            crossing = step_line(state, float(dist[j]), float(along[j]), line.length_m, self.ts,
                                 min_disp_m=self.c.line_min_displacement_m,
                                 end_margin_m=self.c.line_end_margin_m)  # fmt: skip
            if crossing is None:
                continue
            side, at = crossing
            direction: Literal["in", "out"] = "in" if side == line.inward else "out"
            self.out.append(LineCrossed(ts_ns=at, line_id=line.line_id, direction=direction,
                                        **self._common(person)))  # type: ignore[arg-type]  # fmt: skip
            if not line.entrance:
                continue
            if direction == "in" and person.visit_start_ns < 0:
                if person.orphan:
                    self._drop_orphan(person, at)
                self._start_visit(person, at)
            elif direction == "out" and person.visit_start_ns >= 0:
                self._end_visit(person, at)
        need_in, need_out = self.c.enter_observations, self.c.exit_observations
        for k, zone_id in enumerate(geo.zone_ids):
            zone_state = person.zones.get(zone_id)
            if zone_state is None:
                if not inside[k]:
                    continue  # outside and never inside: nothing to remember
                zone_state = person.zones[zone_id] = ZoneHysteresis()
            raw = bool(inside[k])
            changed = step_zone(zone_state, raw, self.ts, need_in if raw else need_out, self.p._min_ns)
            if changed is None:
                continue
            at = changed
            if raw:
                self._enter(person, zone_id, at)
            else:
                self._exit(person, zone_id, geo.kinds[k], at)

    # -- zone and visit transitions --------------------------------------------------------------

    def _enter(self, person: Person, zone_id: str, at: int) -> None:
        if person.visit_start_ns >= 0 and zone_id not in person.entered:
            person.entered[zone_id] = at
            self.out.append(ZoneEntered(ts_ns=at, zone_id=zone_id, **self._common(person)))  # type: ignore[arg-type]
        if self._counts(person) and zone_id not in person.counted:
            person.counted.append(zone_id)
            self._delta(at, zone_id, +1)

    def _exit(self, person: Person, zone_id: str, kind: ZoneKind, at: int) -> None:
        if self._leave(person, zone_id, at) and kind is ZoneKind.CHECKOUT:
            self.st.completions.append(at)

    def _leave(self, person: Person, zone_id: str, at: int) -> bool:
        """Emit ZoneExited if the zone was entered in this visit, and stop counting the person in it."""
        entered = person.entered.pop(zone_id, None)
        if entered is not None:
            self.out.append(ZoneExited(ts_ns=at, zone_id=zone_id, entered_ts_ns=entered,
                                       **self._common(person)))  # type: ignore[arg-type]  # fmt: skip
        return self._uncount(person, zone_id, at)

    def _uncount(self, person: Person, key: str, at: int) -> bool:
        """Stop counting the person in sample key `key` (a zone id or STORE_KEY) at `at`; False if not counted."""
        if key not in person.counted:
            return False
        person.counted.remove(key)
        self._delta(at, key, -1)
        return True

    def _close_zones(self, person: Person, at: int) -> None:
        """Close every open zone at `at`, or earlier where the person was already seen leaving it."""
        for zone_id in sorted(set(person.entered) | {z for z in person.counted if z != STORE_KEY}):
            state = person.zones.get(zone_id)
            leave = at
            if state is not None and state.inside and 0 <= state.candidate_ns < at:
                leave = state.candidate_ns
            self._leave(person, zone_id, leave)

    def _start_visit(self, person: Person, at: int) -> None:
        person.visit_start_ns = at
        if self._customer(person) and STORE_KEY not in person.counted:
            person.counted.append(STORE_KEY)
            self._delta(at, STORE_KEY, +1)
        for zone_id, state in person.zones.items():
            if state.inside:
                self._enter(person, zone_id, at)
        if person.staff:
            return
        for other in self.st.persons.values():
            if (
                other.pid != person.pid
                and other.visit_start_ns >= 0
                and not other.staff
                and at - other.visit_start_ns <= self.p._group_window_ns
                and math.hypot(other.x_m - person.x_m, other.y_m - person.y_m) <= self.c.group_radius_m
            ):
                person.group_checks.append((other.pid, at + self.p._group_confirm_ns))  # fmt: skip

    def _end_visit(self, person: Person, at: int) -> None:
        self._close_zones(person, at)
        self._uncount(person, STORE_KEY, at)
        staff = person.staff or (person.seen_ns > 0 and person.staff_ns >= self.c.staff_fraction * person.seen_ns)
        self.out.append(VisitEnded(ts_ns=at, started_ts_ns=person.visit_start_ns, is_staff=staff,
                                   group_id=person.group_id, **self._common(person)))  # type: ignore[arg-type]  # fmt: skip
        person.visit_start_ns = -1
        person.group_checks.clear()

    def _drop_orphan(self, person: Person, at: int) -> None:
        person.orphan = False
        self._uncount(person, STORE_KEY, at)

    def _change_layout(self, person: Person, version: int) -> None:
        self._close_zones(person, self.ts)
        person.zones.clear()
        person.lines.clear()
        person.layout_version = version

    def _check_groups(self) -> None:
        persons = self.st.persons
        for person in persons.values():
            if not person.group_checks:
                continue
            keep = []
            for other_pid, check_at in person.group_checks:
                if check_at > self.ts:
                    keep.append((other_pid, check_at))
                    continue
                other = persons.get(other_pid)
                if other is None or other.visit_start_ns < 0 or person.visit_start_ns < 0:
                    continue
                if math.hypot(other.x_m - person.x_m, other.y_m - person.y_m) <= self.c.group_radius_m:
                    if other.group_id is None:
                        other.group_id = _group_id(other)
                    if person.group_id is None:
                        person.group_id = other.group_id
            person.group_checks = keep

    def _finalize_lost(self) -> None:
        st = self.st
        lost = [p for p in st.persons.values() if p.last_ns >= 0 and self.ts - p.last_ns > self.p._lost_ns]
        for person in lost:
            if person.visit_start_ns >= 0:
                self._end_visit(person, person.last_ns)
            else:
                self._close_zones(person, person.last_ns)
                self._uncount(person, STORE_KEY, person.last_ns)
            del st.persons[person.pid]
            for key in [person.track_key, *person.seen_by]:
                if st.tracks.get(key) == person.pid:
                    del st.tracks[key]

    # -- samples ---------------------------------------------------------------------------------

    def _emit_ticks(self, prev_frame_ns: int) -> None:
        st, tick = self.st, self.p._tick_ns
        if st.next_tick_ns < 0:
            st.next_tick_ns = -(-self.ts // tick) * tick
        while st.next_tick_ns + self.p._delay_ns < self.ts:
            if prev_frame_ns >= 0 and st.next_tick_ns <= prev_frame_ns + self.p._stale_ns:
                self._sample(st.next_tick_ns)
                st.next_tick_ns += tick
            else:  # no frames near these ticks (the store was dark): nothing to sample
                st.next_tick_ns = -(-(self.ts - self.p._delay_ns) // tick) * tick
                break

    def _sample(self, tick_ns: int) -> None:
        st = self.st
        due = sorted(d for d in st.pending if d[0] <= tick_ns)
        if due:
            st.pending = [d for d in st.pending if d[0] > tick_ns]
            for _, key, delta in due:
                st.committed[key] = st.committed.get(key, 0) + delta
        st.completions = [t for t in st.completions if t > tick_ns - self.p._window_ns]
        geo = self.p.geometry(self.frame.store_id, self.history, tick_ns)
        if geo is None:
            return
        pv = _processor_version(geo.version)
        store_id = self.frame.store_id
        done = sum(1 for t in st.completions if t <= tick_ns)
        span_ns = min(self.p._window_ns, tick_ns - st.first_frame_ns)
        for zone_id, kind in zip(geo.zone_ids, geo.kinds, strict=True):
            people = max(0, st.committed.get(zone_id, 0))
            if kind is ZoneKind.QUEUE:
                wait = people * (span_ns / 1e9) / done if done and span_ns > 0 else 0.0
                self.out.append(QueueSampled(store_id=store_id, ts_ns=tick_ns, zone_id=zone_id, queue_length=people,
                                             est_wait_s=round(wait, 3), layout_version=geo.version,
                                             processor_version=pv))  # fmt: skip
            self.out.append(OccupancySampled(store_id=store_id, ts_ns=tick_ns, zone_id=zone_id, people=people,
                                             layout_version=geo.version, processor_version=pv))  # fmt: skip
        self.out.append(OccupancySampled(store_id=store_id, ts_ns=tick_ns, zone_id=None,
                                         people=max(0, st.committed.get(STORE_KEY, 0)), layout_version=geo.version,
                                         processor_version=pv))  # fmt: skip


_OUT = ZoneHysteresis()


def _group_id(person: Person) -> str:
    seed = f"{person.camera_id}:{person.edge_run_id}:{person.track_id}:{person.visit_start_ns}".encode()
    return "g" + hashlib.blake2b(seed, digest_size=8).hexdigest()
