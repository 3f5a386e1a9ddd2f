"""What-if and compare as the operator runs them: the log's layouts read, the scratch version built and
measured beside the live tables, the report as JSON-ready values or a text table."""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import nats

from projections.batch import SealedBatch
from projections.layouts import LayoutHistory
from projections.measures import Difference, Window, differences, read_units, summarise
from projections.periods import Comparison, PeriodDifference
from projections.store import Store, StoreError
from projections.whatif import (
    DEFAULT_TAIL_S,
    DEFAULT_TTL_S,
    DEFAULT_WARMUP_S,
    ScratchVersion,
    WhatIfProgress,
    WhatIfRequest,
    candidate_version,
    derive,
    expire,
    versions_in_force,
)
from schemas.layout import StoreLayout
from stream.client_auth import client_options
from stream.layouts import LayoutReader

NS = 1_000_000_000


class StoreChoiceError(ValueError):
    """--store was not given and the log does not name exactly one store."""


@dataclass(frozen=True)
class WhatIfReport:
    """A built what-if: its record, the live layout versions compared, each measure, and how fast it ran."""

    version: ScratchVersion
    live_versions: list[int]
    rows: list[Difference]
    elapsed_s: float
    expired: list[str]

    @property
    def times_real_time(self) -> float:
        """Store time re-derived per second of wall time: the window's length over the time it took."""
        return (self.version.to_ns - self.version.from_ns) / NS / max(self.elapsed_s, 1e-9)

    def as_json(self) -> dict[str, Any]:
        v = self.version
        return {
            "whatif_id": v.whatif_id,
            "store_id": v.store_id,
            "candidate_layout_version": v.layout_version,
            "live_layout_versions": self.live_versions,
            "from_ns": v.from_ns,
            "to_ns": v.to_ns,
            "tables": list(v.tables),
            "expires_ns": v.expires_ns,
            "expired_dropped": self.expired,
            "speed": {
                "window_s": (v.to_ns - v.from_ns) / NS,
                "elapsed_s": round(self.elapsed_s, 3),
                "times_real_time": round(self.times_real_time, 1),
                "frames": v.frames,
                "derived_events": v.derived_events,
            },
            "measures": against_live_json(self.rows),
        }


def against_live_json(rows: list[Difference]) -> list[dict[str, Any]]:
    """A what-if's measures as `footfall whatif --json` and the dashboard give them: live, whatif, delta."""
    return [difference_json(d, "live", "whatif") for d in rows]


def difference_json(d: Difference, a: str, b: str) -> dict[str, Any]:
    return {"measure": d.measure, "subject": d.subject, a: _num(d.a), b: _num(d.b), "delta": _num(d.delta),
            "relative": None if d.relative is None else round(d.relative, 4)}  # fmt: skip


def _num(value: float) -> float | None:
    return None if not math.isfinite(value) else round(value, 4)


async def read_layouts(url: str, store_id: str | None) -> LayoutHistory:
    """The store's layout history from FF_LAYOUT; without store_id, the one store the log names."""
    nc = await nats.connect(url, name="footfall-whatif-layouts", **client_options())
    try:
        published = await LayoutReader(nc.jetstream()).read_new()
    finally:
        await nc.close()
    stores = sorted({p.store_id for p in published})
    if store_id is None:
        if len(stores) != 1:
            raise StoreChoiceError(f"pass --store: the log's layouts name {len(stores)} stores ({', '.join(stores)})")
        store_id = stores[0]
    history = LayoutHistory(store_id)
    for p in published:
        if p.store_id == store_id:
            history.add(p)
    return history


def live_window_versions(history: LayoutHistory, from_ns: int, to_ns: int) -> list[int]:
    return versions_in_force(history, from_ns, to_ns)


async def run_whatif(
    url: str,
    store: Store,
    layout: StoreLayout,
    from_ns: int,
    to_ns: int,
    *,
    store_id: str | None = None,
    ttl_s: float = DEFAULT_TTL_S,
    warmup_s: float = DEFAULT_WARMUP_S,
    tail_s: float = DEFAULT_TAIL_S,
    progress: Callable[[WhatIfProgress], None] | None = None,
) -> WhatIfReport:
    """Build a scratch version under `layout` for [from_ns, to_ns) and compare it with the live tables."""
    history = await read_layouts(url, store_id)
    now_ns = time.time_ns()
    expired = expire(store, now_ns)
    request = WhatIfRequest(history.store_id, layout, candidate_version(history, layout), from_ns, to_ns,
                            warmup_s=warmup_s, tail_s=tail_s)  # fmt: skip
    nc = await nats.connect(url, name="footfall-whatif", **client_options())
    started = time.perf_counter()
    try:
        version = await derive(nc, store, request, whatif_id=uuid.uuid4().hex[:8], now_ns=now_ns, ttl_s=ttl_s,
                               progress=progress)  # fmt: skip
    finally:
        await nc.close()
    elapsed_s = time.perf_counter() - started
    live_versions = versions_in_force(history, from_ns, to_ns)
    return WhatIfReport(version, live_versions, against_live(store, version, live_versions), elapsed_s, expired)


