"""Heatmap: presence seconds and distinct tracks per floor cell per 5-minute bucket, from FF_TRACKS.

Each observation after a track's first adds the time since that track's
previous observation (at most MAX_GAP_NS) to the cell it is in. Rows keep
the track, so distinct tracks are exact for any bucket at query time; the
shared view hides cells with fewer than K_ANONYMITY distinct tracks.

Overlapping cameras: a person is counted once per time. A new track whose
first position is within OVERLAP_GATE_M of where another camera's track was
heading (its last position moved on at its last velocity, seen less than
MAX_GAP_NS ago) is that track's person and is written under its key; an
observation of a person another track of theirs already counted within
OVERLAP_SKEW_NS adds nothing. Tracks of one camera never merge here (id
switches stay distinct tracks, as with a single camera).
"""

from __future__ import annotations

import msgspec
import numpy as np
import numpy.typing as npt
import pyarrow as pa

from projections import heatmap_kernel as HK
from projections.columns import TrackBatch
from projections.derived import BUCKET_NS, K_ANONYMITY
from projections.layouts import LayoutHistory
from projections.projection import DEDUP_SETTINGS, FoldResult, Rejected, SeqEvent

CELL_M = 0.5
MAX_GAP_NS = 2_000_000_000
OVERLAP_GATE_M = 1.0
OVERLAP_SKEW_NS = 250_000_000

DDL = f"""
CREATE TABLE IF NOT EXISTS {{db}}.{{table}} (
    store_id LowCardinality(String),
    layout_version UInt32,
    bucket_start DateTime('UTC'),
    cell_m Float32 COMMENT 'cell size, metres',
    cell_x Int32 COMMENT 'floor(x / cell_m)',
    cell_y Int32 COMMENT 'floor(y / cell_m)',
    track String COMMENT 'camera:edge_run:track_id',
    presence_s Float64 COMMENT 'seconds'
) ENGINE = MergeTree
ORDER BY (store_id, layout_version, bucket_start, cell_x, cell_y, track)
SETTINGS {DEDUP_SETTINGS}
"""

SHARED_VIEW = f"""
CREATE VIEW IF NOT EXISTS {{db}}.shared_heatmap AS
SELECT store_id, layout_version, bucket_start, cell_m, cell_x, cell_y,
       sum(presence_s) AS presence_s, uniqExact(track) AS tracks
FROM {{db}}.heatmap
GROUP BY store_id, layout_version, bucket_start, cell_m, cell_x, cell_y
HAVING tracks >= {K_ANONYMITY}
"""


class _Seen(msgspec.Struct, array_like=True):
    """An identity's last counted observation: ts_ns, its track and camera, where (metres), velocity (m/s)."""

    ts_ns: int
    track: str
    camera_id: str
    store_id: str
    x_m: float
    y_m: float
    vx_m_s: float = 0.0
    vy_m_s: float = 0.0


class _State(msgspec.Struct, array_like=True):
    last: list[tuple[str, int]]
    alias: list[tuple[str, str]] = msgspec.field(default_factory=list)
    seen: list[tuple[str, _Seen]] = msgspec.field(default_factory=list)
    members: list[tuple[str, int]] = msgspec.field(default_factory=list)


