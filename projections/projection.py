"""What a projection is: a pure fold from log events to table rows, with state that can be snapshotted."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import pyarrow as pa

from projections.layouts import LayoutHistory
from schemas.events import AnyEvent, Event

# Every table a projection writes keeps a dedup window, so a batch re-inserted
# with the same token after a crash is dropped (DESIGN.md §4).
DEDUP_SETTINGS = "non_replicated_deduplication_window = 100000"


@dataclass(frozen=True)
class Rejected:
    """An event the fold cannot apply: it goes to the DLQ with this reason."""

    stream_seq: int
    reason: str


@dataclass
class FoldResult:
    """Rows per table (base table names), the events the fold rejected, and derived events to publish.

    A processor (a fold whose output is a stream, not a table) returns `events`;
    the runner publishes them with Nats-Msg-Id = event_id before marking the
    batch done, so a rebuilt batch republishes the same ids and the log drops them.
    """

    rows: dict[str, pa.Table]
    rejected: list[Rejected] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)


@dataclass(frozen=True)
class SeqEvent:
    """An event with its stream sequence (positions are what batches and tokens are made of)."""

    stream_seq: int
    event: AnyEvent


class Projection(Protocol):
    """A deterministic fold: the same events, layouts and starting state always give the same rows.

    Nothing in a fold may read the wall clock, a random source or a mutable global.
    """

    name: str  # table-name-safe id, e.g. "line_counts"
    version: str  # code version; a change that changes rows needs a replay into a new version
    stream: str  # the stream it folds, e.g. "FF_TRACKS"
    filter_subject: str | None
    # Optional: `ignored_types`, the event types on its stream it never folds; the runner drops them
    # unread (their tag is all it reads), so they are neither decoded nor given to fold.

    def table_ddl(self) -> dict[str, str]:
        """CREATE TABLE statements keyed by base table name, with {db} and {table} placeholders."""

    def reset(self) -> None:
        """Forget all state (start of the log)."""

    def snapshot(self) -> bytes:
        """Serialise the fold's state; restore(snapshot()) must give an equal state."""

    def restore(self, data: bytes) -> None:
        """Replace the state with a snapshot."""

    def fold(self, events: list[SeqEvent], layouts: dict[str, LayoutHistory]) -> FoldResult:
        """Fold a batch of events (in stream order) into rows."""


class Stateless:
    """Base of projections whose fold keeps no state between batches (only rows per event)."""

    filter_subject: str | None = None

    def reset(self) -> None:
        """Nothing to forget."""

    def snapshot(self) -> bytes:
        return b""

    def restore(self, data: bytes) -> None:
        """Nothing to restore."""
