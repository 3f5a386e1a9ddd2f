"""A bounded, crash-safe, append-only spool of messages waiting for the log.

Layout: a directory of segment files `<index:016d>.seg`, each a run of records

    u32 length (little endian) | u32 crc32 of body | body (MessagePack SpoolRecord)

written with os.write on an O_APPEND descriptor, so a crash of the writing
process loses nothing already appended; `fsync` decides what survives a
crash of the machine ("always": every append; "interval": at most
fsync_interval_s seconds of appends; "never": the OS decides). A record cut
short by a crash (short length, short body or a CRC mismatch) is detected
when the spool is opened: the segment is truncated there and the discarded
bytes are counted in `torn_bytes_discarded`, never fatal.

Bound: when appending would take the spool over max_bytes, the oldest
segments are deleted and their unpublished records counted in `dropped`.
Reading never removes anything: `read()` advances a cursor, `commit()`
deletes what the log has acknowledged, `rewind()` goes back to the first
unacknowledged record after a lost connection. After a crash the spool is
drained again from its oldest segment; republished records carry their
original Nats-Msg-Id, so the log stores each once.
"""

from __future__ import annotations

import fcntl
import os
import struct
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

import msgspec

from stream.errors import SpoolError

FsyncPolicy = Literal["always", "interval", "never"]

_HEADER = struct.Struct("<II")
_SUFFIX = ".seg"
_READ_CHUNK = 1 << 20


class SpoolRecord(msgspec.Struct, frozen=True, array_like=True):
    """One message as it will be published: subject, Nats-Msg-Id and payload bytes."""

    subject: str
    msg_id: str
    data: bytes


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(SpoolRecord)


@dataclass(frozen=True, order=True, slots=True)
class SpoolPos:
    """Position just after a record: (segment index, byte offset in that segment)."""

    segment: int
    offset: int


@dataclass(slots=True)
class _Segment:
    index: int
    path: Path
    size: int = 0  # bytes of complete records
    count: int = 0  # records
    committed: int = 0  # records acknowledged (only the oldest segment has any)


@dataclass(slots=True)
class SpoolStats:
    """Counters since the spool was opened; backlog is records on disk not yet committed."""

    appended: int = 0
    dropped: int = 0
    committed: int = 0
    backlog: int = 0
    bytes_on_disk: int = 0
    torn_bytes_discarded: int = 0
    recovered: int = 0  # records found on disk at open (left by an earlier process)


