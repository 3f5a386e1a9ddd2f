"""Reading a JetStream message's position from its ack subject, without nats-py's datetime-building parser."""

from __future__ import annotations

from typing import NamedTuple


class AckMeta(NamedTuple):
    """Where a delivered message sits: stream sequence, stored time (ts_ns), deliveries, pending after it, and
    the consumer's own sequence (what an AckPolicy.ALL ack covers up to)."""

    stream_seq: int
    stored_ts_ns: int
    num_delivered: int
    num_pending: int
    consumer_seq: int


def parse_ack_subject(reply: str) -> AckMeta | None:
    """Parse `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>` (or the v2 form with domain
    and account hash); None when the reply is not a JetStream ack subject."""
    tokens = reply.split(".")
    if len(tokens) < 9 or tokens[0] != "$JS" or tokens[1] != "ACK":
        return None
    base = 4 if len(tokens) == 9 else 6  # v2 adds <domain>.<account hash> after $JS.ACK
    return AckMeta(
        int(tokens[base + 1]), int(tokens[base + 3]), int(tokens[base]), int(tokens[base + 4]), int(tokens[base + 2])
    )
