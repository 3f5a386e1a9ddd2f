"""Durable pull consumers: fetch batches, decode once, dead-letter what cannot be decoded."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import nats.errors
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js import api as js_api
from nats.js.errors import NotFoundError

from schemas.codec import decode
from schemas.errors import SchemaError
from schemas.events import AnyEvent
from schemas.subjects import dlq_subject

# Headers on a dead letter: where it came from and why it could not be used.
DLQ_SUBJECT_HEADER = "Footfall-Original-Subject"
DLQ_STREAM_HEADER = "Footfall-Original-Stream"
DLQ_SEQ_HEADER = "Footfall-Original-Seq"
DLQ_REASON_HEADER = "Footfall-Reason"


@dataclass(frozen=True, slots=True)
class Delivered:
    """One decoded event and its position in the stream (stream_seq starts at 1)."""

    stream_seq: int
    subject: str
    event: AnyEvent
    msg: Msg


class PullConsumer:
    """A durable pull consumer on one stream with explicit acks.

    Messages that fail to decode are published to `ff.v1.dlq.<origin>` with
    the reason and acked, so a bad message never stops a projection.
    """

    def __init__(
        self,
        nc: NatsClient,
        stream: str,
        durable: str,
        *,
        filter_subject: str | None = None,
        batch: int = 1000,
        ack_wait_s: float = 60.0,
        origin: str | None = None,
        start_seq: int | None = None,
        ack_all: bool = False,
    ) -> None:
        self._nc = nc
        self._js = nc.jetstream()
        self.stream = stream
        self.durable = durable
        self._filter = filter_subject
        self._batch = batch
        self._ack_wait_s = ack_wait_s
        self._origin = origin or durable
        self._start_seq = start_seq
        # AckPolicy.ALL: acking a message acks every earlier one, so an in-order
        # reader acks a whole batch with one message instead of one per event.
        self._ack_all = ack_all
        self._sub: JetStreamContext.PullSubscription | None = None
        self.dead_lettered = 0

    async def open(self) -> None:
        """Create or bind the durable consumer.

        With start_seq, the consumer is re-created to deliver from that stream
        sequence on: the caller keeps its own position (a projection's
        checkpoint) and the server's copy is only a cache of it.
        """
        config = js_api.ConsumerConfig(
            durable_name=self.durable,
            ack_policy=js_api.AckPolicy.ALL if self._ack_all else js_api.AckPolicy.EXPLICIT,
            deliver_policy=js_api.DeliverPolicy.ALL,
            ack_wait=self._ack_wait_s,
            max_ack_pending=self._batch * 4,
            filter_subject=self._filter,
        )
        if self._start_seq is not None:
            config.deliver_policy = js_api.DeliverPolicy.BY_START_SEQUENCE
            config.opt_start_seq = max(1, self._start_seq)
            with contextlib.suppress(NotFoundError):
                await self._js.delete_consumer(self.stream, self.durable)
        self._sub = await self._js.pull_subscribe(
            self._filter or "", durable=self.durable, stream=self.stream, config=config
        )

    async def fetch(self, timeout_s: float = 1.0) -> list[Delivered]:
        """Fetch up to one batch; an empty list means nothing arrived within timeout_s."""
        if self._sub is None:
            raise RuntimeError("PullConsumer.open() must be called before fetch()")
        try:
            msgs = await self._sub.fetch(self._batch, timeout=timeout_s)
        except (TimeoutError, nats.errors.TimeoutError):
            return []
        out = []
        for msg in msgs:
            seq = msg.metadata.sequence.stream
            try:
                event = decode(msg.data)
            except SchemaError as exc:
                await dead_letter(self._js, self._origin, msg, str(exc))
                await msg.ack()
                self.dead_lettered += 1
                continue
            out.append(Delivered(seq, msg.subject, event, msg))
        return out

    async def pending(self) -> int:
        """Messages in the stream not yet delivered to this consumer."""
        if self._sub is None:
            raise RuntimeError("PullConsumer.open() must be called before pending()")
        info = await self._sub.consumer_info()
        return int(info.num_pending or 0) + int(info.num_ack_pending or 0)

    async def ack(self, delivered: list[Delivered]) -> None:
        """Acknowledge a batch after its effect is durable; returns once the server has the acks."""
        if self._ack_all:
            if delivered:
                last = max(delivered, key=lambda d: d.msg.metadata.sequence.consumer)
                await last.msg.ack()
        else:
            for item in delivered:
                await item.msg.ack()
        await self._nc.flush()  # the server answers PING after it has processed the acks before it

    async def close(self) -> None:
        """Stop fetching; the durable consumer and its position stay on the server."""
        if self._sub is not None:
            await self._sub.unsubscribe()
            self._sub = None


async def dead_letter(js: JetStreamContext, origin: str, msg: Msg, reason: str) -> None:
    """Publish a message that cannot be used to the DLQ, with where it came from and why."""
    meta = msg.metadata
    await dead_letter_data(
        js, origin, stream=meta.stream, seq=meta.sequence.stream, subject=msg.subject, data=msg.data, reason=reason
    )


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
    await js.publish(dlq_subject(origin), data, headers=headers)
