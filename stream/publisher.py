"""Publishing events to the log: bounded in-flight window, Nats-Msg-Id = event id, retries with the same id.

Two publishers share one acknowledgement engine (`_AckedSender`): each
message is published with a reply subject of our own inbox, so a JetStream
PubAck lands in one subscription callback, decoded with msgspec. This is
leaner than nats-py's `publish_async` (no future, semaphore and JSON-to-
dataclass round trip per message), which keeps the footfall publisher at or
above raw nats-py speed (`footfall bench log`).

- `Publisher(js)`: on a connection the caller owns. A transient failure (no
  responders, JetStream 503, no ack within ack_timeout_s) is retried with
  the same id up to max_retries times; order across a retry is not kept.
- `SpoolingPublisher(servers, spool_dir)` (stream/spooling.py): owns its
  connection, spools to disk while the log is unreachable, keeps order.

Per message, nats-py's publish validates the subject and reply with regular expressions and builds
the header block key by key, and its callback subscription makes a Msg and awaits a callback for each
PubAck: together about 30 us a message, which is most of what the zone processor spends on a crowded
day (~20 derived events per second of store time, nine in ten occupancy samples). So the HPUB command
is written here in one piece (the subject and id are footfall's own validated tokens), and the PubAcks
come through an Inbox (stream/inbox.py) as bytes. Both lean on nats-py internals (`_send_command`,
`_flush_pending`, `_flush_queue`, `_max_payload`): `_raw_send_problem` checks them, and where they do
not look as expected, or FOOTFALL_NATS_FAST_PATH=0, messages go through `nc.publish` instead.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

import msgspec
import nats.errors
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from schemas.codec import encode
from schemas.events import Event
from schemas.subjects import subject_for
from stream.errors import LogError, LogUnavailable, PayloadTooLarge
from stream.inbox import FAST_PATH_ENV, Inbox
from stream.spool import SpoolPos, SpoolRecord

# Privacy bound (DESIGN.md §6.1): a frame of 200 tracks encodes to ~30 KiB;
# anything near a JPEG's size is refused, so pixels cannot ride along.
MAX_PAYLOAD_BYTES = 64 * 1024

MSG_ID_HEADER = "Nats-Msg-Id"
_TRANSIENT_API_CODES = frozenset({503})  # JetStream temporarily unavailable (leader election, recovery)


class PublishResult:
    """Counts of what the log did with what was published: stored new, or dropped as duplicate."""

    __slots__ = ("duplicates", "stored")

    def __init__(self) -> None:
        self.stored = 0
        self.duplicates = 0

    def __repr__(self) -> str:
        return f"PublishResult(stored={self.stored}, duplicates={self.duplicates})"


class _ApiError(msgspec.Struct):
    code: int = 0
    err_code: int = 0
    description: str = ""


class _PubAck(msgspec.Struct):
    stream: str = ""
    seq: int = 0
    duplicate: bool = False
    error: _ApiError | None = None


_ack_decoder = msgspec.json.Decoder(_PubAck)
_HEADER_START = b"NATS/1.0\r\n" + MSG_ID_HEADER.encode() + b": "
_HEADER_END = b"\r\n\r\n"


def _raw_send_problem(nc: NatsClient) -> str | None:
    """Why HPUB commands cannot be handed to this client directly (a sentence), or None when they can."""
    if os.environ.get(FAST_PATH_ENV, "1").strip() == "0":
        return f"switched off by {FAST_PATH_ENV}=0"
    for name in ("_send_command", "_flush_pending"):
        if not inspect.iscoroutinefunction(getattr(nc, name, None)):
            return f"Client.{name} is not a coroutine function"
    if not isinstance(getattr(nc, "_max_payload", None), int) or not hasattr(nc, "_flush_queue"):
        return "Client has no int _max_payload or no _flush_queue"
    return None


def _check_msg_id(msg_id: str) -> None:
    if "\r" in msg_id or "\n" in msg_id:
        raise ValueError(f"a Nats-Msg-Id cannot hold a line break, got {msg_id!r}")


def _hpub(subject: str, reply: str, msg_id: str, data: bytes) -> bytes:
    """The HPUB command of one message with its Nats-Msg-Id header, as nats-py would write it."""
    _check_msg_id(msg_id)
    header = b"".join((_HEADER_START, msg_id.encode(), _HEADER_END))
    head = f"HPUB {subject} {reply} {len(header)} {len(header) + len(data)}\r\n".encode()
    return b"".join((head, header, data, b"\r\n"))


@dataclass(slots=True, eq=False)
class _Entry:
    """One message in flight; spool_start/spool_end are set when it was read from the spool."""

    record: SpoolRecord
    spool_start: SpoolPos | None = None
    spool_end: SpoolPos | None = None
    sent_at: float = 0.0
    attempts: int = 0
    settled: bool = False


def to_record(event: Event, max_payload_bytes: int) -> SpoolRecord:
    """Encode an event for the log; PayloadTooLarge if it exceeds the privacy bound (bytes)."""
    payload = encode(event)
    if len(payload) > max_payload_bytes:
        raise PayloadTooLarge(
            f"{type(event).__name__} {event.event_id} encodes to {len(payload)} bytes, "
            f"over the privacy bound of {max_payload_bytes} bytes"
        )
    return SpoolRecord(subject_for(event), event.event_id, payload)


class _AckedSender:
    """The in-flight window and PubAck handling shared by both publishers."""

    def __init__(self, *, max_in_flight: int, max_payload_bytes: int, ack_timeout_s: float) -> None:
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1, got {max_in_flight}")
        self._max_in_flight = max_in_flight
        self._low_water = max(0, max_in_flight * 3 // 4)
        self._max_payload = max_payload_bytes
        self._ack_timeout_s = ack_timeout_s
        self._inflight: dict[str, _Entry] = {}  # insertion order = send order
        self._next_token = 0
        self._prefix = ""
        self._prefix_len = 0
        self._inbox: Inbox | None = None
        self._raw = False
        self._room = asyncio.Event()
        self._room.set()
        self._idle = asyncio.Event()
        self._idle.set()
        self.result = PublishResult()
        self.rejected = 0
        self._failures: list[str] = []

    async def _open_inbox(self, nc: NatsClient) -> None:
        self._prefix = nc.new_inbox() + "."
        self._prefix_len = len(self._prefix)
        self._inbox = Inbox(nc, self._prefix + "*", self)
        await self._inbox.start()
        self._raw = _raw_send_problem(nc) is None

    def _track(self, entry: _Entry) -> str:
        """Put entry in flight under a new token (its reply subject's last token); return the token."""
        self._next_token += 1
        token = str(self._next_token)
        entry.sent_at = time.monotonic()
        entry.attempts += 1
        self._inflight[token] = entry
        if len(self._inflight) >= self._max_in_flight:
            self._room.clear()
        self._idle.clear()
        return token

    async def _send(self, nc: NatsClient, entry: _Entry) -> None:
        if self._raw:
            await self._send_many(nc, [entry])
            return
        token = self._track(entry)
        record = entry.record
        await nc.publish(
            record.subject, record.data, reply=self._prefix + token, headers={MSG_ID_HEADER: record.msg_id}
        )

    async def _send_many(self, nc: NatsClient, entries: list[_Entry]) -> None:
        """Send entries as one piece of HPUB commands: nats-py's publish, less what footfall's records make
        needless (see the module docstring). Only on the raw path.

        The entries are in flight before anything can fail, as with nats-py's publish: a publisher that loses
        its connection here finds them among the unacknowledged (the spooling publisher spools them again).
        """
        for e in entries:  # refused before any is in flight: it would never be acknowledged
            _check_msg_id(e.record.msg_id)
        tokens = [self._track(e) for e in entries]
        if nc.is_closed:
            raise nats.errors.ConnectionClosedError
        if nc.is_draining_pubs:
            raise nats.errors.ConnectionDrainingError
        size = sum(len(e.record.data) for e in entries)
        if max(len(e.record.data) for e in entries) > nc._max_payload:
            raise nats.errors.MaxPayloadError
        if not nc.is_connected and (nc._max_pending_size <= 0 or size + nc._pending_data_size > nc._max_pending_size):
            raise nats.errors.OutboundBufferLimitError
        prefix = self._prefix
        commands = [
            _hpub(e.record.subject, prefix + token, e.record.msg_id, e.record.data)
            for e, token in zip(entries, tokens, strict=True)
        ]
        await nc._send_command(b"".join(commands))
        nc.stats["out_msgs"] += len(entries)
        nc.stats["out_bytes"] += size
        if nc._flush_queue is not None and nc._flush_queue.empty():
            await nc._flush_pending()

    def on_status(self, subject: bytes, code: str, description: str) -> None:
        """A status instead of a PubAck: 503, no responders (no stream captures the subject, or JetStream
        is down), is worth a retry; anything else is not."""
        token = subject.decode()[self._prefix_len :]
        entry = self._inflight.get(token)
        if entry is None:
            return  # an answer to a message already given up on (timed out and resent)
        if code == "503":
            self._transient(token, entry, "no responders: no stream captures the subject, or JetStream is down")
        else:
            self._permanent(token, entry, f"status {code} {description}".strip())

    def on_message(self, subject: bytes, reply: bytes, data: bytes) -> None:
        """A PubAck (in the client's read loop: quick, and never raises)."""
        token = subject.decode()[self._prefix_len :]
        entry = self._inflight.get(token)
        if entry is None:
            return  # an answer to a message already given up on (timed out and resent)
        try:
            ack = _ack_decoder.decode(data)
        except msgspec.DecodeError:
            self._permanent(token, entry, f"unreadable PubAck {data[:200]!r}")
            return
        if ack.error is not None:
            reason = f"{ack.error.description} (code {ack.error.code}, err_code {ack.error.err_code})"
            if ack.error.code in _TRANSIENT_API_CODES:
                self._transient(token, entry, reason)
            else:
                self._permanent(token, entry, reason)
            return
        if ack.duplicate:
            self.result.duplicates += 1
        else:
            self.result.stored += 1
        self._settle(token, entry)

    def _settle(self, token: str, entry: _Entry) -> None:
        del self._inflight[token]
        entry.settled = True
        n = len(self._inflight)
        if n <= self._low_water:
            self._room.set()
        if n == 0:
            self._idle.set()

    def _permanent(self, token: str, entry: _Entry, reason: str) -> None:
        self.rejected += 1
        self._failures.append(f"{entry.record.subject} {entry.record.msg_id}: {reason}")
        self._settle(token, entry)

    def _transient(self, token: str, entry: _Entry, reason: str) -> None:
        raise NotImplementedError

    def _oldest_overdue(self) -> tuple[str, _Entry] | None:
        if not self._inflight:
            return None
        token, entry = next(iter(self._inflight.items()))
        if time.monotonic() - entry.sent_at > self._ack_timeout_s:
            return token, entry
        return None

    def _raise_failures(self) -> None:
        if self._failures:
            first, count = self._failures[0], len(self._failures)
            self._failures.clear()
            raise LogError(f"{count} publish(es) refused by the log; first: {first}")


class Publisher(_AckedSender):
    """Publishes events with Nats-Msg-Id = event_id, so a republished event is stored once.

    At most `max_in_flight` publishes await their acks. A transient failure
    (no responders, JetStream 503, no ack within ack_timeout_s seconds) is
    retried with the same id up to max_retries times; `flush()` waits for all
    of them and raises LogError naming the first that failed for good. The
    caller owns the connection behind `js`.
    """

    def __init__(
        self,
        js: JetStreamContext,
        *,
        max_in_flight: int = 4096,
        max_payload_bytes: int = MAX_PAYLOAD_BYTES,
        ack_timeout_s: float = 10.0,
        max_retries: int = 3,
    ) -> None:
        super().__init__(max_in_flight=max_in_flight, max_payload_bytes=max_payload_bytes, ack_timeout_s=ack_timeout_s)
        # nats-py has no public accessor for a context's connection; we need it for our own reply inbox.
        self._nc: NatsClient = js._nc
        self._max_retries = max_retries
        self._retry: list[_Entry] = []

    async def publish(self, event: Event) -> None:
        """Queue one event; returns once it is in flight (waits while the window is full)."""
        record = to_record(event, self._max_payload)
        await self.publish_record(record)

    async def publish_record(self, record: SpoolRecord) -> None:
        """Queue an already encoded message (subject, Nats-Msg-Id, payload)."""
        if not self._prefix:
            await self._guard(self._open_inbox(self._nc))
        while not self._room.is_set() or self._retry:
            await self._resend_due()
            if self._room.is_set():
                break
            await self._wait(self._room)
        await self._guard(self._send(self._nc, _Entry(record)))

    async def publish_records(self, records: Sequence[SpoolRecord]) -> None:
        """Queue already encoded messages, in order, as many at a time as the in-flight window has room for."""
        if not self._prefix:
            await self._guard(self._open_inbox(self._nc))
        if not self._raw or not records:
            for record in records:
                await self.publish_record(record)
            return
        done = 0
        while done < len(records):
            while not self._room.is_set() or self._retry:
                await self._resend_due()
                if self._room.is_set():
                    break
                await self._wait(self._room)
            room = max(1, self._max_in_flight - len(self._inflight))
            chunk = [_Entry(record) for record in records[done : done + room]]
            await self._guard(self._send_many(self._nc, chunk))
            done += len(chunk)

    async def flush(self) -> PublishResult:
        """Wait for every in-flight publish (retrying transient failures); raise LogError naming the first failure."""
        while self._inflight or self._retry:
            await self._resend_due()
            if self._inflight:
                await self._wait(self._idle)
        self._raise_failures()
        return self.result

    async def _wait(self, event: asyncio.Event) -> None:
        try:
            await asyncio.wait_for(event.wait(), timeout=max(0.05, self._ack_timeout_s / 4))
        except TimeoutError:
            overdue = self._oldest_overdue()
            if overdue is not None:
                self._transient(*overdue, f"no PubAck within {self._ack_timeout_s} s")

    async def _resend_due(self) -> None:
        retry, self._retry = self._retry, []
        for entry in retry:
            await self._guard(self._send(self._nc, entry))

    def _transient(self, token: str, entry: _Entry, reason: str) -> None:
        if entry.attempts > self._max_retries:
            self._permanent(token, entry, f"{reason}; gave up after {entry.attempts} attempts")
            return
        self._settle(token, entry)
        entry.settled = False
        self._retry.append(entry)

    @staticmethod
    async def _guard(coro: object) -> None:
        try:
            await coro  # type: ignore[misc]
        except (nats.errors.ConnectionClosedError, nats.errors.OutboundBufferLimitError) as exc:
            raise LogUnavailable(f"publishing: connection to the log is {type(exc).__name__}") from exc
        except nats.errors.MaxPayloadError as exc:
            raise PayloadTooLarge(f"publishing: payload exceeds the server's max_payload: {exc}") from exc
