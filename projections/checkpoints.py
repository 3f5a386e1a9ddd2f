"""The runner's tracking records: an intent before each insert, a done mark (with state) after it.

Rows are append-only in `projection_checkpoints`; the newest row of a
projection says where it stands. An intent without a later done row is a
batch that may or may not have reached the tables: recovery rebuilds it.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import pyarrow as pa

from projections.batch import SealedBatch
from projections.store import Store


@dataclass(frozen=True)
class Done:
    """Everything up to last_seq is in the tables; `state` is the fold's snapshot after it."""

    write_no: int
    last_seq: int
    layout_seq: int
    state: bytes


@dataclass(frozen=True)
class Intent:
    """A batch first_seq..last_seq was about to be inserted with `batch_token`, under layouts up to layout_seq."""

    write_no: int
    first_seq: int
    last_seq: int
    batch_token: str
    layout_seq: int


@dataclass(frozen=True)
class BatchMark:
    """One checkpoint row before it is written: batch first_seq..last_seq with its token and layouts, and for a
    done mark the fold's state after it (empty for an intent)."""

    first_seq: int
    last_seq: int
    batch_token: str
    layout_seq: int
    state: bytes


class Checkpoints:
    """Read and append tracking records for one projection key (e.g. `line_counts` or `line_counts__build`)."""

    def __init__(self, store: Store, key: str, code_version: str) -> None:
        self._store = store
        self.key = key
        self._code_version = code_version
        self._write_no = 0

    def load(self) -> tuple[Done | None, Intent | None]:
        """Return the newest done record and, if newer than it, the pending intent."""
        db = self._store.database
        rows = self._store.query_rows(
            f"SELECT write_no, toString(kind), first_seq, last_seq, batch_token, layout_seq, state "
            f"FROM {db}.projection_checkpoints WHERE projection_id = '{self.key}' ORDER BY write_no DESC LIMIT 2"
        )
        done: Done | None = None
        intent: Intent | None = None
        for write_no, kind, first, last, token, layout_seq, state in rows:
            self._write_no = max(self._write_no, int(write_no))
            if kind == "done" and done is None:
                done = Done(int(write_no), int(last), int(layout_seq), base64.b64decode(state))
            elif kind == "intent" and intent is None and done is None:
                intent = Intent(int(write_no), int(first), int(last), str(token), int(layout_seq))
        if rows and done is None:
            # Only an intent in the last two rows: the older done row is further back.
            older = self._store.query_rows(
                f"SELECT write_no, last_seq, layout_seq, state FROM {db}.projection_checkpoints "
                f"WHERE projection_id = '{self.key}' AND kind = 'done' ORDER BY write_no DESC LIMIT 1"
            )
            if older:
                w, last, layout_seq, state = older[0]
                done = Done(int(w), int(last), int(layout_seq), base64.b64decode(state))
        return done, intent

    def write_intent(
        self, first_seq: int, last_seq: int, batch_token: str, layout_seq: int, *, after: BatchMark | None = None
    ) -> None:
        """Record an intent; `after`, the previous batch's done mark, goes first in the same insert.

        One insert is one part, so both land or neither: recovery then finds this intent after that done
        mark, or that batch's own intent still pending, and rebuilds accordingly.
        """
        records = [] if after is None else [("done", after)]
        records.append(("intent", BatchMark(first_seq, last_seq, batch_token, layout_seq, b"")))
        self._append(records)

    def write_done(self, first_seq: int, last_seq: int, batch_token: str, layout_seq: int, state: bytes) -> None:
        self._append([("done", BatchMark(first_seq, last_seq, batch_token, layout_seq, state))])

    def _append(self, records: list[tuple[str, BatchMark]]) -> None:
        write_nos = list(range(self._write_no + 1, self._write_no + 1 + len(records)))
        self._write_no = write_nos[-1]
        marks = [mark for _, mark in records]
        rows = pa.table(
            {
                "projection_id": pa.array([self.key] * len(records)),
                "write_no": pa.array(write_nos, pa.uint64()),
                "kind": pa.array([kind for kind, _ in records]),
                "first_seq": pa.array([m.first_seq for m in marks], pa.uint64()),
                "last_seq": pa.array([m.last_seq for m in marks], pa.uint64()),
                "batch_token": pa.array([m.batch_token for m in marks]),
                "layout_seq": pa.array([m.layout_seq for m in marks], pa.uint64()),
                "state": pa.array([base64.b64encode(m.state).decode("ascii") for m in marks]),
                "code_version": pa.array([self._code_version] * len(records)),
            }
        )
        first, last = min(m.first_seq for m in marks), max(m.last_seq for m in marks)
        self._store.insert(SealedBatch(f"checkpoint_{self.key}", "projection_checkpoints", first, last, rows))


def live_keys(store: Store, projection: str) -> list[str]:
    """The checkpoint keys of `projection`'s live tables: its own name and `<name>@<partition>` (not a build's)."""
    rows = store.query_rows(
        f"SELECT DISTINCT projection_id FROM {store.database}.projection_checkpoints "
        f"WHERE projection_id = '{projection}' OR startsWith(projection_id, '{projection}@')"
    )
    return sorted(str(key) for (key,) in rows)
