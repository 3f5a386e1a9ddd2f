"""Reading an exact range of stream sequences (used to rebuild a batch after a crash)."""

from __future__ import annotations

import nats.errors
from nats.js import JetStreamContext
from nats.js import api as js_api


async def read_range(
    js: JetStreamContext, stream: str, first_seq: int, last_seq: int, *, filter_subject: str | None = None,
    filter_subjects: list[str] | None = None, fetch_batch: int = 1000,
) -> list[tuple[int, str, bytes]]:  # fmt: skip
    """Return (stream_seq, subject, data) of every message with first_seq <= seq <= last_seq, in order.

    Uses an ephemeral pull consumer without acks; messages the stream's
    limits have removed are simply absent.
    """
    if first_seq < 1 or last_seq < first_seq:
        raise ValueError(f"range must satisfy 1 <= first_seq <= last_seq, got {first_seq}..{last_seq}")
    config = js_api.ConsumerConfig(
        deliver_policy=js_api.DeliverPolicy.BY_START_SEQUENCE,
        opt_start_seq=first_seq,
        ack_policy=js_api.AckPolicy.NONE,
        inactive_threshold=30.0,
        filter_subject=filter_subject,
        filter_subjects=filter_subjects or None,
    )
    sub = await js.pull_subscribe(filter_subject or "", stream=stream, config=config)
    out: list[tuple[int, str, bytes]] = []
    try:
        while True:
            want = min(fetch_batch, last_seq - (out[-1][0] if out else first_seq - 1))
            try:
                msgs = await sub.fetch(max(want, 1), timeout=1.0)
            except (TimeoutError, nats.errors.TimeoutError):
                return out  # nothing more in the stream
            for msg in msgs:
                seq = msg.metadata.sequence.stream
                if seq > last_seq:
                    return out
                out.append((seq, msg.subject, msg.data))
            if out and out[-1][0] >= last_seq:
                return out
    finally:
        await sub.unsubscribe()