class HeatmapProjection:
    """Track observations -> heatmap rows (a TrackFold: each batch's columns go through a compiled kernel,
    projections/heatmap_kernel.py).

    State: per identity (the key rows are written under: a track's own, or the other camera's track it
    continues) its last counted ts_ns and observation; per track its identity when not its own; per
    identity how many open tracks it has (it is forgotten when the last closes). In the kernel tracks,
    cameras and stores are codes; the keys of the tracks still in the state are kept beside them.
    """

    name = "heatmap"
    version = "1"
    stream = "FF_TRACKS"
    filter_subject: str | None = None

    def __init__(self, cell_m: float = CELL_M) -> None:
        if not 0.05 <= cell_m <= 100.0:
            raise ValueError(f"cell_m must be in [0.05, 100] metres, got {cell_m}")
        self.cell_m = cell_m
        self.reset()

    def table_ddl(self) -> dict[str, str]:
        return {"heatmap": DDL}

    def view_ddl(self) -> dict[str, str]:
        return {"shared_heatmap": SHARED_VIEW}

    def reset(self) -> None:
        self._alias, self._last, self._members = HK.int_map(), HK.int_map(), HK.int_map()
        self._seen_i, self._seen_f = HK.seen_maps()
        self._code_of: dict[str, int] = {}  # track key "camera:edge_run:track_id" -> code
        self._key_of: dict[int, str] = {}
        self._next_code = 0
        self._names: dict[str, list[str]] = {"store": [], "camera": []}  # code -> name
        self._name_codes: dict[str, dict[str, int]] = {"store": {}, "camera": {}}

    def _code(self, key: str) -> int:
        code = self._code_of.get(key)
        if code is None:
            code = self._code_of[key] = self._next_code
            self._key_of[code] = key
            self._next_code += 1
        return code

    def _name_code(self, kind: str, name: str) -> int:
        codes = self._name_codes[kind]
        code = codes.get(name)
        if code is None:
            code = codes[name] = len(codes)
            self._names[kind].append(name)
        return code

    def snapshot(self) -> bytes:
        key, store, camera = self._key_of, self._names["store"], self._names["camera"]
        seen_f = self._seen_f
        seen = [
            (key[identity], _Seen(ts, key[track], camera[cam], store[st], *seen_f[identity]))
            for identity, (ts, track, cam, st) in self._seen_i.items()
        ]
        last = sorted((key[k], v) for k, v in self._last.items())
        alias = sorted((key[k], key[v]) for k, v in self._alias.items())
        members = sorted((key[k], v) for k, v in self._members.items())
        return msgspec.msgpack.encode(_State(last, alias, sorted(seen), members))

    def restore(self, data: bytes) -> None:
        state = msgspec.msgpack.decode(data, type=_State)
        self.reset()
        code = self._code
        for k, ts in state.last:
            HK.put(self._last, code(k), ts)
        for k, identity in state.alias:
            HK.put(self._alias, code(k), code(identity))
        for k, n in state.members:
            HK.put(self._members, code(k), n)
        for k, s in state.seen:
            ints = (
                s.ts_ns,
                code(s.track),
                self._name_code("camera", s.camera_id),
                self._name_code("store", s.store_id),
            )
            HK.put_seen(self._seen_i, self._seen_f, code(k), ints, (s.x_m, s.y_m, s.vx_m_s, s.vy_m_s))

    def fold(self, events: list[SeqEvent], layouts: dict[str, LayoutHistory]) -> FoldResult:
        return self.fold_tracks(TrackBatch.from_events(events), layouts)

    def fold_tracks(self, batch: TrackBatch, layouts: dict[str, LayoutHistory]) -> FoldResult:
        rejected = [
            Rejected(item.stream_seq, f"heatmap cannot fold {type(item.event).__name__}") for item in batch.other
        ]
        cols = batch.columns
        code = self._code
        # Per frame: store and camera codes, layout version, bucket; per observation: its track's code.
        batch_store, stores = cols.frame_codes("store_id")
        cam_f, cams = cols.frame_codes("camera_id")
        run_f, runs = cols.frame_codes("camera_id", "edge_run_id")
        store_f = np.array([self._name_code("store", s) for (s,) in stores], dtype=np.int64)[batch_store]
        cam_f = np.array([self._name_code("camera", c) for (c,) in cams], dtype=np.int64)[cam_f]
        version_f = np.zeros(len(cols.ts_ns), dtype=np.int64)  # 0: no layout yet
        for k, (store_id,) in enumerate(stores):
            history = layouts.get(store_id)
            if history is not None:
                rows = np.flatnonzero(batch_store == k)
                version_f[rows] = history.versions_at(cols.ts_ns[rows])
        bucket_f = (cols.ts_ns // BUCKET_NS) * (BUCKET_NS // 1_000_000_000)
        obs_code = self._track_codes(runs, run_f[cols.frame], cols.track_id)
        close_at = np.array([position for position, _ in batch.closed], dtype=np.int64)
        close_code = np.array([code(f"{e.camera_id}:{e.edge_run_id}:{e.track_id}") for _, e in batch.closed],
                              dtype=np.int64)  # fmt: skip
        # Every known track's key in string order: the kernel breaks distance ties by it, rows sort by it.
        keys = sorted(self._code_of.items())
        rank = np.full(self._next_code, -1, dtype=np.int64)
        rank[np.array([c for _, c in keys], dtype=np.int64)] = np.arange(len(keys), dtype=np.int64)
        cells = HK.cell_map()
        HK.fold_heatmap(cols.ts_ns, store_f, cam_f, version_f, bucket_f, cols.frame, obs_code, cols.x_m, cols.y_m,
                        close_at, close_code, rank, self._alias, self._last, self._members, self._seen_i,
                        self._seen_f, cells, self.cell_m, OVERLAP_SKEW_NS, MAX_GAP_NS, OVERLAP_GATE_M)  # fmt: skip
        cell, presence = HK.cell_rows(cells)
        store_names = self._names["store"]
        store_rank = np.argsort(np.argsort(np.array(store_names, dtype=object), kind="stable"), kind="stable")
        # As sorted((store_id, layout_version, bucket_start, cell_x, cell_y, track)): cells are unique keys.
        track_rank = rank[cell[:, 5]]
        order = np.lexsort((track_rank, cell[:, 4], cell[:, 3], cell[:, 2], cell[:, 1], store_rank[cell[:, 0]]))
        cell, presence, track_rank = cell[order], presence[order], track_rank[order]
        key_names = np.array([k for k, _ in keys], dtype=object)
        self._forget_unused()
        table = pa.table(
            {
                "store_id": pa.array(np.array(store_names, dtype=object)[cell[:, 0]], pa.string()),
                "layout_version": pa.array(cell[:, 1], pa.uint32()),
                "bucket_start": pa.array(cell[:, 2], pa.timestamp("s", tz="UTC")),
                "cell_m": pa.array(np.full(len(cell), self.cell_m), pa.float32()),
                "cell_x": pa.array(cell[:, 3], pa.int32()),
                "cell_y": pa.array(cell[:, 4], pa.int32()),
                "track": pa.array(key_names[track_rank], pa.string()),
                "presence_s": pa.array(presence / 1e9, pa.float64()),
            }
        )
        return FoldResult({"heatmap": table}, rejected)

    def _track_codes(
        self, runs: list[tuple[str, ...]], run: npt.NDArray[np.int64], track_id: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.int64]:
        """Each observation's track code, from its (camera, edge_run) code `run` into `runs` and its track_id."""
        if len(run) and track_id.min() >= 0 and track_id.max() < 2**32:
            unique, inverse = np.unique(run * 2**32 + track_id, return_inverse=True)
            pairs = zip((unique >> 32).tolist(), (unique & (2**32 - 1)).tolist(), strict=True)
        else:  # track ids past 32 bits: slower, the same codes
            both, inverse = np.unique(np.stack([run, track_id]), axis=1, return_inverse=True)
            pairs = zip(both[0].tolist(), both[1].tolist(), strict=True)
        codes = np.array([self._code(f"{runs[r][0]}:{runs[r][1]}:{t}") for r, t in pairs], dtype=np.int64)
        return codes[inverse.reshape(-1)]

    def _forget_unused(self) -> None:
        """Drop the keys of tracks the state no longer mentions (a day's tracks would otherwise pile up)."""
        used = {*self._alias.keys(), *self._alias.values(), *self._last.keys(), *self._members.keys()}
        used.update(self._seen_i.keys())
        used.update(ints[1] for ints in self._seen_i.values())
        for code in [c for c in self._key_of if c not in used]:
            del self._code_of[self._key_of.pop(code)]
