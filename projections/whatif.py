"""What-if layouts: re-derive a window of history under a candidate layout into scratch tables.

FF_TRACKS is read for the window (an ordered replay, nothing acknowledged or published) and folded in
this process by a fresh zone processor under a layout history that holds only the candidate; its derived
events go straight to fresh instances of the analytics projections, whose rows go to scratch tables
`<table>__whatif_<id>` beside the live ones. Nothing is published to FF_DERIVED and no live table or
checkpoint is written. Scratch versions are recorded in `whatif_versions` with an expiry time, and
dropped by `drop_scratch` or by `expire` once that time has passed.

A fresh processor does not know who was in the store before the window: reading starts `warmup_s`
before it (a person already inside at that point starts a visit there, outside the window), and goes
on `tail_s` past its end so that visits begun inside it can end. A visit longer than the tail that
straddles the end is missing from the scratch version.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import pyarrow as pa
from nats.aio.client import Client as NatsClient

from projections.batch import SealedBatch
from projections.columns import TrackBatch
from projections.layouts import LayoutHistory
from projections.projection import Projection, SeqEvent
from projections.registry import make
from projections.store import Store
from projections.zones.config import ZoneProcessorConfig
from projections.zones.processor import ZoneProcessor
from schemas.events import AnyEvent, LayoutPublished
from schemas.ids import is_valid_id
from schemas.layout import StoreLayout
from schemas.subjects import PREFIX, Channel
from stream.replay import replay

SCRATCH_INFIX = "__whatif_"
REGISTRY = "whatif_versions"
# The analytics projections a layout changes: every FF_DERIVED fold (pos reads FF_POS, heatmap only tags
# its cells with the layout version, so their live tables stand for the candidate too).
DERIVED_ANALYTICS = ("footfall", "dwell", "transitions", "funnel", "queue", "occupancy")
DEFAULT_TTL_S = 7 * 86_400
DEFAULT_WARMUP_S = 3_600
DEFAULT_TAIL_S = 3_600
_FLUSH_ROWS = 200_000  # rows a scratch table collects before they are inserted (bounds memory on long windows)
_ID_RE = re.compile(r"^[a-z0-9]{1,16}$")
_NS = 1_000_000_000

REGISTRY_DDL = """
CREATE TABLE IF NOT EXISTS {db}.whatif_versions (
    whatif_id String,
    status Enum8('building' = 1, 'ready' = 2),
    store_id LowCardinality(String),
    layout_version UInt32 COMMENT 'the candidate layout version its rows carry',
    from_ns Int64 COMMENT 'window start, ns since the epoch',
    to_ns Int64 COMMENT 'window end (exclusive), ns since the epoch',
    created_ns Int64,
    expires_ns Int64 COMMENT 'dropped by the first whatif list or run after this time',
    tables Array(String),
    frames UInt64 COMMENT 'TrackFrames folded',
    derived_events UInt64 COMMENT 'derived events folded by the analytics projections'
) ENGINE = MergeTree ORDER BY (whatif_id, status)
"""


class WhatIfError(RuntimeError):
    """A what-if could not be built, listed or dropped."""


@dataclass(frozen=True)
class WhatIfRequest:
    """A candidate layout for a store over [from_ns, to_ns) (ns since the epoch)."""

    store_id: str
    layout: StoreLayout
    layout_version: int
    from_ns: int
    to_ns: int
    warmup_s: float = DEFAULT_WARMUP_S
    tail_s: float = DEFAULT_TAIL_S

    def __post_init__(self) -> None:
        if not is_valid_id(self.store_id):
            raise ValueError(f"store_id must match [a-z0-9][a-z0-9_-]{{0,31}}, got {self.store_id!r}")
        if self.to_ns <= self.from_ns:
            raise ValueError(f"to_ns must be after from_ns, got {self.from_ns}..{self.to_ns}")
        if self.warmup_s < 0 or self.tail_s < 0:
            raise ValueError(f"warmup_s and tail_s must be >= 0, got {self.warmup_s} and {self.tail_s}")
        if self.layout_version < 1:
            raise ValueError(f"layout_version must be at least 1, got {self.layout_version}")

    @property
    def read_from_ns(self) -> int:
        return self.from_ns - round(self.warmup_s * _NS)

    @property
    def read_to_ns(self) -> int:
        return self.to_ns + round(self.tail_s * _NS)


@dataclass(frozen=True)
class ScratchVersion:
    """A what-if's record: its tables (full names), window, candidate version and lifetime (ns)."""

    whatif_id: str
    status: str
    store_id: str
    layout_version: int
    from_ns: int
    to_ns: int
    created_ns: int
    expires_ns: int
    tables: tuple[str, ...]
    frames: int
    derived_events: int

    @property
    def suffix(self) -> str:
        return scratch_suffix(self.whatif_id)


@dataclass(frozen=True)
class WhatIfProgress:
    """How far a what-if has read: stream sequences, frames folded, and the frame time reached (ns)."""

    seq: int
    first_seq: int
    stream_last_seq: int
    frames: int
    frame_ts_ns: int


