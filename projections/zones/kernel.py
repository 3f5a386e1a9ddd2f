"""The zone processor's hot path, compiled: one store's people as arrays and the fold of their observations.

The processor (projections/zones/processor.py) keeps in Python only what changes rarely: who a person is,
their visit, zones entered, counts, groups. Everything an observation of a known track touches lives here
as arrays indexed by a person's slot, so `fold_run` walks a batch's observations in log order without
Python and returns only where Python must act: a track it does not know, a line crossed, a zone entered
or left, a person on an older layout, an array to grow, or a frame after which something is due (a held
track to decide, a group to check, a person lost, a sample tick). Conservative returns are harmless:
Python then runs exactly the steps the processor has always run.

Layout per person slot s:
  pi[s, P_*]          int64: alive, last_ns, seen_ns, staff_ns, layout version, next zone order, ring head/len
  pf[s, 0:2]          float64: last floor x, y (metres)
  zi[s, c, Z_*]       int64: zone column c's hysteresis (inside, candidate_ns, candidate_obs) and order (-1 absent)
  li[s, c, L_*]       int64: line column c's hysteresis (settled, candidate_ns, provisional)
  rt, rc, rxy [s, r]  the ring of recent sightings: ts_ns, camera code, floor x, y (metres)
Zone and line columns are a store's zone and line ids across layout versions. Per track slot t (a mapped
track of a person): ti[t, T_*] the person slot, when it was last seen (ts_ns), its camera code. Per held
track slot h: hi[h, H_*] (used, first_ns, observations, camera code, track key code) and its observations
hts[h, :], hxy[h, :]. A new track that is not arriving through an entrance is held by fold_run itself.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import njit, types
from numba.typed import Dict

from projections.zones.fusion import same_person

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

NO = np.iinfo(np.int64).min  # "no time": a step that changed nothing

P_ALIVE, P_LAST, P_SEEN, P_STAFF, P_LAYOUT, P_ZORDER, P_RHEAD, P_RLEN, P_PID = range(9)
N_P = 9
Z_INSIDE, Z_CAND, Z_OBS, Z_ORDER = range(4)
N_Z = 4
L_SETTLED, L_CAND, L_PROV = range(3)
N_L = 3
T_PERSON, T_SEEN, T_CAM = range(3)
N_T = 3
H_USED, H_FIRST, H_LEN, H_CAM, H_CODE = range(5)
N_H = 5
S_FIRST, S_LAST, S_NEXT_TICK, S_GROUP_DUE = range(4)
N_S = 4
# Integer parameters (ip) and float parameters (fp) of a run.
(I_NEED_IN, I_NEED_OUT, I_MIN_NS, I_HORIZON_NS, I_LOST_NS, I_DEFER_NS, I_DELAY_NS, I_VERSION, I_HOLD_NS, I_SKEW_NS,
 I_MIN_PAIRS, I_STITCH_NS) = range(12)  # fmt: skip
N_I = 12
F_MIN_DISP, F_END_MARGIN, F_GATE_M, F_SPEED_M_S, F_MARGIN_M, F_BAND_M, F_STITCH_M = range(7)
N_F = 7

# What fold_run stopped for.
DONE, NEW_TRACK, CROSSED, ZONES, LAYOUT, GROW_RING, GROW_HELD, FRAME, GROW_HELD_SLOTS = range(9)
# What decide_held made of a held track.
WAIT, FUSED, STITCHED, FOUNDED = range(4)


# Typed-dict operations called from the interpreter compile anew in every process (seconds of start-up
# inside the first batch); through these cached kernels they load from numba's cache instead.
@njit(cache=True)
def key_map() -> Dict:
    """A typed dict int64 -> int64, the kind fold_run looks track keys up in."""
    return Dict.empty(key_type=types.int64, value_type=types.int64)


@njit(cache=True)
def _put(d: Dict, key: int, value: int) -> None:
    d[key] = value


@njit(cache=True)
def _get(d: Dict, key: int) -> int:
    return d[key]


# The slot operations Python calls on every new, held, released or ended track: each compiled call costs
# a microsecond where numpy's search for a free slot and a typed-dict call cost tens.
@njit(cache=True)
def _map_track(ti: IntArray, tracks: Dict, code: int, s: int, cam: int, seen_ns: int) -> int:  # noqa: PLR0917
    """Map track key `code` to person slot s in the first free track slot; that slot, or -1 if none is free."""
    for t in range(len(ti)):
        if ti[t, T_PERSON] < 0:
            ti[t, T_PERSON], ti[t, T_SEEN], ti[t, T_CAM] = s, seen_ns, cam
            tracks[code] = t
            return t
    return -1


@njit(cache=True)
def _unmap_track(ti: IntArray, tracks: Dict, code: int) -> None:
    t = tracks[code]
    del tracks[code]
    ti[t, T_PERSON] = -1


@njit(cache=True)
def _release(hi: IntArray, held: Dict, code: int) -> None:
    h = held[code]
    del held[code]
    hi[h] = 0


@njit(cache=True)
def due_held(hi: IntArray, ts: int, defer_ns: int) -> IntArray:
    """The held slots whose track appeared defer_ns or more before ts."""
    out = np.empty(len(hi), np.int64)
    n = 0
    for h in range(len(hi)):
        if hi[h, H_USED] and ts - hi[h, H_FIRST] >= defer_ns:
            out[n] = h
            n += 1
    return out[:n]


@njit(cache=True)
def lost_slots(pi: IntArray, ts: int, lost_ns: int) -> IntArray:
    """The live person slots last seen more than lost_ns before ts."""
    out = np.empty(len(pi), np.int64)
    n = 0
    for s in range(len(pi)):
        if pi[s, P_ALIVE] and pi[s, P_LAST] >= 0 and ts - pi[s, P_LAST] > lost_ns:
            out[n] = s
            n += 1
    return out[:n]


class Arrays:
    """One store's arrays (see the module docstring), grown by doubling; slots are reused once freed."""

    def __init__(self, zones: int = 8, lines: int = 4) -> None:
        self.pi = np.zeros((0, N_P), dtype=np.int64)
        self.pf = np.zeros((0, 2))
        self.zi = np.zeros((0, zones, N_Z), dtype=np.int64)
        self.li = np.zeros((0, lines, N_L), dtype=np.int64)
        self.rt = np.zeros((0, 64), dtype=np.int64)
        self.rc = np.zeros((0, 64), dtype=np.int64)
        self.rxy = np.zeros((0, 64, 2))
        self.ti = np.zeros((0, N_T), dtype=np.int64)
        self.hi = np.zeros((0, N_H), dtype=np.int64)
        self.hts = np.zeros((0, 64), dtype=np.int64)
        self.hxy = np.zeros((0, 64, 2))
        self.sc = np.array([-1, -1, -1, np.iinfo(np.int64).max], dtype=np.int64)
        self.tracks = key_map()  # track key code -> track slot
        self.held = key_map()  # held track key code -> held slot
        self._grow_persons(64)
        self._grow_tracks(128)
        self._grow_held(16)

    # -- slots ---------------------------------------------------------------------------------------

    def new_person(self, layout_version: int) -> int:
        free = np.flatnonzero(self.pi[:, P_ALIVE] == 0)
        if not len(free):
            self._grow_persons(2 * len(self.pi))
            free = np.flatnonzero(self.pi[:, P_ALIVE] == 0)
        s = int(free[0])
        self.pi[s] = 0
        self.pi[s, P_ALIVE], self.pi[s, P_LAST], self.pi[s, P_LAYOUT] = 1, -1, layout_version
        self.pf[s] = 0.0
        self.clear_zones(s)
        self.clear_lines(s)
        return s

    def free_person(self, s: int) -> None:
        self.pi[s, P_ALIVE] = 0

    def clear_zones(self, s: int) -> None:
        self.zi[s] = (0, -1, 0, -1)

    def clear_lines(self, s: int) -> None:
        self.li[s] = (0, -1, 0)

    def map_track(self, code: int, s: int, cam: int, seen_ns: int) -> int:
        t = _map_track(self.ti, self.tracks, code, s, cam, seen_ns)
        if t < 0:
            self._grow_tracks(2 * len(self.ti))
            t = _map_track(self.ti, self.tracks, code, s, cam, seen_ns)
        return int(t)

    def unmap_track(self, code: int) -> None:
        _unmap_track(self.ti, self.tracks, code)

    def track_slot(self, code: int) -> int:
        return int(_get(self.tracks, code))

    def hold(self, code: int, first_ns: int, cam: int, x: float, y: float) -> int:
        """Hold track `code` with its first observation (at first_ns, floor metres x, y), as fold_run does."""
        while not _hold(self.held, self.hi, self.hts, self.hxy, code, first_ns, cam, x, y):
            self.grow_held_slots()
        return int(_get(self.held, code))

    def grow_held_slots(self) -> None:
        self._grow_held(2 * len(self.hi))

    def release(self, code: int) -> None:
        _release(self.hi, self.held, code)

    def held_obs(self, h: int) -> tuple[IntArray, FloatArray]:
        """(k,) ts_ns and (k, 2) floor metres of held slot h, in order."""
        n = int(self.hi[h, H_LEN])
        return self.hts[h, :n].copy(), self.hxy[h, :n].copy()

    def add_held_obs(self, h: int, ts_ns: int, x: float, y: float) -> None:
        n = int(self.hi[h, H_LEN])
        if n == self.hts.shape[1]:
            self.grow_held_obs()
        self.hts[h, n], self.hxy[h, n] = ts_ns, (x, y)
        self.hi[h, H_LEN] = n + 1

    def ring(self, s: int) -> tuple[IntArray, IntArray, FloatArray]:
        """Person slot s's recent sightings in order: (k,) ts_ns, (k,) camera codes, (k, 2) floor metres."""
        head, n = int(self.pi[s, P_RHEAD]), int(self.pi[s, P_RLEN])
        idx = (head + np.arange(n)) % self.rt.shape[1]
        return self.rt[s, idx], self.rc[s, idx], self.rxy[s, idx]

    def set_ring(self, s: int, ts: IntArray, cams: IntArray, xy: FloatArray) -> None:
        while len(ts) >= self.rt.shape[1]:
            self.grow_ring()
        n = len(ts)
        self.rt[s, :n], self.rc[s, :n], self.rxy[s, :n] = ts, cams, xy
        self.pi[s, P_RHEAD], self.pi[s, P_RLEN] = 0, n

    # -- growth --------------------------------------------------------------------------------------

    def ensure_columns(self, zones: int, lines: int) -> None:
        if zones > self.zi.shape[1]:
            extra = np.zeros((len(self.zi), zones - self.zi.shape[1], N_Z), dtype=np.int64)
            extra[:] = (0, -1, 0, -1)
            self.zi = np.concatenate([self.zi, extra], axis=1)
        if lines > self.li.shape[1]:
            extra = np.zeros((len(self.li), lines - self.li.shape[1], N_L), dtype=np.int64)
            extra[:] = (0, -1, 0)
            self.li = np.concatenate([self.li, extra], axis=1)

    def grow_ring(self) -> None:
        """Double the ring's length, each person's sightings unrolled to start at 0."""
        size = self.rt.shape[1]
        rt = np.zeros((len(self.rt), 2 * size), np.int64)
        rc = np.zeros((len(self.rt), 2 * size), np.int64)
        rxy = np.zeros((len(self.rt), 2 * size, 2))
        for s in np.flatnonzero(self.pi[:, P_ALIVE]).tolist():
            ts, cams, xy = self.ring(s)
            rt[s, : len(ts)], rc[s, : len(ts)], rxy[s, : len(ts)] = ts, cams, xy
            self.pi[s, P_RHEAD] = 0
        self.rt, self.rc, self.rxy = rt, rc, rxy

    def grow_held_obs(self) -> None:
        size = self.hts.shape[1]
        self.hts = np.concatenate([self.hts, np.zeros((len(self.hts), size), np.int64)], axis=1)
        self.hxy = np.concatenate([self.hxy, np.zeros((len(self.hxy), size, 2))], axis=1)

    def _grow_persons(self, n: int) -> None:
        add = n - len(self.pi)
        self.pi = np.concatenate([self.pi, np.zeros((add, N_P), np.int64)])
        self.pf = np.concatenate([self.pf, np.zeros((add, 2))])
        zi = np.zeros((add, self.zi.shape[1], N_Z), np.int64)
        zi[:] = (0, -1, 0, -1)
        self.zi = np.concatenate([self.zi, zi])
        li = np.zeros((add, self.li.shape[1], N_L), np.int64)
        li[:] = (0, -1, 0)
        self.li = np.concatenate([self.li, li])
        self.rt = np.concatenate([self.rt, np.zeros((add, self.rt.shape[1]), np.int64)])
        self.rc = np.concatenate([self.rc, np.zeros((add, self.rc.shape[1]), np.int64)])
        self.rxy = np.concatenate([self.rxy, np.zeros((add, self.rxy.shape[1], 2))])

    def _grow_tracks(self, n: int) -> None:
        add = np.zeros((n - len(self.ti), N_T), np.int64)
        add[:, T_PERSON] = -1
        self.ti = np.concatenate([self.ti, add])

    def _grow_held(self, n: int) -> None:
        add = n - len(self.hi)
        self.hi = np.concatenate([self.hi, np.zeros((add, N_H), np.int64)])
        self.hts = np.concatenate([self.hts, np.zeros((add, self.hts.shape[1]), np.int64)])
        self.hxy = np.concatenate([self.hxy, np.zeros((add, self.hxy.shape[1], 2))])


