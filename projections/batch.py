"""A sealed batch: rows for one table from one stream range, with a dedup token derived from both.

The token is computed from the rows themselves, so a different batch can
never carry an old token (ClickHouse would silently drop it): there is no
way to pass a token in.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import pyarrow as pa


class _HashingSink:
    """A write-only file that hashes what is written to it (the Arrow IPC stream, never held whole)."""

    def __init__(self) -> None:
        self.hash = hashlib.sha256()
        self.closed = False

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


def _digest(rows: pa.Table) -> str:
    """SHA-256 of the rows' Arrow IPC stream; hashed as it is written: a 40 MB batch is never copied whole."""
    sink = _HashingSink()
    with pa.ipc.new_stream(pa.PythonFile(sink, mode="w"), rows.schema) as writer:
        writer.write_table(rows)
    return sink.hash.hexdigest()[:24]


@dataclass(frozen=True)
class SealedBatch:
    """Rows for `table` folded from stream sequences first_seq..last_seq (inclusive) by `projection`."""

    projection: str
    table: str
    first_seq: int
    last_seq: int
    rows: pa.Table
    token: str = field(init=False)

    def __post_init__(self) -> None:
        if self.first_seq < 1 or self.last_seq < self.first_seq:
            raise ValueError(
                f"batch range must satisfy 1 <= first_seq <= last_seq, got {self.first_seq}..{self.last_seq}"
            )
        object.__setattr__(
            self, "token", f"{self.projection}:{self.table}:{self.first_seq}-{self.last_seq}:{_digest(self.rows)}"
        )


def combined_token(batches: list[SealedBatch], events_digest: str = "") -> str:
    """One token for a whole fold step (all tables, and the digest of its derived events if any).

    It is recorded in the intent and compared on recovery; without events it is what it always was.
    """
    h = hashlib.sha256()
    for batch in batches:
        h.update(batch.token.encode())
        h.update(b"\n")
    if events_digest:
        h.update(b"events:" + events_digest.encode())
    return h.hexdigest()[:32]


def events_digest(payloads: list[bytes]) -> str:
    """Digest of a fold step's derived events (their encoded payloads, in order)."""
    h = hashlib.sha256()
    for payload in payloads:
        h.update(len(payload).to_bytes(4, "big"))
        h.update(payload)
    return h.hexdigest()[:24]