def scratch_suffix(whatif_id: str) -> str:
    """The table-name suffix of a what-if's scratch tables."""
    if not _ID_RE.match(whatif_id):
        raise ValueError(f"whatif id must match {_ID_RE.pattern}, got {whatif_id!r}")
    return f"{SCRATCH_INFIX}{whatif_id}"


def candidate_version(history: LayoutHistory, layout: StoreLayout) -> int:
    """The version a candidate's rows carry: that of a published version with the same content, so a
    what-if under a live layout writes the live rows exactly; else one past the newest published."""
    published = history.published()
    for version in published:
        if version.layout == layout:
            return version.version
    return max((v.version for v in published), default=0) + 1


def versions_in_force(history: LayoutHistory, from_ns: int, to_ns: int) -> list[int]:
    """The layout versions in force at some time in [from_ns, to_ns): whose rows are the live window's."""
    first, _ = history.at(from_ns)
    out = {first} if first else set()
    for version in history.published():
        start = version.effective_from_ns
        if from_ns <= start < to_ns and history.at(start)[0] == version.version:
            out.add(version.version)
    return sorted(out)


def ensure_registry(store: Store) -> None:
    store.execute(REGISTRY_DDL.format(db=store.database))


def list_scratch(store: Store, *, create: bool = True) -> list[ScratchVersion]:
    """Every recorded what-if, newest first (its latest status: building until it is ready).

    create=False reads without writing (a reader's Store): no registry yet, no what-if.
    """
    if create:
        ensure_registry(store)
    elif not store.query_rows(
        f"SELECT 1 FROM system.tables WHERE database = '{store.database}' AND name = '{REGISTRY}'"
    ):
        return []
    rows = store.query_rows(
        "SELECT whatif_id, toString(argMax(status, status)), argMax(store_id, status), argMax(layout_version, status), "
        "argMax(from_ns, status), argMax(to_ns, status), argMax(created_ns, status), argMax(expires_ns, status), "
        "argMax(tables, status), argMax(frames, status), argMax(derived_events, status) "
        f"FROM {store.database}.{REGISTRY} GROUP BY whatif_id ORDER BY argMax(created_ns, status) DESC, whatif_id"
    )
    return [
        ScratchVersion(
            str(i), str(s), str(st), int(v), int(a), int(b), int(c), int(e), tuple(str(t) for t in tabs), int(f), int(d)
        )
        for i, s, st, v, a, b, c, e, tabs, f, d in rows
    ]


def drop_scratch(store: Store, whatif_id: str) -> bool:
    """Drop a what-if's tables and record; whether it existed. Never touches a table not named as its own."""
    suffix = scratch_suffix(whatif_id)
    ensure_registry(store)
    db = store.database
    own = store.query_rows(f"SELECT name FROM system.tables WHERE database = '{db}' AND endsWith(name, '{suffix}')")
    known = store.query_rows(f"SELECT count() FROM {db}.{REGISTRY} WHERE whatif_id = '{whatif_id}'")[0][0]
    for (name,) in own:
        store.execute(f"DROP TABLE IF EXISTS {db}.`{name}`")
    store.execute(f"DELETE FROM {db}.{REGISTRY} WHERE whatif_id = '{whatif_id}'")
    return bool(own) or int(known) > 0


def expire(store: Store, now_ns: int) -> list[str]:
    """Drop every what-if whose expiry time is before now_ns; the ids dropped."""
    gone = [v.whatif_id for v in list_scratch(store) if v.expires_ns <= now_ns]
    for whatif_id in gone:
        drop_scratch(store, whatif_id)
    return gone


def _record(store: Store, version: ScratchVersion) -> None:
    rows = pa.table(
        {
            "whatif_id": pa.array([version.whatif_id]),
            "status": pa.array([version.status]),
            "store_id": pa.array([version.store_id]),
            "layout_version": pa.array([version.layout_version], pa.uint32()),
            "from_ns": pa.array([version.from_ns], pa.int64()),
            "to_ns": pa.array([version.to_ns], pa.int64()),
            "created_ns": pa.array([version.created_ns], pa.int64()),
            "expires_ns": pa.array([version.expires_ns], pa.int64()),
            "tables": pa.array([list(version.tables)], pa.list_(pa.string())),
            "frames": pa.array([version.frames], pa.uint64()),
            "derived_events": pa.array([version.derived_events], pa.uint64()),
        }
    )
    number = 1 if version.status == "building" else 2
    store.insert(SealedBatch(f"whatif_{version.whatif_id}", REGISTRY, number, number, rows))


