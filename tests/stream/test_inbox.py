"""An Inbox gets its messages from the wire in order, whole and once, however the bytes arrive.

The client is a real nats-py Client fed raw protocol bytes through its parser, exactly as its read
loop feeds them; the fast path and nats-py's own parser take turns on the same buffer.
"""

from __future__ import annotations

import asyncio
import json
import warnings

import nats
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nats.aio.client import Client as NatsClient

import stream.inbox
from stream.embedded import EmbeddedNats
from stream.inbox import FAST_PATH_ENV, READ_BYTES, Inbox, _dispatch, fast_path_problem

INBOX_SID = 7
OTHER_SID = 9

Event = tuple[str, bytes, bytes, bytes]  # (kind, subject, reply or status code, data)


class _Recorder:
    def __init__(self, log: list[Event]) -> None:
        self.log = log

    def on_message(self, subject: bytes, reply: bytes, data: bytes) -> None:
        self.log.append(("message", subject, reply, data))

    def on_status(self, subject: bytes, code: str, description: str) -> None:
        self.log.append(("status", subject, code.encode(), description.encode()))


def _client(log: list[Event]) -> NatsClient:
    nc = NatsClient()

    async def other(sid: int, subject: bytes, reply: bytes, data: bytes, headers: bytes | None) -> None:
        log.append(("other", subject, reply, data))

    nc._process_msg = other  # type: ignore[method-assign] # what nats-py does with other subscriptions' messages
    _dispatch(nc).handlers[INBOX_SID] = _Recorder(log)
    return nc


_subjects = st.sampled_from([b"_INBOX.abc.1", b"_INBOX.abc.22", b"ff.v1.s.c.tracks"])
_replies = st.sampled_from([b"", b"$JS.ACK.FF_TRACKS.proj.1.5.5.1700000000000000000.0"])
# Payloads may hold anything, protocol words and line ends included.
_payloads = st.binary(max_size=300) | st.sampled_from([b"", b"HMSG x 1 2 3\r\n", b"\r\n\r\n", b"PING\r\n"])


@st.composite
def _items(draw: st.DrawFn) -> tuple[bytes, list[Event]]:
    """One protocol item: its bytes and what the handlers should see of it."""
    kind = draw(st.sampled_from(["hmsg", "msg", "status", "other", "ok"]))
    subject, reply, payload = draw(_subjects), draw(_replies), draw(_payloads)
    reply_part = b" " + reply if reply else b""
    if kind == "ok":
        return b"+OK\r\n", []
    if kind == "status":
        code, description = draw(
            st.sampled_from([(b"404", b"No Messages"), (b"409", b"Message Size Exceeds MaxBytes")])
        )
        headers = b"NATS/1.0 " + code + b" " + description + b"\r\n\r\n"
        line = b"HMSG %s %d %d %d\r\n" % (subject, INBOX_SID, len(headers), len(headers))
        return line + headers + b"\r\n", [("status", subject, code, description)]
    if kind == "msg":
        line = b"MSG %s %d%s %d\r\n" % (subject, INBOX_SID, reply_part, len(payload))
        return line + payload + b"\r\n", [("message", subject, reply, payload)]
    headers = b"NATS/1.0\r\nNats-Msg-Id: a-1\r\n\r\n"
    sid = OTHER_SID if kind == "other" else INBOX_SID
    line = b"HMSG %s %d%s %d %d\r\n" % (subject, sid, reply_part, len(headers), len(headers) + len(payload))
    return line + headers + payload + b"\r\n", [("other" if kind == "other" else "message", subject, reply, payload)]


async def _feed(nc: NatsClient, wire: bytes, cuts: list[int]) -> None:
    start = 0
    for cut in [*sorted(cuts), len(wire)]:
        await nc._ps.parse(wire[start:cut])
        start = cut


@settings(max_examples=300, deadline=None)
@given(items=st.lists(_items(), max_size=25), cuts=st.lists(st.integers(min_value=0, max_value=8000), max_size=40))
def test_every_message_arrives_once_in_wire_order_however_the_bytes_are_split(
    items: list[tuple[bytes, list[Event]]], cuts: list[int]
) -> None:
    wire = b"".join(data for data, _ in items)
    expected = [event for _, events in items for event in events]
    log: list[Event] = []
    nc = _client(log)
    asyncio.run(_feed(nc, wire, [c for c in cuts if c <= len(wire)]))
    assert log == expected
    assert not nc._ps.buf  # nothing left over
    inbox_events = [e for e in expected if e[0] == "message"]
    assert nc.stats["in_msgs"] == len(inbox_events) + sum(e[0] == "status" for e in expected)


def test_a_message_cut_inside_its_control_line_waits_for_the_rest() -> None:
    log: list[Event] = []
    nc = _client(log)
    wire = b"HMSG _INBOX.abc.1 7 $JS.ACK.x 12 15\r\nNATS/1.0\r\n\r\nabc\r\n"
    for i in range(len(wire)):  # one byte at a time
        asyncio.run(nc._ps.parse(wire[i : i + 1]))
    assert log == [("message", b"_INBOX.abc.1", b"$JS.ACK.x", b"abc")]


def test_after_a_reconnect_reset_the_fast_path_reads_the_new_buffer() -> None:
    log: list[Event] = []
    nc = _client(log)
    asyncio.run(nc._ps.parse(b"HMSG _INBOX.abc.1 7 12 20\r\nNATS/1.0\r\n\r\nab"))  # cut off by a disconnect
    nc._ps.reset()
    asyncio.run(nc._ps.parse(b"MSG _INBOX.abc.1 7 2\r\nok\r\n"))
    assert log == [("message", b"_INBOX.abc.1", b"", b"ok")]