# -- the steps (hysteresis.py's state machines over arrays) ----------------------------------------------


@njit(cache=True)
def step_zone(zi: IntArray, s: int, c: int, raw: bool, ts: int, need: int, min_ns: int) -> int:  # noqa: PLR0917
    """hysteresis.ZoneHysteresis's step on zi[s, c]: the ts_ns a confirmed change is dated at, or NO."""
    if raw == (zi[s, c, Z_INSIDE] != 0):
        zi[s, c, Z_CAND], zi[s, c, Z_OBS] = -1, 0
        return NO
    if zi[s, c, Z_CAND] < 0:
        zi[s, c, Z_CAND], zi[s, c, Z_OBS] = ts, 0
    zi[s, c, Z_OBS] += 1
    if zi[s, c, Z_OBS] >= need or ts - zi[s, c, Z_CAND] >= min_ns:
        at = zi[s, c, Z_CAND]
        zi[s, c, Z_INSIDE], zi[s, c, Z_CAND], zi[s, c, Z_OBS] = 1 if raw else 0, -1, 0
        return at
    return NO


@njit(cache=True)
def step_line(  # noqa: PLR0917 - a numba kernel: positional arrays
    li: IntArray, s: int, c: int, distance_m: float, along_m: float, length_m: float, ts: int, min_disp_m: float,
    end_margin_m: float,
) -> tuple[bool, int, int]:  # fmt: skip
    """hysteresis.LineHysteresis's step on li[s, c]: (crossed, new side, ts_ns of the first observation past)."""
    raw = 1 if distance_m > 0 else (-1 if distance_m < 0 else 0)
    settled, cand, prov = li[s, c, L_SETTLED], li[s, c, L_CAND], li[s, c, L_PROV]
    if settled == 0 and prov == 0:
        prov = raw
    reference = settled if settled != 0 else prov
    if reference != 0:
        if raw == -reference:
            if cand < 0:
                cand = ts
        elif raw == reference:
            cand = -1
    beside = -end_margin_m <= along_m <= length_m + end_margin_m
    crossed, at = False, NO
    if abs(distance_m) >= min_disp_m and beside:
        if settled == 0:
            crossed = prov != 0 and prov != raw  # noqa: PLR1714 - numba types this, not a tuple test
            at = cand if cand >= 0 else ts
            settled, cand, prov = raw, -1, 0
        elif raw != settled:
            crossed = True
            at = cand if cand >= 0 else ts
            settled, cand = raw, -1
    li[s, c, L_SETTLED], li[s, c, L_CAND], li[s, c, L_PROV] = settled, cand, prov
    return crossed, raw, at if crossed else NO


