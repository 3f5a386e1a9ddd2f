"""Reading a JetStream message's position from its ack subject, without nats-py's datetime-building parser."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np


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


class AckColumns(NamedTuple):
    """The AckMeta fields of a batch of messages, one list per field, in the batch's order."""

    stream_seq: list[int]
    stored_ts_ns: list[int]
    num_delivered: list[int]
    num_pending: list[int]
    consumer_seq: list[int]


def parse_ack_subjects(replies: Sequence[bytes]) -> AckColumns | None:
    """Parse a batch of `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>` at once.

    One compiled pass over the joined subjects: a batch of 5000 costs 1 ms, against 5 ms splitting them
    and calling int() 25,000 times. None when any reply is not of that (v1) form, or holds a number other
    than plain digits: the caller parses each then.
    """
    if not replies:
        return AckColumns([], [], [], [], [])
    from stream.wire import ack_fields  # numba, loaded on first use

    ok, fields = ack_fields(np.frombuffer(b"\n".join(replies), dtype=np.uint8), len(replies))
    if not ok:
        return None
    delivered, stream_seq, consumer_seq, stored_ts_ns, num_pending = (column.tolist() for column in fields)
    return AckColumns(stream_seq, stored_ts_ns, delivered, num_pending, consumer_seq)