class Spool:
    """An on-disk FIFO of SpoolRecords bounded by max_bytes (bytes); one process at a time per directory."""

    def __init__(
        self,
        directory: Path,
        *,
        max_bytes: int = 256 << 20,
        segment_bytes: int | None = None,
        fsync: FsyncPolicy = "interval",
        fsync_interval_s: float = 1.0,
    ) -> None:
        if max_bytes < 4096:
            raise SpoolError(f"spool max_bytes must be at least 4096, got {max_bytes}")
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes or max(4096, min(max_bytes // 8, 16 << 20))
        if self.segment_bytes * 2 > max_bytes:
            raise SpoolError(
                f"spool segment_bytes ({self.segment_bytes}) must be at most half of max_bytes ({max_bytes}) "
                "so that dropping the oldest segment frees room"
            )
        self.fsync = fsync
        self.fsync_interval_s = fsync_interval_s
        self.stats = SpoolStats()
        self._segments: list[_Segment] = []
        self._write_fd = -1
        self._read_fp: BinaryIO | None = None
        self._read_index = -1
        self._cursor = SpoolPos(0, 0)
        self._last_fsync = time.monotonic()
        self._lock_fd = -1
        self._open()

    # -- opening and recovery -------------------------------------------------------------------

    def _open(self) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._lock_fd = os.open(self.directory / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise SpoolError(f"cannot open spool directory {self.directory}: {exc}") from exc
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(self._lock_fd)
            raise SpoolError(f"spool {self.directory} is in use by another process") from exc
        for path in sorted(self.directory.glob(f"*{_SUFFIX}")):
            try:
                index = int(path.stem)
            except ValueError:
                continue
            segment = _Segment(index, path)
            self._recover(segment)
            if segment.count == 0:
                path.unlink()
                continue
            self._segments.append(segment)
        self.stats.recovered = sum(s.count for s in self._segments)
        self.stats.backlog = self.stats.recovered
        self.stats.bytes_on_disk = sum(s.size for s in self._segments)
        if self._segments:
            self._cursor = SpoolPos(self._segments[0].index, 0)

    def _recover(self, segment: _Segment) -> None:
        """Count a segment's complete records and cut off a torn tail."""
        data = segment.path.read_bytes()
        offset, count = 0, 0
        while offset + _HEADER.size <= len(data):
            length, crc = _HEADER.unpack_from(data, offset)
            end = offset + _HEADER.size + length
            if end > len(data) or zlib.crc32(data[offset + _HEADER.size : end]) != crc:
                break
            offset, count = end, count + 1
        if offset < len(data):
            self.stats.torn_bytes_discarded += len(data) - offset
            with open(segment.path, "r+b") as f:
                f.truncate(offset)
                os.fsync(f.fileno())
        segment.size, segment.count = offset, count

    # -- writing --------------------------------------------------------------------------------

    def append(self, record: SpoolRecord) -> None:
        """Append one record; drops the oldest segments first if the spool would exceed max_bytes."""
        body = _encoder.encode(record)
        frame = _HEADER.pack(len(body), zlib.crc32(body)) + body
        if len(frame) > self.segment_bytes:
            raise SpoolError(f"record of {len(frame)} bytes is larger than a spool segment ({self.segment_bytes})")
        while self._segments and self.stats.bytes_on_disk + len(frame) > self.max_bytes:
            self._drop_oldest()
        tail = self._segments[-1] if self._segments else None
        if tail is None or self._write_fd < 0 or tail.size + len(frame) > self.segment_bytes:
            tail = self._new_segment()
        try:
            written = os.write(self._write_fd, frame)
        except OSError as exc:
            raise SpoolError(f"appending to spool segment {tail.path}: {exc}") from exc
        if written != len(frame):
            raise SpoolError(f"short write to spool segment {tail.path}: {written} of {len(frame)} bytes")
        tail.size += len(frame)
        tail.count += 1
        self.stats.appended += 1
        self.stats.backlog += 1
        self.stats.bytes_on_disk += len(frame)
        if self.fsync == "always" or (
            self.fsync == "interval" and time.monotonic() - self._last_fsync >= self.fsync_interval_s
        ):
            self.sync()

    def sync(self) -> None:
        """fsync the segment being written."""
        if self._write_fd >= 0:
            os.fsync(self._write_fd)
        self._last_fsync = time.monotonic()

    def _new_segment(self) -> _Segment:
        if self._write_fd >= 0:
            self.sync()
            os.close(self._write_fd)
            self._write_fd = -1
        index = self._segments[-1].index + 1 if self._segments else self._cursor.segment + 1
        segment = _Segment(index, self.directory / f"{index:016d}{_SUFFIX}")
        try:
            self._write_fd = os.open(segment.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            dir_fd = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)  # the new file's name must survive a crash too
            finally:
                os.close(dir_fd)
        except OSError as exc:
            raise SpoolError(f"creating spool segment {segment.path}: {exc}") from exc
        self._segments.append(segment)
        if not self.stats.backlog:
            self._cursor = SpoolPos(index, 0)
        return segment

    def _drop_oldest(self) -> None:
        segment = self._segments.pop(0)
        lost = segment.count - segment.committed
        self.stats.dropped += lost
        self.stats.backlog -= lost
        self.stats.bytes_on_disk -= segment.size
        if not self._segments:
            self._close_writer()  # it was also the segment being written
        if self._read_index == segment.index:
            self._close_reader()
        segment.path.unlink(missing_ok=True)
        if self._cursor.segment <= segment.index:
            self._cursor = SpoolPos(self._segments[0].index, 0) if self._segments else SpoolPos(segment.index + 1, 0)

    # -- reading --------------------------------------------------------------------------------

    @property
    def cursor(self) -> SpoolPos:
        """Where the next read() starts."""
        return self._cursor

    def at_end(self) -> bool:
        """True when every record on disk has been read (it may not be committed yet)."""
        if not self._segments:
            return True
        last = self._segments[-1]
        return self._cursor >= SpoolPos(last.index, last.size)

    def read(self, max_records: int) -> list[tuple[SpoolPos, SpoolRecord]]:
        """Return up to max_records records from the cursor, each with the position just after it."""
        out: list[tuple[SpoolPos, SpoolRecord]] = []
        while len(out) < max_records and not self.at_end():
            segment = self._segment_at(self._cursor.segment)
            if segment is None or self._cursor.offset >= segment.size:
                following = [s for s in self._segments if s.index > self._cursor.segment]
                if not following:
                    break
                self._cursor = SpoolPos(following[0].index, 0)
                continue
            f = self._reader(segment)
            f.seek(self._cursor.offset)
            chunk = f.read(min(_READ_CHUNK, segment.size - self._cursor.offset))
            pos = 0
            while len(out) < max_records and pos + _HEADER.size <= len(chunk):
                length, crc = _HEADER.unpack_from(chunk, pos)
                end = pos + _HEADER.size + length
                if end > len(chunk):
                    break
                body = chunk[pos + _HEADER.size : end]
                if zlib.crc32(body) != crc:
                    raise SpoolError(f"spool segment {segment.path} is corrupt at offset {self._cursor.offset + pos}")
                pos = end
                out.append((SpoolPos(segment.index, self._cursor.offset + pos), _decoder.decode(body)))
            if pos == 0:
                raise SpoolError(f"spool record at {segment.path}:{self._cursor.offset} is larger than a read chunk")
            self._cursor = SpoolPos(segment.index, self._cursor.offset + pos)
        return out

    def rewind(self, pos: SpoolPos) -> None:
        """Move the cursor back to `pos` (the start of the first unacknowledged record)."""
        first = self._segments[0].index if self._segments else pos.segment
        self._cursor = pos if pos.segment >= first else SpoolPos(first, 0)

    def commit(self, pos: SpoolPos, records: int) -> None:
        """Mark the `records` records up to `pos` as in the log; delete segments wholly behind it."""
        self.stats.committed += records
        self.stats.backlog = max(0, self.stats.backlog - records)
        while self._segments and self._segments[0].index < pos.segment:
            self._remove(self._segments.pop(0))
        if self._segments and self._segments[0].index == pos.segment:
            head = self._segments[0]
            head.committed += records
            if pos.offset >= head.size and len(self._segments) == 1:
                self._remove(self._segments.pop(0))  # empty again: start afresh with the next append
                self._cursor = SpoolPos(head.index + 1, 0)
                self.stats.backlog = 0

    def _remove(self, segment: _Segment) -> None:
        self.stats.bytes_on_disk -= segment.size
        if self._read_index == segment.index:
            self._close_reader()
        if not self._segments or self._segments[-1].index < segment.index:
            self._close_writer()
        segment.path.unlink(missing_ok=True)

    def _segment_at(self, index: int) -> _Segment | None:
        for segment in self._segments:
            if segment.index == index:
                return segment
        return None

    def _reader(self, segment: _Segment) -> BinaryIO:
        if self._read_fp is None or self._read_index != segment.index:
            self._close_reader()
            self._read_fp = open(segment.path, "rb")  # noqa: SIM115 - kept open across reads
            self._read_index = segment.index
        return self._read_fp

    def _close_reader(self) -> None:
        if self._read_fp is not None:
            self._read_fp.close()
        self._read_fp = None
        self._read_index = -1

    def _close_writer(self) -> None:
        if self._write_fd >= 0:
            os.close(self._write_fd)
            self._write_fd = -1

    def close(self) -> None:
        """fsync and close; what is not committed stays on disk for the next process."""
        if self._write_fd >= 0:
            self.sync()
        self._close_writer()
        self._close_reader()
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1
