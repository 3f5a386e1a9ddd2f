"""Ack subjects: a message's position parsed one at a time and a whole batch at once agree."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from stream.acks import parse_ack_subject, parse_ack_subjects

_FIELD = st.integers(0, 2**63 - 1)
_NAME = st.from_regex(r"[A-Za-z0-9_-]{1,12}", fullmatch=True)


def _v1(stream: str, consumer: str, delivered: int, sseq: int, cseq: int, ts: int, pending: int) -> bytes:
    return f"$JS.ACK.{stream}.{consumer}.{delivered}.{sseq}.{cseq}.{ts}.{pending}".encode()


@settings(deadline=None)  # the first call loads the compiled parser
@given(st.lists(st.builds(_v1, _NAME, _NAME, _FIELD, _FIELD, _FIELD, _FIELD, _FIELD), max_size=20))
def test_batch_parse_agrees_with_one_by_one(replies: list[bytes]) -> None:
    columns = parse_ack_subjects(replies)
    assert columns is not None
    one_by_one = [parse_ack_subject(reply.decode()) for reply in replies]
    assert [list(row) for row in zip(*columns, strict=True)] == [list(meta) for meta in one_by_one if meta]


def test_batch_parse_declines_what_is_not_a_v1_ack_subject() -> None:
    good = _v1("S", "c", 1, 2, 3, 4, 5)
    v2 = b"$JS.ACK.domain.ACCHASH.S.c.1.2.3.4.5.token"
    assert parse_ack_subjects([good, v2]) is None
    assert parse_ack_subject(v2.decode()) is not None  # the one-by-one parser takes v2: the caller falls back to it
    assert parse_ack_subjects([good, b"_INBOX.abc.1"]) is None
    assert parse_ack_subjects([good, b"$JS.ACK.S.c.1.2.x.4.5"]) is None  # a field that is no number
    # Eight dots in each, but a short and a long reply together would still be 18 tokens: each is checked.
    assert parse_ack_subjects([b"$JS.ACK.S.c.1.2.3.4", b"$JS.ACK.S.c.1.2.3.4.5.6"]) is None
    # Numbers the compiled pass does not read (the one-by-one parser's int() decides): beyond int64, signed,
    # empty; and anything after the last one.
    for odd in (b"$JS.ACK.S.c.1.2.3.4.9223372036854775808", b"$JS.ACK.S.c.+1.2.3.4.5", b"$JS.ACK.S.c.1..3.4.5",
                b"$JS.ACK.S.c.1.2.3.4.5 "):  # fmt: skip
        assert parse_ack_subjects([good, odd]) is None
        assert parse_ack_subjects([odd]) is None
    assert parse_ack_subjects([_v1("S", "c", 1, 2, 3, 4, 2**63 - 1)]) == ([2], [4], [1], [2**63 - 1], [3])
