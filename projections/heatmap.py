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

import math
from collections import defaultdict

import msgspec
import pyarrow as pa

from projections.derived import K_ANONYMITY, bucket_start_s
from projections.layouts import LayoutHistory, layout_at
from projections.projection import DEDUP_SETTINGS, FoldResult, Rejected, SeqEvent
from schemas.events import TrackClosed, TrackFrame

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
    """Track observations -> heatmap rows.

    State: per identity (the key rows are written under: a track's own, or the other camera's track it
    continues) its last counted ts_ns and observation; per track its identity when not its own; per
    identity how many open tracks it has (it is forgotten when the last closes).
    """

    name = "heatmap"
    version = "1"
    stream = "FF_TRACKS"
    filter_subject: str | None = None

    def __init__(self, cell_m: float = CELL_M) -> None:
        if not 0.05 <= cell_m <= 100.0:
            raise ValueError(f"cell_m must be in [0.05, 100] metres, got {cell_m}")
        self.cell_m = cell_m
        self._last: dict[str, int] = {}
        self._alias: dict[str, str] = {}
        self._seen: dict[str, _Seen] = {}
        self._members: dict[str, int] = {}

    def table_ddl(self) -> dict[str, str]:
        return {"heatmap": DDL}

    def view_ddl(self) -> dict[str, str]:
        return {"shared_heatmap": SHARED_VIEW}

    def reset(self) -> None:
        self._last, self._alias, self._seen, self._members = {}, {}, {}, {}

    def snapshot(self) -> bytes:
        return msgspec.msgpack.encode(_State(sorted(self._last.items()), sorted(self._alias.items()),
                                             sorted(self._seen.items()), sorted(self._members.items())))  # fmt: skip

    def restore(self, data: bytes) -> None:
        state = msgspec.msgpack.decode(data, type=_State)
        self._last, self._alias = dict(state.last), dict(state.alias)
        self._seen, self._members = dict(state.seen), dict(state.members)

    def _close(self, key: str) -> None:
        identity = self._alias.pop(key, key)
        left = self._members.pop(identity, 1) - 1
        if left > 0:
            self._members[identity] = left
        else:
            self._last.pop(identity, None)
            self._seen.pop(identity, None)

    def _identity(self, event: TrackFrame, key: str, x_m: float, y_m: float) -> str:
        """The identity a track's observation counts under; a new track may continue another camera's."""
        store_id, camera_id, ts_ns = event.store_id, event.camera_id, event.ts_ns
        identity = self._alias.get(key)
        if identity is not None:
            return identity
        if key in self._last:
            return key
        best: tuple[float, str] | None = None
        for other, seen in self._seen.items():
            age_ns = ts_ns - seen.ts_ns
            if seen.camera_id == camera_id or seen.store_id != store_id or not -OVERLAP_SKEW_NS <= age_ns <= MAX_GAP_NS:
                continue
            d = math.hypot(seen.x_m + seen.vx_m_s * age_ns / 1e9 - x_m, seen.y_m + seen.vy_m_s * age_ns / 1e9 - y_m)
            if d <= OVERLAP_GATE_M and (best is None or (d, other) < best):
                best = (d, other)
        identity = key if best is None else best[1]
        if identity != key:
            self._alias[key] = identity
        self._members[identity] = self._members.get(identity, 0) + 1
        return identity

    def fold(self, events: list[SeqEvent], layouts: dict[str, LayoutHistory]) -> FoldResult:
        cells: dict[tuple[str, int, int, int, int, str], int] = defaultdict(int)
        rejected = []
        for item in events:
            event = item.event
            if isinstance(event, TrackClosed):
                self._close(f"{event.camera_id}:{event.edge_run_id}:{event.track_id}")
                continue
            if not isinstance(event, TrackFrame):
                rejected.append(Rejected(item.stream_seq, f"heatmap cannot fold {type(event).__name__}"))
                continue
            version = layout_at(layouts, event.store_id, event.ts_ns)[0]
            bucket = bucket_start_s(event.ts_ns)
            for track in event.tracks:
                if track.floor_x_m is None or track.floor_y_m is None:
                    continue
                key = f"{event.camera_id}:{event.edge_run_id}:{track.track_id}"
                x, y = track.floor_x_m, track.floor_y_m
                identity = self._identity(event, key, x, y)
                seen = self._seen.get(identity)
                if seen is not None and seen.track != key and abs(event.ts_ns - seen.ts_ns) <= OVERLAP_SKEW_NS:
                    continue  # another camera already counted this person at about this time
                prev = self._last.get(identity)
                self._last[identity] = event.ts_ns
                dt = 0 if prev is None else min(max(event.ts_ns - prev, 0), MAX_GAP_NS)
                vx = vy = 0.0
                if seen is not None and 0 < event.ts_ns - seen.ts_ns <= MAX_GAP_NS:
                    vx, vy = ((x - seen.x_m) * 1e9 / (event.ts_ns - seen.ts_ns),
                              (y - seen.y_m) * 1e9 / (event.ts_ns - seen.ts_ns))  # fmt: skip
                self._seen[identity] = _Seen(event.ts_ns, key, event.camera_id, event.store_id, x, y, vx, vy)
                cx, cy = math.floor(x / self.cell_m), math.floor(y / self.cell_m)
                cells[(event.store_id, version, bucket, cx, cy, identity)] += dt
        ordered = sorted(cells.items())
        table = pa.table(
            {
                "store_id": pa.array([k[0] for k, _ in ordered], pa.string()),
                "layout_version": pa.array([k[1] for k, _ in ordered], pa.uint32()),
                "bucket_start": pa.array([k[2] for k, _ in ordered], pa.timestamp("s", tz="UTC")),
                "cell_m": pa.array([self.cell_m] * len(ordered), pa.float32()),
                "cell_x": pa.array([k[3] for k, _ in ordered], pa.int32()),
                "cell_y": pa.array([k[4] for k, _ in ordered], pa.int32()),
                "track": pa.array([k[5] for k, _ in ordered], pa.string()),
                "presence_s": pa.array([v / 1e9 for _, v in ordered], pa.float64()),
            }
        )
        return FoldResult({"heatmap": table}, rejected)