@njit(cache=True)
def check(pi: IntArray, s: int, ts: int, version: int) -> int:
    """0: person s already has an observation at ts or later (skip it); 1: go on; 2: on another layout first."""
    last = pi[s, P_LAST]
    if last >= 0 and ts <= last:
        return 0
    return 1 if pi[s, P_LAYOUT] == version else 2


@njit(cache=True)
def advance(  # noqa: PLR0917 - a numba kernel: positional arrays
    pi: IntArray, pf: FloatArray, zi: IntArray, rt: IntArray, rc: IntArray, rxy: FloatArray, s: int, ts: int,
    x: float, y: float, cam: int, staff_cols: IntArray, horizon_ns: int,
) -> bool:  # fmt: skip
    """Date person s's time, position and recent sightings at ts; False (nothing changed) if the ring is full."""
    size = rt.shape[1]
    head, n = pi[s, P_RHEAD], pi[s, P_RLEN]
    cutoff = ts - horizon_ns
    while n > 0 and rt[s, head] < cutoff:  # fusion.remember: sightings older than the horizon go
        head = (head + 1) % size
        n -= 1
    pi[s, P_RHEAD], pi[s, P_RLEN] = head, n
    if n == size:
        return False
    last = pi[s, P_LAST]
    dt = ts - last if last >= 0 else 0
    pi[s, P_SEEN] += dt
    for c in staff_cols:
        if zi[s, c, Z_ORDER] >= 0 and zi[s, c, Z_INSIDE]:
            pi[s, P_STAFF] += dt
            break
    pi[s, P_LAST] = ts
    pf[s, 0], pf[s, 1] = x, y
    j = (head + n) % size
    rt[s, j], rc[s, j], rxy[s, j, 0], rxy[s, j, 1] = ts, cam, x, y
    pi[s, P_RLEN] = n + 1
    return True


