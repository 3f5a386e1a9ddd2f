"""The heatmap's fold as a compiled kernel over a batch's columns (projections/heatmap.py holds the rules).

Tracks are int64 codes (the projection keeps the codes' "camera:edge_run:track_id" keys); `rank` gives
each code its key's place in string order, so a tie between two candidates at the same distance goes
to the smaller key, as the Python fold's `(d, key) < best` did. The state is four typed dicts:
alias (track -> identity), last (identity -> ts_ns counted), members (identity -> open tracks) and
seen (identity -> (ts_ns, track, camera, store) and (x_m, y_m, vx_m_s, vy_m_s)).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import njit, types
from numba.typed import Dict

from projections.zones.kernel import hypot

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

_I4 = types.UniTuple(types.int64, 4)
_F4 = types.UniTuple(types.float64, 4)
_CELL = types.UniTuple(types.int64, 6)  # (store, layout_version, bucket_start_s, cell_x, cell_y, identity)


@njit(cache=True)
def int_map() -> Dict:
    """An empty int64 -> int64 typed dict (made in a cached kernel: Dict.empty from Python compiles anew)."""
    return Dict.empty(key_type=types.int64, value_type=types.int64)


@njit(cache=True)
def seen_maps() -> tuple[Dict, Dict]:
    return Dict.empty(key_type=types.int64, value_type=_I4), Dict.empty(key_type=types.int64, value_type=_F4)


@njit(cache=True)
def cell_map() -> Dict:
    return Dict.empty(key_type=_CELL, value_type=types.int64)


@njit(cache=True)
def put_seen(seen_i: Dict, seen_f: Dict, identity: int, ints: tuple, floats: tuple) -> None:
    seen_i[identity] = ints
    seen_f[identity] = floats


@njit(cache=True)
def put(d: Dict, key: int, value: int) -> None:
    d[key] = value


@njit(cache=True)
def _close(code: int, alias: Dict, last: Dict, members: Dict, seen_i: Dict, seen_f: Dict) -> None:  # noqa: PLR0917
    identity = alias.pop(code, code)
    left = members.pop(identity, 1) - 1
    if left > 0:
        members[identity] = left
    else:
        if identity in last:
            del last[identity]
        if identity in seen_i:
            del seen_i[identity]
            del seen_f[identity]


@njit(cache=True)
def _identity(  # noqa: PLR0917 - a numba kernel: positional arguments
    code: int, store: int, cam: int, ts: int, x: float, y: float, rank: IntArray, alias: Dict, last: Dict,
    members: Dict, seen_i: Dict, seen_f: Dict, skew_ns: int, max_gap_ns: int, gate_m: float,
) -> int:  # fmt: skip
    if code in alias:
        return alias[code]
    if code in last:
        return code
    best, best_d, best_rank = -1, 0.0, 0
    for other, si in seen_i.items():
        age_ns = ts - si[0]
        if si[2] == cam or si[3] != store or not -skew_ns <= age_ns <= max_gap_ns:
            continue
        sf = seen_f[other]
        d = hypot(sf[0] + sf[2] * age_ns / 1e9 - x, sf[1] + sf[3] * age_ns / 1e9 - y)
        if d <= gate_m and (best < 0 or d < best_d or (d == best_d and rank[other] < best_rank)):
            best, best_d, best_rank = other, d, rank[other]
    identity = code if best < 0 else best
    if identity != code:
        alias[code] = identity
    members[identity] = members.get(identity, 0) + 1
    return identity


@njit(cache=True)
def fold_heatmap(  # noqa: PLR0917 - a numba kernel: positional arrays
    ts_f: IntArray, store_f: IntArray, cam_f: IntArray, version_f: IntArray, bucket_f: IntArray,
    frame: IntArray, code: IntArray, xs: FloatArray, ys: FloatArray, close_at: IntArray, close_code: IntArray,
    rank: IntArray, alias: Dict, last: Dict, members: Dict, seen_i: Dict, seen_f: Dict, cells: Dict,
    cell_m: float, skew_ns: int, max_gap_ns: int, gate_m: float,
) -> None:  # fmt: skip
    """Fold one batch: per frame (F,) ts_ns, store, camera, layout version and bucket start (s); per
    observation (n,), in log order, its frame, track code and floor position (metres); per TrackClosed (k,),
    in log order, the frames before it and its track code. Presence (ns) is added to `cells`."""
    j, n_close = 0, len(close_at)
    n = len(frame)
    i = 0
    for f in range(len(ts_f)):
        while j < n_close and close_at[j] <= f:
            _close(close_code[j], alias, last, members, seen_i, seen_f)
            j += 1
        ts, store, cam = ts_f[f], store_f[f], cam_f[f]
        while i < n and frame[i] == f:
            key, x, y = code[i], xs[i], ys[i]
            i += 1
            identity = _identity(key, store, cam, ts, x, y, rank, alias, last, members, seen_i, seen_f, skew_ns,
                                 max_gap_ns, gate_m)  # fmt: skip
            has_seen = identity in seen_i
            if has_seen:
                si, sf = seen_i[identity], seen_f[identity]
                if si[1] != key and abs(ts - si[0]) <= skew_ns:
                    continue  # another camera already counted this person at about this time
            dt = 0
            if identity in last:
                dt = min(max(ts - last[identity], 0), max_gap_ns)
            last[identity] = ts
            vx = vy = 0.0
            if has_seen and 0 < ts - si[0] <= max_gap_ns:
                vx = (x - sf[0]) * 1e9 / (ts - si[0])
                vy = (y - sf[1]) * 1e9 / (ts - si[0])
            seen_i[identity] = (ts, key, cam, store)
            seen_f[identity] = (x, y, vx, vy)
            cell = (store, version_f[f], bucket_f[f], math.floor(x / cell_m), math.floor(y / cell_m), identity)
            cells[cell] = cells.get(cell, 0) + dt
    while j < n_close:
        _close(close_code[j], alias, last, members, seen_i, seen_f)
        j += 1


@njit(cache=True)
def cell_rows(cells: Dict) -> tuple[IntArray, IntArray]:
    """The cells as (m, 6) keys and (m,) presence (ns), in the dict's order."""
    keys = np.empty((len(cells), 6), dtype=np.int64)
    values = np.empty(len(cells), dtype=np.int64)
    for r, (k, v) in enumerate(cells.items()):
        for c in range(6):
            keys[r, c] = k[c]
        values[r] = v
    return keys, values
