"""Durable pull consumers: fetch batches, decode once, dead-letter what cannot be decoded or keeps failing.

Poison messages: the consumer asks the server for max_deliver + 1 deliveries
and checks each message's delivery count on fetch (`num_delivered` from its
ack subject). A message delivered more than max_deliver times, i.e. one the
caller failed to process max_deliver times, goes to the DLQ with the reason
and is acked instead of being returned. The server's MaxDeliver is only a
backstop (if the DLQ publish itself keeps failing); we do not rely on the
MAX_DELIVERIES advisory because an advisory published while no one listens
is lost.

Sizing: one batch is processed and acked at a time while at most the next
one is prefetched, so max_ack_pending is three batches (one in hand, one
prefetched, one being redelivered) and ack_wait_s is the time one batch may
take to process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any, NamedTuple

import nats.errors
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js import api as js_api
from nats.js.errors import APIError, NotFoundError

from schemas.codec import decode
from schemas.errors import SchemaError
from schemas.events import AnyEvent
from schemas.subjects import dlq_subject
from stream.acks import parse_ack_subject, parse_ack_subjects
from stream.errors import LogError, LogUnavailable
from stream.inbox import Inbox
from stream.status import ns_to_rfc3339

# Bytes one pull request may bring. The server disconnects a client that leaves more than its
# max_pending (64 MiB by default) unread, and several runners share one connection, each with a
# request in flight while it folds: three runners on the tracks stream stay under it. Uncapped, a
# batch of 5000 50-track frames is 27 MB.
REQUEST_MAX_BYTES = 16 * 1024 * 1024
# How long to wait for the end of a no_wait request (its messages, then a status if it fell short).
_NO_WAIT_REPLY_S = 10.0

_ACK = b"+ACK"
_NAK = b"-NAK"

# Headers on a dead letter: where it came from and why it could not be used.
DLQ_SUBJECT_HEADER = "Footfall-Original-Subject"
DLQ_STREAM_HEADER = "Footfall-Original-Stream"
DLQ_SEQ_HEADER = "Footfall-Original-Seq"
DLQ_REASON_HEADER = "Footfall-Reason"


class RawDelivered(NamedTuple):
    """One message as delivered, not yet decoded: position (stream_seq starts at 1) and payload.

    reply: the ack subject. stored_ts_ns: when the log stored it (ns since the Unix epoch, UTC), not the
    event's ts_ns. num_delivered: 1 on first delivery, more on redelivery. consumer_seq: the consumer's
    own sequence. num_pending: messages of the stream not yet delivered to the consumer when this one was.
    A tuple rather than a dataclass: a batch makes thousands, and a frozen dataclass costs several times
    more to build.
    """

    stream_seq: int
    subject: str
    data: bytes
    reply: bytes
    stored_ts_ns: int = 0
    num_delivered: int = 1
    consumer_seq: int = 0
    num_pending: int = 0


@dataclass(frozen=True, slots=True)
class Delivered:
    """One decoded event and its position in the stream (see RawDelivered for the other fields)."""

    stream_seq: int
    subject: str
    event: AnyEvent
    data: bytes
    reply: bytes
    stored_ts_ns: int = 0
    num_delivered: int = 1
    consumer_seq: int = 0


@dataclass(frozen=True)
class DeliveredBatch:
    """The messages of one fetch as columns, in delivery order (each field as in RawDelivered).

    A fetch of thousands of messages builds eight lists rather than thousands of objects: the
    projection runner reads them on the event loop's thread, which is the one receiving.
    """

    stream_seq: list[int]
    subject: list[str]
    data: list[bytes]
    reply: list[bytes]
    stored_ts_ns: list[int]
    num_delivered: list[int]
    consumer_seq: list[int]
    num_pending: list[int]

    @classmethod
    def of(cls, delivered: Sequence[RawDelivered]) -> DeliveredBatch:
        if not delivered:
            return cls([], [], [], [], [], [], [], [])
        return cls(*(list(column) for column in zip(*delivered, strict=True)))

    def __len__(self) -> int:
        return len(self.stream_seq)

    def rows(self) -> list[RawDelivered]:
        return list(map(RawDelivered, *self._columns()))

    def select(self, positions: Sequence[int]) -> DeliveredBatch:
        """The messages at `positions`, in that order."""
        return DeliveredBatch(*([column[i] for i in positions] for column in self._columns()))

    def last(self) -> RawDelivered:
        """The message delivered last (highest consumer_seq): an AckPolicy.ALL ack of it covers the batch."""
        i = max(range(len(self)), key=self.consumer_seq.__getitem__)
        return RawDelivered(*(column[i] for column in self._columns()))

    def _columns(self) -> tuple[list[Any], ...]:
        # In field order, which is RawDelivered's; dataclasses.astuple would deep-copy every list.
        return tuple(getattr(self, f.name) for f in fields(self))


def deliver_config(start_seq: int | None, start_time_ns: int | None) -> dict[str, object]:
    """ConsumerConfig fields that start delivery at a stream sequence, at a stored time (ts_ns), or at the start."""
    if start_seq is not None and start_time_ns is not None:
        raise ValueError("give start_seq or start_time_ns, not both")
    if start_seq is not None:
        if start_seq < 1:
            raise ValueError(f"start_seq must be at least 1, got {start_seq}")
        return {"deliver_policy": js_api.DeliverPolicy.BY_START_SEQUENCE, "opt_start_seq": start_seq}
    if start_time_ns is not None:
        # nats-py types this as a datetime (microseconds) but passes a string through; JetStream
        # parses RFC 3339 with nanoseconds, so the start is exact.
        return {
            "deliver_policy": js_api.DeliverPolicy.BY_START_TIME,
            "opt_start_time": ns_to_rfc3339(start_time_ns),
        }
    return {"deliver_policy": js_api.DeliverPolicy.ALL}


class PullConsumer:
    """A durable pull consumer on one stream with explicit acks.

    Messages that fail to decode, or were delivered more than max_deliver
    times, are published to `ff.dlq.v1.<origin>` with the reason and acked,
    so a bad message never stops a projection. start_seq / start_time_ns
    (ns since the epoch, compared with the time the log stored each message)
    apply when the durable is first created; later opens resume where it was.
    ack_wait_s: seconds one batch may take between fetch and ack.
    """

    def __init__(
        self,
        nc: NatsClient,
        stream: str,
        durable: str,
        *,
        filter_subject: str | None = None,
        filter_subjects: list[str] | None = None,
        batch: int = 1000,
        ack_wait_s: float = 60.0,
        origin: str | None = None,
        max_deliver: int = 5,
        start_seq: int | None = None,
        start_time_ns: int | None = None,
        reposition: bool = False,
        ack_all: bool = False,
    ) -> None:
        if max_deliver < 1:
            raise ValueError(f"max_deliver must be at least 1, got {max_deliver}")
        if filter_subject is not None and filter_subjects:
            raise ValueError("give filter_subject or filter_subjects, not both")
        self._start = deliver_config(start_seq, start_time_ns)
        self._nc = nc
        self._js = nc.jetstream()
        self.stream = stream
        self.durable = durable
        self._filter = filter_subject
        # Several filters (NATS 2.10): a projector partitioned by store reads its stores' subjects only.
        self._filters = list(filter_subjects) if filter_subjects else None
        self._batch = batch
        self._ack_wait_s = ack_wait_s
        self._origin = origin or durable
        self.max_deliver = max_deliver
        # reposition: the caller keeps its own position (a projection's checkpoint) and the
        # server's copy is only a cache of it, so open() re-creates the durable at start_seq.
        self._reposition = reposition
        # AckPolicy.ALL: acking a message acks every earlier one, so an in-order reader acks a
        # batch with one message. Only for callers that reposition on open: a dead letter's ack
        # then also acks the unprocessed messages before it, which only repositioning makes safe.
        if ack_all and not reposition:
            raise ValueError("ack_all needs reposition=True (the caller must own its position)")
        self._ack_all = ack_all
        self._pull: _PullRequests | None = None
        self.dead_lettered = 0

    async def open(self) -> None:
        """Create or bind the durable consumer."""
        config = js_api.ConsumerConfig(
            durable_name=self.durable,
            ack_policy=js_api.AckPolicy.ALL if self._ack_all else js_api.AckPolicy.EXPLICIT,
            ack_wait=self._ack_wait_s,
            max_ack_pending=self._batch * 3,  # one batch in hand, one prefetched, one being redelivered
            max_deliver=self.max_deliver + 1,  # the last delivery only moves the message to the DLQ
            filter_subject=self._filter,
            filter_subjects=self._filters,
            **self._start,  # type: ignore[arg-type]
        )
        try:
            if self._reposition:
                with contextlib.suppress(NotFoundError):
                    await self._js.delete_consumer(self.stream, self.durable)
            try:
                await self._js.consumer_info(self.stream, self.durable)  # an existing durable is bound as it is
            except NotFoundError:
                await self._js.add_consumer(self.stream, config)
            self._pull = _PullRequests(self._nc, self.stream, self.durable)
            await self._pull.start()
        except APIError as exc:
            raise LogError(f"opening consumer {self.durable} on {self.stream}: {exc.description or exc}") from exc
        except (nats.errors.TimeoutError, nats.errors.NoRespondersError, nats.errors.ConnectionClosedError) as exc:
            raise LogUnavailable(f"opening consumer {self.durable} on {self.stream}: {type(exc).__name__}") from exc

    async def fetch(self, timeout_s: float = 1.0) -> list[Delivered]:
        """Fetch up to one batch, decoded; an empty list means nothing arrived within timeout_s seconds.

        A message that does not decode goes to the DLQ with the codec's reason and is acked.
        """
        out = []
        for raw in await self.fetch_raw(timeout_s):
            try:
                event = decode(raw.data)
            except SchemaError as exc:
                await self._reject(raw, str(exc))
                continue
            out.append(Delivered(raw.stream_seq, raw.subject, event, raw.data, raw.reply, raw.stored_ts_ns,
                                 raw.num_delivered, raw.consumer_seq))  # fmt: skip
        return out

    async def fetch_raw(self, timeout_s: float = 1.0) -> list[RawDelivered]:
        """Fetch up to one batch without decoding (the caller decodes, e.g. a whole batch into columns).

        Messages over max_deliver still go to the DLQ here; an empty list means nothing arrived in timeout_s.
        """
        return (await self.fetch_batch(timeout_s)).rows()

    async def fetch_batch(self, timeout_s: float = 1.0) -> DeliveredBatch:
        """fetch_raw as columns: the form for a caller that handles thousands of messages per batch."""
        if self._pull is None:
            raise RuntimeError("PullConsumer.open() must be called before fetch()")
        try:
            received = await self._pull.fetch(self._batch, timeout_s)
        except nats.errors.ConnectionClosedError as exc:
            raise LogUnavailable(f"fetching from {self.durable}: connection closed") from exc
        if not received:
            return DeliveredBatch.of([])
        subjects, replies, payloads = zip(*received, strict=True)
        acks = parse_ack_subjects(replies)
        if acks is None:  # not all v1 ack subjects: one at a time, dropping what is no stream message
            delivered = [d for d in (_raw_delivered(s, r, data) for s, r, data in received) if d is not None]
            batch = DeliveredBatch.of(delivered)
        else:
            names = {subject: subject.decode() for subject in set(subjects)}  # a few subjects, many messages
            named = [names[subject] for subject in subjects]
            batch = DeliveredBatch(acks.stream_seq, named, list(payloads), list(replies), acks.stored_ts_ns,
                                   acks.num_delivered, acks.consumer_seq, acks.num_pending)  # fmt: skip
        if max(batch.num_delivered, default=0) <= self.max_deliver:
            return batch
        keep = []
        for i, raw in enumerate(batch.rows()):
            if raw.num_delivered > self.max_deliver:
                await self._reject(
                    raw, f"delivered {raw.num_delivered} times without an ack (max_deliver {self.max_deliver})"
                )
            else:
                keep.append(i)
        return batch.select(keep)

    async def prefetch(self) -> None:
        """Start receiving the next batch now, in the background, while the caller processes this one.

        Messages land in the buffer the next fetch reads, in order; that fetch raises any error it met.
        """
        if self._pull is None:
            raise RuntimeError("PullConsumer.open() must be called before prefetch()")
        await self._pull.prefetch(self._batch)

    async def _reject(self, delivered: Delivered | RawDelivered, reason: str) -> None:
        await dead_letter_data(
            self._js, self._origin, stream=self.stream, seq=delivered.stream_seq, subject=delivered.subject,
            data=delivered.data, reason=reason,
        )  # fmt: skip
        await _ack(self._nc, delivered.reply, confirmed=True)  # the server confirms, so pending() right after
        # counts it; dead letters are rare
        self.dead_lettered += 1

    async def reject(self, delivered: Delivered, reason: str) -> None:
        """Send a decoded message that cannot be applied to the DLQ with the reason, and ack it."""
        await self._reject(delivered, reason)

    async def nak(self, delivered: Delivered | RawDelivered) -> None:
        """Processing failed: ask the server to deliver the message again now rather than after ack_wait."""
        try:
            await self._nc.publish(delivered.reply.decode(), _NAK)
        except nats.errors.ConnectionClosedError as exc:
            raise LogUnavailable(f"nak on {self.durable}: connection closed") from exc

    async def pending(self) -> int:
        """Messages in the stream not yet delivered to this consumer, plus those delivered but not acked."""
        if self._pull is None:
            raise RuntimeError("PullConsumer.open() must be called before pending()")
        try:
            await self._nc.flush()  # count acks already sent (e.g. of dead letters) as done
            info = await self._js.consumer_info(self.stream, self.durable)
        except (nats.errors.TimeoutError, nats.errors.NoRespondersError) as exc:
            raise LogUnavailable(f"reading consumer {self.durable}: {type(exc).__name__}") from exc
        return int(info.num_pending or 0) + int(info.num_ack_pending or 0)

    async def ack(
        self, delivered: Sequence[Delivered | RawDelivered] | DeliveredBatch, *, confirm: bool = True
    ) -> None:
        """Acknowledge a batch after its effect is durable; returns once the server has the acks.

        confirm=False returns once the acks are queued to send. For a caller whose position lives
        elsewhere (reposition=True) an ack only saves a redelivery, and waiting for the server's answer
        means waiting behind every prefetched message it has queued for this connection.
        """
        if isinstance(delivered, DeliveredBatch):
            delivered = [delivered.last()] if self._ack_all and delivered else delivered.rows()
        if self._ack_all:
            if delivered:
                await _ack(self._nc, max(delivered, key=lambda d: d.consumer_seq).reply)
        else:
            for item in delivered:
                await _ack(self._nc, item.reply)
        if not confirm:
            return
        try:
            await self._nc.flush()  # the server answers PING after it has processed the acks before it
        except (nats.errors.TimeoutError, nats.errors.ConnectionClosedError) as exc:
            raise LogUnavailable(f"acknowledging on {self.durable}: {type(exc).__name__}") from exc

    async def close(self) -> None:
        """Stop fetching; the durable consumer and its position stay on the server."""
        if self._pull is not None:
            pull, self._pull = self._pull, None
            await pull.stop()


# (subject, ack subject, payload) of one delivered message, as received.
_Received = tuple[bytes, bytes, bytes]


class _PullRequests:
    """Pull requests sent by hand to a reply inbox whose messages are buffered as bytes (stream.inbox).

    nats-py's PullSubscription.fetch awaits a task per message, which cost more
    than decoding them (measured: 12k messages in 0.84 s against 0.24 s through a
    callback); the inbox also skips building a Msg and a header dict per message.
    Each request has its own reply subject, so the status that ends an old
    request (404 no messages, 408 expired) never ends a newer one. Messages a
    request delivers after its fetch returned stay buffered for the next fetch:
    they are deliveries of this consumer, in order.
    """

    def __init__(self, nc: NatsClient, stream: str, durable: str) -> None:
        self._nc = nc
        self._next_subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}"
        self._reply_prefix = nc.new_inbox()
        self._buffer: list[_Received] = []
        self._request = 0
        self._want = 0
        self._any = False  # wake on the first message (long poll) rather than on a full batch
        self._wake = asyncio.Event()
        self._error: str | None = None
        self._more = False  # the last request stopped at its byte cap, not for want of messages
        self._pump: asyncio.Task[None] | None = None  # a prefetch filling the buffer
        self._inbox = Inbox(nc, f"{self._reply_prefix}.*", self)

    async def start(self) -> None:
        await self._inbox.start()

    async def stop(self) -> None:
        if self._pump is not None:
            pump, self._pump = self._pump, None
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, LogError):
                await pump
        with contextlib.suppress(nats.errors.ConnectionClosedError, nats.errors.BadSubscriptionError):
            await self._inbox.stop()

    def on_message(self, subject: bytes, reply: bytes, data: bytes) -> None:
        self._buffer.append((subject, reply, data))
        if self._any or len(self._buffer) >= self._want:
            self._wake.set()

    def on_status(self, subject: bytes, code: str, description: str) -> None:
        if subject.rsplit(b".", 1)[-1] != str(self._request).encode():
            return  # the end of an older request
        if code == "409" and "MaxBytes" in description:
            self._more = True  # the request's byte budget ran out before its batch: more is waiting
        elif code == "409" and "Batch Completed" in description:
            pass  # how the server ends a request with max_bytes that got its whole batch
        elif code not in ("404", "408", "100"):  # 409: consumer deleted, leadership change, too many waiting
            self._error = f"{code} {description}".strip()
        if code != "100":
            self._wake.set()

    async def _ask(self, body: dict[str, object], wait_s: float) -> None:
        self._request += 1
        self._wake.clear()
        self._error = None  # only the status of the request waited on counts (a prefetch's is not)
        reply = f"{self._reply_prefix}.{self._request}"
        await self._nc.publish(self._next_subject, json.dumps(body).encode(), reply=reply)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), wait_s)
        if self._error is not None:
            error, self._error = self._error, None
            raise LogError(f"pulling from {self._next_subject}: {error}")

    async def prefetch(self, batch: int) -> None:
        """Start filling the buffer up to `batch` messages in the background: they arrive while the caller works.

        One request at a time, each capped at REQUEST_MAX_BYTES, so no more than that is ever in flight.
        """
        if self._pump is None and len(self._buffer) < batch:
            self._pump = asyncio.create_task(self._fill(batch))

    async def _fill(self, batch: int) -> None:
        """Ask for what is there at once until the buffer holds `batch` messages or the stream has no more."""
        while len(self._buffer) < batch:
            self._want, self._any, self._more = batch, False, False
            await self._ask(
                {"batch": batch - len(self._buffer), "no_wait": True, "max_bytes": REQUEST_MAX_BYTES},
                wait_s=_NO_WAIT_REPLY_S,
            )
            if not self._more:
                return

    async def fetch(self, batch: int, timeout_s: float) -> list[_Received]:
        """Up to `batch` messages: what is there at once, else the first that arrive within timeout_s."""
        if self._pump is not None:
            pump, self._pump = self._pump, None
            await pump  # a prefetch's error is raised here, by the fetch that would have used it
        await self._fill(batch)
        if not self._buffer:
            self._want, self._any = batch, True
            await self._ask(
                {"batch": batch, "expires": int(timeout_s * 1e9), "max_bytes": REQUEST_MAX_BYTES},
                wait_s=timeout_s + 1.0,
            )
        out, self._buffer = self._buffer[:batch], self._buffer[batch:]
        return out


def _raw_delivered(subject: bytes, reply: bytes, data: bytes) -> RawDelivered | None:
    meta = parse_ack_subject(reply.decode())
    if meta is None:
        return None
    return RawDelivered(meta.stream_seq, subject.decode(), data, reply, meta.stored_ts_ns, meta.num_delivered,
                        meta.consumer_seq, meta.num_pending)  # fmt: skip


async def _ack(nc: NatsClient, reply: bytes, *, confirmed: bool = False) -> None:
    """Acknowledge the message whose ack subject is `reply` (confirmed: wait for the server's answer)."""
    try:
        if confirmed:
            await nc.request(reply.decode(), _ACK, timeout=5.0)
        else:
            await nc.publish(reply.decode(), _ACK)
    except (nats.errors.ConnectionClosedError, nats.errors.TimeoutError) as exc:
        raise LogUnavailable(f"acknowledging: {type(exc).__name__}") from exc


async def dead_letter_data(
    js: JetStreamContext, origin: str, *, stream: str, seq: int, subject: str, data: bytes, reason: str
) -> None:
    """Publish raw message data to the DLQ; its message id makes a repeat (after a crash) a no-op."""
    headers = {
        DLQ_SUBJECT_HEADER: subject,
        DLQ_STREAM_HEADER: stream,
        DLQ_SEQ_HEADER: str(seq),
        # Header values are one line; msgspec paths and values never need more.
        DLQ_REASON_HEADER: reason.replace("\r", " ").replace("\n", " ")[:1000],
        "Nats-Msg-Id": f"dlq:{origin}:{stream}:{seq}",
    }
    try:
        await js.publish(dlq_subject(origin), data, headers=headers)
    except APIError as exc:
        raise LogError(f"dead-lettering {stream}#{seq}: {exc.description or exc}") from exc
    except (nats.errors.TimeoutError, nats.errors.NoRespondersError, nats.errors.ConnectionClosedError) as exc:
        raise LogUnavailable(f"dead-lettering {stream}#{seq}: {type(exc).__name__}") from exc
