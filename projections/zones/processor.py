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
import itertools
import math
from typing import Literal

import msgspec
import numpy as np
import numpy.typing as npt

from projections.columns import TrackBatch, TrackColumns
from projections.layouts import LayoutHistory
from projections.projection import FoldResult, Rejected, SeqEvent
from projections.zones import kernel as K
from projections.zones.config import ZoneProcessorConfig
from projections.zones.fusion import Sighting
from projections.zones.hysteresis import LineHysteresis, ZoneHysteresis
from projections.zones.membership import LayoutGeometry
from schemas.events import (
    Event,
    LineCrossed,
    OccupancySampled,
    QueueSampled,
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


_RUN_BITS = 40  # a track key code: run code << 40 | track id (track ids past 2**40 get codes of their own)
_DEFAULT_LINE = (0, -1, 0)


class _Person:
    """A person while the processor runs: what only Python touches, and a slot in the store's arrays.

    keys: the codes of every track now mapped to the person (Person.seen_by; when each was last seen is
    in the arrays). Times ts_ns; positions metres.
    """

    __slots__ = ("camera_id", "counted", "edge_run_id", "entered", "first_ns", "group_checks", "group_id", "keys",
                 "live", "orphan", "pid", "slot", "staff", "track_id", "track_key", "visit_start_ns")  # fmt: skip

    def __init__(  # noqa: PLR0917 - private, few callers
        self, live: _Live, pid: int, slot: int, camera_id: str, edge_run_id: str, track_id: int, track_key: int,
        first_ns: int,
    ) -> None:  # fmt: skip
        self.live, self.pid, self.slot = live, pid, slot
        self.camera_id, self.edge_run_id, self.track_id, self.track_key = camera_id, edge_run_id, track_id, track_key
        self.first_ns = first_ns
        self.staff = self.orphan = False
        self.visit_start_ns = -1
        self.group_id: str | None = None
        self.group_checks: list[tuple[int, int]] = []
        self.entered: dict[str, int] = {}
        self.counted: list[str] = []
        self.keys: dict[int, int] = {}  # track key code -> its track slot in the arrays

    @property
    def last_ns(self) -> int:
        return int(self.live.arr.pi[self.slot, K.P_LAST])

    @property
    def x_m(self) -> float:
        return float(self.live.arr.pf[self.slot, 0])

    @property
    def y_m(self) -> float:
        return float(self.live.arr.pf[self.slot, 1])

    @property
    def seen_ns(self) -> int:
        return int(self.live.arr.pi[self.slot, K.P_SEEN])

    @property
    def staff_ns(self) -> int:
        return int(self.live.arr.pi[self.slot, K.P_STAFF])

    def zone_state(self, zone_id: str) -> tuple[bool, int] | None:
        """(inside, candidate_ns) of the person's state for zone_id, None if they have none."""
        c = self.live.zone_col.get(zone_id)
        if c is None:
            return None
        row = self.live.arr.zi[self.slot, c]
        return None if row[K.Z_ORDER] < 0 else (bool(row[K.Z_INSIDE]), int(row[K.Z_CAND]))

    def zones_inside(self) -> list[str]:
        """The zones whose confirmed state is inside, in the order the person first had a state for each."""
        zi = self.live.arr.zi[self.slot]
        cols = np.flatnonzero((zi[:, K.Z_ORDER] >= 0) & (zi[:, K.Z_INSIDE] != 0))
        cols = cols[np.argsort(zi[cols, K.Z_ORDER], kind="stable")]
        return [self.live.zone_names[c] for c in cols.tolist()]

    def cameras_seen_since(self, camera: int, since_ns: int) -> bool:
        """Whether a track of camera (code) mapped to the person was seen at or after since_ns."""
        ti = self.live.arr.ti
        return any(ti[t, K.T_CAM] == camera and ti[t, K.T_SEEN] >= since_ns for t in self.keys.values())

    def recent(self) -> list[Sighting]:
        ts, cams, xy = self.live.arr.ring(self.slot)
        names = self.live.cam_names
        return [(t, x, y, names[c]) for t, c, (x, y) in zip(ts.tolist(), cams.tolist(), xy.tolist(), strict=True)]


class _Geo:
    """A layout version's zones and lines as the store's array columns."""

    def __init__(self, live: _Live, geo: LayoutGeometry) -> None:
        self.zcols = np.array([live.zone_column(z) for z in geo.zone_ids], dtype=np.int64)
        self.lcols = np.array([live.line_column(ln.line_id) for ln in geo.lines], dtype=np.int64)
        staff = [live.zone_col[z] for z in geo.staff_zone_ids]
        self.staff = np.array(staff, dtype=np.int64)
        self.lengths = np.array([ln.length_m for ln in geo.lines], dtype=np.float64)
        # Per line, the side a new arrival comes from (its inward sign) if it is an entrance, else 0.
        self.arrive = np.array([ln.inward if ln.entrance else 0 for ln in geo.lines], dtype=np.int64)
        live.arr.ensure_columns(len(live.zone_names), len(live.line_names))


class _Live:
    """One store's state while the processor runs (StoreState is its snapshot)."""

    def __init__(self) -> None:
        self.arr = K.Arrays()
        self.next_pid = 1
        self.persons: dict[int, _Person] = {}
        self.by_slot: dict[int, _Person] = {}
        self.pending: list[tuple[int, str, int]] = []
        self.committed: dict[str, int] = {}
        self.completions: list[int] = []
        self.runs: dict[tuple[str, str], int] = {}
        self.run_names: list[tuple[str, str]] = []
        self.big: dict[tuple[int, int], int] = {}
        self.cams: dict[str, int] = {}
        self.cam_names: list[str] = []
        self.zone_col: dict[str, int] = {}
        self.zone_names: list[str] = []
        self.line_col: dict[str, int] = {}
        self.line_names: list[str] = []
        self._geo: dict[int, _Geo] = {}

    # -- interning ------------------------------------------------------------------------------------

    def zone_column(self, zone_id: str) -> int:
        if zone_id not in self.zone_col:
            self.zone_col[zone_id] = len(self.zone_names)
            self.zone_names.append(zone_id)
        return self.zone_col[zone_id]

    def line_column(self, line_id: str) -> int:
        if line_id not in self.line_col:
            self.line_col[line_id] = len(self.line_names)
            self.line_names.append(line_id)
        return self.line_col[line_id]

    def camera(self, camera_id: str) -> int:
        if camera_id not in self.cams:
            self.cams[camera_id] = len(self.cam_names)
            self.cam_names.append(camera_id)
        return self.cams[camera_id]

    def run(self, camera_id: str, edge_run_id: str) -> int:
        key = (camera_id, edge_run_id)
        if key not in self.runs:
            self.runs[key] = len(self.run_names)
            self.run_names.append(key)
        return self.runs[key]

    def codes(self, run: npt.NDArray[np.int64], track_id: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Track key codes of (n,) run codes and track ids."""
        codes = (run << _RUN_BITS) | track_id
        for i in np.flatnonzero(track_id >= 1 << _RUN_BITS).tolist():
            codes[i] = self.code(int(run[i]), int(track_id[i]))
        return codes

    def code(self, run: int, track_id: int) -> int:
        if track_id < 1 << _RUN_BITS:
            return (run << _RUN_BITS) | track_id
        return -self.big.setdefault((run, track_id), len(self.big) + 1)

    def key_of(self, code: int) -> tuple[str, str, int]:
        """(camera_id, edge_run_id, track_id) of a key code."""
        if code >= 0:
            camera_id, edge_run_id = self.run_names[code >> _RUN_BITS]
            return camera_id, edge_run_id, code & ((1 << _RUN_BITS) - 1)
        run, track_id = next(k for k, v in self.big.items() if v == -code)
        return *self.run_names[run], track_id

    def key_str(self, code: int) -> str:
        return _track_key(*self.key_of(code))

    def code_of(self, key: str) -> int:
        camera_id, rest = key.split(":", 1)
        edge_run_id, track_id = rest.rsplit(":", 1)
        return self.code(self.run(camera_id, edge_run_id), int(track_id))

    def geo(self, geo: LayoutGeometry) -> _Geo:
        cols = self._geo.get(geo.version)
        if cols is None:
            cols = self._geo[geo.version] = _Geo(self, geo)
        return cols

    # -- people ---------------------------------------------------------------------------------------

    def person_of(self, code: int) -> _Person:
        return self.by_slot[int(self.arr.ti[self.arr.track_slot(code), K.T_PERSON])]

    def map(self, person: _Person, code: int, seen_ns: int) -> None:
        camera_id = self.key_of(code)[0]
        person.keys[code] = self.arr.map_track(code, person.slot, self.camera(camera_id), seen_ns)

    def unmap_all(self, person: _Person) -> None:
        for code in person.keys:
            self.arr.unmap_track(code)
        person.keys.clear()

    def remove(self, person: _Person) -> None:
        del self.persons[person.pid]
        del self.by_slot[person.slot]
        self.unmap_all(person)
        self.arr.free_person(person.slot)

    def held_tracks(self, slots: npt.NDArray[np.int64]) -> list[tuple[int, str, int, int]]:
        """The held tracks in `slots` as (first_ns, track key, key code, held slot), oldest first (ties by
        key): the order they are decided in and snapshotted."""
        hi = self.arr.hi
        rows = []
        for h in slots.tolist():
            code = int(hi[h, K.H_CODE])
            rows.append((int(hi[h, K.H_FIRST]), self.key_str(code), code, h))
        rows.sort()
        return rows

    # -- snapshot -------------------------------------------------------------------------------------

    def to_state(self) -> StoreState:
        arr = self.arr
        persons = {}
        tracks: dict[str, int] = {}
        for pid, p in self.persons.items():
            s = p.slot
            zi, li = arr.zi[s], arr.li[s]
            order = np.flatnonzero(zi[:, K.Z_ORDER] >= 0)
            order = order[np.argsort(zi[order, K.Z_ORDER], kind="stable")]
            zones = {self.zone_names[c]: ZoneHysteresis(bool(zi[c, K.Z_INSIDE]), int(zi[c, K.Z_CAND]),
                                                        int(zi[c, K.Z_OBS])) for c in order.tolist()}  # fmt: skip
            lines = {self.line_names[c]: LineHysteresis(int(li[c, 0]), int(li[c, 1]), int(li[c, 2]))
                     for c in range(len(self.line_names)) if tuple(li[c].tolist()) != _DEFAULT_LINE}  # fmt: skip
            seen_by = {}
            for code in sorted(p.keys):
                key = self.key_str(code)
                seen_by[key] = int(arr.ti[arr.track_slot(code), K.T_SEEN])
                tracks[key] = pid
            persons[pid] = Person(
                pid=pid, camera_id=p.camera_id, edge_run_id=p.edge_run_id, track_id=p.track_id,
                track_key=self.key_str(p.track_key), first_ns=p.first_ns, last_ns=p.last_ns, x_m=p.x_m, y_m=p.y_m,
                layout_version=int(arr.pi[s, K.P_LAYOUT]), staff=p.staff, orphan=p.orphan, staff_ns=p.staff_ns,
                seen_ns=p.seen_ns, visit_start_ns=p.visit_start_ns, group_id=p.group_id,
                group_checks=list(p.group_checks), zones=zones, lines=lines, entered=dict(p.entered),
                counted=list(p.counted), seen_by=seen_by, recent=p.recent(),
            )  # fmt: skip
        held = {}
        for first_ns, key, code, h in self.held_tracks(np.flatnonzero(arr.hi[:, K.H_USED])):
            ts, xy = arr.held_obs(h)
            obs = [(t, x, y) for t, (x, y) in zip(ts.tolist(), xy.tolist(), strict=True)]
            held[key] = PendingTrack(self.key_of(code)[2], first_ns, obs)
        return StoreState(
            next_pid=self.next_pid, persons=persons, tracks=tracks, held=held,
            first_frame_ns=int(arr.sc[K.S_FIRST]), last_frame_ns=int(arr.sc[K.S_LAST]),
            next_tick_ns=int(arr.sc[K.S_NEXT_TICK]), pending=list(self.pending), committed=dict(self.committed),
            completions=list(self.completions),
        )  # fmt: skip

    @classmethod
    def of_state(cls, state: StoreState) -> _Live:
        live = cls()
        arr = live.arr
        live.next_pid = state.next_pid
        for pid, sp in state.persons.items():
            for zone_id in sp.zones:
                live.zone_column(zone_id)
            for line_id in sp.lines:
                live.line_column(line_id)
            arr.ensure_columns(len(live.zone_names), len(live.line_names))
            s = arr.new_person(sp.layout_version)
            arr.pi[s, K.P_PID] = pid
            p = _Person(live, pid, s, sp.camera_id, sp.edge_run_id, sp.track_id, live.code_of(sp.track_key),
                        sp.first_ns)  # fmt: skip
            arr.pi[s, K.P_LAST], arr.pi[s, K.P_SEEN], arr.pi[s, K.P_STAFF] = sp.last_ns, sp.seen_ns, sp.staff_ns
            arr.pf[s] = (sp.x_m, sp.y_m)
            for order, (zone_id, z) in enumerate(sp.zones.items()):
                arr.zi[s, live.zone_col[zone_id]] = (int(z.inside), z.candidate_ns, z.candidate_obs, order)
            arr.pi[s, K.P_ZORDER] = len(sp.zones)
            for line_id, ln in sp.lines.items():
                arr.li[s, live.line_col[line_id]] = (ln.settled, ln.candidate_ns, ln.provisional)
            p.staff, p.orphan, p.visit_start_ns, p.group_id = sp.staff, sp.orphan, sp.visit_start_ns, sp.group_id
            p.group_checks = list(sp.group_checks)
            p.entered, p.counted = dict(sp.entered), list(sp.counted)
            live.persons[pid] = live.by_slot[s] = p
            for key, seen_ns in sp.seen_by.items():
                live.map(p, live.code_of(key), seen_ns)
            arr.set_ring(s, np.array([r[0] for r in sp.recent], dtype=np.int64),
                         np.array([live.camera(r[3]) for r in sp.recent], dtype=np.int64),
                         np.array([r[1:3] for r in sp.recent], dtype=np.float64).reshape(-1, 2))  # fmt: skip
        for key, ht in state.held.items():
            (ts0, x0, y0), *rest = ht.obs
            h = arr.hold(live.code_of(key), ts0, live.camera(key.split(":", 1)[0]), x0, y0)
            arr.hi[h, K.H_FIRST] = ht.first_ns
            for ts, x, y in rest:
                arr.add_held_obs(h, ts, x, y)
        arr.sc[K.S_FIRST], arr.sc[K.S_LAST] = state.first_frame_ns, state.last_frame_ns
        arr.sc[K.S_NEXT_TICK] = state.next_tick_ns
        arr.sc[K.S_GROUP_DUE] = min((at for p in live.persons.values() for _, at in p.group_checks), default=_NEVER)
        live.pending, live.committed = list(state.pending), dict(state.committed)
        live.completions = list(state.completions)
        return live


_NEVER = np.iinfo(np.int64).max


class ZoneProcessor:
    """Folds FF_TRACKS into zone, line, visit, queue and occupancy events (no tables)."""

    name = "zones"
    version = VERSION
    stream = "FF_TRACKS"
    filter_subject: str | None = None
    emits_events = True  # its output feeds other projections: `footfall project` runs it first
    emits_to = "FF_DERIVED"  # catching up, FF_DERIVED's readers wait for it

    def __init__(self, config: ZoneProcessorConfig | None = None) -> None:
        self.config = config or ZoneProcessorConfig()
        self._live: dict[str, _Live] = {}
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
        # A track unseen this long is over: a person seen by it alone would have been lost, and no held
        # track's fusion check (within the horizon) can still see it. Its entry in its person's tracks
        # is dropped, so a person seen all day (staff, through id switches) keeps only its live tracks.
        self._track_over_ns = max(self._lost_ns, self._horizon_ns)
        # A person whose every sighting is farther than the gate plus the walk allowed (approach_m) from
        # every held observation is no fusion candidate either way (every pair far, no approach in the gate).
        self._margin_m = c.fusion_gate_m + c.stitch_speed_m_s * max(self._defer_ns, self._skew_ns) / 1e9
        self._fp = np.array([c.line_min_displacement_m, c.line_end_margin_m, c.fusion_gate_m, c.stitch_speed_m_s,
                             self._margin_m, c.arrival_band_m, c.stitch_max_dist_m], dtype=np.float64)  # fmt: skip

    def table_ddl(self) -> dict[str, str]:
        return {}

    def reset(self) -> None:
        self._live = {}

    def snapshot(self) -> bytes:
        state = ProcessorState({store_id: live.to_state() for store_id, live in self._live.items()})
        return _encoder.encode(state)

    def restore(self, data: bytes) -> None:
        state = _decoder.decode(data)
        self._live = {store_id: _Live.of_state(st) for store_id, st in state.stores.items()}

    def fold(self, events: list[SeqEvent], layouts: dict[str, LayoutHistory]) -> FoldResult:
        return self.fold_tracks(TrackBatch.from_events(events), layouts)

    def fold_tracks(self, batch: TrackBatch, layouts: dict[str, LayoutHistory]) -> FoldResult:
        # TrackClosed needs nothing: the person may go on as a stitched track; loss is decided by lost_after_s.
        rejected = [Rejected(o.stream_seq, f"zones cannot fold {type(o.event).__name__}") for o in batch.other]
        out: list[Event] = []
        cols = batch.columns
        n_frames = len(cols.ts_ns)
        if n_frames:
            store_codes, stores = cols.frame_codes("store_id")
            versions = np.zeros(n_frames, dtype=np.int64)
            for k, (store_id,) in enumerate(stores):
                history = layouts.get(store_id)
                if history is not None:
                    mine = store_codes == k
                    versions[mine] = history.versions_at(cols.ts_ns[mine])
            rows = np.searchsorted(cols.frame, np.arange(n_frames + 1))
            cuts = np.flatnonzero((np.diff(store_codes) != 0) | (np.diff(versions) != 0)) + 1
            bounds = [0, *cuts.tolist(), n_frames]
            for a, b in itertools.pairwise(bounds):
                store_id = stores[store_codes[a]][0]
                _Run(self, store_id, layouts.get(store_id), cols, a, b, rows, out).fold()
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

    def live(self, store_id: str) -> _Live:
        live = self._live.get(store_id)
        if live is None:
            live = self._live[store_id] = _Live()
        return live


class _Run:
    """Folds frames a..b of a batch, all of one store under one layout version, through the kernel."""

    def __init__(  # noqa: PLR0917 - private, few callers
        self, proc: ZoneProcessor, store_id: str, history: LayoutHistory | None, cols: TrackColumns,
                 a: int, b: int, rows: npt.NDArray[np.int64], out: list[Event]) -> None:  # fmt: skip
        self.p, self.store_id, self.history, self.cols, self.a, self.b, self.out = (
            proc,
            store_id,
            history,
            cols,
            a,
            b,
            out,
        )
        self.live = proc.live(store_id)
        self.geo = proc.geometry(store_id, history, int(cols.ts_ns[a]))
        self.r0, self.r1 = int(rows[a]), int(rows[b])
        self.off = rows[a : b + 1] - self.r0

    def fold(self) -> None:
        if self.geo is None:
            for f in range(self.a, self.b):
                _Frame(self, f).run_without_layout()
            return
        live, geo, cols, p, c = self.live, self.geo, self.cols, self.p, self.p.config
        g = live.geo(geo)
        r0, r1 = self.r0, self.r1
        self.xs, self.ys = cols.x_m[r0:r1], cols.y_m[r0:r1]
        points = np.column_stack([self.xs, self.ys])
        self.inside = np.ascontiguousarray(geo.inside(points))
        self.dist, self.along = geo.line_positions(points)
        frames = range(self.a, self.b)
        fcam = np.array([live.camera(cols.camera_id[f]) for f in frames], dtype=np.int64)
        frun = np.array([live.run(cols.camera_id[f], cols.edge_run_id[f]) for f in frames], dtype=np.int64)
        self.codes = live.codes(frun[cols.frame[r0:r1] - self.a], cols.track_id[r0:r1])
        ts_f = cols.ts_ns[self.a : self.b]
        self.ip = ip = np.array([c.enter_observations, c.exit_observations, p._min_ns, p._horizon_ns,
                                 p._lost_ns, p._defer_ns, p._delay_ns, geo.version, p._hold_ns, p._skew_ns,
                                 c.fusion_min_observations, p._stitch_ns],
                                dtype=np.int64)  # fmt: skip
        # The kernels' outputs (crossings or zone changes of one observation); Python copies them out at once.
        self.buf = buf = np.zeros((max(len(geo.zone_ids), len(geo.lines), 1), 3), dtype=np.int64)
        f = i = 0
        while True:
            arr = live.arr
            stop, f, i, n = K.fold_run(f, i, ts_f, self.off, fcam, self.codes, self.xs, self.ys, self.inside,
                                       self.dist, self.along, arr.tracks, arr.held, arr.pi, arr.pf, arr.zi, arr.li,
                                       arr.rt, arr.rc, arr.rxy, arr.ti, arr.hi, arr.hts, arr.hxy, arr.sc, g.zcols,
                                       g.staff, g.lcols, g.lengths, g.arrive, ip, p._fp, buf)  # fmt: skip
            if stop == K.DONE:
                return
            if stop == K.GROW_RING:
                arr.grow_ring()
                continue
            if stop == K.GROW_HELD:
                arr.grow_held_obs()
                continue
            if stop == K.GROW_HELD_SLOTS:
                arr.grow_held_slots()
                continue
            frame = _Frame(self, self.a + f)
            if stop == K.FRAME:
                frame.run_end()
                f += 1
                i = int(self.off[f])
                continue
            if stop == K.NEW_TRACK:
                frame.new_track(i)
            elif stop == K.CROSSED:
                person = live.person_of(int(self.codes[i]))
                frame.crossings(person, buf[:n].copy())
                frame.step_zones(person, self.inside[i])
            elif stop == K.ZONES:
                frame.zone_changes(live.person_of(int(self.codes[i])), buf[:n].copy())
            elif stop == K.LAYOUT:
                frame.update(live.person_of(int(self.codes[i])), i)
            i += 1


class _Frame:
    """What Python does at one frame: rare changes, held tracks, groups, losses and samples."""

    def __init__(self, run: _Run, f: int) -> None:
        self.run, self.p, self.c, self.live = run, run.p, run.p.config, run.live
        self.geo, self.history, self.out = run.geo, run.history, run.out
        cols = run.cols
        self.ts = int(cols.ts_ns[f])
        self.store_id = run.store_id
        self.camera_id = cols.camera_id[f]
        self.source = f"{self.camera_id}:{cols.edge_run_id[f]}:{int(cols.frame_seq[f])}"  # the frame's event_id
        self.g = self.live.geo(self.geo) if self.geo is not None else None

    # -- event helpers ---------------------------------------------------------------------------

    def _common(self, person: _Person) -> dict[str, object]:
        layout_version = int(self.live.arr.pi[person.slot, K.P_LAYOUT])
        return {
            "store_id": self.store_id, "camera_id": person.camera_id, "edge_run_id": person.edge_run_id,
            "track_id": person.track_id, "layout_version": layout_version,
            "processor_version": _processor_version(layout_version), "source_event_id": self.source,
        }  # fmt: skip

    def _delta(self, at_ns: int, key: str, delta: int) -> None:
        self.live.pending.append((at_ns, key, delta))

    def _customer(self, person: _Person) -> bool:
        return not (self.c.exclude_staff and person.staff)

    def _counts(self, person: _Person) -> bool:
        return self._customer(person) and (person.visit_start_ns >= 0 or person.orphan)

    # -- the frame ---------------------------------------------------------------------------------

    def run_end(self) -> None:
        """The frame's steps after its observations (which the kernel has folded)."""
        prev_frame_ns = int(self.live.arr.sc[K.S_LAST])
        self._resolve_held()
        self._end(prev_frame_ns)

    def run_without_layout(self) -> None:
        sc = self.live.arr.sc
        prev_frame_ns = int(sc[K.S_LAST])
        if sc[K.S_FIRST] < 0:
            sc[K.S_FIRST] = self.ts
        self._end(prev_frame_ns)

    def _end(self, prev_frame_ns: int) -> None:
        self._check_groups()
        self._finalize_lost()
        sc = self.live.arr.sc
        sc[K.S_LAST] = max(int(sc[K.S_LAST]), self.ts)
        self._emit_ticks(prev_frame_ns)

    def new_track(self, i: int) -> None:
        """Row i is a track neither mapped nor held that arrives through an entrance (kernel._arriving): a new
        person. Any other new track the kernel holds until it can be decided (_resolve_held)."""
        run = self.run
        track_id = int(run.cols.track_id[run.r0 + i])
        person = self._new_person(int(run.codes[i]), track_id, float(run.xs[i]), float(run.ys[i]), self.ts)
        self.update(person, i)

    def update(self, person: _Person, i: int) -> None:
        run = self.run
        self._update(person, float(run.xs[i]), float(run.ys[i]), run.inside[i], run.dist[i], run.along[i],
                     self.live.camera(self.camera_id))  # fmt: skip

    def _resolve_held(self) -> None:
        """Match held tracks that have waited long enough, and replay their observations."""
        live, geo = self.live, self.geo
        assert geo is not None
        now = self.ts
        for first_ns, _, code, h in live.held_tracks(K.due_held(live.arr.hi, now, self.p._defer_ns)):
            arr = live.arr
            decision, slot = K.decide_held(arr.pi, arr.pf, arr.rt, arr.rc, arr.rxy, arr.ti, arr.hi, arr.hts, arr.hxy,
                                           h, now, self.run.ip, self.p._fp)  # fmt: skip
            if decision == K.WAIT:
                continue  # another camera's person may be this one: decide on more pairs
            camera = int(arr.hi[h, K.H_CAM])
            obs_ts, obs_xy = arr.held_obs(h)
            arr.release(code)
            x0, y0 = float(obs_xy[0, 0]), float(obs_xy[0, 1])
            person = live.by_slot[slot] if decision in {K.FUSED, K.STITCHED} else None
            if person is not None:
                if decision == K.STITCHED:
                    live.unmap_all(person)  # lost: its old tracks are over
                person.track_key = code
                live.map(person, code, int(obs_ts[-1]))
            else:
                person = self._new_person(code, live.key_of(code)[2], x0, y0, first_ns)
                raw = geo.inside(obs_xy[:1])[0]
                if any(raw[k] and kind is ZoneKind.STAFF for k, kind in enumerate(geo.kinds)):
                    person.staff = True
                    self._start_visit(person, first_ns)
                else:
                    person.orphan = True
                    if self._customer(person):
                        person.counted.append(STORE_KEY)
                        self._delta(first_ns, STORE_KEY, +1)
            self._replay(person, camera, obs_ts, obs_xy)
            self.ts = now

    def _replay(self, person: _Person, camera: int, obs_ts: npt.NDArray[np.int64],
                obs_xy: npt.NDArray[np.float64]) -> None:  # fmt: skip
        """A released held track's observations ((m,) ts_ns, (m, 2) metres of camera code `camera`) folded into
        person, each at its own time: changes are dated as if the track had not been held."""
        geo, g, live = self.geo, self.g, self.live
        assert geo is not None and g is not None
        inside = geo.inside(obs_xy)
        dist, along = geo.line_positions(obs_xy)
        p, ip = self.p, self.run.ip
        buf = self.run.buf
        k = 0
        while True:
            arr = live.arr
            stop, k, n = K.replay(k, obs_ts, obs_xy, inside, dist, along, person.slot, camera, arr.pi, arr.pf,
                                  arr.zi, arr.li, arr.rt, arr.rc, arr.rxy, g.zcols, g.staff, g.lcols, g.lengths, ip,
                                  p._fp, buf)  # fmt: skip
            if stop == K.DONE:
                return
            self.ts = int(obs_ts[k])
            if stop == K.GROW_RING:
                arr.grow_ring()
                continue
            if stop == K.CROSSED:
                self.crossings(person, buf[:n].copy())
                self.step_zones(person, inside[k])
            elif stop == K.ZONES:
                self.zone_changes(person, buf[:n].copy())
            elif stop == K.LAYOUT:
                self._update(person, float(obs_xy[k, 0]), float(obs_xy[k, 1]), inside[k], dist[k], along[k], camera)
            k += 1

    def _new_person(self, code: int, track_id: int, x: float, y: float, first_ns: int) -> _Person:
        live, geo = self.live, self.geo
        assert geo is not None
        camera_id, edge_run_id, _ = live.key_of(code)
        slot = live.arr.new_person(geo.version)
        live.arr.pf[slot] = (x, y)
        live.arr.pi[slot, K.P_PID] = live.next_pid
        person = _Person(live, live.next_pid, slot, camera_id, edge_run_id, track_id, code, first_ns)
        live.next_pid += 1
        live.persons[person.pid] = live.by_slot[slot] = person
        live.map(person, code, first_ns)
        return person

    def _update(  # noqa: PLR0917 - private, one caller
        self, person: _Person, x: float, y: float, inside: np.ndarray, dist: np.ndarray, along: np.ndarray,
        camera: int,
    ) -> None:  # fmt: skip
        """One observation of a person (what the kernel does for a known track, with the rare steps here)."""
        geo, g, arr, s = self.geo, self.g, self.live.arr, person.slot
        assert geo is not None and g is not None
        go = K.check(arr.pi, s, self.ts, geo.version)
        if go == 0:
            return  # another camera already saw the person at this time (or later): one observation per time
        if go == 2:
            self._change_layout(person, geo.version)
        while not K.advance(arr.pi, arr.pf, arr.zi, arr.rt, arr.rc, arr.rxy, s, self.ts, x, y, camera, g.staff,
                            self.p._horizon_ns):  # fmt: skip
            arr.grow_ring()
        buf = np.zeros((max(len(geo.zone_ids), len(geo.lines), 1), 3), dtype=np.int64)
        n = K.lines(arr.li, s, dist, along, g.lcols, g.lengths, self.ts, self.c.line_min_displacement_m,
                    self.c.line_end_margin_m, buf)  # fmt: skip
        self.crossings(person, buf[:n].copy())
        self.step_zones(person, inside)

    def step_zones(self, person: _Person, inside: np.ndarray) -> None:
        geo, g, arr = self.geo, self.g, self.live.arr
        assert geo is not None and g is not None
        buf = np.zeros((max(len(geo.zone_ids), 1), 3), dtype=np.int64)
        n = K.zones(arr.zi, arr.pi, person.slot, inside, g.zcols, self.ts, self.c.enter_observations,
                    self.c.exit_observations, self.p._min_ns, buf)  # fmt: skip
        self.zone_changes(person, buf[:n].copy())

    def crossings(self, person: _Person, rows: npt.NDArray[np.int64]) -> None:
        """Line crossings (line index, side, at) of one observation, in line order."""
        assert self.geo is not None
        for j, side, at in rows.tolist():
            line = self.geo.lines[j]
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

    def zone_changes(self, person: _Person, rows: npt.NDArray[np.int64]) -> None:
        """Confirmed zone changes (zone index, inside, at) of one observation, in zone order."""
        assert self.geo is not None
        for k, raw, at in rows.tolist():
            zone_id = self.geo.zone_ids[k]
            if raw:
                self._enter(person, zone_id, at)
            else:
                self._exit(person, zone_id, self.geo.kinds[k], at)

    # -- zone and visit transitions --------------------------------------------------------------

    def _enter(self, person: _Person, zone_id: str, at: int) -> None:
        if person.visit_start_ns >= 0 and zone_id not in person.entered:
            person.entered[zone_id] = at
            self.out.append(ZoneEntered(ts_ns=at, zone_id=zone_id, **self._common(person)))  # type: ignore[arg-type]
        if self._counts(person) and zone_id not in person.counted:
            person.counted.append(zone_id)
            self._delta(at, zone_id, +1)

    def _exit(self, person: _Person, zone_id: str, kind: ZoneKind, at: int) -> None:
        if self._leave(person, zone_id, at) and kind is ZoneKind.CHECKOUT:
            self.live.completions.append(at)

    def _leave(self, person: _Person, zone_id: str, at: int) -> bool:
        """Emit ZoneExited if the zone was entered in this visit, and stop counting the person in it."""
        entered = person.entered.pop(zone_id, None)
        if entered is not None:
            self.out.append(ZoneExited(ts_ns=at, zone_id=zone_id, entered_ts_ns=entered,
                                       **self._common(person)))  # type: ignore[arg-type]  # fmt: skip
        return self._uncount(person, zone_id, at)

    def _uncount(self, person: _Person, key: str, at: int) -> bool:
        """Stop counting the person in sample key `key` (a zone id or STORE_KEY) at `at`; False if not counted."""
        if key not in person.counted:
            return False
        person.counted.remove(key)
        self._delta(at, key, -1)
        return True

    def _close_zones(self, person: _Person, at: int) -> None:
        """Close every open zone at `at`, or earlier where the person was already seen leaving it."""
        for zone_id in sorted(set(person.entered) | {z for z in person.counted if z != STORE_KEY}):
            state = person.zone_state(zone_id)
            leave = at
            if state is not None and state[0] and 0 <= state[1] < at:
                leave = state[1]
            self._leave(person, zone_id, leave)

    def _start_visit(self, person: _Person, at: int) -> None:
        person.visit_start_ns = at
        if self._customer(person) and STORE_KEY not in person.counted:
            person.counted.append(STORE_KEY)
            self._delta(at, STORE_KEY, +1)
        for zone_id in person.zones_inside():
            self._enter(person, zone_id, at)
        if person.staff:
            return
        x, y = person.x_m, person.y_m
        for other in self.live.persons.values():
            if (
                other.pid != person.pid
                and other.visit_start_ns >= 0
                and not other.staff
                and at - other.visit_start_ns <= self.p._group_window_ns
                and math.hypot(other.x_m - x, other.y_m - y) <= self.c.group_radius_m
            ):
                check_at = at + self.p._group_confirm_ns
                person.group_checks.append((other.pid, check_at))
                sc = self.live.arr.sc
                sc[K.S_GROUP_DUE] = min(int(sc[K.S_GROUP_DUE]), check_at)

    def _end_visit(self, person: _Person, at: int) -> None:
        self._close_zones(person, at)
        self._uncount(person, STORE_KEY, at)
        staff = person.staff or (person.seen_ns > 0 and person.staff_ns >= self.c.staff_fraction * person.seen_ns)
        self.out.append(VisitEnded(ts_ns=at, started_ts_ns=person.visit_start_ns, is_staff=staff,
                                   group_id=person.group_id, **self._common(person)))  # type: ignore[arg-type]  # fmt: skip
        person.visit_start_ns = -1
        person.group_checks.clear()

    def _drop_orphan(self, person: _Person, at: int) -> None:
        person.orphan = False
        self._uncount(person, STORE_KEY, at)

    def _change_layout(self, person: _Person, version: int) -> None:
        self._close_zones(person, self.ts)
        arr = self.live.arr
        arr.clear_zones(person.slot)
        arr.clear_lines(person.slot)
        arr.pi[person.slot, K.P_ZORDER] = 0
        arr.pi[person.slot, K.P_LAYOUT] = version

    def _check_groups(self) -> None:
        if self.live.arr.sc[K.S_GROUP_DUE] > self.ts:
            return  # no check is due (S_GROUP_DUE is at or before the earliest): the loop would keep them all
        persons = self.live.persons
        due = _NEVER
        for person in persons.values():
            if not person.group_checks:
                continue
            keep = []
            for other_pid, check_at in person.group_checks:
                if check_at > self.ts:
                    keep.append((other_pid, check_at))
                    due = min(due, check_at)
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
        self.live.arr.sc[K.S_GROUP_DUE] = due

    def _finalize_lost(self) -> None:
        live, arr = self.live, self.live.arr
        slots = K.lost_slots(arr.pi, self.ts, self.p._lost_ns)
        if not len(slots):
            return
        lost = sorted((live.by_slot[s] for s in slots.tolist()), key=lambda p: p.pid)
        for person in lost:
            if person.visit_start_ns >= 0:
                self._end_visit(person, person.last_ns)
            else:
                self._close_zones(person, person.last_ns)
                self._uncount(person, STORE_KEY, person.last_ns)
            live.remove(person)

    def _drop_ended_tracks(self) -> None:
        """Unmap the tracks unseen for track_over_ns from their (still present) persons."""
        live, ti = self.live, self.live.arr.ti
        stale = (ti[:, K.T_PERSON] >= 0) & (ti[:, K.T_SEEN] < self.ts - self.p._track_over_ns)
        if not stale.any():
            return
        for slot in np.unique(ti[stale, K.T_PERSON]).tolist():
            person = live.by_slot[slot]
            for code, t in list(person.keys.items()):
                if stale[t]:
                    live.arr.unmap_track(code)
                    del person.keys[code]

    # -- samples ---------------------------------------------------------------------------------

    def _emit_ticks(self, prev_frame_ns: int) -> None:
        sc, tick = self.live.arr.sc, self.p._tick_ns
        if sc[K.S_NEXT_TICK] < 0:
            sc[K.S_NEXT_TICK] = -(-self.ts // tick) * tick
        while sc[K.S_NEXT_TICK] + self.p._delay_ns < self.ts:
            next_tick = int(sc[K.S_NEXT_TICK])
            if prev_frame_ns >= 0 and next_tick <= prev_frame_ns + self.p._stale_ns:
                self._sample(next_tick)
                sc[K.S_NEXT_TICK] = next_tick + tick
                over = self.p._track_over_ns
                if next_tick // over > (next_tick - tick) // over:
                    # About once per track_over_ns, at a tick: the kernel hands every tick's frame to
                    # Python, so where this happens is fixed by the frame times, not by batches.
                    self._drop_ended_tracks()
            else:  # no frames near these ticks (the store was dark): nothing to sample
                sc[K.S_NEXT_TICK] = -(-(self.ts - self.p._delay_ns) // tick) * tick
                break

    def _sample(self, tick_ns: int) -> None:
        live = self.live
        due = sorted(d for d in live.pending if d[0] <= tick_ns)
        if due:
            live.pending = [d for d in live.pending if d[0] > tick_ns]
            for _, key, delta in due:
                live.committed[key] = live.committed.get(key, 0) + delta
        live.completions = [t for t in live.completions if t > tick_ns - self.p._window_ns]
        geo = self.p.geometry(self.store_id, self.history, tick_ns)
        if geo is None:
            return
        pv = _processor_version(geo.version)
        store_id = self.store_id
        done = sum(1 for t in live.completions if t <= tick_ns)
        span_ns = min(self.p._window_ns, tick_ns - int(live.arr.sc[K.S_FIRST]))
        for zone_id, kind in zip(geo.zone_ids, geo.kinds, strict=True):
            people = max(0, live.committed.get(zone_id, 0))
            if kind is ZoneKind.QUEUE:
                wait = people * (span_ns / 1e9) / done if done and span_ns > 0 else 0.0
                self.out.append(QueueSampled(store_id=store_id, ts_ns=tick_ns, zone_id=zone_id, queue_length=people,
                                             est_wait_s=round(wait, 3), layout_version=geo.version,
                                             processor_version=pv))  # fmt: skip
            self.out.append(OccupancySampled(store_id=store_id, ts_ns=tick_ns, zone_id=zone_id, people=people,
                                             layout_version=geo.version, processor_version=pv))  # fmt: skip
        self.out.append(OccupancySampled(store_id=store_id, ts_ns=tick_ns, zone_id=None,
                                         people=max(0, live.committed.get(STORE_KEY, 0)), layout_version=geo.version,
                                         processor_version=pv))  # fmt: skip


def _group_id(person: _Person) -> str:
    seed = f"{person.camera_id}:{person.edge_run_id}:{person.track_id}:{person.visit_start_ns}".encode()
    return "g" + hashlib.blake2b(seed, digest_size=8).hexdigest()