@njit(cache=True)
def lines(  # noqa: PLR0917 - a numba kernel: positional arrays
    li: IntArray, s: int, dist: FloatArray, along: FloatArray, lcols: IntArray, lengths: FloatArray, ts: int,
    min_disp_m: float, end_margin_m: float, out: IntArray,
) -> int:  # fmt: skip
    """Step every line of the layout for person s; crossings (line index, side, at) go to out; how many."""
    n = 0
    for j in range(len(lcols)):
        crossed, side, at = step_line(li, s, lcols[j], dist[j], along[j], lengths[j], ts, min_disp_m, end_margin_m)
        if crossed:
            out[n, 0], out[n, 1], out[n, 2] = j, side, at
            n += 1
    return n


@njit(cache=True)
def zones(  # noqa: PLR0917 - a numba kernel: positional arrays
    zi: IntArray, pi: IntArray, s: int, inside: npt.NDArray[np.bool_], zcols: IntArray, ts: int, need_in: int,
    need_out: int, min_ns: int, out: IntArray,
) -> int:  # fmt: skip
    """Step every zone of the layout for person s; changes (zone index, inside, at) go to out; how many.

    A zone the person was never inside has no state yet (its order -1) and stays so while outside.
    """
    n = 0
    for k in range(len(zcols)):
        c = zcols[k]
        raw = inside[k]
        if zi[s, c, Z_ORDER] < 0:
            if not raw:
                continue
            zi[s, c, Z_INSIDE], zi[s, c, Z_CAND], zi[s, c, Z_OBS], zi[s, c, Z_ORDER] = 0, -1, 0, pi[s, P_ZORDER]
            pi[s, P_ZORDER] += 1
        at = step_zone(zi, s, c, raw, ts, need_in if raw else need_out, min_ns)
        if at != NO:
            out[n, 0], out[n, 1], out[n, 2] = k, 1 if raw else 0, at
            n += 1
    return n


