"""Swapping a rebuilt projection in: EXCHANGE TABLES, made safe against a crash in the middle.

`start_swap` records what is about to happen (with the build tables' UUIDs)
before touching any table; `complete_pending_swap` finishes a started swap
and is called by every runner of the live projection on start. Because
EXCHANGE moves a table's UUID with its data, the live table's UUID tells
whether the exchange already happened, so each step runs exactly once.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, replace

import pyarrow as pa

from projections.batch import SealedBatch
from projections.checkpoints import Checkpoints
from projections.projection import Projection
from projections.store import Store

BUILD_SUFFIX = "__build"
PREVIOUS_SUFFIX = "__previous"


@dataclass(frozen=True)
class SwapRecord:
    """A swap of a projection's build into its live tables."""

    write_no: int
    status: str
    code_version: str
    layout_versions: tuple[int, ...]
    layout_seq: int
    last_seq: int
    built_from_seq: int
    build_uuids: tuple[str, ...]
    state: bytes


def table_uuid(store: Store, table: str) -> str | None:
    """The UUID of `table` in the store's database, or None if it does not exist."""
    rows = store.query_rows(
        f"SELECT toString(uuid) FROM system.tables WHERE database = '{store.database}' AND name = '{table}'"
    )
    return str(rows[0][0]) if rows else None


def latest_swap(store: Store, projection_name: str) -> SwapRecord | None:
    """The newest swap record of a projection."""
    rows = store.query_rows(
        "SELECT write_no, toString(status), code_version, layout_versions, layout_seq, last_seq, built_from_seq, "
        f"build_uuids, state FROM {store.database}.projection_versions WHERE projection_id = '{projection_name}' "
        "ORDER BY write_no DESC LIMIT 1"
    )
    if not rows:
        return None
    w, status, code, layouts, layout_seq, last, built_from, uuids, state = rows[0]
    return SwapRecord(int(w), str(status), str(code), tuple(int(v) for v in layouts), int(layout_seq), int(last),
                      int(built_from), tuple(str(u) for u in uuids), base64.b64decode(state))  # fmt: skip


def start_swap(
    store: Store, projection: Projection, *, last_seq: int, layout_seq: int, state: bytes,
    layout_versions: tuple[int, ...], built_from_seq: int,
) -> SwapRecord:  # fmt: skip
    """Record the swap of `<table>__build` into `<table>` (before any table is touched) and perform it."""
    uuids = []
    for base in projection.table_ddl():
        uuid = table_uuid(store, f"{base}{BUILD_SUFFIX}")
        if uuid is None:
            raise RuntimeError(f"cannot swap {projection.name}: {base}{BUILD_SUFFIX} does not exist")
        uuids.append(uuid)
    previous = latest_swap(store, projection.name)
    record = SwapRecord((previous.write_no if previous else 0) + 1, "started", projection.version, layout_versions,
                        layout_seq, last_seq, built_from_seq, tuple(uuids), state)  # fmt: skip
    _write(store, projection.name, record)
    complete_pending_swap(store, projection)
    return record


def complete_pending_swap(store: Store, projection: Projection) -> bool:
    """Finish a started swap, if there is one; return whether there was."""
    record = latest_swap(store, projection.name)
    if record is None or record.status != "started":
        return False
    db = store.database
    for base, build_uuid in zip(projection.table_ddl(), record.build_uuids, strict=True):
        build, live, previous = f"{base}{BUILD_SUFFIX}", base, f"{base}{PREVIOUS_SUFFIX}"
        live_uuid = table_uuid(store, live)
        if live_uuid != build_uuid:  # not exchanged yet
            if live_uuid is None:
                store.execute(f"RENAME TABLE {db}.{build} TO {db}.{live}")
            else:
                store.execute(f"EXCHANGE TABLES {db}.{build} AND {db}.{live}")
        if table_uuid(store, build) is not None:  # the old live rows, kept for comparison
            store.execute(f"DROP TABLE IF EXISTS {db}.{previous}")
            store.execute(f"RENAME TABLE {db}.{build} TO {db}.{previous}")
    live_checkpoints = Checkpoints(store, projection.name, record.code_version)
    live_checkpoints.load()  # continue its write numbers
    live_checkpoints.write_done(max(1, record.built_from_seq), max(1, record.last_seq), "swap",
                    layout_seq=record.layout_seq, state=record.state)  # fmt: skip
    build_key = f"{projection.name}{BUILD_SUFFIX}"
    store.execute(f"DELETE FROM {db}.projection_checkpoints WHERE projection_id = '{build_key}'")
    _write(store, projection.name, replace(record, write_no=record.write_no + 1, status="swapped"))
    return True


def _write(store: Store, name: str, record: SwapRecord) -> None:
    rows = pa.table(
        {
            "projection_id": pa.array([name]),
            "write_no": pa.array([record.write_no], pa.uint64()),
            "status": pa.array([record.status]),
            "code_version": pa.array([record.code_version]),
            "layout_versions": pa.array([list(record.layout_versions)], pa.list_(pa.uint32())),
            "layout_seq": pa.array([record.layout_seq], pa.uint64()),
            "last_seq": pa.array([record.last_seq], pa.uint64()),
            "built_from_seq": pa.array([record.built_from_seq], pa.uint64()),
            "build_uuids": pa.array([list(record.build_uuids)], pa.list_(pa.string())),
            "state": pa.array([base64.b64encode(record.state).decode("ascii")]),
        }
    )
    store.insert(SealedBatch(f"swap_{name}", "projection_versions", record.write_no, record.write_no, rows))