class _ScratchWriter:
    """Collects a projection's rows per table and inserts them into its scratch tables in large blocks."""

    def __init__(self, store: Store, whatif_id: str, projections: list[Projection]) -> None:
        self._store = store
        self._name = f"whatif_{whatif_id}"
        suffix = scratch_suffix(whatif_id)
        self.tables: dict[str, str] = {}
        for projection in projections:
            for base, ddl in projection.table_ddl().items():
                table = f"{base}{suffix}"
                store.execute(f"DROP TABLE IF EXISTS {store.database}.{table}")  # a crashed build's leftovers
                store.execute(ddl.format(db=store.database, table=table))
                self.tables[base] = table
        self._pending: dict[str, list[pa.Table]] = {base: [] for base in self.tables}
        self._rows = dict.fromkeys(self.tables, 0)
        self._blocks = 0

    def add(self, rows: dict[str, pa.Table]) -> None:
        for base, table in rows.items():
            if table.num_rows:
                self._pending[base].append(table)
                self._rows[base] += table.num_rows
                if self._rows[base] >= _FLUSH_ROWS:
                    self._flush(base)

    def close(self) -> None:
        for base in self.tables:
            self._flush(base)

    def _flush(self, base: str) -> None:
        if not self._pending[base]:
            return
        rows = pa.concat_tables(self._pending[base])
        self._blocks += 1  # each block its own range, so equal blocks are never taken for a retried insert
        self._store.insert(SealedBatch(self._name, self.tables[base], self._blocks, self._blocks, rows))
        self._pending[base], self._rows[base] = [], 0


async def derive(
    nc: NatsClient,
    store: Store,
    request: WhatIfRequest,
    *,
    whatif_id: str,
    now_ns: int,
    ttl_s: float = DEFAULT_TTL_S,
    config: ZoneProcessorConfig | None = None,
    progress: Callable[[WhatIfProgress], None] | None = None,
    batch: int = 2000,
) -> ScratchVersion:
    """Re-derive the request's window under its candidate layout into scratch tables; the recorded version.

    now_ns: the wall-clock time the caller stamps it with (created, and expiry = now_ns + ttl_s).
    Raises WhatIfError when FF_TRACKS holds no frame of the store in the window.
    """
    scratch_suffix(whatif_id)  # checks the id before anything is written
    ensure_registry(store)
    history = LayoutHistory(request.store_id)
    # In force from the start of time: the candidate stands for every layout the window was seen under.
    history.add(LayoutPublished(store_id=request.store_id, ts_ns=0, version=request.layout_version,
                                effective_from_ns=0, layout=request.layout))  # fmt: skip
    layouts = {request.store_id: history}
    analytics = [make(name) for name in DERIVED_ANALYTICS]
    writer = _ScratchWriter(store, whatif_id, analytics)
    tables = tuple(sorted(writer.tables.values()))
    building = ScratchVersion(whatif_id, "building", request.store_id, request.layout_version, request.from_ns,
                              request.to_ns, now_ns, now_ns + round(ttl_s * _NS), tables, 0, 0)  # fmt: skip
    _record(store, building)
    zones = ZoneProcessor(config)
    info = await nc.jetstream().stream_info("FF_TRACKS")
    stream_last = int(info.state.last_seq or 0)
    first_seq, frames, derived, seen_in_window = 0, 0, 0, False
    # Every camera of the store: the store token checked, the camera token a wildcard.
    filter_subject = f"{PREFIX}.{request.store_id}.*.{Channel.TRACKS.value}"
    start_ns = max(request.read_from_ns, 1)  # stored times: a message is stored after its frame was seen
    async for chunk in replay(nc, "FF_TRACKS", filter_subject=filter_subject, start_time_ns=start_ns, batch=batch,
                              decoder=bytes):  # fmt: skip
        first_seq = first_seq or chunk[0].stream_seq
        tracks, _ = TrackBatch.from_payloads([m.stream_seq for m in chunk], [m.event for m in chunk])
        ts = tracks.columns.ts_ns
        if len(ts) and int(ts.min()) >= request.read_to_ns:
            break  # past the tail: nothing later belongs to the window's visits
        result = zones.fold_tracks(tracks, layouts)
        frames += len(ts)
        seen_in_window = seen_in_window or bool(((ts >= request.from_ns) & (ts < request.to_ns)).any())
        if result.events:
            items = [SeqEvent(derived + i + 1, cast(AnyEvent, event)) for i, event in enumerate(result.events)]
            derived += len(items)
            for projection in analytics:
                writer.add(projection.fold(items, layouts).rows)
        if progress is not None and len(ts):
            progress(WhatIfProgress(chunk[-1].stream_seq, first_seq, stream_last, frames, int(ts.max())))
    writer.close()
    if not seen_in_window:
        drop_scratch(store, whatif_id)
        raise WhatIfError(f"FF_TRACKS holds no frame of store {request.store_id!r} in the window "
                          f"{request.from_ns}..{request.to_ns} ns")  # fmt: skip
    ready = ScratchVersion(whatif_id, "ready", request.store_id, request.layout_version, request.from_ns,
                           request.to_ns, now_ns, building.expires_ns, tables, frames, derived)  # fmt: skip
    _record(store, ready)
    return ready