@njit(cache=True)
def _better(r: float, pid: int, best_r: float, best_pid: int) -> bool:
    """Whether (r, pid) ranks before (best_r, best_pid), none (best_pid < 0) ranking last."""
    return best_pid < 0 or r < best_r or (r == best_r and pid < best_pid)


@njit(cache=True)
def decide_held(  # noqa: PLR0917 - a numba kernel: positional arrays
    pi: IntArray, pf: FloatArray, rt: IntArray, rc: IntArray, rxy: FloatArray, ti: IntArray, hi: IntArray,
    hts: IntArray, hxy: FloatArray, h: int, ts: int, ip: IntArray, fp: FloatArray,
) -> tuple[int, int]:  # fmt: skip
    """What a frame at ts makes of held slot h: (WAIT, -1), (FUSED, person slot) another camera's view of a
    person, (STITCHED, person slot) a lost person continued, or (FOUNDED, -1) a person of its own.

    Fusion first. Only held observations before ts count: other cameras' frames of this time may not
    have arrived yet, so a missing pair there proves nothing. A person with a track of this camera seen
    since the held track appeared is no candidate: one camera does not see one person as two tracks at
    once. While any person is near the held track (near pairs, never a far one) and the hold is not
    final (fusion_max_hold_s), the track waits for more pairs: people walking together are told apart by
    every pair the hold gives. Then a person proven the same (fusion.same_person) wins, the nearest on
    average; failing that, the nearest one merely consistent with it, rather than founding a second
    person beside them. A person no other camera saw at the held track's times (a missed frame) but
    within stitch_defer_s of them, within fusion_gate_m give or take stitch_speed_m_s x the time between
    (fusion.approach_m), is consistent with it too, ranked after paired ones: the track waits for pairs,
    and is that person if none come. Ties go to the lower person id.

    Failing fusion, stitching: the nearest person lost before the held track's first observation (and
    not seen since) within stitch_max_gap_s and stitch_max_dist_m + stitch_speed_m_s x the gap.
    """
    first_ns = hi[h, H_FIRST]
    final = ts - first_ns >= ip[I_HOLD_NS]
    n = hi[h, H_LEN]
    k = np.searchsorted(hts[h, :n], ts)  # held observations before this frame's time
    if k == 0 and not final:
        return WAIT, -1
    if k > 0:
        gate_m = fp[F_GATE_M]
        cand, near, far, mean_m, gap_m = fusion_scores(pi, rt, rc, rxy, ti, hts[h, :k], hxy[h, :k], hi[h, H_CAM],
                                                       first_ns, gate_m, ip[I_SKEW_NS], fp[F_SPEED_M_S],
                                                       ip[I_DEFER_NS], fp[F_MARGIN_M])  # fmt: skip
        last_held_ns = hts[h, k - 1]
        tiers_r = np.full(3, np.inf)  # proven, consistent, unpaired: the best rank of each and its person
        tiers_pid = np.full(3, -1, np.int64)
        tiers_slot = np.full(3, -1, np.int64)
        for s in range(len(pi)):
            if not cand[s] or far[s] != 0:
                continue
            pid = pi[s, P_PID]
            if near[s] == 0:
                tier, r = 2, gap_m[s]
                if not r <= gate_m:
                    continue
            else:
                r = mean_m[s]
                proven = same_person(near[s], 0, ip[I_MIN_PAIRS], pi[s, P_LAST] < last_held_ns)
                tier = 0 if proven else 1
            if _better(r, pid, tiers_r[tier], tiers_pid[tier]):
                tiers_r[tier], tiers_pid[tier], tiers_slot[tier] = r, pid, s
        for tier in range(3):
            if tiers_slot[tier] >= 0:
                return (FUSED, tiers_slot[tier]) if final else (WAIT, -1)
    x0, y0 = hxy[h, 0, 0], hxy[h, 0, 1]
    best_d, best_pid, best_slot = np.inf, -1, -1
    for s in range(len(pi)):
        last = pi[s, P_LAST]
        gap = first_ns - last
        if pi[s, P_ALIVE] == 0 or last < 0 or gap <= 0 or gap > ip[I_STITCH_NS]:
            continue
        d = hypot(x0 - pf[s, 0], y0 - pf[s, 1])
        if d > fp[F_STITCH_M] + fp[F_SPEED_M_S] * gap / 1e9:
            continue
        if _better(d, pi[s, P_PID], best_d, best_pid):
            best_d, best_pid, best_slot = d, pi[s, P_PID], s
    return (STITCHED, best_slot) if best_slot >= 0 else (FOUNDED, -1)