async def test_a_client_with_an_inbox_reads_its_socket_in_bigger_pieces(
    nats_server: EmbeddedNats, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(FAST_PATH_ENV, "1")  # a property of the fast path (make test also runs with it off)
    nc = await nats.connect(nats_server.url)
    try:
        got: list[Event] = []
        inbox = Inbox(nc, "_INBOX.bigger.*", _Recorder(got))
        await inbox.start()
        assert inbox.fast
        reader = nc._transport._io_reader  # type: ignore[union-attr]
        assert reader._limit >= READ_BYTES
        payload = bytes(range(256)) * 4096  # 1 MiB: many reads' worth
        await nc.publish("_INBOX.bigger.1", payload)
        await nc.flush()
        for _ in range(100):
            if got:
                break
            await asyncio.sleep(0.01)
        assert got == [("message", b"_INBOX.bigger.1", b"", payload)]
        await inbox.stop()
    finally:
        await nc.close()


async def _messages_and_a_status(url: str, stream_name: str) -> tuple[list[Event], bool]:
    """What an Inbox hands over for two messages (one with headers) and a 404 from a JetStream pull."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await js.add_stream(name=stream_name, subjects=[f"{stream_name.lower()}.>"])
        await js.add_consumer(stream_name, durable_name="d", ack_policy="explicit")
        got: list[Event] = []
        inbox = Inbox(nc, "_INBOX.same.*", _Recorder(got))
        await inbox.start()
        await nc.publish("_INBOX.same.1", b"plain", reply="r.1")
        await nc.publish("_INBOX.same.2", b"with headers", headers={"Nats-Msg-Id": "a-1"})
        pull = json.dumps({"batch": 1, "no_wait": True}).encode()
        await nc.publish(f"$JS.API.CONSUMER.MSG.NEXT.{stream_name}.d", pull, reply="_INBOX.same.3")
        for _ in range(200):
            if len(got) == 3:
                break
            await asyncio.sleep(0.01)
        await inbox.stop()
        return got, inbox.fast
    finally:
        await nc.close()


async def test_the_stock_path_hands_over_what_the_fast_path_does(
    nats_server: EmbeddedNats, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(FAST_PATH_ENV, "1")
    fast, was_fast = await _messages_and_a_status(nats_server.url, "INBOXFAST")
    monkeypatch.setenv(FAST_PATH_ENV, "0")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # switched off on purpose: no warning
        stock, was_stock_fast = await _messages_and_a_status(nats_server.url, "INBOXSTOCK")
    assert (was_fast, was_stock_fast) == (True, False)
    assert fast == [
        ("message", b"_INBOX.same.1", b"r.1", b"plain"),
        ("message", b"_INBOX.same.2", b"", b"with headers"),
        ("status", b"_INBOX.same.3", b"404", b"No Messages"),
    ]
    assert stock == fast


async def test_an_nats_py_outside_the_tested_range_takes_the_stock_path_with_one_warning(
    nats_server: EmbeddedNats, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(FAST_PATH_ENV, "1")
    monkeypatch.setattr(stream.inbox, "TESTED_NATS", ((1, 0), (1, 9)))
    monkeypatch.setattr(stream.inbox, "_warned", False)
    with pytest.warns(RuntimeWarning, match="stock nats-py receive path.*outside the tested 1.0 to 1.9"):
        got, was_fast = await _messages_and_a_status(nats_server.url, "INBOXOLD")
    assert not was_fast
    assert [kind for kind, *_ in got] == ["message", "message", "status"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per process, not once per Inbox
        await _messages_and_a_status(nats_server.url, "INBOXOLD2")


async def test_a_second_inbox_on_a_client_joins_its_fast_path(
    nats_server: EmbeddedNats, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(FAST_PATH_ENV, "1")
    nc = await nats.connect(nats_server.url)
    try:
        got: list[Event] = []
        first, second = Inbox(nc, "_INBOX.one.*", _Recorder(got)), Inbox(nc, "_INBOX.two.*", _Recorder(got))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            await first.start()
            await second.start()
        assert first.fast and second.fast
        await nc.publish("_INBOX.two.1", b"b")
        await nc.publish("_INBOX.one.1", b"a")
        await nc.flush()
        for _ in range(100):
            if len(got) == 2:
                break
            await asyncio.sleep(0.01)
        assert got == [("message", b"_INBOX.two.1", b"", b"b"), ("message", b"_INBOX.one.1", b"", b"a")]
    finally:
        await nc.close()


def test_a_parser_that_moved_is_detected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(FAST_PATH_ENV, "1")
    nc = NatsClient()
    assert fast_path_problem(nc) is None

    class Moved:
        def __init__(self) -> None:
            self.buffer = bytearray()  # renamed from buf
            self.state = 0

    nc._ps = Moved()  # type: ignore[assignment]
    assert fast_path_problem(nc) == "the client's parser (Client._ps) has no bytearray buf and int state"
    nc = NatsClient()

    async def process(sid: int, subject: bytes, reply: bytes, payload: bytes) -> None: ...

    nc._process_msg = process  # type: ignore[assignment,method-assign]
    assert "Client._process_msg does not take (sid, subject, reply, data, headers)" in str(fast_path_problem(nc))
