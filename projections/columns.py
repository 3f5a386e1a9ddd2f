"""A batch of the tracks stream as columns: the shape every track projection folds fastest.

From the log, canonical TrackFrames go straight from MessagePack into numpy
(schemas.frame_columns); anything else is decoded by the codec. From events
(tests, folds called directly) Python touches each track once per column.
Both give the same columns, so a batch folds the same however it arrived.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import compress
from typing import Protocol, cast, runtime_checkable

import numpy as np
import numpy.typing as npt

from projections.layouts import LayoutHistory
from projections.projection import FoldResult, Rejected, SeqEvent
from schemas.codec import decode
from schemas.errors import SchemaError
from schemas.events import TrackClosed, TrackFrame
from schemas.frame_columns import FrameColumns, frame_columns


@dataclass(frozen=True)
class TrackColumns:
    """Calibrated observations of a batch, in log order.

    Per observation (n,): frame (index into the per-frame columns), track_id,
    x_m, y_m (floor metres). Per frame (f,): store_id, camera_id, edge_run_id,
    ts_ns, frame_seq, stream_seq. Observations without a floor position are left out.
    """

    frame: npt.NDArray[np.int64]
    track_id: npt.NDArray[np.int64]
    x_m: npt.NDArray[np.float64]
    y_m: npt.NDArray[np.float64]
    store_id: list[str]
    camera_id: list[str]
    edge_run_id: list[str]
    ts_ns: npt.NDArray[np.int64]
    frame_seq: npt.NDArray[np.int64]
    stream_seq: npt.NDArray[np.int64]

    @classmethod
    def from_frames(cls, frames: Sequence[TrackFrame], seqs: Sequence[int]) -> TrackColumns:
        tracks = [t for f in frames for t in f.tracks]
        counts = np.fromiter((len(f.tracks) for f in frames), dtype=np.int64, count=len(frames))
        # None (uncalibrated camera) becomes NaN and is masked out.
        x = np.array([t.floor_x_m for t in tracks], dtype=np.float64)
        y = np.array([t.floor_y_m for t in tracks], dtype=np.float64)
        keep = ~(np.isnan(x) | np.isnan(y))
        return cls(
            frame=np.repeat(np.arange(len(frames), dtype=np.int64), counts)[keep],
            track_id=np.fromiter((t.track_id for t in tracks), dtype=np.int64, count=len(tracks))[keep],
            x_m=x[keep],
            y_m=y[keep],
            store_id=[f.store_id for f in frames],
            camera_id=[f.camera_id for f in frames],
            edge_run_id=[f.edge_run_id for f in frames],
            ts_ns=np.fromiter((f.ts_ns for f in frames), dtype=np.int64, count=len(frames)),
            frame_seq=np.fromiter((f.frame_seq for f in frames), dtype=np.int64, count=len(frames)),
            stream_seq=np.asarray(seqs, dtype=np.int64),
        )

    def __len__(self) -> int:
        return len(self.track_id)

    def frame_codes(self, *names: str) -> tuple[npt.NDArray[np.int64], list[tuple[str, ...]]]:
        """Code each frame by the tuple of the named per-frame string columns; return (codes (f,), values)."""
        index: dict[tuple[str, ...], int] = {}
        columns = [getattr(self, name) for name in names]
        codes = np.fromiter(
            (index.setdefault(key, len(index)) for key in zip(*columns, strict=True)),
            dtype=np.int64,
            count=len(self.ts_ns),
        )
        return codes, list(index)


@dataclass(frozen=True)
class TrackBatch:
    """One batch of the tracks stream, in log order.

    columns: every TrackFrame. closed: each TrackClosed with the number of
    frames before it in the batch (so a fold knows which observations come
    after it). other: events of any other type, for the fold to reject.
    """

    columns: TrackColumns
    closed: list[tuple[int, TrackClosed]]
    other: list[SeqEvent]

    @classmethod
    def from_events(cls, events: Sequence[SeqEvent]) -> TrackBatch:
        frames: list[TrackFrame] = []
        seqs: list[int] = []
        closed: list[tuple[int, TrackClosed]] = []
        other: list[SeqEvent] = []
        for item in events:
            if isinstance(item.event, TrackFrame):
                frames.append(item.event)
                seqs.append(item.stream_seq)
            elif isinstance(item.event, TrackClosed):
                closed.append((len(frames), item.event))
            else:
                other.append(item)
        return cls(TrackColumns.from_frames(frames, seqs), closed, other)

    @classmethod
    def from_payloads(
        cls, stream_seqs: Sequence[int], payloads: list[bytes], parsed: FrameColumns | None = None
    ) -> tuple[TrackBatch, list[Rejected]]:
        """Decode MessagePack payloads with their stream sequences (two lists of one length); messages that are
        no valid event come back rejected.

        parsed: frame_columns(payloads), when the caller has parsed them already (in a worker thread).
        """
        if len(stream_seqs) != len(payloads):
            raise ValueError(f"{len(stream_seqs)} stream sequences for {len(payloads)} payloads")
        if parsed is None:
            parsed = frame_columns(payloads)
        elif len(parsed.ok) != len(payloads):
            raise ValueError(f"columns parsed from {len(parsed.ok)} messages given with {len(payloads)} payloads")
        # Only the messages the fast path declined are looked at one by one (TrackClosed, other types,
        # non-canonical encodings); the frames' positions come from a running count.
        is_frame = parsed.ok.copy()
        slow: list[TrackFrame] = []  # frames the codec decoded (a non-canonical encoding)
        slow_at: list[int] = []  # their message indices
        closed_at: list[tuple[int, TrackClosed]] = []
        other: list[SeqEvent] = []
        rejected: list[Rejected] = []
        for i in np.flatnonzero(~parsed.ok).tolist():
            try:
                event = decode(payloads[i])
            except SchemaError as exc:
                rejected.append(Rejected(stream_seqs[i], str(exc)))
                continue
            if isinstance(event, TrackFrame):
                is_frame[i] = True
                slow.append(event)
                slow_at.append(i)
            elif isinstance(event, TrackClosed):
                closed_at.append((i, event))
            else:
                other.append(SeqEvent(stream_seqs[i], event))
        frames_through = np.cumsum(is_frame)  # (m,): frames among messages 0..i
        position = frames_through - 1  # a frame message's position among the batch's frames
        frame_of_fast = position[parsed.ok].tolist()
        frame_of_slow = position[slow_at].tolist()
        closed = [(int(frames_through[i]), event) for i, event in closed_at]  # frames before it
        seqs = np.asarray(stream_seqs, dtype=np.int64)[is_frame].tolist()

        ok = parsed.ok
        fast_frames = np.asarray(frame_of_fast, dtype=np.int64)
        frame = np.repeat(fast_frames, parsed.count[ok])
        track_id, x, y = parsed.track_id, parsed.floor_x_m, parsed.floor_y_m
        ok_list = ok.tolist()
        # The fast frames' ids in order; without codec frames among them that is every frame's.
        store_id: list[str | None] = list(compress(parsed.store_id, ok_list))
        camera_id: list[str | None] = list(compress(parsed.camera_id, ok_list))
        edge_run_id: list[str | None] = list(compress(parsed.edge_run_id, ok_list))
        ts_ns = np.zeros(len(seqs), dtype=np.int64)
        ts_ns[fast_frames] = parsed.ts_ns[ok]
        frame_seq = np.zeros(len(seqs), dtype=np.int64)
        frame_seq[fast_frames] = parsed.frame_seq[ok]
        if slow:
            fast_ids = store_id, camera_id, edge_run_id
            store_id, camera_id, edge_run_id = [None] * len(seqs), [None] * len(seqs), [None] * len(seqs)
            for column, values in zip((store_id, camera_id, edge_run_id), fast_ids, strict=True):
                for position, value in zip(frame_of_fast, values, strict=True):
                    column[position] = value
            # Rare: merge the codec's frames in at their positions, keeping each frame's track order.
            slow_cols = TrackColumns.from_frames(slow, [0] * len(slow))
            slow_frames = np.asarray(frame_of_slow, dtype=np.int64)
            frame = np.concatenate([frame, slow_frames[slow_cols.frame]])
            order = np.argsort(frame, kind="stable")
            frame = frame[order]
            track_id = np.concatenate([track_id, slow_cols.track_id])[order]
            x = np.concatenate([x, slow_cols.x_m])[order]
            y = np.concatenate([y, slow_cols.y_m])[order]
            ts_ns[slow_frames] = slow_cols.ts_ns
            frame_seq[slow_frames] = slow_cols.frame_seq
            for position, event in zip(frame_of_slow, slow, strict=True):
                store_id[position] = event.store_id
                camera_id[position] = event.camera_id
                edge_run_id[position] = event.edge_run_id
        keep = ~(np.isnan(x) | np.isnan(y))  # uncalibrated observations, fast or slow, leave here
        columns = TrackColumns(
            frame=frame[keep],
            track_id=track_id[keep],
            x_m=x[keep],
            y_m=y[keep],
            store_id=_filled(store_id),
            camera_id=_filled(camera_id),
            edge_run_id=_filled(edge_run_id),
            ts_ns=ts_ns,
            frame_seq=frame_seq,
            stream_seq=np.asarray(seqs, dtype=np.int64),
        )
        return cls(columns, closed, other), rejected


def _filled(values: list[str | None]) -> list[str]:
    return cast(list[str], values)  # every frame position was filled by a parsed or a decoded frame


@runtime_checkable
class TrackFold(Protocol):
    """A projection over the tracks stream that folds whole batches as columns (the runner's fast path).

    fold_tracks must give the same result as fold() over the same events: the runner uses one or the other.
    """

    def fold_tracks(self, batch: TrackBatch, layouts: dict[str, LayoutHistory]) -> FoldResult: ...