@njit(cache=True)
def _frame_due(  # noqa: PLR0917 - a numba kernel: positional arrays
    pi: IntArray, pf: FloatArray, rt: IntArray, rc: IntArray, rxy: FloatArray, ti: IntArray, hi: IntArray,
    hts: IntArray, hxy: FloatArray, sc: IntArray, ip: IntArray, fp: FloatArray, ts: int,
) -> bool:  # fmt: skip
    """Whether, after a frame at ts, Python has something to do: a held track to decide (one that would
    only wait again is not), a group check due, a person lost or a sample tick due."""
    if sc[S_GROUP_DUE] <= ts:
        return True
    if sc[S_NEXT_TICK] < 0 or sc[S_NEXT_TICK] + ip[I_DELAY_NS] < ts:
        return True
    for s in range(len(pi)):
        if pi[s, P_ALIVE] and pi[s, P_LAST] >= 0 and ts - pi[s, P_LAST] > ip[I_LOST_NS]:
            return True
    for h in range(len(hi)):
        due = hi[h, H_USED] and ts - hi[h, H_FIRST] >= ip[I_DEFER_NS]
        if due and decide_held(pi, pf, rt, rc, rxy, ti, hi, hts, hxy, h, ts, ip, fp)[0] != WAIT:
            return True
    return False


@njit(cache=True, inline="always")
def _arriving(dist: FloatArray, along: FloatArray, arrive: IntArray, lengths: FloatArray, band_m: float) -> bool:
    """Whether a new track's first point (dist, along: (lines,) metres) is just outside an entrance line:
    within band_m of it on its outer side (arrive[j]: the line's inward sign, 0 for a line that is no
    entrance) and within band_m of its ends along it. A new arrival, not a continuation."""
    for j in range(len(arrive)):
        side = arrive[j]
        if side == 0:
            continue
        d, a = dist[j], along[j]
        if d * side <= 0 and abs(d) <= band_m and -band_m <= a <= lengths[j] + band_m:
            return True
    return False


@njit(cache=True, inline="always")
def _hold(  # noqa: PLR0917 - a numba kernel: positional arrays
    held: Dict, hi: IntArray, hts: IntArray, hxy: FloatArray, key: int, ts: int, cam: int, x: float, y: float
) -> bool:
    """Hold a new track in the first free held slot with its first observation; False if none is free."""
    for h in range(len(hi)):
        if hi[h, H_USED] == 0:
            hi[h, H_USED], hi[h, H_FIRST], hi[h, H_LEN], hi[h, H_CAM], hi[h, H_CODE] = 1, ts, 1, cam, key
            hts[h, 0], hxy[h, 0, 0], hxy[h, 0, 1] = ts, x, y
            held[key] = h
            return True
    return False


@njit(cache=True, inline="always")
def _step(  # noqa: PLR0917 - a numba kernel: positional arrays
    pi: IntArray, pf: FloatArray, zi: IntArray, li: IntArray, rt: IntArray, rc: IntArray, rxy: FloatArray, s: int,
    ts: int, x: float, y: float, cam: int, inside: npt.NDArray[np.bool_], dist: FloatArray, along: FloatArray,
    zcols: IntArray, staff_cols: IntArray, lcols: IntArray, lengths: FloatArray, ip: IntArray, fp: FloatArray,
    out: IntArray,
) -> tuple[int, int]:  # fmt: skip
    """One observation of person s at ts (the processor's _update): (DONE or why to stop, outputs in out)."""
    go = check(pi, s, ts, ip[I_VERSION])
    if go == 0:
        return DONE, 0  # another camera already saw the person at this time (or later): one observation per time
    if go == 2:
        return LAYOUT, 0
    if not advance(pi, pf, zi, rt, rc, rxy, s, ts, x, y, cam, staff_cols, ip[I_HORIZON_NS]):
        return GROW_RING, 0
    n = lines(li, s, dist, along, lcols, lengths, ts, fp[F_MIN_DISP], fp[F_END_MARGIN], out)
    if n:
        return CROSSED, n
    n = zones(zi, pi, s, inside, zcols, ts, ip[I_NEED_IN], ip[I_NEED_OUT], ip[I_MIN_NS], out)
    if n:
        return ZONES, n
    return DONE, 0