def against_live(store: Store, version: ScratchVersion, live_versions: list[int]) -> list[Difference]:
    """Every measure of the live tables (rows of `live_versions`) and of the what-if's scratch tables over
    the what-if's window: the same people under two layouts, so a difference has no sampling interval."""
    window = Window(version.from_ns, version.to_ns, 3600)
    live = summarise(read_units(store, version.store_id, window, versions=live_versions))
    scratch = summarise(read_units(store, version.store_id, window, suffix=version.suffix))
    return differences(live, scratch)


def report_text(report: WhatIfReport) -> str:
    """What `footfall whatif` prints: a line on the scratch version and its speed, then the table."""
    v = report.version
    live = ", ".join(f"v{n}" for n in report.live_versions) or "none"
    head = (f"what-if {v.whatif_id}: {v.store_id} under candidate layout v{v.layout_version} vs live {live}; "
            f"{v.frames} frames, {v.derived_events} derived events in {report.elapsed_s:.1f} s "
            f"({report.times_real_time:.0f}x real time); tables *{v.suffix}")  # fmt: skip
    return f"{head}\n{text_table(report.rows, 'live', 'whatif')}"


def text_table(
    rows: Sequence[Difference | PeriodDifference], a: str, b: str, extra: Sequence[tuple[str, Sequence[str]]] = ()
) -> str:
    """The differences as an aligned text table; `extra`: more (header, cells per row) columns."""
    head = ["measure", "subject", a, b, "delta", "rel"] + [h for h, _ in extra]
    body = []
    for i, d in enumerate(rows):
        rel = "" if d.relative is None else f"{d.relative:+.1%}"
        body.append([d.measure, d.subject, _fmt(d.a), _fmt(d.b), _fmt(d.delta, signed=True), rel]
                    + [cells[i] for _, cells in extra])  # fmt: skip
    widths = [max(len(r[c]) for r in [head, *body]) for c in range(len(head))]
    lines = ["  ".join(cell.rjust(w) if c >= 2 else cell.ljust(w) for c, (cell, w) in enumerate(zip(r, widths,
             strict=True))) for r in [head, *body]]  # fmt: skip
    return "\n".join(lines)


def _fmt(value: float, signed: bool = False) -> str:
    if not math.isfinite(value):
        return "-"
    text = f"{value:+.2f}" if signed else f"{value:.2f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


class TextReads:
    """The Store interface for a reader that only has SQL text in and formatted text out (`query_text`): reads
    only; a write raises StoreError. `periods.compare` and the other read-only measures take one."""

    database = "footfall"

    def execute(self, sql: str) -> None:
        raise StoreError(f"{type(self).__name__} only reads: writes are not carried out")

    def query_rows(self, sql: str) -> list[list[Any]]:
        text = self.query_text(sql, "JSONCompact")
        return msgspec.json.decode(text, type=_JsonRows).data if text.strip() else []

    def query_text(self, sql: str, fmt: str = "PrettyCompactMonoBlock") -> str:
        raise NotImplementedError

    def insert(self, batch: SealedBatch) -> None:
        raise StoreError(f"{type(self).__name__} only reads: inserts are not carried out")

    def close(self) -> None:
        """Nothing is held between queries."""


class OwnerReads(TextReads):
    """The Store interface over the process that owns the chDB directory (its SQL socket): reads only.

    `footfall compare` only reads, so it can ask a running `footfall serve`/`project` rather than open the
    store.
    """

    def __init__(self, data_dir: Path, database: str = "footfall") -> None:
        self.data_dir = data_dir
        self.database = database

    def query_text(self, sql: str, fmt: str = "PrettyCompactMonoBlock") -> str:
        from ops.serve.sql_socket import query_via_owner

        answer = query_via_owner(self.data_dir, sql, fmt)
        if answer is None:
            raise StoreError(f"no process answers on the SQL socket under {self.data_dir}")
        if not answer.ok:
            raise StoreError(answer.error)
        return answer.text


class OwnerStore(OwnerReads):
    """OwnerReads that also carries out statements (the owner runs them on its own store): what
    `footfall whatif list` and `drop` need of a store that `footfall serve` or `project` owns."""

    def execute(self, sql: str) -> None:
        self.query_text(sql, "TSV")


class _JsonRows(msgspec.Struct):
    data: list[list[Any]]


def comparison_json(result: Comparison, store_id: str) -> dict[str, Any]:
    """`footfall compare --json`: the periods' units, the interval's method, and each measure."""
    return {
        "store_id": store_id,
        "unit_s": result.unit_s,
        "units_a": result.units_a,
        "units_b": result.units_b,
        "counts_per_unit": result.counts_per_unit,
        "interval": {
            "method": "percentile bootstrap over units",
            "level": result.level,
            "resamples": result.resamples,
        },
        "measures": [
            {
                **difference_json(Difference(r.measure, r.subject, r.a, r.b), "a", "b"),
                "lo": _num(r.lo),
                "hi": _num(r.hi),
            }
            for r in result.rows
        ],
    }