@njit(cache=True)
def fold_run(  # noqa: PLR0917 - a numba kernel: positional arrays
    f: int, i: int, ts_f: IntArray, off: IntArray, fcam: IntArray, codes: IntArray, xs: FloatArray,
    ys: FloatArray, inside: npt.NDArray[np.bool_], dist: FloatArray, along: FloatArray, tracks: Dict,
    held: Dict, pi: IntArray, pf: FloatArray, zi: IntArray, li: IntArray, rt: IntArray, rc: IntArray,
    rxy: FloatArray, ti: IntArray, hi: IntArray, hts: IntArray, hxy: FloatArray, sc: IntArray, zcols: IntArray,
    staff_cols: IntArray, lcols: IntArray, lengths: FloatArray, arrive: IntArray, ip: IntArray, fp: FloatArray,
    out: IntArray,
) -> tuple[int, int, int, int]:  # fmt: skip
    """Fold frames f.. (observations from row i) of one store under one layout; (stop, frame, row, outputs).

    Per frame (F,): ts_f, off (F + 1,) its rows, fcam its camera code. Per row (n,): codes (track key), xs,
    ys (metres), inside (n, zones), dist and along (n, lines, metres). A track neither mapped nor held is
    held here unless it is arriving (NEW_TRACK: Python founds the person). Resume after a row stop at
    row + 1 (after GROW_* at the same row), after FRAME at the next frame's first row.
    """
    n_frames = len(ts_f)
    while f < n_frames:
        ts = ts_f[f]
        if sc[S_FIRST] < 0:
            sc[S_FIRST] = ts
        cam = fcam[f]
        while i < off[f + 1]:
            key = codes[i]
            if key in held:
                h = held[key]
                m = hi[h, H_LEN]
                if m == hts.shape[1]:
                    return GROW_HELD, f, i, 0
                hts[h, m], hxy[h, m, 0], hxy[h, m, 1] = ts, xs[i], ys[i]
                hi[h, H_LEN] = m + 1
                i += 1
                continue
            if key not in tracks:
                if _arriving(dist[i], along[i], arrive, lengths, fp[F_BAND_M]):
                    return NEW_TRACK, f, i, 0
                if not _hold(held, hi, hts, hxy, key, ts, cam, xs[i], ys[i]):
                    return GROW_HELD_SLOTS, f, i, 0
                i += 1
                continue
            t = tracks[key]
            s = ti[t, T_PERSON]
            ti[t, T_SEEN] = ts
            stop, n = _step(pi, pf, zi, li, rt, rc, rxy, s, ts, xs[i], ys[i], cam, inside[i], dist[i], along[i], zcols,
                            staff_cols, lcols, lengths, ip, fp, out)  # fmt: skip
            if stop != DONE:
                return stop, f, i, n
            i += 1
        if _frame_due(pi, pf, rt, rc, rxy, ti, hi, hts, hxy, sc, ip, fp, ts):
            return FRAME, f, i, 0
        sc[S_LAST] = max(sc[S_LAST], ts)
        f += 1
    return DONE, f, i, 0


@njit(cache=True)
def replay(  # noqa: PLR0917 - a numba kernel: positional arrays
    k: int, obs_ts: IntArray, obs_xy: FloatArray, inside: npt.NDArray[np.bool_], dist: FloatArray,
    along: FloatArray, s: int, cam: int, pi: IntArray, pf: FloatArray, zi: IntArray, li: IntArray, rt: IntArray,
    rc: IntArray, rxy: FloatArray, zcols: IntArray, staff_cols: IntArray, lcols: IntArray, lengths: FloatArray,
    ip: IntArray, fp: FloatArray, out: IntArray,
) -> tuple[int, int, int]:  # fmt: skip
    """A released held track's observations k.. (obs_ts (m,), obs_xy (m, 2) metres, inside (m, zones), dist
    and along (m, lines)) replayed into person s, each at its own time: (stop, observation, outputs), as
    fold_run's steps for a known track. Resume at observation + 1 (after GROW_RING at the same one)."""
    while k < len(obs_ts):
        stop, n = _step(pi, pf, zi, li, rt, rc, rxy, s, obs_ts[k], obs_xy[k, 0], obs_xy[k, 1], cam, inside[k],
                        dist[k], along[k], zcols, staff_cols, lcols, lengths, ip, fp, out)  # fmt: skip
        if stop != DONE:
            return stop, k, n
        k += 1
    return DONE, k, 0


@njit(cache=True)
def near_slots(pi: IntArray, rxy: FloatArray, xy: FloatArray, margin_m: float) -> npt.NDArray[np.bool_]:
    """(slots,): whether some recent sighting of the person in each live slot is within margin_m of the
    bounding box of xy (k, 2) metres, by bounding boxes (never False for a sighting that is within)."""
    size = rxy.shape[1]
    lo_x, lo_y, hi_x, hi_y = xy[:, 0].min(), xy[:, 1].min(), xy[:, 0].max(), xy[:, 1].max()
    out = np.zeros(len(pi), dtype=np.bool_)
    for s in range(len(pi)):
        n = pi[s, P_RLEN]
        if not pi[s, P_ALIVE] or n == 0:
            continue
        head = pi[s, P_RHEAD]
        rlo_x = rlo_y = np.inf
        rhi_x = rhi_y = -np.inf
        for k in range(n):
            j = (head + k) % size
            x, y = rxy[s, j, 0], rxy[s, j, 1]
            rlo_x, rlo_y, rhi_x, rhi_y = min(rlo_x, x), min(rlo_y, y), max(rhi_x, x), max(rhi_y, y)
        gx = max(lo_x - rhi_x, rlo_x - hi_x, 0.0)
        gy = max(lo_y - rhi_y, rlo_y - hi_y, 0.0)
        out[s] = np.hypot(gx, gy) <= margin_m
    return out


@njit(cache=True, inline="always")
def _two_prod(x: float, y: float) -> tuple[float, float]:
    """Dekker's exact product by Veltkamp splitting: hi + lo == x * y exactly."""
    hi = x * y
    c = 134217729.0 * x
    xh = c - (c - x)
    xl = x - xh
    c = 134217729.0 * y
    yh = c - (c - y)
    yl = y - yh
    return hi, ((xh * yh - hi) + xh * yl + xl * yh) + xl * yl


@njit(cache=True)
def hypot(x: float, y: float) -> float:
    """math.hypot(x, y) bit for bit: CPython 3.11's vector_norm for two coordinates.

    The C library's hypot differs from Python's in the last place for about 0.6% of inputs, and a fused
    score must rank people exactly as the Python fold did, so the kernel computes Python's.
    """
    ax, ay = abs(x), abs(y)
    mx = max(ax, ay)
    if mx == 0.0 or math.isinf(mx):
        return mx
    _, e = math.frexp(mx)
    scale = math.ldexp(1.0, -e)
    csum, frac1, frac2 = 1.0, 0.0, 0.0
    for v in (ax * scale, ay * scale):
        hi, lo = _two_prod(v, v)
        total = csum + hi
        frac2 += (csum - total) + hi
        csum = total
        frac1 += lo
    h = math.sqrt(csum - 1.0 + (frac1 + frac2))
    hi, lo = _two_prod(-h, h)
    total = csum + hi
    frac2 += (csum - total) + hi
    csum = total
    frac1 += lo
    h += (csum - 1.0 + (frac1 + frac2)) / (2.0 * h)
    return h / scale


@njit(cache=True)
def fusion_scores(  # noqa: PLR0917 - a numba kernel: positional arrays
    pi: IntArray, rt: IntArray, rc: IntArray, rxy: FloatArray, ti: IntArray, obs_ts: IntArray, obs_xy: FloatArray,
    cam: int, since_ns: int, gate_m: float, skew_ns: int, speed_m_s: float, within_ns: int, margin_m: float,
) -> tuple[npt.NDArray[np.bool_], IntArray, IntArray, FloatArray, FloatArray]:  # fmt: skip
    """fusion.co_observe and fusion.approach_m of held observations (k,) obs_ts, (k, 2) obs_xy (metres) of
    camera code cam against every live person's ring, in one pass: (slots,) each of candidate, near, far,
    mean_dist_m and approach gap (metres; computed only where near = far = 0, else inf).

    A slot is no candidate when dead, when near_slots rules it out (every sighting beyond margin_m of the
    held observations' bounding box) or when a track of cam mapped to it was seen at or after since_ns
    (one camera does not see one person as two tracks at once). The arithmetic is co_observe's and
    approach_m's, step for step, so the numbers are the same.
    """
    slots = len(pi)
    size = rt.shape[1]
    cand = near_slots(pi, rxy, obs_xy, margin_m)
    for t in range(len(ti)):
        s = ti[t, T_PERSON]
        if s >= 0 and ti[t, T_CAM] == cam and ti[t, T_SEEN] >= since_ns:
            cand[s] = False
    near = np.zeros(slots, np.int64)
    far = np.zeros(slots, np.int64)
    mean = np.full(slots, np.inf)
    gap = np.full(slots, np.inf)
    o_ts = np.empty(size, np.int64)
    o_xy = np.empty((size, 2))
    for s in range(slots):
        if not cand[s]:
            continue
        # The person's sightings by other cameras, oldest first (the ring is in time order).
        head, n, m = pi[s, P_RHEAD], pi[s, P_RLEN], 0
        for k in range(n):
            j = (head + k) % size
            if rc[s, j] != cam:
                o_ts[m], o_xy[m, 0], o_xy[m, 1] = rt[s, j], rxy[s, j, 0], rxy[s, j, 1]
                m += 1
        total_m = 0.0
        for q in range(len(obs_ts)):
            ts = obs_ts[q]
            k = np.searchsorted(o_ts[:m], ts)  # bisect_left
            best = -1
            for j in (k - 1, k):
                dt = abs(o_ts[j] - ts) if 0 <= j < m else skew_ns + 1
                if dt <= skew_ns and (best < 0 or dt < abs(o_ts[best] - ts)):  # the earlier one on a tie
                    best = j
            if best < 0:
                continue
            d = hypot(obs_xy[q, 0] - o_xy[best, 0], obs_xy[q, 1] - o_xy[best, 1])
            if d <= gate_m:
                near[s] += 1
                total_m += d
            else:
                far[s] += 1
        if near[s]:
            mean[s] = total_m / near[s]
        if near[s] == 0 and far[s] == 0:
            g = np.inf
            for q in range(len(obs_ts)):
                for j in range(m):
                    dt = abs(o_ts[j] - obs_ts[q])
                    if dt <= within_ns:
                        d = hypot(obs_xy[q, 0] - o_xy[j, 0], obs_xy[q, 1] - o_xy[j, 1])
                        g = min(g, max(0.0, d - speed_m_s * dt / 1e9))
            gap[s] = g
    return cand, near, far, mean, gap
